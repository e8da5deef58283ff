"""People and sessions, pure: password hashing (argon2id), session and CSRF tokens, who may see what.

Session tokens are random (256 bits) and stored only as their SHA-256; the CSRF token is a second random value
bound to the session and compared in constant time. A patient sees only their own orders and record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rxguard.pharmacy.records import Order, Role, User

_HASHER = PasswordHasher()  # argon2id with the library's current parameters
MIN_PASSWORD = 10
# A real hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY = _HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def can_see_patient(user: User, patient_id: int) -> bool:
    if user.role in (Role.PHARMACIST, Role.ADMIN):
        return True
    return user.patient_id is not None and user.patient_id == patient_id


def can_see_order(user: User, order: Order) -> bool:
    return can_see_patient(user, order.patient_id)


def is_staff(user: User) -> bool:
    return user.role in (Role.PHARMACIST, Role.ADMIN)
