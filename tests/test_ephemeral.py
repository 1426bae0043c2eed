"""Ephemeral instances (issue #12): `create_instance.py [options] -- COMMAND`, and `--delete ID`.

With a command after `--`, the script creates the instance, waits until it
answers a query, runs the command with the credentials in its environment
(stdout is the command's), and deletes the instance when the command ends,
however it ends. `--delete ID` deletes one instance.

Every run here is the script as a subprocess in a session of its own, with no
terminal and stdin from /dev/null, as on a CI runner: so a SIGINT the test
sends is one only the script got, and the script passes it on. The commands
are small Python programs (`sys.executable -c`); those that run for long write
their pid to a file, and every test kills whatever it started in a `finally`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import SCRIPT, script_env

from fake_aura import TENANT_ID, Fault
from helpers import credentials_files, secrets_of, wait_for

INSTANCE = "/v1/instances/{id}"  # the route of GET and DELETE of one instance
GITHUB_CANCEL_DEADLINE = 7.0  # GitHub sends SIGTERM 7.5 s after SIGINT; the DELETE must be out
ENVIRONMENT_NAMES = (
    "NEO4J_URI",
    "NEO4J_USERNAME",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
    "AURA_INSTANCEID",
    "AURA_INSTANCENAME",
)

# A command that uses the credentials as an application would: a query to the
# new database's Query API (on the host and port of NEO4J_URI; the fake's is
# plain http on loopback), then one JSON line on stdout. It also checks that
# the credentials file it was promised exists under the same names, and that
# the Aura API credentials were kept from it. Anything wrong: a line on stderr, exit 1.
QUERY_COMMAND = r"""
import base64, glob, json, os, sys, urllib.request
from urllib.parse import urlsplit

names = sys.argv[1].split(",")
env = os.environ
problems = [f"{name} is in the environment" for name in ("AURA_CLIENT_ID", "AURA_CLIENT_SECRET")
            if name in env]
problems += [f"{name} is missing" for name in names if not env.get(name)]
if problems:
    sys.exit("command: " + "; ".join(problems))
basic = f"{env['NEO4J_USERNAME']}:{env['NEO4J_PASSWORD']}".encode()
request = urllib.request.Request(
    f"http://{urlsplit(env['NEO4J_URI']).netloc}/db/neo4j/query/v2",
    data=json.dumps({"statement": "RETURN 1"}).encode(),
    headers={
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": "Basic " + base64.b64encode(basic).decode(),
    },
)
with urllib.request.urlopen(request, timeout=10) as answer:
    status = answer.status
if not 200 <= status < 300:
    sys.exit(f"command: the query got HTTP {status}")
files = glob.glob("Neo4j-*-Created-*.txt")
if len(files) != 1:
    sys.exit(f"command: credentials files here: {files}")
lines = open(files[0]).read().splitlines()
missing = [name for name in names if f"{name}={env[name]}" not in lines]
if missing:
    sys.exit(f"command: the credentials file differs from the environment in {missing}")
shown = {name: env[name] for name in names if name != "NEO4J_PASSWORD"}
print(json.dumps({"query": status, **shown}), flush=True)
"""

# A command that leaves a mark that it ran, says something, and exits with argv[2].
MARK_COMMAND = r"""
import sys
open(sys.argv[1], "w").close()
print("the command ran", flush=True)
sys.exit(int(sys.argv[2]))
"""

# A command that runs until stopped. argv: a tag (to recognise the process),
# the marker file its handler writes the signal's name to, and "handle" (stop
# on SIGINT or SIGTERM, exit 0) or "ignore" (ignore both: only SIGKILL ends it).
SLEEPER = r"""
import os, signal, sys, time

tag, marker, mode = sys.argv[1:4]
with open("command.pid", "w") as pid_file:
    pid_file.write(str(os.getpid()))

def stopped(signum, frame):
    with open(marker, "w") as file:
        file.write(signal.Signals(signum).name)
    os._exit(0)

for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, stopped if mode == "handle" else signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
open("finished", "w").close()
"""


def command(code: str, *argv: str) -> tuple[str, ...]:
    """`-- python -c code argv...`: the part of the script's command line after its options."""
    return ("--", sys.executable, "-c", code, *argv)


def marked(marker: Path, exit_code: int = 0) -> tuple[str, ...]:
    return command(MARK_COMMAND, str(marker), str(exit_code))


@pytest.fixture
def fake(fake):
    """Instances run at once, answer queries at once, and are gone 0.2 s after their DELETE."""
    fake.running_after = 0
    fake.query_ready_after = 0
    fake.delete_after = 0.2
    return fake


# ---------------------------------------------------------------------------
# Running the script, and what every run must show
# ---------------------------------------------------------------------------


def popen(fake, cwd: Path, *args: str, **env: str | None) -> subprocess.Popen[str]:
    """The script in a session of its own: no terminal, as on a CI runner."""
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        env=script_env(fake, **env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def end(process: subprocess.Popen[str], cwd: Path, tag: str | None = None) -> None:
    """Kill what a test started and left running: the script's process group, and
    the command (which may have a group of its own) if it is still ours."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    pid_file = cwd / "command.pid"
    if tag is None or not pid_file.exists():
        return
    pid = int(pid_file.read_text() or 0)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return  # gone
    if tag.encode() in cmdline:  # not a process that took over its pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def command_alive(cwd: Path, tag: str) -> bool:
    try:
        pid = int((cwd / "command.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    if tag.encode() not in cmdline:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def run(fake, cwd: Path, *args: str, timeout: float = 60, **env: str | None):
    """Run the script to its end: CompletedProcess."""
    process = popen(fake, cwd, *args, **env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        end(process, cwd)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


class Running:
    """The script with a long-running command, its output collected as it comes."""

    def __init__(self, fake, cwd: Path, *args: str, **env: str | None) -> None:
        self.cwd = cwd
        self.tag = f"ephemeral-test-{uuid.uuid4().hex}"
        self.marker = cwd / "stopped-by"
        self.process: subprocess.Popen[str] | None = None
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.args = args
        self.env = env
        self.fake = fake
        self.readers: list[threading.Thread] = []

    def start(self, *tail: str) -> Running:
        """Start the script with `tail` (`--` and the command) after its options."""
        self.process = popen(self.fake, self.cwd, *self.args, *tail, **self.env)
        for stream, into in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            reader = threading.Thread(target=self._read, args=(stream, into), daemon=True)
            reader.start()
            self.readers.append(reader)
        return self

    def start_sleeper(self, mode: str) -> Running:
        """Start the script with SLEEPER as its command: "handle" or "ignore" signals."""
        return self.start(*command(SLEEPER, self.tag, str(self.marker), mode))

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_until_ready(self) -> None:
        """Until the command printed "ready" (through the script's stdout)."""
        assert self.process is not None
        wait_for(lambda: "ready\n" in self.stdout or self.process.poll() is not None, 30)
        assert "ready\n" in self.stdout, self.finish()

    def signal(self, signum: int) -> float:
        assert self.process is not None and self.process.poll() is None, self.finish()
        self.process.send_signal(signum)
        return time.monotonic()

    def finish(self, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        assert self.process is not None
        self.process.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=5)
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, "".join(self.stdout), "".join(self.stderr)
        )

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            end(self.process, self.cwd, self.tag)


def the_instance(fake):
    [instance] = fake.instances.values()
    return instance


def deletes(fake) -> list[Any]:
    return fake.sent("DELETE", INSTANCE)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_clean(fake, result, *, masked: bool = False) -> None:
    """No traceback; no client secret or token on stdout or stderr; for a run that
    created instances, not their passwords either (under GitHub Actions: only in
    the mask lines on stderr)."""
    assert "Traceback" not in result.stderr, result.stderr
    for secret in secrets_of(fake):
        assert secret not in result.stdout, "a secret on stdout"
        assert secret not in result.stderr, "a secret on stderr"
    for instance in fake.instances.values():
        password = instance.data["password"]
        if not fake.sent("POST", "/v1/instances"):
            continue  # an instance the script did not create: it never saw the password
        assert password not in result.stdout, "the password on stdout"
        leaked = [
            line
            for line in result.stderr.splitlines()
            if password in line and not (masked and line == f"::add-mask::{password}")
        ]
        assert leaked == [], "the password on stderr"


def assert_deleted_once(fake, instance_id: str) -> Any:
    """Exactly one DELETE, of this instance; it is destroying or gone. Returns the DELETE."""
    [delete] = deletes(fake)
    assert delete.path == f"/v1/instances/{instance_id}"
    assert fake.instances[instance_id].deleted_at is not None
    return delete


def assert_confirmed(fake, delete) -> None:
    """A GET of the instance after its DELETE, as the confirmation."""
    confirmations = [r for r in fake.sent("GET", INSTANCE) if r.at > delete.at]
    assert confirmations, "no GET confirmed the delete"
    assert all(r.path == delete.path for r in confirmations)


def assert_skipped_and_deleted(fake, result, marker: Path, cwd: Path) -> None:
    """A run that failed before its command: the command never ran, stdout stayed
    empty, the instance was deleted once and confirmed, its file removed."""
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    delete = assert_deleted_once(fake, the_instance(fake).data["id"])
    assert_confirmed(fake, delete)
    assert credentials_files(cwd) == []


# ---------------------------------------------------------------------------
# 1. The command gets working credentials, and the instance goes when it ends
# ---------------------------------------------------------------------------


def test_the_command_queries_the_new_database_then_the_instance_is_deleted(fake, tmp_path):
    result = run(fake, tmp_path, *command(QUERY_COMMAND, ",".join(ENVIRONMENT_NAMES)))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    instance = the_instance(fake)
    data = instance.data
    expected = {
        "query": 202,
        "NEO4J_URI": data["connection_url"],
        "NEO4J_USERNAME": data["username"],
        "NEO4J_DATABASE": "neo4j",
        "AURA_INSTANCEID": data["id"],
        "AURA_INSTANCENAME": data["name"],
    }
    assert result.stdout == json.dumps(expected) + "\n"  # the command's output, and only that
    query = fake.query_requests[-1]
    assert query.headers.get("User-Agent", "").startswith("Python-urllib")  # the command's
    delete = assert_deleted_once(fake, data["id"])
    assert query.at < delete.at
    assert_confirmed(fake, delete)
    assert credentials_files(tmp_path) == []


@pytest.mark.parametrize(
    ("wait", "setup"),
    [
        (("--wait-for", "running"), {}),
        (("--query-timeout", "1"), {"query_ready_after": 60}),
    ],
    ids=["wait-for-running", "query-probe-gives-up"],
)
def test_the_command_runs_once_the_instance_is_running_when_the_probe_is_off_or_gives_up(
    fake, tmp_path, wait, setup
):
    for name, value in setup.items():
        setattr(fake, name, value)
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, *wait, *marked(marker))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert marker.exists()
    assert result.stdout == "the command ran\n"
    if setup:
        assert "warning:" in result.stderr
    else:
        assert fake.query_requests == []
    assert_deleted_once(fake, the_instance(fake).data["id"])
    assert credentials_files(tmp_path) == []


# ---------------------------------------------------------------------------
# 2. The command's exit code is the script's
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import sys; sys.exit(3)", 3),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + signal.SIGKILL),
    ],
    ids=["exit-3", "killed-by-sigkill"],
)
def test_the_commands_exit_code_passes_through_and_the_instance_is_deleted(
    fake, tmp_path, code, expected
):
    result = run(fake, tmp_path, *command(code))

    assert result.returncode == expected, result.stderr
    assert_clean(fake, result)
    assert result.stdout == ""
    assert_deleted_once(fake, the_instance(fake).data["id"])
    assert credentials_files(tmp_path) == []


# ---------------------------------------------------------------------------
# 3. --keep
# ---------------------------------------------------------------------------


def test_keep_leaves_the_instance_and_its_credentials_file(fake, tmp_path):
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, "--keep", *marked(marker, 7))

    assert result.returncode == 7, result.stderr
    assert_clean(fake, result)
    assert marker.exists()
    assert result.stdout == "the command ran\n"
    assert deletes(fake) == []
    instance = the_instance(fake)
    assert instance.deleted_at is None
    [path] = credentials_files(tmp_path)
    assert f"NEO4J_PASSWORD={instance.data['password']}" in path.read_text().splitlines()


# ---------------------------------------------------------------------------
# 4. Signals while the command runs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "expected"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_signal_while_the_command_runs_is_passed_on_then_the_instance_is_deleted(
    fake, tmp_path, signum, expected
):
    with Running(fake, tmp_path) as running:
        running.start_sleeper("handle").wait_until_ready()
        assert deletes(fake) == []
        running.signal(signum)
        result = running.finish()

    assert result.returncode == expected, result.stderr
    assert_clean(fake, result)
    assert running.marker.read_text() == signal.Signals(signum).name  # passed on as it came
    assert not (tmp_path / "finished").exists()
    assert result.stdout == "ready\n"
    delete = assert_deleted_once(fake, the_instance(fake).data["id"])
    assert_confirmed(fake, delete)
    assert credentials_files(tmp_path) == []


def test_github_cancel_kills_a_command_that_ignores_signals_and_deletes_before_sigterm(
    fake, tmp_path
):
    """GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later: by then the DELETE is out."""
    with Running(fake, tmp_path) as running:
        running.start_sleeper("ignore").wait_until_ready()
        signalled = running.signal(signal.SIGINT)
        left = GITHUB_CANCEL_DEADLINE - (time.monotonic() - signalled)
        wait_for(lambda: deletes(fake), timeout=left)  # a polling deadline, not a measurement
        result = running.finish()
        assert not command_alive(tmp_path, running.tag)

    assert result.returncode == 130, result.stderr
    assert_clean(fake, result)
    assert not running.marker.exists()  # it ignored the SIGINT: it was killed
    assert not (tmp_path / "finished").exists()
    delete = assert_deleted_once(fake, the_instance(fake).data["id"])
    assert_confirmed(fake, delete)
    assert credentials_files(tmp_path) == []


def test_ctrl_c_during_the_create_call_is_deferred_then_the_instance_is_deleted(fake, tmp_path):
    released = threading.Event()
    create = Fault(apply=True, hold=released)
    fake.on("POST", "/v1/instances", create)
    marker = tmp_path / "ran"
    with Running(fake, tmp_path) as running:
        running.start(*marked(marker))
        try:
            assert create.arrived.wait(30), "the create call never came"
            running.signal(signal.SIGINT)
            wait_for(lambda: "Ctrl-C" in "".join(running.stderr), 10)  # the script has it
        finally:
            released.set()
        result = running.finish()

    assert result.returncode == 130, result.stderr
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert_skipped_and_deleted(fake, result, marker, tmp_path)


# ---------------------------------------------------------------------------
# 5. A delete that fails, once or for good
# ---------------------------------------------------------------------------

DELETE_FAILS_ONCE = {
    "503": Fault(status=503, headers={"Retry-After": "0"}, body={"error": "Unavailable"}),
    # Carried out, but the answer is lost: the resend gets 404, which means it is done.
    "dropped after acting": Fault(apply=True, drop=True),
}


@pytest.mark.parametrize("failure", list(DELETE_FAILS_ONCE))
def test_a_delete_that_fails_once_is_resent(fake, tmp_path, failure):
    fake.on("DELETE", INSTANCE, DELETE_FAILS_ONCE[failure])
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, *marked(marker))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert marker.exists()
    instance = the_instance(fake)
    sent = deletes(fake)
    assert len(sent) == 2
    assert {r.path for r in sent} == {f"/v1/instances/{instance.data['id']}"}
    assert instance.deleted_at is not None
    assert error_lines(result) == []
    assert credentials_files(tmp_path) == []


@pytest.mark.parametrize(("command_code", "expected"), [(0, 5), (3, 3)], ids=["ok", "exit-3"])
def test_a_failing_delete_is_one_error_line_naming_the_way_to_retry_it(
    fake, tmp_path, command_code, expected
):
    failing = [
        Fault(status=500, headers={"Retry-After": "0"}, body={"error": "Internal Server Error"})
        for _ in range(20)
    ]
    fake.on("DELETE", INSTANCE, *failing)
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, *marked(marker, command_code))

    assert result.returncode == expected, result.stderr
    assert_clean(fake, result)
    assert marker.exists()
    instance = the_instance(fake)
    instance_id = instance.data["id"]
    assert 2 <= len(deletes(fake)) < len(failing)  # resent, and every attempt failed
    assert instance.deleted_at is None
    [error] = error_lines(result)
    assert instance_id in error
    assert f"--delete {instance_id}" in error
    [path] = credentials_files(tmp_path)  # the instance exists: its file stays
    assert f"AURA_INSTANCEID={instance_id}" in path.read_text().splitlines()


def test_a_failing_delete_after_sigterm_keeps_exit_143(fake, tmp_path):
    failing = [Fault(status=500, headers={"Retry-After": "0"}) for _ in range(20)]
    fake.on("DELETE", INSTANCE, *failing)
    with Running(fake, tmp_path) as running:
        running.start_sleeper("handle").wait_until_ready()
        running.signal(signal.SIGTERM)
        result = running.finish()

    assert result.returncode == 143, result.stderr
    assert_clean(fake, result)
    assert running.marker.read_text() == "SIGTERM"
    instance_id = the_instance(fake).data["id"]
    [error] = error_lines(result)
    assert f"--delete {instance_id}" in error
    assert the_instance(fake).deleted_at is None
    assert len(credentials_files(tmp_path)) == 1


# ---------------------------------------------------------------------------
# 6. Failing before the command starts
# ---------------------------------------------------------------------------


def test_a_failed_wait_skips_the_command_and_deletes_once_aura_allows_it(fake, tmp_path):
    # Still creating when the wait gives up at 1 s: Aura answers the DELETE 409
    # until the instance leaves "creating" at 2.5 s.
    fake.timeline = [(0.0, "creating"), (2.5, "running")]
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, "--wait-timeout", "1", *marked(marker), timeout=120)

    assert result.returncode == 4, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    instance = the_instance(fake)
    running = instance.running_since()
    sent = deletes(fake)
    refused = [r for r in sent if r.at < running]
    accepted = [r for r in sent if r.at >= running]
    assert refused, "the DELETE should have come while the instance was creating"
    assert len(accepted) == 1 and accepted[0] is sent[-1]
    assert instance.deleted_at is not None
    lines = result.stderr.splitlines()
    assert any("409" in line or "busy" in line.lower() for line in lines), result.stderr
    assert_confirmed(fake, accepted[0])
    assert credentials_files(tmp_path) == []


def test_a_hopeless_status_skips_the_command_and_deletes_the_instance(fake, tmp_path):
    # A status that cannot lead to running, from the first poll (not the second, 3 s on).
    fake.timeline = [(0.0, "paused")]
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, *marked(marker))

    assert result.returncode == 4, result.stderr
    assert_skipped_and_deleted(fake, result, marker, tmp_path)


def test_sigterm_during_the_wait_skips_the_command_and_deletes_the_instance(fake, tmp_path):
    fake.timeline = [(0.0, "creating"), (60.0, "running")]
    # Aura would answer 409 while the instance is creating (see the failed wait
    # above); here the DELETE is let through at once, to test the way out.
    fake.delete_busy_statuses = set()
    marker = tmp_path / "ran"
    with Running(fake, tmp_path) as running:
        running.start(*marked(marker))
        wait_for(lambda: fake.sent("GET", INSTANCE) or running.process.poll() is not None, 30)
        running.signal(signal.SIGTERM)
        result = running.finish()

    assert result.returncode == 143, result.stderr
    assert_skipped_and_deleted(fake, result, marker, tmp_path)


# ---------------------------------------------------------------------------
# 7. --delete ID
# ---------------------------------------------------------------------------


def test_delete_by_id_needs_only_the_credentials_and_confirms(fake, tmp_path):
    # Two tenants and no --tenant: a create would have to ask which one.
    fake.tenants.append({**fake.tenants[0], "id": "da045ab3-3b89-4f45-8b96-528f2e47cd13"})
    instance_id = fake.add_instance("old-one")

    result = run(fake, tmp_path, "--delete", instance_id)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    delete = assert_deleted_once(fake, instance_id)
    assert_confirmed(fake, delete)
    assert fake.sent("GET", "/v1/tenants") == [] and fake.sent("GET", "/v1/instances") == []
    assert fake.sent("POST", "/v1/instances") == []


def test_delete_of_an_unknown_id_is_exit_2_and_one_line(fake, tmp_path):
    result = run(fake, tmp_path, "--delete", "0badc0de")

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert error_lines(result)
    assert "0badc0de" in result.stderr
    assert len(deletes(fake)) == 1


def test_delete_with_a_wrong_secret_is_exit_3(fake, tmp_path):
    instance_id = fake.add_instance("old-one")

    result = run(fake, tmp_path, "--delete", instance_id, AURA_CLIENT_SECRET="not-the-secret")

    assert result.returncode == 3, result.stderr
    assert_clean(fake, result)
    assert "not-the-secret" not in result.stderr
    assert len(error_lines(result)) == 1
    assert deletes(fake) == []
    assert fake.instances[instance_id].deleted_at is None


def test_delete_resent_after_a_dropped_connection_takes_the_404_as_done(fake, tmp_path):
    instance_id = fake.add_instance("old-one")
    # The first DELETE is carried out, but its answer is lost; the resend gets 404.
    fake.on("DELETE", INSTANCE, Fault(apply=True, drop=True))

    result = run(fake, tmp_path, "--delete", instance_id)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert len(deletes(fake)) == 2
    assert fake.instances[instance_id].deleted_at is not None
    # The 404 to the resend means the first DELETE worked; a GET confirms it, as after a 202.
    assert fake.sent("GET", INSTANCE)[-1].at > deletes(fake)[-1].at
    assert result.stderr.splitlines()[-1] in (
        f"Instance {instance_id} is being deleted.",  # the GET saw "destroying"
        f"Instance {instance_id} is deleted.",  # or, after the resend's backoff, a 404
    )


# ---------------------------------------------------------------------------
# 8. Usage errors: exit 2 before any request
# ---------------------------------------------------------------------------

RAN = "ran-anyway"  # the marker MARK_COMMAND would leave
USAGE_ERRORS = {
    "--output json": ("--output", "json", *marked(Path(RAN))),
    "--dry-run": ("--dry-run", *marked(Path(RAN))),
    "--list-configurations": ("--list-configurations", *marked(Path(RAN))),
    "--keep without a command": ("--keep",),
    "--keep --delete": ("--keep", "--delete", "0badc0de"),
    "--delete with a command": ("--delete", "0badc0de", *marked(Path(RAN))),
    "--delete --wait": ("--delete", "0badc0de", "--wait"),
    "--delete --dry-run": ("--delete", "0badc0de", "--dry-run"),
    "--delete --list-configurations": ("--delete", "0badc0de", "--list-configurations"),
    "-- and nothing": ("--",),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_before_any_request(fake, tmp_path, case):
    result = run(fake, tmp_path, *USAGE_ERRORS[case])

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert "error:" in result.stderr
    assert result.stdout == ""
    assert fake.connections == 0
    assert not (tmp_path / RAN).exists()


# ---------------------------------------------------------------------------
# 9. GitHub Actions
# ---------------------------------------------------------------------------


def test_under_github_actions_masks_on_stderr_and_writes_no_step_outputs(fake, tmp_path):
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=kept\n")
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, *marked(marker), GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(outputs))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result, masked=True)
    password = the_instance(fake).data["password"]
    assert f"::add-mask::{password}" in result.stderr.splitlines()
    assert result.stdout == "the command ran\n"
    assert outputs.read_text() == "earlier=kept\n"
    assert_deleted_once(fake, the_instance(fake).data["id"])


# ---------------------------------------------------------------------------
# 10. A command that cannot be started
# ---------------------------------------------------------------------------


def test_a_command_that_does_not_exist_is_exit_127_before_anything_is_created(fake, tmp_path):
    missing = "create-instance-test-no-such-command"

    result = run(fake, tmp_path, "--", missing, "--flag")

    assert result.returncode == 127, result.stderr
    assert_clean(fake, result)
    [error] = error_lines(result)
    assert missing in error
    assert result.stdout == ""
    assert fake.connections == 0  # checked before any request: nothing to pay for
    assert credentials_files(tmp_path) == []


def test_the_options_before_the_double_dash_are_the_scripts(fake, tmp_path):
    marker = tmp_path / "ran"

    result = run(fake, tmp_path, "--tenant", TENANT_ID, "--name", "eph-1", *marked(marker))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert the_instance(fake).data["name"] == "eph-1"
    assert fake.sent("GET", "/v1/tenants") == []
    assert marker.exists()
