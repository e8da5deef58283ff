"""Service settings, read from the environment; every error names the variable and the value."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rxguard.adapters.cds_hooks.auth import ASYMMETRIC_ALGORITHMS, TrustedIssuer
from rxguard.errors import ConfigError

# The only way to switch JWT verification off; its value must be exactly this, so it cannot happen by accident.
DEV_NO_AUTH_VARIABLE = "RXGUARD_DEV_DISABLE_AUTH"
DEV_NO_AUTH_VALUE = "yes-i-understand-this-is-insecure"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How the service runs. Defaults are the documented ones; authentication is on unless disabled for development."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # uvicorn worker processes; more than one needs feedback_db (the shared replay store)
    service_url: str | None = None  # public base URL; JWT `aud` is checked against it
    auth_disabled_for_development: bool = False
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    jwt_algorithms: tuple[str, ...] = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256")
    jwt_max_lifetime_s: float = 3600.0
    suppress_overridden_days: float = 90.0
    select_sign_window_hours: float = 12.0
    feedback_window_days: float = 7.0
    feedback_db: str | None = None  # a SQLite file; in memory when unset
    fhir_timeout_s: float = 2.0
    fhir_servers: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    demo_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        if self.service_url:
            return self.service_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 (a comparison, not a bind)
        return f"http://{host}:{self.port}"

    @property
    def suppress_for(self) -> timedelta:
        return timedelta(days=self.suppress_overridden_days)

    @property
    def select_sign_window(self) -> timedelta:
        return timedelta(hours=self.select_sign_window_hours)

    @property
    def feedback_window(self) -> timedelta:
        return timedelta(days=self.feedback_window_days)


DEFAULTS = ServiceSettings()


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be a number (value: {raw!r})") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum:g} (value: {raw!r})")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be a whole number (value: {raw!r})") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum} (value: {raw!r})")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())


def parse_issuers(text: str, where: str = "RXGUARD_TRUSTED_ISSUERS") -> tuple[TrustedIssuer, ...]:
    """JSON: {"<iss>": {"jwks_url": "https://..."} or {"jwks": {"keys": [...]}}}, or a path to such a file."""
    source = text.strip()
    if source and not source.startswith("{"):
        path = Path(source)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {path} ({exc.__class__.__name__})") from None
    try:
        data = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object of issuer -> {{jwks_url | jwks}}")
    issuers = []
    for iss, spec in data.items():
        if not isinstance(spec, dict) or not (spec.get("jwks_url") or spec.get("jwks")):
            raise ConfigError(f"{where}.{iss}: needs 'jwks_url' or an inline 'jwks'")
        unknown = set(spec) - {"jwks_url", "jwks"}
        if unknown:
            raise ConfigError(f"{where}.{iss}: unknown key(s) {sorted(unknown)}")
        url = spec.get("jwks_url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
            raise ConfigError(f"{where}.{iss}.jwks_url: must be an http(s) URL (value: {url!r})")
        jwks = spec.get("jwks")
        if jwks is not None and not isinstance(jwks, dict):
            raise ConfigError(f"{where}.{iss}.jwks: must be a JWK Set object")
        issuers.append(TrustedIssuer(iss=iss, jwks_url=url, jwks=jwks))
    return tuple(issuers)


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
    """Settings from RXGUARD_* variables; keyword overrides (from the command line) win."""
    env = os.environ if environ is None else environ
    dev = env.get(DEV_NO_AUTH_VARIABLE)
    if dev is not None and dev not in ("", DEV_NO_AUTH_VALUE):
        raise ConfigError(f"{DEV_NO_AUTH_VARIABLE}: the only accepted value is {DEV_NO_AUTH_VALUE!r} (value: {dev!r})")
    algorithms = _list(env, "RXGUARD_JWT_ALGORITHMS") or DEFAULTS.jwt_algorithms
    bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if bad:
        raise ConfigError(f"RXGUARD_JWT_ALGORITHMS: only asymmetric algorithms are allowed (value: {bad})")
    port_text = env.get("RXGUARD_PORT", "")
    values: dict[str, Any] = {
        "host": env.get("RXGUARD_HOST") or DEFAULTS.host,
        "port": int(_number(env, "RXGUARD_PORT", DEFAULTS.port, 0)) if port_text else DEFAULTS.port,
        "workers": _whole(env, "RXGUARD_WORKERS", DEFAULTS.workers, 1),
        "service_url": env.get("RXGUARD_SERVICE_URL") or None,
        "auth_disabled_for_development": dev == DEV_NO_AUTH_VALUE,
        "trusted_issuers": parse_issuers(env["RXGUARD_TRUSTED_ISSUERS"]) if env.get("RXGUARD_TRUSTED_ISSUERS") else (),
        "jwt_algorithms": algorithms,
        "jwt_max_lifetime_s": _number(env, "RXGUARD_JWT_MAX_LIFETIME_S", DEFAULTS.jwt_max_lifetime_s, 1),
        "suppress_overridden_days": _number(env, "RXGUARD_SUPPRESS_OVERRIDDEN_DAYS", DEFAULTS.suppress_overridden_days),
        "select_sign_window_hours": _number(env, "RXGUARD_SELECT_SIGN_WINDOW_HOURS", DEFAULTS.select_sign_window_hours),
        "feedback_window_days": _number(env, "RXGUARD_FEEDBACK_WINDOW_DAYS", DEFAULTS.feedback_window_days),
        "feedback_db": env.get("RXGUARD_FEEDBACK_DB") or None,
        "fhir_timeout_s": _number(env, "RXGUARD_FHIR_TIMEOUT_S", DEFAULTS.fhir_timeout_s, 0.1),
        "fhir_servers": _list(env, "RXGUARD_FHIR_SERVERS"),
        "cors_origins": _list(env, "RXGUARD_CORS_ORIGINS"),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values["service_url"] and not str(values["service_url"]).startswith(("http://", "https://")):
        raise ConfigError(f"RXGUARD_SERVICE_URL: must be an http(s) URL (value: {values['service_url']!r})")
    if values["workers"] > 1 and not values["feedback_db"]:
        # Each worker would keep its own jti replay store (and alert memory): a token refused by one would be
        # accepted by another. Refuse to start rather than run that way.
        option = "--workers" if overrides.get("workers") is not None else "RXGUARD_WORKERS"
        raise ConfigError(
            f"{option}: more than one worker needs a shared JWT replay store; set RXGUARD_FEEDBACK_DB to a SQLite "
            f"file that every worker can open, or run one worker (value: {values['workers']})"
        )
    return ServiceSettings(**values)
