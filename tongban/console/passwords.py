"""Staff passwords: salted scrypt (hashlib, RFC 7914), parameters stored with each hash.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised later
without invalidating existing accounts (`needs_rehash` says when a login should re-hash).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

MIN_LENGTH = 10
MAX_LENGTH = 256


@dataclass(frozen=True)
class Cost:
    # n=2**15, r=8: 32 MiB and roughly 50-100 ms per hash on one core of the target machine.
    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 129 * self.n * self.r * self.p + 2**20


DEFAULT_COST = Cost()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, cost: Cost = DEFAULT_COST) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=32
    )
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[Cost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return None
        return Cost(int(n), int(r), int(p)), base64.b64decode(salt), base64.b64decode(digest)
    except (ValueError, TypeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, digest = parsed
    try:
        candidate = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=len(digest),
        )  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(candidate, digest)


def needs_rehash(stored: str, cost: Cost = DEFAULT_COST) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[0] != cost


# Verified against when the account does not exist, so an unknown name takes as long as a wrong
# password and the response time says nothing about which names exist.
_DUMMY: dict[Cost, str] = {}


def dummy_verify(password: str, cost: Cost = DEFAULT_COST) -> None:
    if cost not in _DUMMY:
        _DUMMY[cost] = hash_password(secrets.token_urlsafe(16), cost)
    verify_password(password, _DUMMY[cost])


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 个字符"
    if len(set(password)) < 4:
        return "密码过于简单：请混用不同的字符"
    return None
