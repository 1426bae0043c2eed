"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

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


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll until condition() holds, instead of a fixed sleep; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.01)
