"""Provider credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts with the first key, decrypts with any: rotate by prepending a new key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """``DONATE_ENCRYPTION_KEY`` may hold several comma-separated keys (newest first)."""
        return cls([k.strip() for k in value.split(",") if k.strip()])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise ValueError("credential cannot be decrypted with the configured keys") from exc


def derive_fernet_key(secret: str, purpose: str) -> str:
    """A stable Fernet key from a development secret (demo only; production sets its own)."""
    digest = hashlib.sha256(f"{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


API_KEY_PREFIX = "dk_"


def new_api_key() -> tuple[str, str, bytes]:
    """Return (full key shown once, public prefix stored in clear, sha256 of the key)."""
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX) or key.count("_") < 2:
        return None
    return key[: len(API_KEY_PREFIX) + 8]


def same_hash(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
