"""The service under test: locally generated signing keys, a JWKS and a FHIR server served by in-process fakes.

No network: the JWK Set and the client's FHIR server are httpx MockTransports; calls go to the ASGI app
in-process. `Api` wraps the app with a clock the tests move, and signs a fresh JWT for every call.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rxguard.adapters.cds_hooks.auth import JwtVerifier, TrustedIssuer
from rxguard.adapters.cds_hooks.memory import AlertMemory, InMemoryAlertMemory, SqliteAlertMemory
from rxguard.adapters.http.app import create_app
from rxguard.adapters.http.settings import ServiceSettings
from rxguard.screen import Screener

SERVICE_URL = "https://rxguard.test"
ISSUER = "https://ehr.example.org"
JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
FHIR_SERVER = "http://localhost:8080/fhir"

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@dataclass
class SigningKey:
    kid: str
    private: Any
    alg: str

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        data: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey("ehr-es384", ec.generate_private_key(ec.SECP384R1()), "ES384")


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey("ehr-rs384", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS384")


def token(
    key: SigningKey,
    aud: str | list[str],
    *,
    iss: str = ISSUER,
    lifetime: int = 300,
    issued: datetime | None = None,
    jti: str | None = None,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    issued_at = issued or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + timedelta(seconds=lifetime)).timestamp()),
        "jti": jti or str(uuid.uuid4()),
        "tenant": "hospital-a",
    }
    for name in drop:
        claims.pop(name, None)
    header = {
        k: v for k, v in {"kid": key.kid, "typ": "JWT", "jku": JWKS_URL, **(headers or {})}.items() if v is not None
    }
    return jwt.encode(claims, key.private, algorithm=key.alg, headers=header)


@dataclass
class FakeFhirServer:
    """The EHR's FHIR server: answers searches from `resources`; records what it was asked and with which token."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"resourceType": "OperationOutcome", "issue": []})
        path = request.url.path.removeprefix("/fhir/")
        kind, _, ident = path.partition("/")
        if ident:
            found = [r for r in self.resources if r["resourceType"] == kind and r.get("id") == ident]
            return httpx.Response(200, json=found[0]) if found else httpx.Response(404, json={})
        hits = [r for r in self.resources if r["resourceType"] == kind]
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in hits]}
        )


class Api:
    """In-process calls to the app; `auth` signs a fresh JWT (aud = the URL called) unless told otherwise."""

    def __init__(self, app: Any, key: SigningKey | None, clock: list[datetime]) -> None:
        self.app = app
        self.key = key
        self.clock = clock

    def request(
        self, method: str, path: str, *, body: Any = None, bearer: str | None = None, sign: bool = True, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        elif sign and self.key is not None:
            headers["Authorization"] = f"Bearer {token(self.key, SERVICE_URL + path.split('?', maxsplit=1)[0])}"
        content = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        if content is not None:
            headers.setdefault("Content-Type", "application/json")

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=SERVICE_URL) as client:
                return await client.request(method, path, content=content, headers=headers, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, body=body, **kw)

    def advance(self, **delta: float) -> None:
        self.clock[0] = self.clock[0] + timedelta(**delta)


def jwks_transport(*keys: SigningKey) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == JWKS_URL:
            return httpx.Response(200, json={"keys": [k.jwk() for k in keys]})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


@pytest.fixture
def fhir_server() -> FakeFhirServer:
    return FakeFhirServer()


@pytest.fixture(params=["memory", "sqlite"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertMemory]:
    if request.param == "memory":
        yield InMemoryAlertMemory()
    else:
        store = SqliteAlertMemory(tmp_path / "feedback.sqlite3")
        yield store
        store.close()


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(screener: Screener, ec_key: SigningKey, rsa_key: SigningKey, fhir_server: FakeFhirServer) -> MakeApi:
    def build(memory: AlertMemory | None = None, *, auth: bool = True, settings: ServiceSettings | None = None) -> Api:
        clock = [NOW]
        settings = settings or ServiceSettings(
            service_url=SERVICE_URL,
            auth_disabled_for_development=not auth,
            trusted_issuers=(TrustedIssuer(ISSUER, jwks_url=JWKS_URL),),
        )
        verifier = (
            JwtVerifier({ISSUER: TrustedIssuer(ISSUER, jwks_url=JWKS_URL)}, transport=jwks_transport(ec_key, rsa_key))
            if auth
            else None
        )
        app = create_app(
            settings,
            screener,
            memory or InMemoryAlertMemory(),
            verifier=verifier,
            fhir_transport=httpx.MockTransport(fhir_server.handler),
            clock=lambda: clock[0],
        )
        return Api(app, ec_key if auth else None, clock)

    return build


@pytest.fixture
def api(make_api: MakeApi, memory: AlertMemory) -> Api:
    return make_api(memory)
