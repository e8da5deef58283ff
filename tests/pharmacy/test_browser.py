"""The three journeys of the issue in Debian's headless Chromium (Playwright for Python), with screenshots.

1. A patient finds Imuran, places an order with the prescription on file, and sees it screened.
2. A pharmacist sees the cards, overrides the critical one with a reason, approves, and the audit log shows it.
3. A second patient cannot open the first patient's order.

Screenshots of the main pages go to test-artifacts/pharmacy/. Skipped, with the reason, where Chromium or
Playwright is absent (`.ci/run` installs Debian's chromium).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="Playwright for Python is not installed (pip install -e '.[test]')")
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
if not CHROMIUM:
    pytest.skip("no chromium on this machine (install Debian's chromium package)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from rxguard.adapters.cds_hooks.memory import InMemoryAlertMemory  # noqa: E402
from rxguard.adapters.http.app import create_app  # noqa: E402
from rxguard.adapters.http.settings import ServiceSettings  # noqa: E402
from rxguard.adapters.store.db import make_engine, migrate  # noqa: E402
from rxguard.adapters.store.repository import SqlStore  # noqa: E402
from rxguard.adapters.web.pages import mount_pharmacy  # noqa: E402
from rxguard.pharmacy.service import Actor, PharmacyService  # noqa: E402
from rxguard.screen import Screener  # noqa: E402
from tests.pharmacy.conftest import People, imuran_prescription  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pharmacy"


LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop while it is open: keep it to this module, so that tests after it
    # can start their own loops (asyncio.run).
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Site:
    base: str
    service: PharmacyService
    people: People


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, screener: Screener) -> Iterator[Site]:
    import uvicorn

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'pharmacy.sqlite'}")
    migrate(engine)
    service = PharmacyService(SqlStore(engine), screener)
    people = People(service)
    service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    app = create_app(ServiceSettings(auth_disabled_for_development=True), screener, InMemoryAlertMemory())
    mount_pharmacy(app, service)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield Site(f"http://127.0.0.1:{port}", service, people)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, site: Site, username: str, password: str) -> None:
    page.goto(f"{site.base}/pharmacy/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_patient_finds_imuran_orders_it_with_a_prescription_and_sees_it_screened(page: Page, site: Site) -> None:
    page.goto(f"{site.base}/pharmacy/")
    shot(page, "01-catalog")
    page.get_by_label("Search by brand, generic name or condition").fill("Imuran")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Imuran", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Imuran")
    expect(page.get_by_text("USD 1.20").first).to_be_visible()
    shot(page, "02-imuran-guide")
    page.get_by_role("link", name="Sign in to order").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order Imuran")
    page.get_by_label("Imuran 50 mg film-coated tablets", exact=False).check()
    page.get_by_label("Quantity (tablets)").fill("56")
    expect(page.get_by_label("Prescription on file")).to_contain_text("Dr Jane Smith")
    shot(page, "03-order-form")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-state")).to_have_text("awaiting pharmacist")
    expect(page.get_by_text("USD 67.20")).to_be_visible()
    expect(page.locator("article.card.critical")).to_have_count(1)
    shot(page, "04-order-screened")


def test_a_pharmacist_overrides_a_card_with_a_reason_approves_and_the_audit_log_shows_it(
    page: Page, site: Site
) -> None:
    people = site.people
    rx = site.service.prescriptions(Actor.of(people.pharmacist), people.alice_id)[0]
    order, _ = site.service.submit_order(
        Actor.of(people.alice), people.alice_id, "imuran-50", "28", rx.id, "browser-journey-2"
    )
    sign_in(page, site, "phil", "pharmacist-pass-1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Verification queue")
    shot(page, "05-queue")
    page.get_by_role("link", name=f"#{order.id}", exact=True).click()
    critical = page.locator("article.card.critical")
    expect(critical).to_have_count(1)
    critical.get_by_label("Reason (required for a critical card)").select_option("recipient-concerns-outcomes")
    critical.get_by_label("Comment").fill("gastroenterologist aware; monitoring arranged")
    shot(page, "06-order-override")
    critical.get_by_role("button", name="Override").click()
    expect(page.get_by_text("Overridden: Benefit judged to outweigh the risk for this patient")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#order-state")).to_have_text("approved")
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("tbody tr", has_text=f"order #{order.id}")
    expect(rows.filter(has_text="card.overridden")).to_have_count(1)
    expect(rows.filter(has_text="card.overridden")).to_contain_text("gastroenterologist aware")
    expect(rows.filter(has_text="order.approved")).to_contain_text("phil")
    expect(page.get_by_text("Chain check: intact")).to_be_visible()
    shot(page, "07-audit-log")


def test_a_second_patient_cannot_open_the_first_patients_order(page: Page, site: Site) -> None:
    people = site.people
    rx = site.service.prescriptions(Actor.of(people.pharmacist), people.alice_id)[0]
    order, _ = site.service.submit_order(
        Actor.of(people.alice), people.alice_id, "imuran-50", "14", rx.id, "browser-journey-3"
    )
    sign_in(page, site, "bob", "bob-password-12")
    response = page.goto(f"{site.base}/pharmacy/orders/{order.id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_text("Alice")).to_have_count(0)
    shot(page, "08-other-patient-not-found")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{site.base}/pharmacy/catalog/imuran")
    shot(page, "09-guide-on-a-phone")
