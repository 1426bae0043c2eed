"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from conftest import SCRIPT, script_env

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


# The script run as __main__ in a world changed in a few ways, each named in the
# first argument (comma-separated). "free-sleep": time.sleep does nothing, so the
# script's up to 4 resends of a failed request, with their backoff, cost no time.
# "no-dns": names other than loopback ones fail to resolve as a name that does not
# exist does, without a DNS query (resolving any name here asks a DNS server that
# is not on loopback). "no-syn-ack": connections time out (a real connect timeout
# takes the script's 10 s per attempt).
CHANGED_WORLD = """
import runpy, socket, sys, time
changes = set(sys.argv.pop(1).split(","))
if "free-sleep" in changes:
    time.sleep = lambda seconds: None
real_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if "no-dns" in changes and host not in ("127.0.0.1", "localhost", "::1"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
if "no-syn-ack" in changes:
    def connect(self, address):
        raise TimeoutError("timed out")
    socket.socket.connect = connect
sys.argv.pop(0)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_changed(
    changes: list[str], fake, cwd: Path, *args: str, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run the script against `fake` in a world with `changes` (see CHANGED_WORLD)."""
    return subprocess.run(
        [sys.executable, "-c", CHANGED_WORLD, ",".join(changes), str(SCRIPT), *args],
        env=script_env(fake, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll until condition() holds, instead of a fixed sleep; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.01)
