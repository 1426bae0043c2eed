"""What comes back from the network cannot exhaust memory, hang the run or crash it.

Issue #11, end to end: create_instance.py runs as a subprocess against the
fake Aura API (or, for TLS, a small https server of this file's own) that
answers with too much, too slowly, too deeply nested, from somewhere else,
or not at all. Every run must end with its documented exit code and at most
one `error:` line, no traceback, and neither the client secret nor any token
in its output. No test asserts a duration: a run that hangs fails by the
subprocess timeout, and "how long" is asserted as "how many requests".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import SCRIPT, script_env

from fake_aura import CLIENT_SECRET, FakeAura
from helpers import calls

HAPPY = [
    ("POST", "/oauth/token"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def run(fake, cwd: Path, *args: str, secret: str = CLIENT_SECRET, **env: str):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=script_env(fake, AURA_CLIENT_SECRET=secret, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean(result, fake, secret: str = CLIENT_SECRET) -> None:
    """No traceback, and no secret the run knew of in anything it printed."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, result.stderr
    for known in [secret, *fake._tokens]:
        assert known not in output


def error_line(result, fake, code: int = 1, secret: str = CLIENT_SECRET) -> str:
    """The one `error:` line of a run that failed with `code`, after the checks of clean()."""
    assert result.returncode == code, result.stderr
    clean(result, fake, secret)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ---------------------------------------------------------------------------
# Credentials, certificates, host names and URLs that cannot be used
# ---------------------------------------------------------------------------


def test_a_unicode_client_secret_is_sent_as_utf8(tmp_path):
    secret = "päss-wörd-ü✓"
    with FakeAura(client_secret=secret) as fake:
        result = run(fake, tmp_path, secret=secret)

        assert result.returncode == 0, result.stderr
        clean(result, fake, secret)
        assert calls(fake) == HAPPY
