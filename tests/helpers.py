"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any


def printed(data: dict[str, Any]) -> list[str]:
    """The lines text mode prints for a create answer's data."""
    return [
        f"Instance ID {data['id']}",
        f"Username {data['username']}",
        f"Password {data['password']}",
        f"Connection URI {data['connection_url']}",
    ]
