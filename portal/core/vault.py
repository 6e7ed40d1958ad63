"""Secrets at rest (Stripe keys, the SMTP password): Fernet, with the key derived from SECRET_KEY."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from portal.config import get_settings


def encrypt(plain: str) -> str:
    """Encrypt a secret for storage ('' stays '')."""
    if not plain:
        return ""
    return Fernet(get_settings().fernet_key).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored secret ('' when empty or when SECRET_KEY changed since it was stored)."""
    if not token:
        return ""
    try:
        return Fernet(get_settings().fernet_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
