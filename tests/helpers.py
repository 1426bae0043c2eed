"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import time
from typing import Any, Callable


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


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll until condition() holds, instead of a fixed sleep; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.01)
