"""Reliability end to end: create_instance.py run as a subprocess against a faulty fake Aura.

Each test scripts faults into the fake (`fake.on`), runs the script as a user
would, and asserts on what the fake received (`fake.requests`), what it holds
(`fake.instances`), the exit code, stdout, stderr and the credentials file.
Timing is only ever asserted as a lower bound ("waited at least as told").
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SCRIPT, script_env

from fake_aura import TENANT_ID, Fault
from helpers import (
    VERBOSE_LINE,
    assert_no_secrets,
    calls,
    credentials_files,
    printed,
    run_changed,
    wait_for,
)

MIN_INTERVAL = 60 / 125  # the script's floor between two attempts (125 requests a minute)
HAPPY = [
    ("POST", "/oauth/token"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
]
HTML_404 = "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
REMOVE = object()  # marks a key to leave out of a rewritten create answer


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def gaps(records) -> list[float]:
    return [later.at - earlier.at for earlier, later in zip(records, records[1:])]


def the_instance(fake) -> dict[str, Any]:
    [instance] = fake.instances.values()
    return instance.data


def file_lines(data: dict[str, Any]) -> list[str]:
    return [
        "# Wait 60 seconds before connecting using these details, or login to "
        "https://console.neo4j.io to validate the Aura Instance is available",
        f"NEO4J_URI={data.get('connection_url') or ''}",
        f"NEO4J_USERNAME={data.get('username') or ''}",
        f"NEO4J_PASSWORD={data.get('password') or ''}",
        "NEO4J_DATABASE=neo4j",
        f"AURA_INSTANCEID={data['id']}",
        f"AURA_INSTANCENAME={data['name']}",
    ]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def error_line(result) -> str:
    """The one `error:` line of a failed run; also checks there is no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def start(fake, cwd: Path, *args: str, **env: str | None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        env=script_env(fake, **env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


CREATE_CALL = ("POST", "/v1/instances")
JSON_AND_NO_FILE = ("--output", "json", "--no-credentials-file")  # stdout: the only copy


def signal_during(fake, cwd: Path, request, signals, *args: str) -> tuple[int, str, str]:
    """Start the script, send `signals` once the fake has seen `request`: (code, out, err)."""
    process = start(fake, cwd, *args)
    try:
        wait_for(lambda: fake.sent(*request) or process.poll() is not None)
        assert process.poll() is None, process.communicate()
        for signum in signals:
            process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def signals_pending(pid: int) -> bool:
    """Whether a signal sent to the process has yet to reach it (Linux's /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    pending = re.findall(r"^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$", status, re.M)
    return any(int(mask, 16) for mask in pending)


class HeldCreate:
    """The script, started with the fake holding back the answer to its create call.

    The call is performed (the instance exists) and `arrived` set before the
    answer is held, so a signal sent now falls inside the create call for sure,
    whatever the machine's speed; `release()` lets the answer go.
    """

    def __init__(self, fake, cwd: Path, *args: str):
        self.held = Fault(hold=threading.Event())
        fake.on(*CREATE_CALL, self.held)
        self.process = start(fake, cwd, *args)
        self.stderr_lines: list[str] = []
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def __enter__(self) -> HeldCreate:
        wait_for(lambda: self.held.arrived.is_set() or self.process.poll() is not None)
        assert self.process.poll() is None, "".join(self.stderr_lines)
        return self

    def signal(self, signum: int) -> None:
        """Send `signum`; return once the process has it (its handler runs before the
        script reads any more of the answer)."""
        self.process.send_signal(signum)
        wait_for(lambda: not signals_pending(self.process.pid))

    def said(self, text: str) -> None:
        """Wait until a line the script wrote on stderr contains `text`."""
        wait_for(lambda: any(text in line for line in self.stderr_lines))

    def release(self) -> None:
        self.held.hold.set()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the script to end: (exit code, stdout, stderr)."""
        stdout = self.process.stdout.read()
        returncode = self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        return returncode, stdout, "".join(self.stderr_lines)

    def __exit__(self, *exc: object) -> None:
        self.release()  # the fake's handler thread ends too
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def signal_during_the_create_call(fake, cwd: Path, signals, *args: str) -> tuple[int, str, str]:
    """Send `signals` during the held create call, each once the script has said it
    will stop right after the first; then release the answer: (code, stdout, stderr)."""
    with HeldCreate(fake, cwd, *args) as script:
        for signum in signals:
            script.signal(signum)
            script.said("stopping right after")
        script.release()
        return script.finish()


def run_with_closed(redirect: str, fake, cwd: Path, *args: str, **env: str):
    """Run the script with stdout (`>&-`) or stderr (`2>&-`) closed, as a shell can."""
    return subprocess.run(
        ["bash", "-c", f'exec "$0" "$@" {redirect}', sys.executable, str(SCRIPT), *args],
        env=script_env(fake, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on: bound, so no one else takes it, never listening."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def rewritten_create_answer(fake, **changes: Any) -> Fault:
    """A Fault for POST /v1/instances: really create, then answer 202 with the data changed."""
    fault = Fault(apply=True, status=202)

    def rewrite() -> None:
        data = dict(list(fake.instances.values())[-1].data)
        for key in ("memory", "storage"):  # kept by the fake, not part of the answer
            data.pop(key, None)
        for key, value in changes.items():
            if value is REMOVE:
                data.pop(key, None)
            else:
                data[key] = value
        fault.body = {"data": data}

    fault.action = rewrite
    return fault


ROUTES = {
    "token": ("POST", "/oauth/token"),
    "tenants": ("GET", "/v1/tenants"),
    "instances list": ("GET", "/v1/instances"),
}


# ---------------------------------------------------------------------------
# Rate limits and retries
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(ROUTES))
def test_429_with_retry_after_waits_as_told_then_succeeds(fake, run, endpoint):
    method, route = ROUTES[endpoint]
    fake.on(
        method,
        route,
        Fault(status=429, headers={"Retry-After": "1"}, body={"error": "Too Many Requests"}),
    )

    result = run()

    assert result.returncode == 0, result.stderr
    expected = list(HAPPY)
    expected.insert(expected.index((method, route)), (method, route))
    assert calls(fake) == expected
    [gap] = gaps(fake.sent(method, route))
    assert gap >= 1.0
    assert result.stdout.splitlines() == printed(the_instance(fake))
    assert f"{route}: HTTP 429; retrying in 1.0 s" in result.stderr


def test_429_with_an_http_date_retry_after_waits_until_that_date(fake, run):
    told: dict[str, float] = {}
    arrived: list[float] = []
    limited = Fault(status=429, body={"error": "Too Many Requests"})

    def tell_a_date() -> None:
        # A whole second at least 1 s away: an HTTP date has no fractions.
        told["now"], told["at"] = time.monotonic(), time.time()
        told["until"] = math.ceil(told["at"] + 1.0)
        limited.headers["Retry-After"] = email.utils.formatdate(told["until"], usegmt=True)

    limited.action = tell_a_date
    fake.on("GET", "/v1/tenants", limited, Fault(action=lambda: arrived.append(time.time())))

    result = run()

    assert result.returncode == 0, result.stderr
    first, second = fake.sent("GET", "/v1/tenants")
    assert arrived[0] >= told["until"]
    assert second.at - told["now"] >= told["until"] - told["at"] - 0.01
    assert second.at - first.at >= 1.0
    assert len(fake.instances) == 1


def test_429_on_the_create_call_waits_and_creates_exactly_once(fake, run):
    fake.on(
        "POST",
        "/v1/instances",
        Fault(
            status=429,
            headers={"Retry-After": "1"},
            body={"errors": [{"message": "Too many requests", "reason": "rate-limited"}]},
        ),
    )

    result = run()

    assert result.returncode == 0, result.stderr
    posts = fake.sent("POST", "/v1/instances")
    assert len(posts) == 2
    assert gaps(posts)[0] >= 1.0
    assert len(fake.instances) == 1
    assert result.stdout.splitlines() == printed(the_instance(fake))


def test_retry_after_beyond_the_budget_gives_up_at_once(fake, run):
    fake.on("GET", "/v1/tenants", Fault(status=429, headers={"Retry-After": "3600"}))

    result = run()

    assert result.returncode == 1
    assert error_line(result).startswith("error: GET /v1/tenants failed with HTTP 429")
    assert calls(fake) == HAPPY[:2]


def test_503_then_200_on_a_get_succeeds_after_backoff(fake, run):
    fake.on("GET", "/v1/instances", Fault(status=503, body={"error": "Service Unavailable"}))

    result = run()

    assert result.returncode == 0, result.stderr
    assert calls(fake) == [*HAPPY[:3], ("GET", "/v1/instances"), HAPPY[3]]
    [gap] = gaps(fake.sent("GET", "/v1/instances"))
    assert gap >= MIN_INTERVAL
    assert "GET /v1/instances: HTTP 503; retrying in" in result.stderr
    assert result.stdout.splitlines() == printed(the_instance(fake))


def test_dropped_connection_on_a_get_is_retried_on_a_new_connection(fake, run):
    fake.on("GET", "/v1/tenants", Fault(drop=True))

    result = run()

    assert result.returncode == 0, result.stderr
    assert calls(fake) == [*HAPPY[:2], ("GET", "/v1/tenants"), *HAPPY[2:]]
    assert fake.connections == 2
    assert len(fake.instances) == 1


def test_a_get_that_always_answers_503_stops_after_5_attempts_at_the_rate_limit(fake, run):
    # Retry-After: 0 asks for no wait at all; the script still keeps 0.48 s between attempts.
    unavailable = Fault(status=503, headers={"Retry-After": "0"}, body={"error": "Unavailable"})
    fake.on("GET", "/v1/tenants", *[unavailable] * 8)

    result = run()

    assert result.returncode == 1
    assert error_line(result).startswith("error: GET /v1/tenants failed with HTTP 503")
    attempts = fake.sent("GET", "/v1/tenants")
    assert len(attempts) == 5
    assert all(gap >= MIN_INTERVAL for gap in gaps(attempts)), gaps(attempts)
    assert calls(fake) == [HAPPY[0]] + [HAPPY[1]] * 5
    assert fake.instances == {}


def test_an_unparsable_retry_after_falls_back_to_backoff(fake, run):
    fake.on("GET", "/v1/tenants", Fault(status=429, headers={"Retry-After": "0.5"}))

    result = run()

    assert result.returncode == 0, result.stderr
    assert len(fake.sent("GET", "/v1/tenants")) == 2


# ---------------------------------------------------------------------------
# The network fails: one line naming the request and the problem
# ---------------------------------------------------------------------------

RESEND_LINE = re.compile(r"POST /oauth/token: (\w+); retrying in \d+\.\d s")


def network_problem(fake, closed_port):
    """Each way the network can fail: (changes to the world, args, env, the fake's
    faults, the error line)."""
    https_fake = "https://" + fake.url.split("://", 1)[1]  # TLS to a plain-http server
    token_failed = "error: POST /oauth/token failed: "
    return {  # each runs with "free-sleep" too: see helpers.CHANGED_WORLD
        "connect timeout": (
            ["no-syn-ack"],
            (),
            {},
            {},
            token_failed + "no connection in time (connect timeout)",
        ),
        # Only the create call, which is never resent, reports a read timeout as such.
        "read timeout": (
            [],
            ("--timeout", "0.5"),
            {},
            {CREATE_CALL: Fault(status=500, delay=2)},
            "error: the create call failed (POST /v1/instances failed: no answer in time (read "
            "timeout)) and no instance named 'my-instance' appeared: nothing was created, and it "
            "is safe to run again",
        ),
        "TLS": (
            [],
            ("--api-url", https_fake),
            {},
            {},
            token_failed + "TLS handshake or certificate check failed",
        ),
        "proxy": (
            [],
            ("--api-url", https_fake),
            {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port}", "NO_PROXY": None},
            {},
            token_failed + "the proxy refused or dropped the connection",
        ),
        "unresolvable": (
            ["no-dns"],
            ("--api-url", "https://aura.invalid"),
            {},
            {},
            token_failed + "the host name aura.invalid could not be resolved (Name or service "
            "not known)",
        ),
        "refused": (
            [],
            ("--api-url", f"http://127.0.0.1:{closed_port}"),
            {},
            {},
            token_failed + "the connection could not be opened (refused or unreachable)",
        ),
        "dropped": (
            [],
            (),
            {},
            {("POST", "/oauth/token"): Fault(drop=True)},
            token_failed + "the connection was dropped before an answer came",
        ),
    }


NETWORK_PROBLEMS = [
    "connect timeout",
    "read timeout",
    "TLS",
    "proxy",
    "unresolvable",
    "refused",
    "dropped",
]


@pytest.mark.parametrize("problem", NETWORK_PROBLEMS)
def test_a_network_problem_is_one_line_naming_the_request_and_the_problem(
    fake, tmp_path, closed_port, problem
):
    world, args, env, faults, expected = network_problem(fake, closed_port)[problem]
    for (method, route), fault in faults.items():
        fake.on(method, route, *[fault] * 5)

    result = run_changed(["free-sleep", *world], fake, tmp_path, *args, **env)

    assert result.returncode == 1
    assert result.stdout == ""
    assert error_line(result) == expected
    if problem == "read timeout":
        assert calls(fake) == [*HAPPY, ("GET", "/v1/instances")]
        assert fake.instances == {}
    elif problem == "unresolvable":
        # A name that does not exist is not resent: waiting cannot cure it.
        assert result.stderr.splitlines() == [expected]
        assert fake.connections == 0
    else:
        # The token request: sent, and resent 4 times, with one line for each resend.
        resends = result.stderr.splitlines()[:-1]
        assert len(resends) == 4
        assert all(RESEND_LINE.fullmatch(line) for line in resends), resends
        reached = 5 if problem in ("TLS", "dropped") else 0  # connections the fake accepted
        assert fake.connections == reached
        assert calls(fake) == [("POST", "/oauth/token")] * (5 if problem == "dropped" else 0)
    assert credentials_files(tmp_path) == []
    assert_no_secrets(fake, result.stdout, result.stderr)


# ---------------------------------------------------------------------------
# The create call is never sent twice
# ---------------------------------------------------------------------------

AMBIGUOUS = {
    "500": (Fault(status=500), []),
    "dropped connection": (Fault(drop=True), []),
    # The answer (never seen: the client gives up first) comes after 1.2 s; --timeout is 0.5 s.
    "read timeout": (Fault(status=500, delay=1.2), ["--timeout", "0.5"]),
}


@pytest.mark.parametrize("created", [True, False], ids=["created", "not-created"])
@pytest.mark.parametrize("failure", list(AMBIGUOUS))
def test_ambiguous_create_failure_is_not_resent_and_is_checked(
    fake, run, tmp_path, failure, created
):
    template, args = AMBIGUOUS[failure]
    fake.on(
        "POST",
        "/v1/instances",
        Fault(status=template.status, drop=template.drop, delay=template.delay, apply=created),
    )

    result = run("--name", "graph-1", *args)

    assert result.returncode == 1
    assert result.stdout == ""
    assert calls(fake) == [*HAPPY, ("GET", "/v1/instances")]
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert "Not resending the create call" in result.stderr
    line = error_line(result)
    if created:
        instance_id = the_instance(fake)["id"]
        assert line == (
            f"error: instance {instance_id} named 'graph-1' was created, but its password was "
            "lost with the failed answer; delete it or reset its password in the Aura console"
        )
    else:
        assert fake.instances == {}
        assert "nothing was created, and it is safe to run again" in line
    assert credentials_files(tmp_path) == []


@pytest.mark.parametrize("created", [True, False], ids=["created", "not-created"])
def test_ambiguous_create_whose_check_fails_too_says_to_look_in_the_console(
    fake, run, tmp_path, created
):
    fake.on(
        "POST", "/v1/instances", Fault(status=502, apply=created, body={"error": "Bad Gateway"})
    )
    # The duplicate guard's listing works; the check after the failed create is
    # answered 503 with a Retry-After beyond the retry budget, so it is final at once.
    unavailable = Fault(status=503, headers={"Retry-After": "3600"}, body={"error": "Unavailable"})
    fake.on("GET", "/v1/instances", None, unavailable)

    result = run("--name", "graph-1")

    assert result.returncode == 1
    assert result.stdout == ""
    assert calls(fake) == [*HAPPY, ("GET", "/v1/instances")]  # the create call went out once
    request_id = r"( \(X-Request-Id [0-9a-f]+\))?"  # Aura's, when it acted on the call
    create_failed = r"POST /v1/instances failed with HTTP 502: Bad Gateway" + request_id
    *_, warning, line = result.stderr.splitlines()
    assert re.fullmatch(
        "warning: "
        + create_failed
        + re.escape(
            "; the instance may or may not exist now. Not resending the create call (that "
            "could create a second instance); checking the tenant's instances."
        ),
        warning,
    ), warning
    assert re.fullmatch(
        re.escape("error: the create call failed (")
        + create_failed
        + re.escape(
            f") and the check failed too (GET /v1/instances?tenantId={TENANT_ID} failed with "
            "HTTP 503: Unavailable); look for an instance named 'graph-1' in the Aura console "
            "before running again"
        ),
        line,
    ), line
    assert error_line(result) == line
    assert len(fake.instances) == (1 if created else 0)
    assert credentials_files(tmp_path) == []
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_ambiguous_failure_ignores_an_older_instance_with_the_same_name(fake, run):
    older = fake.add_instance("graph-1")
    fake.on("POST", "/v1/instances", Fault(status=502))

    result = run("--name", "graph-1", "--allow-duplicate-name")

    assert result.returncode == 1
    assert older not in error_line(result)
    assert "nothing was created" in error_line(result)
    assert list(fake.instances) == [older]


# ---------------------------------------------------------------------------
# Duplicate names
# ---------------------------------------------------------------------------


def test_same_name_exists_exits_2_naming_it_and_creates_nothing(fake, run):
    existing = fake.add_instance("graph-1")

    result = run("--name", "graph-1")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: an instance named 'graph-1' already exists in this tenant ({existing}); "
        "choose another --name, or pass --allow-duplicate-name"
    ]
    assert calls(fake) == HAPPY[:3]
    assert list(fake.instances) == [existing]


def test_allow_duplicate_name_creates_anyway(fake, run):
    existing = fake.add_instance("graph-1")

    result = run("--name", "graph-1", "--allow-duplicate-name")

    assert result.returncode == 0, result.stderr
    assert calls(fake) == HAPPY
    [new] = [i for i in fake.instances if i != existing]
    assert [i.data["name"] for i in fake.instances.values()] == ["graph-1", "graph-1"]
    assert result.stdout.splitlines() == printed(fake.instances[new].data)


# ---------------------------------------------------------------------------
# Tokens and authentication
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method_route", [HAPPY[1], HAPPY[2], HAPPY[3]], ids=lambda c: " ".join(c))
def test_token_expiring_mid_run_is_renewed_once_and_the_call_retried(fake, run, method_route):
    method, route = method_route
    fake.on(method, route, Fault(expire_tokens=True))

    result = run()

    assert result.returncode == 0, result.stderr
    expected = list(HAPPY)
    at = expected.index(method_route)
    expected[at + 1 : at + 1] = [("POST", "/oauth/token"), method_route]
    assert calls(fake) == expected
    assert len(fake.sent("POST", "/oauth/token")) == 2
    refused, retried = fake.sent(method, route)
    old, new = refused.headers["Authorization"], retried.headers["Authorization"]
    assert old != new
    after = fake.requests[fake.requests.index(retried) :]
    assert {r.headers["Authorization"] for r in after} == {new}
    assert len(fake.instances) == 1
    assert result.stdout.splitlines() == printed(the_instance(fake))


def test_refused_token_renewal_at_the_create_call_is_exit_3_not_a_configuration_error(fake, run):
    fake.on("POST", "/v1/instances", Fault(expire_tokens=True))
    fake.on("POST", "/oauth/token", None, Fault(status=400, body={"error": "invalid_request"}))

    result = run()

    assert result.returncode == 3
    assert error_line(result).startswith("error: authentication failed (HTTP 400")
    assert "nothing was created" not in result.stderr
    assert fake.instances == {}


def test_persistent_403_exits_3_with_the_api_message(fake, run):
    denied = Fault(
        status=403,
        body={
            "errors": [
                {"message": "Access to tenant denied for these credentials", "reason": "forbidden"}
            ]
        },
    )
    fake.on("GET", "/v1/tenants", denied, denied, denied)

    result = run()

    assert result.returncode == 3
    assert result.stdout == ""
    assert error_line(result) == (
        "error: GET /v1/tenants failed with HTTP 403: Access to tenant denied for these "
        "credentials (also with a new token: the API credentials may lack permission for this)"
    )
    assert calls(fake) == [HAPPY[0], HAPPY[1], HAPPY[0], HAPPY[1]]
    assert fake.instances == {}


# ---------------------------------------------------------------------------
# The one-time password is never lost
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", ["1", None], ids=["unbuffered", "buffered"])
def test_closed_stdout_leaves_the_password_in_the_file_without_a_traceback(
    fake, tmp_path, unbuffered
):
    process = start(fake, tmp_path, PYTHONUNBUFFERED=unbuffered)
    try:
        process.stdout.close()  # like `| head -0`: gone before the script prints anything
        stderr = process.stderr.read()
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert "Traceback" not in stderr, stderr
    data = the_instance(fake)
    [path] = credentials_files(tmp_path)
    assert path.read_text().splitlines() == file_lines(data)
    assert f"NEO4J_PASSWORD={data['password']}" in path.read_text()
    assert f"warning: stdout was closed; the credentials are in {path.name}" in stderr
    assert returncode == 0


def test_ctrl_c_during_the_create_call_is_deferred_until_the_password_is_saved(fake, tmp_path):
    returncode, stdout, stderr = signal_during_the_create_call(fake, tmp_path, [signal.SIGINT])

    assert returncode == 130
    data = the_instance(fake)
    [path] = credentials_files(tmp_path)
    assert f"NEO4J_PASSWORD={data['password']}" in path.read_text().splitlines()
    assert stdout.splitlines() == printed(data)
    assert (
        "Ctrl-C: the create call is under way and its password comes only once; stopping "
        "right after. Press it again to stop at once."
    ) in stderr.splitlines()
    assert stderr.splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert_no_secrets(fake, stdout, stderr)


def test_sigterm_during_the_create_call_still_prints_the_json_with_the_password(fake, tmp_path):
    """A cancelled CI job sends SIGTERM: with no file, the JSON on stdout is the only copy."""
    returncode, stdout, stderr = signal_during_the_create_call(
        fake, tmp_path, [signal.SIGTERM], *JSON_AND_NO_FILE
    )

    assert returncode == 143
    data = the_instance(fake)
    assert json.loads(stdout)["password"] == data["password"]
    assert (
        "SIGTERM: the create call is under way and its password comes only once; stopping "
        "right after."
    ) in stderr.splitlines()
    assert stderr.splitlines()[-1] == "terminated"
    assert "Traceback" not in stderr
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert_no_secrets(fake, stdout, stderr)


def test_sigterm_during_the_wait_still_prints_the_json_with_the_password(fake, tmp_path):
    fake.running_after = 60
    returncode, stdout, stderr = signal_during(
        fake,
        tmp_path,
        ("GET", "/v1/instances/{id}"),
        (signal.SIGTERM,),
        *JSON_AND_NO_FILE,
        "--wait",
    )

    assert returncode == 143
    output = json.loads(stdout)
    assert output["password"] == the_instance(fake)["password"]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("mode", ["--dry-run", "--list-configurations"])
def test_stdout_closed_from_the_start_fails_a_run_whose_output_is_the_point(fake, tmp_path, mode):
    result = run_with_closed(">&-", fake, tmp_path, mode)

    assert result.returncode == 1
    assert error_line(result) == "error: stdout was closed before the result could be written"


def test_sigterm_after_ctrl_c_still_waits_for_the_password(fake, tmp_path):
    """GitHub Actions cancels with SIGINT, then SIGTERM: neither may cut the create short."""
    returncode, stdout, stderr = signal_during_the_create_call(
        fake, tmp_path, [signal.SIGINT, signal.SIGTERM], *JSON_AND_NO_FILE
    )

    assert returncode == 130
    assert json.loads(stdout)["password"] == the_instance(fake)["password"]
    assert stderr.splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert_no_secrets(fake, stdout, stderr)


def test_a_second_ctrl_c_during_the_create_call_stops_at_once_warning_of_a_lost_password(
    fake, tmp_path
):
    with HeldCreate(fake, tmp_path, *JSON_AND_NO_FILE) as script:
        script.signal(signal.SIGINT)
        script.said("Press it again to stop at once.")
        script.signal(signal.SIGINT)
        returncode, stdout, stderr = script.finish()  # the answer is still held

    assert returncode == 130
    assert stdout == ""
    assert stderr.splitlines()[-2:] == [
        "error: stopped during the create call; an instance may have been created whose "
        "password is lost: look for it in the Aura console",
        "interrupted",
    ]
    assert "Traceback" not in stderr
    assert len(fake.instances) == 1  # it was: the fake performed the call before holding it
    assert list(tmp_path.iterdir()) == []
    assert_no_secrets(fake, stdout, stderr)


def test_stdout_closed_from_the_start_is_no_traceback(fake, tmp_path):
    """`create_instance.py >&-`: Python starts with sys.stdout None."""
    result = run_with_closed(">&-", fake, tmp_path)

    assert "Traceback" not in result.stderr, result.stderr
    [path] = credentials_files(tmp_path)
    assert f"warning: stdout was closed; the credentials are in {path.name}" in result.stderr
    assert result.returncode == 0


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("closed", ["from the start", "by the reader"])
def test_closed_stdout_without_a_credentials_file_is_exit_1_saying_the_password_is_lost(
    fake, tmp_path, closed, output
):
    args = ("--no-credentials-file", "--output", output)
    if closed == "from the start":  # `>&-`
        result = run_with_closed(">&-", fake, tmp_path, *args)
    else:  # `| head -0`: the pipe is gone before the script prints anything
        process = start(fake, tmp_path, *args)
        try:
            process.stdout.close()
            stderr = process.stderr.read()
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        result = subprocess.CompletedProcess(process.args, returncode, "", stderr)

    assert result.returncode == 1
    assert error_line(result) == (
        "error: stdout was closed and no credentials file was written: the password is lost; "
        "reset it in the Aura console"
    )
    assert result.stderr.splitlines()[-1] == error_line(result)
    assert len(fake.instances) == 1
    assert list(tmp_path.iterdir()) == []
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_closed_stderr_under_github_actions_still_saves_and_prints(fake, tmp_path):
    """`2>&-`: Python starts with sys.stderr None, and the mask line goes there."""
    fake.running_after = 0
    result = run_with_closed("2>&-", fake, tmp_path, "--wait", GITHUB_ACTIONS="true")

    assert result.returncode == 0
    data = the_instance(fake)
    [path] = credentials_files(tmp_path)
    assert f"NEO4J_PASSWORD={data['password']}" in path.read_text()
    assert f"Password {data['password']}" in result.stdout.splitlines()


def test_unwritable_credentials_path_still_prints_the_credentials_and_warns(fake, run, tmp_path):
    target = tmp_path / "creds.env"
    # The pre-check passes; the file appears while the create call is under way.
    fake.on(
        "POST",
        "/v1/instances",
        Fault(apply=True, action=lambda: target.write_text("someone else's file\n")),
    )

    result = run("--credentials-file", str(target))

    assert result.returncode == 1
    data = the_instance(fake)
    assert result.stdout.splitlines() == printed(data)
    assert (
        f"warning: could not save the credentials to {target} (File exists); stdout has the "
        "only copy of the password: keep it now"
    ) in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert target.read_text() == "someone else's file\n"
    assert calls(fake) == HAPPY


# ---------------------------------------------------------------------------
# The credentials file
# ---------------------------------------------------------------------------


def test_default_credentials_file_has_the_console_name_content_and_mode_0600(fake, run, tmp_path):
    before = datetime.date.today().isoformat()
    result = run()
    after = datetime.date.today().isoformat()

    assert result.returncode == 0, result.stderr
    data = the_instance(fake)
    [path] = credentials_files(tmp_path)
    assert path.name in {f"Neo4j-{data['id']}-Created-{day}.txt" for day in (before, after)}
    assert path.read_text().splitlines() == file_lines(data)
    assert path.read_text().endswith("\n")
    assert mode_of(path) == 0o600
    assert result.stderr.splitlines() == [
        f"Created enterprise-db instance 'my-instance' ({data['id']}) in tenant {TENANT_ID}; "
        "Aura takes a few minutes to start it.",
        f"Credentials saved to {path.name} (readable only by you).",
    ]


def test_credentials_file_option_is_used(fake, run, tmp_path):
    (tmp_path / "secrets").mkdir()

    result = run("--credentials-file", "secrets/graph.env")

    assert result.returncode == 0, result.stderr
    path = tmp_path / "secrets" / "graph.env"
    assert path.read_text().splitlines() == file_lines(the_instance(fake))
    assert mode_of(path) == 0o600
    assert credentials_files(tmp_path) == []


def test_existing_credentials_file_is_refused_before_any_request(fake, run, tmp_path):
    path = tmp_path / "creds.env"
    path.write_text("KEEP=me\n")

    result = run("--credentials-file", str(path))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: credentials file {path} already exists; it is never overwritten"
    ]
    assert path.read_text() == "KEEP=me\n"
    assert fake.requests == [] and fake.connections == 0


def test_credentials_file_in_a_missing_directory_is_refused_before_any_request(fake, run, tmp_path):
    result = run("--credentials-file", str(tmp_path / "nowhere" / "creds.env"))

    assert result.returncode == 2
    assert error_line(result).startswith(f"error: cannot write the credentials file in {tmp_path}")
    assert len(result.stderr.splitlines()) == 1
    assert fake.connections == 0


def test_no_credentials_file_writes_nothing_and_says_so(fake, run, tmp_path):
    result = run("--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    assert result.stdout.splitlines() == printed(the_instance(fake))
    assert (
        "No credentials file (--no-credentials-file): stdout is the only copy."
        in result.stderr.splitlines()
    )


def test_instance_id_from_the_api_cannot_escape_the_directory(fake, run, tmp_path):
    fake.on("POST", "/v1/instances", rewritten_create_answer(fake, id="../../evil"))

    result = run()

    assert result.returncode == 1
    [path] = credentials_files(tmp_path)
    assert path.parent == tmp_path
    assert path.name.startswith("Neo4j-instance-") and "evil" not in path.name
    assert "AURA_INSTANCEID=../../evil" in path.read_text().splitlines()
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "not a plain id" in error


# ---------------------------------------------------------------------------
# Bad input: one clear line, the documented exit code, nothing sent
# ---------------------------------------------------------------------------


def test_dotenv_with_an_unclosed_quote_is_refused_by_line_number_without_echoing_it(
    fake, run, tmp_path
):
    (tmp_path / ".env").write_text(
        "# settings\nAURA_TENANT=Production\n\nAURA_INSTANCE_NAME='hunter2-pasted\n"
    )

    result = run()

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: .env line 4 cannot be parsed (an unclosed quote?)"
    ]
    assert fake.connections == 0


def test_dotenv_key_alone_on_a_line_is_skipped_as_python_dotenv_skips_it(fake, run, tmp_path):
    (tmp_path / ".env").write_text("# settings\nAURA_TENANT=Production\nhunter2-pasted-secret\n")

    result = run()

    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_non_utf8_dotenv_is_refused(fake, run, tmp_path):
    (tmp_path / ".env").write_bytes(b"AURA_TENANT=Caf\xe9\n")

    result = run()

    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: .env is not UTF-8 text"]
    assert fake.connections == 0


@pytest.mark.parametrize(
    "name",
    ["x" * 31, "\U0001f600" * 31, "\U0001f44d\U0001f3fd" * 16],
    ids=["31-ascii", "31-emoji", "16-emoji-with-skin-tone"],
)
def test_instance_name_over_30_code_points_is_refused(fake, run, name):
    # The script counts code points (len), as the fake does: 16 emoji with a
    # skin-tone modifier are 32 code points, so they are over the limit too.
    result = run("--name", name)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: the instance name is {len(name)} characters long; Aura allows at most 30"
    ]
    assert fake.connections == 0


def test_instance_name_of_30_emoji_is_accepted(fake, run):
    name = "\U0001f600" * 30

    result = run("--name", name)

    assert result.returncode == 0, result.stderr
    assert fake.sent("POST", "/v1/instances")[0].json["name"] == name


def test_unknown_flag_is_one_usage_line(fake, run):
    result = run("--nmae", "graph-1")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "create_instance.py: error: unrecognized arguments: --nmae graph-1 (see --help)"
    ]
    assert fake.connections == 0


def test_plain_http_to_a_non_loopback_host_is_refused(fake, run):
    # Should the check break, the proxy variables send the request to the fake, not out.
    trap = {"HTTP_PROXY": fake.url, "HTTPS_PROXY": fake.url, "ALL_PROXY": fake.url}

    result = run("--api-url", "http://192.0.2.1", env=trap)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: API URL 'http://192.0.2.1' must use https (plain http only for localhost)"
    ]
    assert fake.connections == 0


def test_api_url_with_a_path_is_refused(fake, run):
    url = f"{fake.url}/v1"

    result = run(env={"AURA_API_URL": url})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: API URL {url!r} must be the base URL without a path, such as https://api.neo4j.io"
    ]
    assert fake.connections == 0


def test_api_url_with_a_trailing_slash_works(fake, run):
    result = run(env={"AURA_API_URL": f"{fake.url}/"})

    assert result.returncode == 0, result.stderr
    assert calls(fake) == HAPPY
    assert len(fake.instances) == 1


ODD_ANSWERS = {
    "404 HTML page": (
        Fault(status=404, body=HTML_404),
        "error: GET /v1/tenants failed with HTTP 404: an HTML page titled '404 Not Found'",
    ),
    "200 HTML page": (
        Fault(status=200, body="<html><title>Sign in</title></html>"),
        "error: GET /v1/tenants answered HTTP 200 with an HTML page titled 'Sign in', not the "
        "JSON object the API sends",
    ),
    "empty body": (
        Fault(status=200, body=""),
        "error: GET /v1/tenants answered HTTP 200 with an empty body, not the JSON object the "
        "API sends",
    ),
    "truncated JSON": (
        Fault(
            status=200,
            headers={"Content-Type": "application/json"},
            body='{"data": [{"id": "6981ace7',
        ),
        "error: GET /v1/tenants answered HTTP 200 with a application/json body starting "
        '\'{"data": [{"id": "6981ace7\', not the JSON object the API sends',
    ),
    "JSON without data": (
        Fault(status=200, body={"tenants": []}),
        "error: GET /v1/tenants answered without the expected data list",
    ),
}


@pytest.mark.parametrize("answer", list(ODD_ANSWERS))
def test_odd_tenant_list_answers_are_one_clear_line(fake, run, answer):
    fault, expected = ODD_ANSWERS[answer]
    fake.on("GET", "/v1/tenants", fault)

    result = run()

    assert result.returncode == 1
    assert result.stderr.splitlines() == [expected]
    assert calls(fake) == HAPPY[:2]


def test_instance_list_without_data_is_one_clear_line(fake, run):
    fake.on("GET", "/v1/instances", Fault(status=200, body={"instances": []}))

    result = run()

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: GET /v1/instances?tenantId={TENANT_ID} answered without the expected data list"
    ]
    assert fake.sent("POST", "/v1/instances") == []


@pytest.mark.parametrize(
    ("change", "missing"),
    [({"password": REMOVE}, "password"), ({"connection_url": None}, "connection_url")],
    ids=["no-password", "null-connection-url"],
)
def test_create_answer_missing_a_credential_still_saves_the_file_and_exits_1(
    fake, run, tmp_path, change, missing
):
    fake.on("POST", "/v1/instances", rewritten_create_answer(fake, **change))

    result = run()

    assert result.returncode == 1
    data = {**the_instance(fake), **{k: None for k in change}}
    [path] = credentials_files(tmp_path)
    assert path.read_text().splitlines() == file_lines(data)
    assert mode_of(path) == 0o600
    assert error_line(result) == (
        f"error: instance {data['id']} was created, but the API's answer had no {missing}; "
        "find it in the Aura console (a lost password can be reset there)"
    )
    assert calls(fake) == HAPPY


def test_create_answer_without_password_does_not_print_none_as_the_password(fake, run):
    fake.on("POST", "/v1/instances", rewritten_create_answer(fake, password=REMOVE))

    result = run()

    assert result.returncode == 1
    assert "Password" in result.stdout.splitlines()
    assert "None" not in result.stdout


@pytest.mark.parametrize(
    "body",
    [{"id": "not-in-data"}, '{"data": {"id": "abc'],
    ids=["json-without-data", "truncated-json"],
)
def test_unusable_create_answer_is_checked_not_resent(fake, run, body):
    fake.on(
        "POST",
        "/v1/instances",
        Fault(apply=True, status=202, headers={"Content-Type": "application/json"}, body=body),
    )

    result = run()

    assert result.returncode == 1
    assert len(fake.sent("POST", "/v1/instances")) == 1
    instance_id = the_instance(fake)["id"]
    assert error_line(result).startswith(f"error: instance {instance_id} named 'my-instance'")
    assert result.stdout == ""


# ---------------------------------------------------------------------------
# --verbose (that it leaks no secret: tests/test_core.py)
# ---------------------------------------------------------------------------


def test_verbose_logs_one_line_per_request(fake, run):
    result = run("--verbose")

    assert result.returncode == 0, result.stderr
    logged = [m.groups() for m in map(VERBOSE_LINE.fullmatch, result.stderr.splitlines()) if m]
    assert [(method, path, status) for method, path, status, _ in logged] == [
        ("POST", "/oauth/token", "200"),
        ("GET", "/v1/tenants", "200"),
        ("GET", f"/v1/instances?tenantId={TENANT_ID}", "200"),
        ("POST", "/v1/instances", "202"),
    ]
    assert len(logged) == len(fake.requests)
    assert all(request_id for _, path, _, request_id in logged if path.startswith("/v1/"))
