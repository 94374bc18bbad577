"""Opaque bearer tokens (sessions, e-mail links, invitations): shown once, stored as SHA-256,
and CSRF tokens derived from a secret and what they are bound to."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> tuple[str, bytes]:
    """(token for the cookie or link, its SHA-256 for the database)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_token(secret: str, binding: str) -> str:
    """A synchronizer token for the session (or pre-session nonce) ``binding``."""
    return hmac.new(secret.encode(), f"csrf\n{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, binding: str, presented: str) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret, binding), presented)
