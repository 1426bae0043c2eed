"""Issue 16: hard limits hold against a server that sends its headers slowly, and no
URL is followed, probed or used that parsers may read differently.

End to end, against the fake API. A head dripped at 0.5 s a byte takes some 90 s
to arrive, though every single read gets its byte in time: each test that drips
one passes only if the run ends by itself well before the harness's deadline
(the `run` fixture's timeout, or Script.finish's), and its stderr says why. No
test measures a duration; what is counted is requests and connections.

Redirects, connection URLs and API URLs with a backslash, user info or white
space are refused before anything is sent: another port of the same host (a
second fake API) receives nothing, and an address off loopback (192.0.2.2, a
documentation address) is never connected to: the script runs in a world where
such a connection is refused and noted (GUARD), so that a test that would reach
it fails at once instead.

`--delete .`, `..` and `a/b` are in test_sweep.py
(test_delete_of_an_id_that_is_not_plain_is_exit_2_before_any_request).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SCRIPT, script_env
from test_lifecycle import Script, assert_printed_command_deletes_it, deletes, the_left_line

import create_instance
from fake_aura import FakeAura, Fault
from helpers import assert_no_secrets, calls

HAPPY = [
    ("POST", "/oauth/token"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
]
DRIP = 0.5  # seconds between two bytes of a dripped head
HARNESS = 20  # seconds a run may take before the harness kills it: the "it ended" bound
READ_TIMEOUT = "no answer in time (read timeout)"

# The script as __main__, in a world where a TCP connection to any address off
# loopback is refused at once and noted, one line each, in the file argv[1].
GUARD = r"""
import ipaddress, runpy, socket, sys
noted = sys.argv.pop(1)
real_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0]).split("%")[0]
        if not ipaddress.ip_address(host).is_loopback:
            with open(noted, "a") as file:
                file.write(f"{address}\n")
            raise ConnectionRefusedError(f"the test refuses a connection to {address}")
    return real_connect(self, address)
socket.socket.connect = connect
sys.argv.pop(0)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_guarded(fake, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """The script under GUARD; its result, and the addresses off loopback it tried."""
    noted = cwd / "off-loopback"
    noted.touch()
    result = subprocess.run(
        [sys.executable, "-c", GUARD, str(noted), str(SCRIPT), *args],
        env=script_env(fake),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HARNESS,
    )
    return result, noted.read_text()


def one_error(result, fake, code: int = 1) -> str:
    """The one `error:` line of a run that ended with `code`; no traceback, no secret."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def other():
    """A second fake API on another port of the same host: where nothing may go."""
    with FakeAura() as server:
        yield server


def port(fake: FakeAura) -> int:
    return fake._server.server_address[1]


# ---------------------------------------------------------------------------
# Headers that drip: --timeout, --wait-timeout, --query-timeout, a signal
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "route"), [("POST", "/oauth/token"), ("GET", "/v1/tenants")], ids=["token", "get"]
)
def test_an_api_call_whose_headers_drip_is_cut_off_at_the_timeout(
    fake, run, monkeypatch, method, route
):
    """Each attempt, the resend included, is cut off at --timeout; then the run ends.

    One resend instead of four keeps the test short; each attempt has its own deadline.
    """
    monkeypatch.setattr(create_instance, "RETRIES", 1)  # the forked run inherits it
    fake.on(method, route, Fault(drip_headers=DRIP), Fault(drip_headers=DRIP))

    result = run("--timeout", "1", timeout=HARNESS)

    assert one_error(result, fake) == f"error: {method} {route} failed: {READ_TIMEOUT}"
    assert calls(fake).count((method, route)) == 2  # the first attempt and its resend
    assert fake.connections == 2  # a connection cut off is not used again
    assert fake.instances == {}


@pytest.mark.parametrize("acted", [True, False], ids=["created", "nothing-created"])
def test_a_create_call_whose_headers_drip_is_cut_off_not_resent_and_checked(fake, run, acted):
    """The create call is never sent twice: its tenant's instances are listed instead."""
    # Without a status the call is performed: the instance exists, its answer drips.
    unanswered = Fault(status=None if acted else 500, drip_headers=DRIP)
    fake.on("POST", "/v1/instances", unanswered)

    result = run("--timeout", "1", timeout=HARNESS)

    line = one_error(result, fake)
    assert f"warning: POST /v1/instances failed: {READ_TIMEOUT}" in result.stderr
    assert calls(fake) == [*HAPPY, ("GET", "/v1/instances")]  # one POST, then the listing
    if acted:
        [instance_id] = fake.instances
        assert line.startswith(f"error: instance {instance_id} named 'my-instance' was created")
    else:
        assert fake.instances == {}
        assert line.endswith("nothing was created, and it is safe to run again")


def test_wait_timeout_is_a_hard_limit_against_status_checks_whose_headers_drip(fake, run):
    fake.running_after = 100
    fake.on("GET", "/v1/instances/{id}", *[Fault(drip_headers=DRIP)] * 10)

    result = run(
        "--wait", "--wait-timeout", "2", "--no-credentials-file", "--timeout", "30", timeout=HARNESS
    )

    line = one_error(result, fake, code=4)
    [instance_id] = fake.instances
    assert instance_id in line and "2 s" in line  # the instance, and the wait given up
    # The first status check was still waiting for its head when the time was up.
    assert len(fake.sent("GET", "/v1/instances/{id}")) == 1
    assert f"GET /v1/instances/{instance_id} failed: {READ_TIMEOUT}" in result.stderr


def test_query_timeout_is_a_hard_limit_against_a_database_whose_headers_drip(fake, run):
    fake.running_after = 0
    fake.query_drip_headers = DRIP

    result = run("--wait", "--query-timeout", "1", "--no-credentials-file", timeout=HARNESS)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr)
    [instance_id] = fake.instances
    assert (
        f"warning: instance {instance_id} is running but did not answer a query from here "
        f"within 1 s (last: {READ_TIMEOUT}); a proxy or an IP filter may be in the way"
    ) in result.stderr.splitlines()
    assert not [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert 1 <= len(fake.query_requests) <= 2  # each probe waited for its head until cut off


def test_sigterm_while_the_deletes_headers_drip_exits_naming_the_instance(fake, tmp_path):
    """-- COMMAND: the DELETE's head drips (Aura did not act on it); SIGTERM ends the run
    by itself (143), within Script.finish's bound where the head alone takes about 90 s,
    and the one error line's command deletes the instance."""
    fake.running_after = 0
    fake.delete_after = 0.2
    delete = Fault(status=202, body={"data": {}}, drip_headers=DRIP)  # not performed
    fake.on("DELETE", "/v1/instances/{id}", delete)
    with Script(fake, tmp_path, "--", sys.executable, "-c", "pass") as script:
        assert delete.arrived.wait(15), "the DELETE never came"
        script.send(signal.SIGTERM)
        result = script.finish(timeout=HARNESS)

    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr)
    [instance] = fake.instances.values()
    assert instance.deleted_at is None
    assert len(deletes(fake)) == 1  # not resent after the signal
    words = the_left_line(result, tmp_path)
    assert words[2:] == ["--delete", instance.data["id"]]
    assert_printed_command_deletes_it(fake, words, tmp_path)


# ---------------------------------------------------------------------------
# Redirects that parsers read differently are never followed
# ---------------------------------------------------------------------------

# Location forms, from the other port and the API's port. Read by urllib3, the
# backslash one leads to the other port; the others are no URL an API redirects to.
LOCATIONS = {
    "backslash": "http://127.0.0.1:{other}\\@127.0.0.1:{api}{path}",
    "user-info": "http://user@127.0.0.1:{api}{path}",
    "port-as-user-info": "http://127.0.0.1:{other}@127.0.0.1:{api}{path}",
    "space": "http://127.0.0.1:{other} @127.0.0.1:{api}{path}",
    "tab": "http://127.0.0.1:{other}\t@127.0.0.1:{api}{path}",
}


@pytest.mark.parametrize("form", LOCATIONS)
@pytest.mark.parametrize("call", ["token", "tenants", "delete"])
def test_a_redirect_to_an_ambiguous_url_is_never_followed(fake, other, run, call, form):
    args: tuple[str, ...] = ()
    if call == "token":
        method, route, path = "POST", "/oauth/token", "/oauth/token"
    elif call == "tenants":
        method, route, path = "GET", "/v1/tenants", "/v1/tenants"
    else:
        instance_id = fake.add_instance("kept")
        method, route, path = "DELETE", "/v1/instances/{id}", f"/v1/instances/{instance_id}"
        args = ("--delete", instance_id)
    location = LOCATIONS[form].format(other=port(other), api=port(fake), path=path)
    fake.on(method, route, Fault(status=307, headers={"Location": location}))

    result = run(*args, timeout=HARNESS)

    assert one_error(result, fake) == (
        f"error: {method} {path} was redirected to an invalid URL; not followed"
    )
    assert other.connections == 0 and other.requests == []
    assert calls(fake).count((method, path)) == 1  # not followed to the API's port either
    if call == "delete":
        [instance] = fake.instances.values()
        assert instance.deleted_at is None
    else:
        assert fake.instances == {}


# ---------------------------------------------------------------------------
# Connection URLs that parsers read differently are never probed
# ---------------------------------------------------------------------------

# From the port of the fake's Query API: read one way, each names loopback, where
# the probe would find the database; read another, 192.0.2.2, or user info.
CONNECTION_URLS = {
    "backslash": "neo4j+s://192.0.2.2:1\\@127.0.0.1:{query}",
    "user-info": "neo4j+s://192.0.2.2:1@127.0.0.1:{query}",
    "credentials": "neo4j+s://neo4j:secret@127.0.0.1:{query}",
    "space": "neo4j+s://192.0.2.2 @127.0.0.1:{query}",
    "tab": "neo4j+s://192.0.2.2\t@127.0.0.1:{query}",
    "space-after": "neo4j+s://127.0.0.1:{query} 192.0.2.2",
}


def test_the_guard_refuses_and_notes_a_connection_off_loopback(fake, tmp_path):
    """What the next test relies on: under GUARD, 192.0.2.2 is refused and noted."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import socket\n"
        "try:\n    socket.create_connection(('192.0.2.2', 1), timeout=5)\n"
        "except ConnectionRefusedError:\n    print('refused')\n"
    )
    noted = tmp_path / "noted"
    result = subprocess.run(
        [sys.executable, "-c", GUARD, str(noted), str(probe)],
        capture_output=True,
        text=True,
        timeout=HARNESS,
    )
    assert result.stdout == "refused\n", result.stderr
    assert "192.0.2.2" in noted.read_text()


@pytest.mark.parametrize("form", CONNECTION_URLS)
def test_an_ambiguous_connection_url_is_not_probed_and_the_run_succeeds(fake, tmp_path, form):
    fake.running_after = 0
    url = CONNECTION_URLS[form].format(query=fake._query.server_address[1])
    fake.on("POST", "/v1/instances", Fault(patch={"connection_url": url}))

    result, off_loopback = run_guarded(fake, tmp_path, "--wait", "--no-credentials-file")

    assert off_loopback == ""  # refused before any connection
    assert fake.query_requests == []
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr)
    stderr = result.stderr.splitlines()
    assert "warning: no connection URL to probe; the instance is running" in stderr
    assert not [line for line in stderr if line.startswith("error:")]
    [instance_id] = fake.instances
    assert ("GET", f"/v1/instances/{instance_id}") in calls(fake)  # --wait went on as usual


# ---------------------------------------------------------------------------
# API URLs that parsers read differently are a usage error
# ---------------------------------------------------------------------------

API_URLS = {
    "backslash": "http://127.0.0.1:{other}\\@127.0.0.1:{api}",
    "trailing-backslash": "http://127.0.0.1:{api}\\",
    "user-info": "http://user@127.0.0.1:{api}",
    "port-as-user-info": "http://127.0.0.1:{other}@127.0.0.1:{api}",
    "space": "http://127.0.0.1:{other} @127.0.0.1:{api}",
    "tab": "http://127.0.0.1:{other}\t@127.0.0.1:{api}",
}


@pytest.mark.parametrize("given", ["flag", "variable"])
@pytest.mark.parametrize("form", API_URLS)
def test_an_ambiguous_api_url_is_exit_2_before_any_request(fake, other, run, form, given):
    url = API_URLS[form].format(other=port(other), api=port(fake))
    if given == "flag":
        result = run("--api-url", url, timeout=HARNESS)
    else:
        result = run(env={"AURA_API_URL": url}, timeout=HARNESS)

    assert one_error(result, fake, code=2).startswith(
        ("error: API URL ", "error: --api-url ", "error: AURA_API_URL ")
    )
    assert result.stdout == ""
    assert fake.connections == 0 and other.connections == 0


@pytest.mark.parametrize("url", ["http://a\\b", "http://127.0.0.1:1\\@127.0.0.1:2"])
def test_an_ambiguous_api_url_is_refused_without_importing_requests_or_urllib3(tmp_path, url):
    """A usage error needs no network modules: python -X importtime lists every import."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(SCRIPT), "--api-url", url],
        env=script_env(AURA_CLIENT_ID="an-id", AURA_CLIENT_SECRET="a-secret"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HARNESS,
    )

    assert result.returncode == 2, result.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "json" in imported  # importtime did list the imports
    network = sorted(name for name in imported if name.split(".")[0] in ("requests", "urllib3"))
    assert network == []
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: API URL "), result.stderr  # refused for the URL
