"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any, Callable

from fake_aura import CLIENT_ID, CLIENT_SECRET

# One --verbose line: method, path, status, duration, and Aura's X-Request-Id if it sent one.
VERBOSE_LINE = re.compile(r"(GET|POST) (/\S*) -> (\d{3}) in \d+ ms(, X-Request-Id \S+)?")


def printed(data: dict[str, Any]) -> list[str]:
    """The lines text mode prints for a create answer's data."""
    return [
        f"Instance ID {data['id']}",
        f"Username {data['username']}",
        f"Password {data['password']}",
        f"Connection URI {data['connection_url']}",
    ]


def calls(fake) -> list[tuple[str, str]]:
    """(method, path) of every request the fake received, in order."""
    return [(r.method, r.path) for r in fake.requests]


def credentials_files(directory: Path) -> list[Path]:
    """The credentials files a run left in `directory`, by the Aura console's name."""
    return sorted(directory.glob("Neo4j-*-Created-*.txt"))


def secrets_of(fake) -> set[str]:
    """Everything no output may contain: the client secret, in clear and in the Basic
    header, and every access token the fake issued that is still known or was used."""
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    bearers = {
        r.headers["Authorization"][len("Bearer ") :]
        for r in fake.requests
        if r.headers.get("Authorization", "").startswith("Bearer ")
    }
    return {CLIENT_SECRET, basic, *fake._tokens, *bearers}


def assert_no_secrets(fake, *texts: str) -> None:
    """No secret of `fake` (see secrets_of) in any of `texts` (stdout, stderr, files)."""
    for secret in secrets_of(fake):
        for number, text in enumerate(texts):
            assert secret not in text, f"a secret is in output {number}"


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll until condition() holds, instead of a fixed sleep; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.01)
