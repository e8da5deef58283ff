"""Verify the JWT a CDS Client sends on every call (CDS Hooks "Trusting CDS Clients"), with PyJWT.

Accepted only: an asymmetric signature (RSA, RSA-PSS, ECDSA, EdDSA; never `none` or HMAC) by a key from the
JWK Set of an allow-listed issuer (`iss`), with `kid`; a `jku` header, when present, must be that issuer's
configured JWKS URL; `aud` must be the URL of the endpoint called; `exp`, `iat` and `jti` are required,
the token must be current and not live longer than the configured maximum, and a `jti` is accepted once
(remembered in this process, or in a SQLite file that several worker processes share).
Every failure is the same `Unauthorized` (the HTTP layer answers a bare 401). Tokens are never logged:
only the reason, the issuer and the jti are.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from rxguard.adapters.cds_hooks.memory import connect_shared

log = logging.getLogger("rxguard.auth")

ASYMMETRIC_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)


class Unauthorized(Exception):  # noqa: N818 (reads as the HTTP status it becomes)
    """The call is not authenticated; the reason is for the log, never for the caller."""


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An allow-listed CDS Client: its `iss`, and its JWK Set by URL or given out of band."""

    iss: str
    jwks_url: str | None = None
    jwks: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as far as the service needs it: organisation scope for alert memory."""

    issuer: str
    tenant: str | None = None
    jti: str | None = None

    @property
    def scope(self) -> str:
        return f"{self.issuer}|{self.tenant or ''}"


ANONYMOUS = Caller(issuer="development-no-auth")


class ReplayStore(Protocol):
    """Where used `jti`s are remembered. `first_use` is True exactly once per (iss, jti) while `exp` is ahead;
    a store that cannot answer refuses (returns False or raises `Unauthorized`), it never forgets."""

    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool: ...


class ReplayGuard:
    """Remembers (iss, jti) in this process until the token expires; a second use is refused.

    Expired entries are dropped from the front of an insertion-ordered queue, a few per call, so memory stays
    bounded by the tokens still alive and no call pays for a full sweep.
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool:
        key = (iss, jti)
        with self._lock:
            while self._order and self._order[0][0] < now:
                _, old = self._order.popleft()
                if self._seen.get(old, now) < now:
                    del self._seen[old]
            if key in self._seen:
                return False
            if len(self._seen) >= self._max:
                return False  # refuse rather than forget a jti that may still be replayed
            self._seen[key] = exp
            self._order.append((exp, key))
            return True


REPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS jwt_replay (
    iss TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (iss, jti)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jwt_replay_by_expiry ON jwt_replay (expires);
"""


class SqliteReplayGuard:
    """Remembers (iss, jti) in a SQLite file (WAL) that every worker process opens: a second use is refused
    whichever worker sees it.

    The check is one atomic statement: the insert of (iss, jti) fails on the primary key unless the row already
    there has expired, in which case it is replaced. Other workers' writes are waited for (busy timeout), and
    expired rows are deleted at most once per `purge_every_s`. A database error refuses the token (`Unauthorized`):
    a store that cannot answer must not let a replay through. It does not store tokens, only iss, jti and expiry.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0, purge_every_s: float = 60.0) -> None:
        self.path = str(path)
        self._purge_every = purge_every_s
        self._next_purge = float("-inf")
        self._lock = threading.Lock()
        self._db = connect_shared(self.path, REPLAY_SCHEMA, busy_timeout_s)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def purge(self, now: float) -> int:
        """Delete the rows of tokens expired before `now`; how many were deleted."""
        with self._lock:
            return self._purge(now)

    def _purge(self, now: float) -> int:
        self._next_purge = now + self._purge_every
        return self._db.execute("DELETE FROM jwt_replay WHERE expires < ?", (now,)).rowcount

    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool:
        try:
            with self._lock:
                if now >= self._next_purge:
                    self._purge(now)
                cursor = self._db.execute(
                    "INSERT INTO jwt_replay (iss, jti, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (iss, jti) DO UPDATE SET expires = excluded.expires WHERE jwt_replay.expires < ?",
                    (iss, jti, exp, now),
                )
                return cursor.rowcount == 1
        except sqlite3.Error as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
            raise Unauthorized(f"replay store {self.path} unavailable ({reason}); refused jti {jti}") from None


@dataclass
class _CachedKeys:
    keys: dict[str, tuple[PyJWK, str | None]]
    fetched_at: float


@dataclass
class JwtVerifier:
    """Verifies CDS Hooks client JWTs; JWK Sets are fetched with httpx (short timeouts) and cached."""

    issuers: Mapping[str, TrustedIssuer]
    algorithms: tuple[str, ...] = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256")
    leeway_s: float = 30.0
    max_lifetime_s: float = 3600.0
    jwks_ttl_s: float = 3600.0
    jwks_refetch_s: float = 60.0
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], float] = time.time
    replay: ReplayStore = field(default_factory=ReplayGuard)
    _cache: dict[str, _CachedKeys] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unsafe = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if unsafe:
            raise ValueError(f"RXGUARD_JWT_ALGORITHMS: only asymmetric algorithms are allowed (value: {unsafe})")

    async def _fetch_jwks(self, url: str) -> Mapping[str, Any]:
        timeout = httpx.Timeout(2.0, connect=1.0)
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport, follow_redirects=False) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise Unauthorized(f"JWKS {url} answered {response.status_code}")
        data = response.json()
        if not isinstance(data, dict):
            raise Unauthorized(f"JWKS {url} is not a JSON object")
        return data

    @staticmethod
    def _parse_keys(data: Mapping[str, Any]) -> dict[str, tuple[PyJWK, str | None]]:
        """kid -> (key, the alg the JWK declares, if any)."""
        try:
            keyset = PyJWKSet.from_dict(dict(data))
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            raise Unauthorized(f"unusable JWK Set: {exc.__class__.__name__}") from None
        declared = {
            str(k.get("kid")): k.get("alg") for k in data.get("keys", []) if isinstance(k, dict) and k.get("kid")
        }
        return {k.key_id: (k, declared.get(k.key_id)) for k in keyset.keys if k.key_id}

    async def _key(self, issuer: TrustedIssuer, kid: str) -> tuple[PyJWK, str | None]:
        if issuer.jwks is not None:
            inline = self._cache.get(issuer.iss)
            if inline is None:  # parsed once: building keys from a JWK Set costs more than a verification
                inline = _CachedKeys(self._parse_keys(issuer.jwks), self.clock())
                self._cache[issuer.iss] = inline
            if kid not in inline.keys:
                raise Unauthorized(f"kid {kid!r} not in the configured JWK Set of {issuer.iss}")
            return inline.keys[kid]
        if issuer.jwks_url is None:
            raise Unauthorized(f"no JWK Set configured for {issuer.iss}")
        now = self.clock()
        cached = self._cache.get(issuer.iss)
        stale = cached is None or now - cached.fetched_at > self.jwks_ttl_s
        unknown_kid = cached is not None and kid not in cached.keys
        if stale or (unknown_kid and cached is not None and now - cached.fetched_at > self.jwks_refetch_s):
            try:
                data = await self._fetch_jwks(issuer.jwks_url)
            except (httpx.HTTPError, ValueError) as exc:
                raise Unauthorized(f"JWKS of {issuer.iss} unavailable: {exc.__class__.__name__}") from None
            cached = _CachedKeys(self._parse_keys(data), now)
            self._cache[issuer.iss] = cached
        if cached is None or kid not in cached.keys:
            raise Unauthorized(f"kid {kid!r} not in the JWK Set of {issuer.iss}")
        return cached.keys[kid]

    async def verify(self, authorization: str | None, audiences: Iterable[str]) -> Caller:
        """The caller, from an `Authorization: Bearer <JWT>` header whose `aud` is one of `audiences`."""
        if not authorization:
            raise Unauthorized("no Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization is not a Bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token: {exc.__class__.__name__}") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise Unauthorized(f"algorithm {alg!r} not accepted")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise Unauthorized(f"typ {typ!r} is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("no kid in the token header")
        claimed = unverified.get("iss")
        issuer = self.issuers.get(claimed) if isinstance(claimed, str) else None
        if issuer is None:
            raise Unauthorized(f"issuer {claimed!r} not on the allow-list")
        iss = issuer.iss
        jku = header.get("jku")
        if jku is not None and jku != issuer.jwks_url:
            raise Unauthorized(f"jku {jku!r} is not the JWKS URL configured for {iss}")
        key, declared_alg = await self._key(issuer, kid)
        if declared_alg is not None and declared_alg != alg:
            raise Unauthorized(f"key {kid!r} is declared for {declared_alg}, not {alg}")
        wanted = list(audiences)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=wanted,
                issuer=iss,
                leeway=self.leeway_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"rejected token from {iss}: {exc.__class__.__name__}: {exc}") from None
        now = self.clock()
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise Unauthorized(f"jti missing from {iss}")
        if iat > now + self.leeway_s:
            raise Unauthorized(f"token from {iss} issued in the future (jti {jti})")
        if exp - iat > self.max_lifetime_s:
            raise Unauthorized(f"token from {iss} lives {exp - iat:.0f} s, more than allowed (jti {jti})")
        if not self.replay.first_use(iss, jti, float(exp) + self.leeway_s, now):
            raise Unauthorized(f"replayed jti {jti} from {iss}")
        tenant = claims.get("tenant")
        return Caller(issuer=iss, tenant=tenant if isinstance(tenant, str) else None, jti=jti)


def log_rejection(reason: Unauthorized) -> None:
    """Log why a call was refused (reasons never contain the token)."""
    log.warning("refused CDS Hooks call: %s", reason)
