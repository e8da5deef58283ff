"""JWT verification on every call: asymmetric signatures by allow-listed issuers, aud, exp, iat, jti; bare 401."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from rxguard.adapters.cds_hooks.auth import JwtVerifier, ReplayGuard, TrustedIssuer, Unauthorized
from rxguard.adapters.http.settings import DEV_NO_AUTH_VALUE, settings_from_env
from rxguard.errors import ConfigError
from tests import builders as b
from tests.service.conftest import ISSUER, SERVICE_URL, Api, MakeApi, SigningKey, token

DISCOVERY = SERVICE_URL + "/cds-services"
SIGN = "/cds-services/rxguard-order-sign"


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """These tests do not depend on the store: the in-memory one is enough."""
    return make_api()


def assert_bare_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_valid_es384_token_is_accepted_on_discovery(api: Api, ec_key: SigningKey) -> None:
    assert api.get("/cds-services", bearer=token(ec_key, DISCOVERY)).status_code == 200


def test_rs384_keys_from_the_same_jwks_are_accepted(api: Api, rsa_key: SigningKey) -> None:
    assert api.get("/cds-services", bearer=token(rsa_key, DISCOVERY)).status_code == 200


def test_aud_may_be_an_array_containing_the_service_url(api: Api, ec_key: SigningKey) -> None:
    assert api.get("/cds-services", bearer=token(ec_key, ["https://other", DISCOVERY])).status_code == 200


def test_no_token_is_a_bare_401(api: Api) -> None:
    assert_bare_401(api.get("/cds-services", sign=False))
    assert_bare_401(api.get("/cds-services", headers={"Authorization": "Basic dXNlcjpwYXNz"}, sign=False))


def test_an_unsigned_token_is_refused(api: Api) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "ehr-es384"})
    assert_bare_401(api.get("/cds-services", bearer=unsigned))


def test_an_hmac_token_keyed_with_the_public_key_is_refused(api: Api, rsa_key: SigningKey) -> None:
    """The classic algorithm-confusion attack: HS256 'signed' with the published public key."""
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    forged = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}.c2lnbmF0dXJl"
    assert_bare_401(api.get("/cds-services", bearer=forged))


def test_wrong_audience_is_refused(api: Api, ec_key: SigningKey) -> None:
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, "https://another-service.example/cds-services")))
    # a token for one service endpoint does not open another
    assert_bare_401(api.post(SIGN, b.request(b.order("Panadol 500 mg tablets")), bearer=token(ec_key, DISCOVERY)))


def test_expired_token_is_refused(api: Api, ec_key: SigningKey) -> None:
    old = datetime.now(UTC) - timedelta(minutes=20)
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, issued=old, lifetime=300)))


def test_token_issued_in_the_future_is_refused(api: Api, ec_key: SigningKey) -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, issued=later)))


def test_token_living_longer_than_allowed_is_refused(api: Api, ec_key: SigningKey) -> None:
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, lifetime=7 * 24 * 3600)))


def test_a_replayed_token_is_refused(api: Api, ec_key: SigningKey) -> None:
    once = token(ec_key, DISCOVERY)
    assert api.get("/cds-services", bearer=once).status_code == 200
    assert_bare_401(api.get("/cds-services", bearer=once))


def test_unknown_issuer_is_refused(api: Api, ec_key: SigningKey) -> None:
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, iss="https://rogue.example")))


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "iss", "aud"])
def test_every_required_claim_must_be_present(api: Api, ec_key: SigningKey, claim: str) -> None:
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, drop=(claim,))))


def test_unknown_kid_and_foreign_jku_are_refused(api: Api, ec_key: SigningKey) -> None:
    assert_bare_401(api.get("/cds-services", bearer=token(ec_key, DISCOVERY, headers={"kid": "unknown"})))
    foreign = token(ec_key, DISCOVERY, headers={"jku": "https://rogue.example/jwks.json"})
    assert_bare_401(api.get("/cds-services", bearer=foreign))


def test_the_rest_api_takes_its_base_url_as_audience(api: Api, ec_key: SigningKey) -> None:
    assert api.get("/api/v1/knowledge", bearer=token(ec_key, SERVICE_URL + "/api/v1")).status_code == 200
    assert api.get("/api/v1/knowledge").status_code == 200  # aud = the endpoint URL
    assert_bare_401(api.get("/api/v1/knowledge", sign=False))


def test_public_pages_need_no_token(api: Api) -> None:
    for path in ("/", "/health", "/openapi.json"):
        assert api.get(path, sign=False).status_code == 200


def test_tokens_are_never_logged(api: Api, ec_key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad = token(ec_key, "https://wrong.example")
    good = token(ec_key, DISCOVERY)
    api.get("/cds-services", bearer=bad)
    api.get("/cds-services", bearer=good)
    assert "refused CDS Hooks call" in caplog.text
    assert bad not in caplog.text and good not in caplog.text
    assert bad.split(".")[2] not in caplog.text


def test_authentication_is_off_only_with_the_explicit_development_setting(make_api: MakeApi) -> None:
    open_api = make_api(auth=False)
    response = open_api.get("/cds-services")
    assert response.status_code == 200
    assert "authentication disabled" in response.headers["x-rxguard-warning"]
    assert "Authentication is OFF" in open_api.get("/").text
    assert settings_from_env({}).auth_disabled_for_development is False
    assert settings_from_env({"RXGUARD_DEV_DISABLE_AUTH": DEV_NO_AUTH_VALUE}).auth_disabled_for_development
    with pytest.raises(ConfigError, match="RXGUARD_DEV_DISABLE_AUTH"):
        settings_from_env({"RXGUARD_DEV_DISABLE_AUTH": "1"})


def test_symmetric_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ConfigError, match="RXGUARD_JWT_ALGORITHMS"):
        settings_from_env({"RXGUARD_JWT_ALGORITHMS": "ES384,HS256"})


def test_trusted_issuers_are_read_from_json_with_their_jwks_url() -> None:
    settings = settings_from_env(
        {"RXGUARD_TRUSTED_ISSUERS": json.dumps({ISSUER: {"jwks_url": "https://ehr.example.org/jwks.json"}})}
    )
    assert [(i.iss, i.jwks_url) for i in settings.trusted_issuers] == [(ISSUER, "https://ehr.example.org/jwks.json")]
    with pytest.raises(ConfigError, match="needs 'jwks_url'"):
        settings_from_env({"RXGUARD_TRUSTED_ISSUERS": json.dumps({ISSUER: {}})})


def test_a_jwk_set_agreed_out_of_band_needs_no_fetch(ec_key: SigningKey) -> None:
    verifier = JwtVerifier({ISSUER: TrustedIssuer(ISSUER, jwks={"keys": [ec_key.jwk()]})})
    no_jku = token(ec_key, DISCOVERY, headers={"jku": None})
    caller = asyncio.run(verifier.verify(f"Bearer {no_jku}", [DISCOVERY]))
    assert (caller.issuer, caller.tenant) == (ISSUER, "hospital-a")
    with pytest.raises(Unauthorized):
        asyncio.run(verifier.verify(f"Bearer {no_jku}", [DISCOVERY]))  # replayed


def test_the_replay_store_forgets_only_expired_tokens_and_refuses_when_full() -> None:
    guard = ReplayGuard(max_entries=3)
    assert guard.first_use(ISSUER, "a", exp=10, now=0)
    assert not guard.first_use(ISSUER, "a", exp=10, now=5)
    assert guard.first_use(ISSUER, "b", exp=10, now=5) and guard.first_use(ISSUER, "c", exp=10, now=5)
    assert not guard.first_use(ISSUER, "d", exp=20, now=6)  # full: refused, nothing forgotten early
    assert guard.first_use(ISSUER, "d", exp=20, now=11)  # a, b and c have expired
    assert not guard.first_use(ISSUER, "d", exp=20, now=12)
