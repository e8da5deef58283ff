"""Where feature packages add REST routes (thiopurine plan, overdose, triage ...) without editing the app.

Each module listed in `API_EXTENSION_MODULES` must expose `router: fastapi.APIRouter`; it is mounted under
`/api/v1` behind the same authentication, and its errors become problem details like every other route:
raise `rxguard.errors.InputError(field, value, message)` for bad input (422, naming the field) and
`NotFoundError` for unknown names (404). Keep the route thin: parse, call the feature's pure function,
return JSON; the screener (and its knowledge base) is `request.app.state.screener`. Add one line per feature.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

API_EXTENSION_MODULES: tuple[str, ...] = (
    "rxguard.adapters.http.therapy_routes",
    "rxguard.adapters.http.thiopurine_routes",
    "rxguard.adapters.web.api",
)


def extension_routers() -> list[APIRouter]:
    routers = []
    for name in API_EXTENSION_MODULES:
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{name}: an API extension module must define `router = APIRouter(...)`")
        routers.append(router)
    return routers
