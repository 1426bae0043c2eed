"""Shared fixtures: a fake Aura API per test, and the script run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fake_aura import CLIENT_ID, CLIENT_SECRET, FakeAura

SCRIPT = Path(__file__).resolve().parent.parent / "create_instance.py"


@pytest.fixture
def fake():
    with FakeAura() as server:
        yield server


def script_env(fake: FakeAura | None = None, **overrides: str | None) -> dict[str, str]:
    """A clean environment: nothing of the developer's AURA_* or proxies leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AURA_", "GITHUB_")) and "proxy" not in key.lower()
    }
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    if fake is not None:
        env.update(
            AURA_API_URL=fake.url, AURA_CLIENT_ID=CLIENT_ID, AURA_CLIENT_SECRET=CLIENT_SECRET
        )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def run(fake: FakeAura, tmp_path: Path):
    """Run create_instance.py in tmp_path against the fake; returns CompletedProcess."""

    def run(
        *args: str, env: dict[str, Any] | None = None, timeout: float = 30, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=script_env(fake, **(env or {})),
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
