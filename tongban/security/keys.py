"""Keyed hashes, signatures and sealed values, all derived from the one server secret.

Each use names a purpose, so a signature made for one thing can never be replayed as another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from tongban.settings import settings

_FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with version byte 0x80 and a timestamp


def looks_sealed(value: object) -> bool:
    """True for a value that is a sealed token (Keys.seal) rather than something a user typed."""
    return isinstance(value, str) and value.startswith(_FERNET_PREFIX) and len(value) > 60


class Keys:
    def __init__(self, secret: bytes):
        if not secret:
            raise ValueError("an empty secret key")
        self._secret = secret

    @classmethod
    def default(cls) -> Keys:
        return cls(settings().secret_key)

    def _key(self, purpose: str) -> bytes:
        return hmac.new(self._secret, f"tongban:{purpose}".encode(), hashlib.sha256).digest()

    def digest(self, purpose: str, value: str) -> str:
        """A stable keyed hash of an identifier, fit to store or log (32 hex characters)."""
        return hmac.new(self._key(purpose), value.encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, purpose: str, value: str) -> str:
        mac = hmac.new(self._key(purpose), value.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def verify(self, purpose: str, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, value), signature or "")

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        """Encrypt and authenticate a small JSON payload; the token carries its own time."""
        key = base64.urlsafe_b64encode(self._key(f"seal:{purpose}"))
        return Fernet(key).encrypt(json.dumps(payload, ensure_ascii=False).encode()).decode()

    def unseal(self, purpose: str, token: Any, ttl: int | None = None) -> dict[str, Any] | None:
        """The payload of a token sealed for `purpose`, or None if forged, expired or foreign."""
        if not isinstance(token, str) or not token:
            return None
        key = base64.urlsafe_b64encode(self._key(f"seal:{purpose}"))
        try:
            data = json.loads(Fernet(key).decrypt(token.encode(), ttl=ttl))
        except (InvalidToken, ValueError, TypeError):
            return None
        return data if isinstance(data, dict) else None
