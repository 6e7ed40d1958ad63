"""Link and one-time tokens: only the SHA-256 of a token is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token, the only form that is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh URL-safe token (for the link) and its hash (for the database)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def tokens_match(token: str, stored_hash: str) -> bool:
    """Constant-time check that `token` hashes to `stored_hash`."""
    if not isinstance(token, str) or not isinstance(stored_hash, str):
        return False
    return hmac.compare_digest(hash_token(token).encode("ascii"), stored_hash.encode("utf-8"))
