"""The pharmacy's server-rendered pages (Jinja2 templates, htmx for search-as-you-type, no build step).

People sign in with a username and password (argon2id); the session is a random token in an HttpOnly,
SameSite=Lax cookie, stored only as its hash. Every form that changes something carries the session's CSRF
token (the sign-in form a double-submit cookie's). Authorisation is the service layer's: a patient sees only
their own orders and record (another patient's order is "not found"), staff see the queue, admins the rules.
This module only parses forms, calls `rxguard.pharmacy.service`, and renders.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from rxguard.errors import NotFoundError
from rxguard.pharmacy import accounts
from rxguard.pharmacy.catalog import BAND_LABELS
from rxguard.pharmacy.charts import render_svg
from rxguard.pharmacy.orders import Invalid, PrescriptionInput
from rxguard.pharmacy.records import OrderState, Role, User
from rxguard.pharmacy.service import Actor, Forbidden, PharmacyService

PREFIX = "/pharmacy"
SESSION_COOKIE = "rxguard_session"
LOGIN_CSRF_COOKIE = "rxguard_login_csrf"
Handler = Callable[..., Response]


def _money(value: Decimal | None, currency: str | None = None) -> str:
    if value is None:
        return "no price"
    return f"{currency + ' ' if currency else ''}{value:,.2f}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rxguard.adapters.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["quote"] = lambda s: quote(str(s), safe="")
    env.globals["PREFIX"] = PREFIX
    env.globals["BAND_LABELS"] = BAND_LABELS
    env.globals["OrderState"] = OrderState
    env.globals["INDICATORS"] = ("info", "warning", "critical")
    return env


class Pages:
    """The routes; one instance per application, holding the service and the templates."""

    def __init__(self, service: PharmacyService, *, secure_cookies: bool = False) -> None:
        self.service = service
        self.env = _environment()
        self.secure_cookies = secure_cookies
        self.router = APIRouter(prefix=PREFIX, include_in_schema=False)
        self._routes()

    # --- rendering and sessions ------------------------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        who = getattr(request.state, "pharmacy_user", None)
        csrf = getattr(request.state, "pharmacy_csrf", None)
        html = self.env.get_template(name).render(
            request=request,
            user=who,
            csrf=csrf,
            kb_version=self.service.kb.version,
            policy=self.service.policy,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status, title=title, message=message)

    def _user(self, request: Request) -> User | None:
        found = self.service.session(request.cookies.get(SESSION_COOKIE))
        if found is None:
            return None
        user, csrf = found
        request.state.pharmacy_user = user
        request.state.pharmacy_csrf = csrf
        return user

    def _login_redirect(self, request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303)

    async def _form(self, request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _csrf_ok(self, request: Request, form: dict[str, str]) -> bool:
        given = form.get("csrf_token") or request.headers.get("x-csrf-token")
        return accounts.same_token(getattr(request.state, "pharmacy_csrf", None), given)

    def page(
        self, *, roles: tuple[Role, ...] | None = None, post: bool = False
    ) -> Callable[[Handler], Callable[..., Awaitable[Response]]]:
        """Wrap a handler: sign-in (when roles is given), CSRF on POST, and service errors as HTML pages."""

        def wrap(handler: Handler) -> Callable[..., Awaitable[Response]]:
            def dispatch(request: Request, form: dict[str, str], kwargs: dict[str, Any]) -> Response:
                user = self._user(request)
                if roles is not None:
                    if user is None:
                        if post:
                            return self.error(request, 401, "Signed out", "Your session has ended: sign in again.")
                        return self._login_redirect(request)
                    if user.role not in roles:
                        return self.error(request, 403, "Not allowed", "Your account cannot open this page.")
                if post and not self._csrf_ok(request, form):
                    return self.error(request, 403, "Form expired", "The form's security token did not match.")
                try:
                    return handler(request, user=user, form=form, **kwargs)
                except NotFoundError:
                    return self.error(request, 404, "Not found", "There is nothing here for you.")
                except Forbidden as exc:
                    return self.error(request, 403, "Not allowed", str(exc))

            async def run(request: Request, **kwargs: Any) -> Response:
                form = await self._form(request) if post else {}
                # The service is synchronous (database, screening, argon2): keep it off the event loop.
                return await run_in_threadpool(dispatch, request, form, kwargs)

            run.__name__ = handler.__name__
            # FastAPI reads the path parameters from the signature: show it the handler's, without user and form.
            signature = inspect.signature(handler)
            kept = [p for name, p in signature.parameters.items() if name not in ("user", "form")]
            run.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
            return run

        return wrap

    # --- routes ---------------------------------------------------------------------------------------------

    def _routes(self) -> None:
        r = self.router
        svc = self.service
        cat = svc.catalog
        staff = (Role.PHARMACIST, Role.ADMIN)

        @self.page()
        def home(request: Request, user: User | None, form: dict[str, str]) -> Response:
            q = request.query_params.get("q", "")
            result = cat.search(q)
            return self.render(request, "home.html", q=q, result=result, families=list(cat.families.values()))

        @self.page()
        def search(request: Request, user: User | None, form: dict[str, str]) -> Response:
            q = request.query_params.get("q", "")[:200]
            result = cat.search(q)
            template = "_results.html" if request.headers.get("hx-request") else "home.html"
            return self.render(request, template, q=q, result=result, families=list(cat.families.values()))

        @self.page()
        def guide(request: Request, user: User | None, form: dict[str, str], slug: str) -> Response:
            page = cat.guide_page(slug)
            if page is None:
                raise NotFoundError(f"product: {slug}")
            return self.render(request, "guide.html", page=page, aid=page.family.rx_only)

        @self.page()
        def decision_aid(request: Request, user: User | None, form: dict[str, str], slug: str) -> Response:
            aid = cat.decision_aid(slug)
            if aid is None:
                raise NotFoundError(f"decision aid: {slug}")
            return self.render(request, "decision_aid.html", aid=aid)

        @self.page()
        def condition(request: Request, user: User | None, form: dict[str, str], slug: str) -> Response:
            view = cat.condition_view(slug)
            if view is None:
                raise NotFoundError(f"condition: {slug}")
            return self.render(request, "condition.html", view=view)

        @self.page()
        def triage(request: Request, user: User | None, form: dict[str, str]) -> Response:
            from rxguard.therapy.triage import triage as grade

            drugs = [d for d in request.query_params.getlist("drug") if d.strip()][:10]
            symptoms = [x for x in request.query_params.getlist("symptom") if x.strip()][:10]
            result = grade(svc.kb, drugs, symptoms) if symptoms else None
            return self.render(request, "triage.html", drugs=drugs, symptoms=symptoms, result=result)

        # --- signing in ---

        @self.page()
        def login_form(request: Request, user: User | None, form: dict[str, str]) -> Response:
            token = secrets.token_urlsafe(24)
            response = self.render(request, "login.html", login_csrf=token, next=request.query_params.get("next", ""))
            response.set_cookie(
                LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=self.secure_cookies, path=PREFIX
            )
            return response

        async def login(request: Request) -> Response:
            form = await self._form(request)
            return await run_in_threadpool(sign_in, request, form)

        def sign_in(request: Request, form: dict[str, str]) -> Response:
            if not accounts.same_token(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")):
                return self.error(request, 403, "Form expired", "Reload the sign-in page and try again.")
            found = svc.login(form.get("username", ""), form.get("password", ""))
            if found is None:
                token = secrets.token_urlsafe(24)
                response = self.render(
                    request, "login.html", 401, login_csrf=token, next=form.get("next", ""),
                    failed=True, username=form.get("username", ""),
                )  # fmt: skip
                response.set_cookie(
                    LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=self.secure_cookies, path=PREFIX
                )
                return response
            user, token, _csrf = found
            target = form.get("next", "")
            if not target.startswith(PREFIX + "/") or target.startswith("//"):
                target = f"{PREFIX}/queue" if user.role in staff else f"{PREFIX}/me"
            signed_in = RedirectResponse(target, status_code=303)
            signed_in.set_cookie(
                SESSION_COOKIE,
                token,
                httponly=True,
                samesite="lax",
                secure=self.secure_cookies,
                path="/",
                max_age=12 * 3600,
            )
            signed_in.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
            return signed_in

        @self.page(roles=(Role.PATIENT, Role.PHARMACIST, Role.ADMIN), post=True)
        def logout(request: Request, user: User | None, form: dict[str, str]) -> Response:
            svc.logout(request.cookies.get(SESSION_COOKIE))
            response = RedirectResponse(f"{PREFIX}/", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        # --- ordering ---

        @self.page(roles=(Role.PATIENT, Role.PHARMACIST, Role.ADMIN))
        def order_form(request: Request, user: User | None, form: dict[str, str], slug: str) -> Response:
            assert user is not None  # noqa: S101 (roles given: signed in)
            page = cat.guide_page(slug)
            if page is None:
                raise NotFoundError(f"product: {slug}")
            patient_id = self._patient_for(user, request.query_params.get("patient"))
            prescriptions = svc.prescriptions(Actor.of(user), patient_id) if patient_id else []
            product_ids = {p.id for p in page.family.products}
            prescriptions = [p for p in prescriptions if p.product_id in product_ids]
            return self.render(
                request, "order_form.html", page=page, prescriptions=prescriptions, patient_id=patient_id,
                key=secrets.token_urlsafe(16), errors={}, values={},
                patients=svc.patients(Actor.of(user)) if user.role in staff else [],
            )  # fmt: skip

        @self.page(roles=(Role.PATIENT, Role.PHARMACIST, Role.ADMIN), post=True)
        def submit(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            actor = Actor.of(user)
            patient_id = self._patient_for(user, form.get("patient_id"))
            rx_text = form.get("prescription_id", "")
            prescription_id = int(rx_text) if rx_text.isdigit() else None
            if patient_id is None:
                return self.error(request, 422, "No patient", "Choose the patient the order is for.")
            try:
                order, _created = svc.submit_order(
                    actor,
                    patient_id,
                    form.get("product_id", ""),
                    form.get("quantity", ""),
                    prescription_id,
                    form.get("idempotency_key", ""),
                )
            except Invalid as exc:
                slug = cat.family_of.get(form.get("product_id", ""), "")
                page = cat.guide_page(slug)
                if page is None:
                    return self.error(request, 422, "Cannot order", str(exc))
                product_ids = {p.id for p in page.family.products}
                prescriptions = [p for p in svc.prescriptions(actor, patient_id) if p.product_id in product_ids]
                errors = {p.field: p.message for p in exc.problems}
                return self.render(
                    request, "order_form.html", 422, page=page, prescriptions=prescriptions, patient_id=patient_id,
                    key=form.get("idempotency_key") or secrets.token_urlsafe(16), errors=errors, values=form,
                    patients=svc.patients(actor) if user.role in staff else [],
                )  # fmt: skip
            return RedirectResponse(f"{PREFIX}/orders/{order.id}", status_code=303)

        @self.page(roles=(Role.PATIENT, Role.PHARMACIST, Role.ADMIN))
        def orders(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            actor = Actor.of(user)
            if user.role is Role.PATIENT and user.patient_id is not None:
                listed = svc.orders_for(actor, user.patient_id)
            else:
                listed = list(reversed(svc.orders_in(actor, list(OrderState))))[:200]
            return self.render(request, "orders.html", orders=listed, products=svc.kb.products)

        @self.page(roles=(Role.PATIENT, Role.PHARMACIST, Role.ADMIN))
        def order(request: Request, user: User | None, form: dict[str, str], order_id: int) -> Response:
            assert user is not None  # noqa: S101
            view = svc.order_view(Actor.of(user), order_id)
            return self.render(
                request, "order.html", view=view, staff=user.role in staff, message=request.query_params.get("m"),
                errors={}, key=secrets.token_urlsafe(16),
            )  # fmt: skip

        def decision(name: str, action: Callable[[Actor, int, dict[str, str]], object]) -> None:
            @self.page(roles=staff if name != "refill" else (Role.PATIENT, *staff), post=True)
            def run(request: Request, user: User | None, form: dict[str, str], order_id: int) -> Response:
                assert user is not None  # noqa: S101
                actor = Actor.of(user)
                try:
                    result = action(actor, order_id, form)
                except Invalid as exc:
                    view = svc.order_view(actor, order_id)
                    errors = {p.field: p.message for p in exc.problems}
                    return self.render(
                        request, "order.html", 422, view=view, staff=user.role in staff, errors=errors,
                        message=None, key=secrets.token_urlsafe(16),
                    )  # fmt: skip
                target = order_id
                if isinstance(result, tuple):  # a refill creates a new order
                    target = result[0].id
                return RedirectResponse(f"{PREFIX}/orders/{target}?m={name}", status_code=303)

            run.__name__ = f"order_{name}"
            path = {"override": "/orders/{order_id}/override"}.get(name, f"/orders/{{order_id}}/{name}")
            r.add_api_route(path, run, methods=["POST"])

        def card_id(form: dict[str, str]) -> int:
            text = form.get("card_id", "")
            if not text.isdigit():
                raise NotFoundError("card: none given")
            return int(text)

        decision(
            "override",
            lambda a, o, f: svc.override_card(a, o, card_id(f), f.get("reason_code") or None, f.get("comment")),
        )
        decision("approve", lambda a, o, f: svc.approve(a, o, f.get("note")))
        decision("reject", lambda a, o, f: svc.reject(a, o, f.get("reason")))
        decision(
            "intervention",
            lambda a, o, f: svc.record_intervention(
                a, o, f.get("intervention_code", ""), f.get("outcome_code", ""), f.get("note")
            ),
        )
        decision("dispense", lambda a, o, f: svc.dispense(a, o))
        decision("refill", lambda a, o, f: svc.request_refill(a, o, f.get("idempotency_key", "")))

        @self.page(roles=staff)
        def queue_page(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            svc.mark_refills_due()
            items = svc.queue(Actor.of(user))
            approved = svc.orders_in(Actor.of(user), [OrderState.APPROVED])
            return self.render(request, "queue.html", items=items, approved=approved, products=svc.kb.products)

        # --- patients and prescriptions ---

        @self.page(roles=(Role.PATIENT,))
        def me(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None and user.patient_id is not None  # noqa: S101
            return RedirectResponse(f"{PREFIX}/patients/{user.patient_id}", status_code=303)

        @self.page(roles=staff)
        def patients(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            return self.render(request, "patients.html", patients=svc.patients(Actor.of(user)))

        @self.page(roles=(Role.PATIENT, *staff))
        def patient(request: Request, user: User | None, form: dict[str, str], patient_id: int) -> Response:
            assert user is not None  # noqa: S101
            view = svc.patient_page(Actor.of(user), patient_id)
            charts = [(series, render_svg(series)) for series in view.lab_charts]
            mme = (view.mme_chart, render_svg(view.mme_chart, step=True)) if view.mme_chart else None
            return self.render(
                request, "patient.html", view=view, charts=charts, mme=mme, staff=user.role in staff,
                families=cat.family_of,
            )  # fmt: skip

        @self.page(roles=staff)
        def prescription_form(request: Request, user: User | None, form: dict[str, str], patient_id: int) -> Response:
            assert user is not None  # noqa: S101
            view = svc.patient_page(Actor.of(user), patient_id)
            return self.render(
                request, "prescription_form.html", view=view, values={}, errors={},
                products=[p for f in cat.families.values() for p in f.products if p.rx_only],
            )  # fmt: skip

        @self.page(roles=staff, post=True)
        def prescription_submit(request: Request, user: User | None, form: dict[str, str], patient_id: int) -> Response:
            assert user is not None  # noqa: S101
            actor = Actor.of(user)
            data = PrescriptionInput(
                prescriber_name=form.get("prescriber_name", ""),
                prescriber_family_name=form.get("prescriber_family_name", ""),
                prescriber_npi=form.get("prescriber_npi", ""),
                prescriber_dea=form.get("prescriber_dea", ""),
                written_on=form.get("written_on", ""),
                directions=form.get("directions", ""),
                dose_units=form.get("dose_units", ""),
                doses_per_day=form.get("doses_per_day", ""),
                quantity=form.get("quantity", ""),
                refills=form.get("refills", ""),
                as_needed=form.get("as_needed") == "on",
            )
            try:
                svc.enter_prescription(actor, patient_id, form.get("product_id", ""), data)
            except Invalid as exc:
                view = svc.patient_page(actor, patient_id)
                return self.render(
                    request, "prescription_form.html", 422, view=view, values=form,
                    errors={p.field: p.message for p in exc.problems},
                    products=[p for f in cat.families.values() for p in f.products if p.rx_only],
                )  # fmt: skip
            return RedirectResponse(f"{PREFIX}/patients/{patient_id}?m=prescription", status_code=303)

        # --- audit and administration ---

        @self.page(roles=staff)
        def audit(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            entries = svc.audit_log(Actor.of(user), 300)
            return self.render(request, "audit.html", entries=entries, broken=svc.verify_audit())

        @self.page(roles=(Role.ADMIN,))
        def rules(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            return self.render(
                request, "admin_rules.html", **self._rules_context(user, request.query_params.get("q", ""))
            )

        @self.page(roles=(Role.ADMIN,), post=True)
        def rules_submit(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            from rxguard.pharmacy.site_rules import RuleLocked

            indicator_text = form.get("indicator", "")
            indicator = {"info": 0, "warning": 1, "critical": 2}.get(indicator_text)
            try:
                svc.set_rule(Actor.of(user), form.get("rule_id", ""), form.get("enabled") == "on", indicator)
            except (Invalid, RuleLocked) as exc:
                context = {**self._rules_context(user, form.get("rule_id", "")), "error": str(exc)}
                return self.render(request, "admin_rules.html", 422, **context)
            return RedirectResponse(f"{PREFIX}/admin/rules?q={quote(form.get('rule_id', ''))}", status_code=303)

        @self.page(roles=(Role.ADMIN,))
        def users(request: Request, user: User | None, form: dict[str, str]) -> Response:
            assert user is not None  # noqa: S101
            actor = Actor.of(user)
            return self.render(request, "admin_users.html", users=svc.users(actor), patients=svc.patients(actor))

        r.add_api_route("/", home, methods=["GET"])
        r.add_api_route("", home, methods=["GET"])
        r.add_api_route("/search", search, methods=["GET"])
        r.add_api_route("/catalog/{slug}", guide, methods=["GET"])
        r.add_api_route("/catalog/{slug}/decision-aid", decision_aid, methods=["GET"])
        r.add_api_route("/catalog/{slug}/order", order_form, methods=["GET"])
        r.add_api_route("/conditions/{slug}", condition, methods=["GET"])
        r.add_api_route("/triage", triage, methods=["GET"])
        r.add_api_route("/login", login_form, methods=["GET"])
        r.add_api_route("/login", login, methods=["POST"])
        r.add_api_route("/logout", logout, methods=["POST"])
        r.add_api_route("/orders", orders, methods=["GET"])
        r.add_api_route("/orders", submit, methods=["POST"])
        r.add_api_route("/orders/{order_id}", order, methods=["GET"])
        r.add_api_route("/queue", queue_page, methods=["GET"])
        r.add_api_route("/me", me, methods=["GET"])
        r.add_api_route("/patients", patients, methods=["GET"])
        r.add_api_route("/patients/{patient_id}", patient, methods=["GET"])
        r.add_api_route("/patients/{patient_id}/prescriptions/new", prescription_form, methods=["GET"])
        r.add_api_route("/patients/{patient_id}/prescriptions", prescription_submit, methods=["POST"])
        r.add_api_route("/audit", audit, methods=["GET"])
        r.add_api_route("/admin/rules", rules, methods=["GET"])
        r.add_api_route("/admin/rules", rules_submit, methods=["POST"])
        r.add_api_route("/admin/users", users, methods=["GET"])

    def _patient_for(self, user: User, requested: str | None) -> int | None:
        """A patient orders for themselves; staff name the patient."""
        if user.role is Role.PATIENT:
            return user.patient_id
        return int(requested) if requested and requested.isdigit() else None

    def _rules_context(self, user: User, q: str) -> dict[str, Any]:
        from rxguard.pharmacy.site_rules import never_off_kind

        svc = self.service
        settings = {r.rule_id: r for r in svc.rule_settings(Actor.of(user))}
        query = q.strip().lower()
        rules = []
        if query:
            for rule_id, rule in sorted(svc.kb.rules_by_id.items()):
                if query in rule_id.lower():
                    rules.append((rule_id, type(rule).__name__, never_off_kind(svc.kb, rule_id), settings.get(rule_id)))
                if len(rules) >= 50:
                    break
        changed = [
            (
                rid,
                type(svc.kb.rules_by_id[rid]).__name__ if rid in svc.kb.rules_by_id else "?",
                never_off_kind(svc.kb, rid),
                st,
            )
            for rid, st in settings.items()
        ]
        return {"q": q, "rules": rules, "changed": changed, "never_off": svc.policy.never_off, "error": None}


def mount_pharmacy(app: FastAPI, service: PharmacyService, *, secure_cookies: bool = False) -> None:
    """Add the pharmacy's pages (and static files) to the service under /pharmacy, and expose the service to the
    API extension routes (`request.app.state.pharmacy`)."""
    pages = Pages(service, secure_cookies=secure_cookies)
    app.state.pharmacy = service
    app.state.pharmacy_started = datetime.now(UTC)
    static = str(resources.files("rxguard.adapters.web") / "static")
    app.mount(f"{PREFIX}/static", StaticFiles(directory=static), name="pharmacy-static")
    app.include_router(pages.router)
