"""Exit codes and the errors that carry them. Codes are a public contract: never reuse one."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # screened (whatever the cards say) / command succeeded
    INTERNAL = 1  # a bug: rxguard could not finish; the message says where to report it
    BAD_INPUT = 2  # the input could not be read: not JSON, not a request or Bundle, no order, bad option
    KNOWLEDGE = 3  # the knowledge base failed validation
    CONFIG = 4  # the configuration is invalid (unknown jurisdiction, bad setting)
    NOT_FOUND = 5  # a named thing (drug, order id) is not known


class RxguardError(Exception):
    """An error a user can act on; its message names the field and the value."""

    exit_code: ExitCode = ExitCode.INTERNAL


class InputError(RxguardError):
    """The request cannot be read; `field` is a dotted path into the input, `value` what was found."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, field: str, value: object, message: str) -> None:
        self.field = field
        self.value = value
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {message} (value: {shown})")


class ConfigError(RxguardError):
    exit_code = ExitCode.CONFIG


class NotFoundError(RxguardError):
    exit_code = ExitCode.NOT_FOUND
