"""Prefetch: the templates rxguard's services declare, which of them a request satisfied, and the rest fetched.

A client may honour none, some or all prefetch templates (CDS Hooks, "Prefetch Template"). A key counts as
satisfied when it is present and is not an OperationOutcome (null means "queried, nothing found"), or when
resources of its type arrived under any other key (prefetch is read by resource type). The rest are read
from `fhirServer` with the `fhirAuthorization` bearer token, with short timeouts; when that is not possible
the service answers 412 with an OperationOutcome, never an empty success.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

# key -> (FHIR query template, resource types that satisfy it)
PREFETCH: dict[str, tuple[str, tuple[str, ...]]] = {
    "patient": ("Patient/{{context.patientId}}", ("Patient",)),
    "medications": (
        "MedicationRequest?patient={{context.patientId}}&status=active",
        ("MedicationRequest", "MedicationStatement"),
    ),
    "conditions": ("Condition?patient={{context.patientId}}", ("Condition",)),
    "allergies": ("AllergyIntolerance?patient={{context.patientId}}", ("AllergyIntolerance",)),
    "observations": ("Observation?patient={{context.patientId}}&_sort=-date&_count=100", ("Observation",)),
    "dispenses": ("MedicationDispense?patient={{context.patientId}}", ("MedicationDispense",)),
}
TEMPLATES: dict[str, str] = {key: template for key, (template, _) in PREFETCH.items()}
MAX_PAGES = 5
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class PrefetchUnavailable(Exception):  # noqa: N818 (reads as the 412 it becomes)
    """Required data was neither prefetched nor retrievable; `keys` says which."""

    def __init__(self, keys: list[str], reason: str) -> None:
        self.keys = keys
        self.reason = reason
        super().__init__(f"{', '.join(keys)}: {reason}")


def _resources(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _resources(item)
    elif isinstance(value, dict):
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry") or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield entry["resource"]
        elif isinstance(value.get("resourceType"), str):
            yield value


def _is_error(value: Any) -> bool:
    """An OperationOutcome (alone, or as the only content of a Bundle) means the client could not prefetch."""
    found = list(_resources(value))
    return bool(found) and all(r.get("resourceType") == "OperationOutcome" for r in found)


def missing_keys(prefetch: Mapping[str, Any] | None) -> list[str]:
    """The declared keys the request did not satisfy."""
    given = dict(prefetch or {})
    present_types = {r.get("resourceType") for v in given.values() for r in _resources(v)}
    missing = []
    for key, (_, types) in PREFETCH.items():
        if key in given and not _is_error(given[key]):
            continue
        if present_types & set(types):
            continue
        missing.append(key)
    return missing


def patient_id(context: Mapping[str, Any]) -> str | None:
    value = context.get("patientId")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().removeprefix("Patient/")


@dataclass(frozen=True, slots=True)
class FhirFetcher:
    """Reads missing prefetch data from the client's FHIR server.

    `allowed_servers` (URL prefixes), when not empty, limits which servers are called. The bearer token is
    sent only over https or to a loopback address, never in a log or an error.
    """

    timeout_s: float = 2.0
    connect_timeout_s: float = 1.0
    allowed_servers: tuple[str, ...] = ()
    transport: httpx.AsyncBaseTransport | None = None

    def _check_server(self, server: Any) -> str:
        if not isinstance(server, str) or not server.strip():
            raise PrefetchUnavailable([], "no fhirServer in the request to read missing data from")
        base = server.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PrefetchUnavailable([], "fhirServer is not an http(s) URL")
        if self.allowed_servers and not any(base.startswith(p.rstrip("/")) for p in self.allowed_servers):
            raise PrefetchUnavailable([], "fhirServer is not on this service's list of FHIR servers")
        return base

    @staticmethod
    def _token(request: Mapping[str, Any], base: str) -> str | None:
        auth = request.get("fhirAuthorization")
        if not isinstance(auth, dict):
            return None
        token = auth.get("access_token")
        if not isinstance(token, str) or not token:
            return None
        parts = urlsplit(base)
        if parts.scheme != "https" and (parts.hostname or "") not in LOOPBACK_HOSTS:
            raise PrefetchUnavailable([], "refusing to send the fhirAuthorization token over plain http")
        return token

    async def _get(self, client: httpx.AsyncClient, base: str, path: str) -> Any:
        url = f"{base}/{path}"
        pages: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = await client.get(url)
            if response.status_code == 404 and not path.count("?"):
                return None  # a read of a resource that does not exist
            if response.status_code != 200:
                raise PrefetchUnavailable([], f"the FHIR server answered {response.status_code}")
            data = response.json()
            if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
                raise PrefetchUnavailable([], "the FHIR server's answer is not a FHIR resource")
            if data.get("resourceType") != "Bundle":
                return data
            pages.append(data)
            following = [
                link.get("url")
                for link in data.get("link") or []
                if isinstance(link, dict) and link.get("relation") == "next"
            ]
            if not following or not isinstance(following[0], str) or not following[0].startswith(base):
                break
            url = following[0]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [e for page in pages for e in page.get("entry") or []],
        }

    async def fetch(self, request: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
        """The missing keys read from fhirServer; PrefetchUnavailable names the keys when that fails."""
        try:
            base = self._check_server(request.get("fhirServer"))
            token = self._token(request, base)
        except PrefetchUnavailable as exc:
            raise PrefetchUnavailable(keys, exc.reason) from None
        context = request.get("context")
        pid = patient_id(context) if isinstance(context, dict) else None
        if pid is None:
            raise PrefetchUnavailable(keys, "context.patientId is needed to read the patient's record")
        if not FHIR_ID.fullmatch(pid):
            raise PrefetchUnavailable(keys, "context.patientId is not a FHIR id")
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        paths = {k: TEMPLATES[k].replace("{{context.patientId}}", pid) for k in keys}
        try:
            async with httpx.AsyncClient(
                headers=headers, timeout=timeout, transport=self.transport, follow_redirects=False
            ) as client:
                values = await asyncio.gather(*(self._get(client, base, paths[k]) for k in keys))
        except PrefetchUnavailable as exc:
            raise PrefetchUnavailable(keys, exc.reason) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise PrefetchUnavailable(keys, f"the FHIR server could not be read ({exc.__class__.__name__})") from None
        return dict(zip(keys, values, strict=True))
