"""The lock file is the install: it must agree with pyproject.toml, and every package in it has hashes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> str:
    """The uv the Makefile installs (.tools/bin/uv), else one on PATH; CI must have it."""
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is missing: `make test` installs it into .tools/ from tools/uv-requirements.txt")
        pytest.skip("uv is not installed here (make test installs it)")
    return found


def test_pyproject_and_the_lock_agree() -> None:
    """Fails when pyproject.toml asks for something uv.lock does not pin: run `make lock`."""
    result = subprocess.run(
        [_uv(), "lock", "--check", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert result.returncode == 0, f"uv.lock is out of date; run `make lock`:\n{result.stderr}"


def test_every_locked_package_is_pinned_with_hashes() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    registry = [p for p in lock["package"] if "registry" in p.get("source", {})]
    assert len(registry) > 50
    for package in registry:
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        assert files, package["name"]
        assert all(f.get("hash", "").startswith("sha256:") for f in files), package["name"]
        assert package.get("version"), package["name"]


def test_uv_itself_is_hash_pinned() -> None:
    lines = (ROOT / "tools" / "uv-requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line.startswith("uv==")]
    assert len(pins) == 1
    assert sum("--hash=sha256:" in line for line in lines) >= 3
