"""Shared fixtures: a fake Aura API per test, and the script run as a user runs it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

import create_instance
from fake_aura import CLIENT_ID, CLIENT_SECRET, FakeAura

SCRIPT = Path(__file__).resolve().parent.parent / "create_instance.py"

# The script imports requests on its first request. Import it here, once, so that
# each forked run (see run_forked) starts with it loaded, as it did before.
create_instance._http()


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
        return run_forked(list(args), script_env(fake, **(env or {})), cwd or tmp_path, timeout)

    return run


def run_forked(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run create_instance.py's main() as `python create_instance.py ARGS` would,
    in a process of its own, forked from this one.

    The child is a real process (its own exit code, environment, working
    directory, signal handlers and stdin/stdout/stderr pipes) that starts
    with the script already imported: most of a test's time went to starting
    an interpreter and importing requests. It has only the forking thread;
    it leaves with os._exit, so nothing of pytest's runs there.
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            for fd in (out_read, out_write, err_read, err_write):
                os.close(fd)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
            sys.stderr = open(  # noqa: SIM115
                2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
            )
            code = create_instance.main(args)
        except SystemExit as exit:  # argparse: --help, usage errors
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()  # as the interpreter would: tests look for "Traceback"
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    os.close(out_write)
    os.close(err_write)
    streams: dict[int, bytes] = {}
    readers = [
        threading.Thread(target=lambda fd=fd: streams.__setitem__(fd, _read_all(fd)))
        for fd in (out_read, err_read)
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise subprocess.TimeoutExpired(["create_instance.py", *args], timeout)
        time.sleep(0.005)
    for reader in readers:
        reader.join()
    return subprocess.CompletedProcess(
        ["create_instance.py", *args],
        os.waitstatus_to_exitcode(status),
        streams[out_read].decode("utf-8", "replace"),
        streams[err_read].decode("utf-8", "replace"),
    )


def _read_all(fd: int) -> bytes:
    with open(fd, "rb") as pipe:
        return pipe.read()
