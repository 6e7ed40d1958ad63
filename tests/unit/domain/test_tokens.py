"""Link tokens: random, URL-safe, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import re

from portal.domain.tokens import hash_token, new_token, tokens_match


def test_new_token_is_url_safe_and_long() -> None:
    token, _ = new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_new_token_returns_its_sha256() -> None:
    token, stored = new_token()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert stored == hash_token(token)
    assert token not in stored


def test_tokens_are_unique() -> None:
    assert len({new_token()[0] for _ in range(200)}) == 200


def test_matching_token_is_accepted() -> None:
    token, stored = new_token()
    assert tokens_match(token, stored)


def test_other_or_tampered_tokens_are_refused() -> None:
    token, stored = new_token()
    other, _ = new_token()
    assert not tokens_match(other, stored)
    assert not tokens_match(token[:-1], stored)
    assert not tokens_match(token + "x", stored)
    assert not tokens_match("", stored)
    assert not tokens_match(stored, stored)  # the stored hash itself is not a key


def test_non_string_inputs_are_refused() -> None:
    token, stored = new_token()
    assert not tokens_match(None, stored)  # type: ignore[arg-type]
    assert not tokens_match(token, None)  # type: ignore[arg-type]
