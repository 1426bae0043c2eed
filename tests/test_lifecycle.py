"""Issue 15: nothing billed is left behind, however a `-- COMMAND` job ends.

End-to-end tests of the signal and lifecycle promises of issue 15:
from the first SIGINT, SIGTERM or SIGHUP the script exits by itself within
SIGNAL_EXIT_TIMEOUT with the instance deleted and confirmed, or with exactly
one "error: ... delete it with: COMMAND" line whose COMMAND, run later,
deletes it; SIGHUP is handled like SIGTERM (129) unless inherited as ignored;
a command that cannot run costs no request; a create answer without a plain
id goes on with the instance found by name, or does not run the command; the
command's whole process group is signalled and, after the grace, killed.

Every run is a real interpreter (signals need one) in a session of its own,
with no terminal and stdin from /dev/null, as on a CI runner. The script runs
through WRAPPER, which imports it and shrinks its named constants before
calling main(): everything, GitHub's cancel sequence included, is scaled by
SCALE (1/3; SIGNAL_EXIT_TIMEOUT a little less, see SHRUNK), so that a test
takes seconds, not tens of seconds. The printed delete commands run the same
way, from the path they name. What a test
checks is then not a timing but an outcome: the script exited by itself
(130, 143 or 129, not killed by SIGKILL) before the scaled SIGKILL would
have come. The tests wait on events and held answers of the fake, and poll
with helpers.wait_for; the only sleeps make a gap that a scenario is about
(a second signal some time after the first). Whatever a test starts is
killed in a `finally` (Script.__exit__).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SCRIPT, script_env
from test_ephemeral import assert_clean, deletes, error_lines, the_instance

from fake_aura import TENANT_ID, Fault
from helpers import assert_no_secrets, credentials_files, printed, wait_for

INSTANCE = "/v1/instances/{id}"  # the route of GET and DELETE of one instance
CREATING = [(0.0, "creating"), (600.0, "running")]  # every DELETE meanwhile gets 409
RUNNING = [(0.0, "running")]

# GitHub's cancel, scaled: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that.
SCALE = 1 / 3
SIGTERM_AFTER = 7.5 * SCALE
SIGKILL_AFTER = 2.5 * SCALE
# The script's constants, scaled the same way (spec15.md gives the unscaled ones),
# but for one: the script keeps a fixed half second of its bound for the way out
# (one line, exit), so that, at 9 * SCALE, it would give up (at 2.5 s) just as the
# scaled SIGTERM comes, a race that the real numbers do not have (8.5 s, after
# GitHub's SIGTERM at 7.5 s). With 3.25 GitHub's SIGTERM comes during the attempt,
# as it does for real, and the bound is still before the scaled SIGKILL (3.33 s).
SHRUNK: dict[str, float] = {
    "SIGNAL_EXIT_TIMEOUT": 3.25,
    "SECOND_SIGNAL_TIMEOUT": 1 * SCALE,
    "SIGNAL_REPEAT_WINDOW": 0.5 * SCALE,
    "COMMAND_GRACE": 5 * SCALE,
    "DELETE_BUSY_TIMEOUT": 300 * SCALE,
    "DELETE_BUSY_INTERVAL": 2 * SCALE,
    "MIN_REQUEST_INTERVAL": 0.48 * SCALE,
    "WAIT_INTERVAL": 3 * SCALE,
}

# `python create_instance.py ARGS` with some module constants changed first.
# argv: the script's path, the constants as JSON, then the script's arguments.
# A constant the script does not have is an error here, not a silent no-op.
WRAPPER = r"""
import json, os, sys
script, constants = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, os.path.dirname(script))
import create_instance as m
missing = sorted(name for name in constants if not hasattr(m, name))
if missing:
    sys.exit("wrapper: create_instance.py has no " + ", ".join(missing))
for name, value in constants.items():
    setattr(m, name, value)
sys.argv = [script, *sys.argv[3:]]
sys.exit(m.main(sys.argv[1:]))
"""

# What nohup does for signals: start the rest of the command line with SIGHUP
# ignored, which an exec keeps.
NOHUP = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)

# A command that leaves a mark that it ran, and exits 0.
MARK_COMMAND = "import sys; open(sys.argv[1], 'w').close()"

# A command that saves what it was given: the credentials files of its directory
# (name and content) and its AURA_INSTANCEID, to seen.json.
SEE_COMMAND = r"""
import glob, json, os
files = {path: open(path).read() for path in glob.glob("Neo4j-*-Created-*.txt")}
with open("seen.json", "w") as seen:
    json.dump({"files": files, "id": os.environ.get("AURA_INSTANCEID")}, seen)
"""

# A command that prints "ready", then runs until the file "go" appears; exit 0.
GO_COMMAND = r"""
import os, sys, time
print("ready", flush=True)
deadline = time.monotonic() + 30
while not os.path.exists("go") and time.monotonic() < deadline:
    time.sleep(0.01)
sys.exit(0 if os.path.exists("go") else 1)
"""

# A command that notes every SIGINT, SIGTERM and SIGHUP in argv[2] and goes on
# running: only SIGKILL ends it. argv[1] is a tag, to recognise the process.
RECORDER = r"""
import os, signal, sys, time
tag, marker = sys.argv[1:3]
def note(signum, frame):
    with open(marker, "a") as file:
        file.write(signal.Signals(signum).name + "\n")
for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, note)
print("ready", flush=True)
time.sleep(120)
open("finished", "w").close()
"""

# A command that starts a background child, which notes the signals it gets in
# grandchild.signals and otherwise ignores them. The leader either "stays" (it
# ignores SIGINT and SIGTERM too) or "exits" at once on either. argv: tag, mode.
LEADER = r"""
import os, signal, subprocess, sys, time
tag, mode = sys.argv[1:3]
handling = signal.SIG_IGN if mode == "stays" else signal.SIG_DFL
for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, handling)
subprocess.Popen(
    [sys.executable, "-c", sys.argv[3], tag],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
deadline = time.monotonic() + 20
while not os.path.exists("grandchild.pid") and time.monotonic() < deadline:
    time.sleep(0.01)
with open("leader.pid", "w") as file:
    file.write(f"{os.getpid()} {os.getpgrp()}")
print("ready", flush=True)
time.sleep(120)
"""
GRANDCHILD = r"""
import os, signal, time
def note(signum, frame):
    with open("grandchild.signals", "a") as file:
        file.write(signal.Signals(signum).name + "\n")
for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, note)
with open("grandchild.tmp", "w") as file:
    file.write(str(os.getpid()))
os.rename("grandchild.tmp", "grandchild.pid")
while True:
    time.sleep(60)
"""


def command(code: str, *argv: str) -> tuple[str, ...]:
    """`-- python -c code argv...`: the part of the script's command line after its options."""
    return ("--", sys.executable, "-c", code, *argv)


def a_name() -> str:
    """An instance name a shell must have quoted: a space and an apostrophe."""
    return f"lc it's {uuid.uuid4().hex[:8]}"


@pytest.fixture
def fake(fake):
    """Instances run at once, answer queries at once, and are gone 0.2 s after their DELETE."""
    fake.running_after = 0
    fake.query_ready_after = 0
    fake.delete_after = 0.2
    return fake


# ---------------------------------------------------------------------------
# Running the script, and what is left after it
# ---------------------------------------------------------------------------


def tagged(tag: str) -> list[int]:
    """The pids of the live processes whose command line holds `tag`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if tag.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Script:
    """The script (through WRAPPER) in a session of its own, its output collected
    as it comes. On leaving: its group, and every process with its tag, killed."""

    def __init__(
        self,
        fake,
        cwd: Path,
        *args: str,
        constants: dict[str, float] | None = None,
        ignore_sighup: bool = False,
        **env: str | None,
    ) -> None:
        self.cwd = cwd
        self.tag = f"lifecycle-test-{uuid.uuid4().hex}"
        prefix = [sys.executable, "-c", NOHUP] if ignore_sighup else [sys.executable]
        self.process = subprocess.Popen(
            [
                *prefix,
                "-c",
                WRAPPER,
                str(SCRIPT),
                json.dumps({**SHRUNK, **(constants or {})}),
                *[arg.replace("{tag}", self.tag) for arg in args],
            ],
            env=script_env(fake, **env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_for_stdout(self, text: str, timeout: float = 15) -> None:
        wait_for(lambda: text in "".join(self.stdout) or self.exited, timeout)
        assert text in "".join(self.stdout), self.finish()

    def send(self, signum: int) -> None:
        """To the script's own pid, as GitHub's runner signals a step's process."""
        if not self.exited:
            self.process.send_signal(signum)

    def send_group(self, signum: int) -> None:
        """To the script's whole process group, as a closing terminal does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def cancel_like_github(
        self, send: Callable[[int], None], first: int = signal.SIGINT
    ) -> list[int]:
        """GitHub's cancel, scaled: `first`, SIGTERM SIGTERM_AFTER later, SIGKILL
        SIGKILL_AFTER after that, each only while the script still runs. The
        signals sent, in order."""
        sent = []
        for signum, then in (
            (first, SIGTERM_AFTER),
            (signal.SIGTERM, SIGKILL_AFTER),
            (signal.SIGKILL, 10),
        ):
            if self.exited:
                break
            send(signum)
            sent.append(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=then)
        return sent

    def finish(self, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the script did not end within {timeout} s: {''.join(self.stderr)}")
        for reader in self.readers:
            reader.join(timeout=5)
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, "".join(self.stdout), "".join(self.stderr)
        )

    def kill(self) -> None:
        if not self.exited:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in tagged(self.tag):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Script:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def busy_warnings(result) -> list[str]:
    """The lines, other than error lines, that say Aura refused a DELETE as busy (409)."""
    return [
        line
        for line in result.stderr.splitlines()
        if not line.startswith("error:") and ("409" in line or "busy" in line.lower())
    ]


def the_left_line(result, cwd: Path) -> list[str]:
    """The one "error: ... delete it with: COMMAND" line: COMMAND as a shell splits it,
    after checking that its second word is this script's path (from `cwd`)."""
    lines = [line for line in result.stderr.splitlines() if "delete it with: " in line]
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert line.startswith("error: "), line
    words = shlex.split(line.split("delete it with: ", 1)[1])
    assert len(words) >= 3, line
    assert (cwd / words[1]).resolve() == SCRIPT.resolve(), line
    return words


def run_printed(
    words: list[str], fake, cwd: Path, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run a printed command (from the_left_line) in `cwd` with the fake's environment:
    the script at the printed path, through WRAPPER (so --sweep's pacing is scaled too)."""
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, words[1], json.dumps(SHRUNK), *words[2:]],
        env=script_env(fake, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=20,
    )


def file_values(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#")
    )


def assert_exited_by_itself(sent: list[int], result, expected: int) -> None:
    """Before the (scaled) SIGKILL would have come, with the signal's exit code."""
    assert signal.SIGKILL not in sent, f"still running at GitHub's SIGKILL: {result.stderr}"
    assert result.returncode == expected, result.stderr


def assert_left_creating_and_named(fake, result, cwd: Path) -> list[str]:
    """A run that left its instance (still creating): it asked again through the
    409s, said so once, and named the instance's id in the one line. Returns the
    printed delete command's words."""
    instance = the_instance(fake)
    instance_id = instance.data["id"]
    assert instance.deleted_at is None
    sent = deletes(fake)
    assert len(sent) >= 2, "the DELETE was not asked again while Aura answered 409"
    assert {r.path for r in sent} == {f"/v1/instances/{instance_id}"}
    assert len(busy_warnings(result)) == 1, result.stderr
    words = the_left_line(result, cwd)
    assert words[2:] == ["--delete", instance_id]
    [path] = credentials_files(cwd)  # the instance exists: its file stays
    values = file_values(path)
    assert values["AURA_INSTANCEID"] == instance_id
    assert values["NEO4J_PASSWORD"] == instance.data["password"]
    return words


def assert_printed_command_deletes_it(fake, words: list[str], cwd: Path, **env: str | None) -> None:
    """Once the instance runs, the printed command deletes it, exit 0, and its file goes."""
    instance = the_instance(fake)
    instance.timeline = RUNNING
    before = len(deletes(fake))
    later = run_printed(words, fake, cwd, **env)
    assert later.returncode == 0, later.stderr
    assert "Traceback" not in later.stderr
    assert_no_secrets(fake, later.stdout, later.stderr)
    assert instance.deleted_at is not None
    assert len(deletes(fake)) > before
    assert credentials_files(cwd) == []
    if words[2] == "--sweep":
        assert later.stdout.split() == [instance.data["id"]]


# ---------------------------------------------------------------------------
# 1. GitHub's cancel while Aura is creating the instance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cancel", ["github", "sigint only"])
def test_a_cancel_during_the_wait_exits_in_time_naming_the_id(fake, tmp_path, cancel):
    """GitHub's whole sequence; or only its SIGINT, where the script's own bound
    (SIGNAL_EXIT_TIMEOUT) must end the run before GitHub's SIGKILL would."""
    fake.timeline = CREATING
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        wait_for(lambda: fake.sent("GET", INSTANCE) or script.exited, 10)  # waiting for running
        if cancel == "github":
            sent = script.cancel_like_github(script.send)
        else:
            script.send(signal.SIGINT)
            sent = [signal.SIGINT]
            try:
                script.process.wait(timeout=SIGTERM_AFTER + SIGKILL_AFTER)
            except subprocess.TimeoutExpired:
                sent.append(signal.SIGKILL)
                script.kill()
        result = script.finish()

    assert_exited_by_itself(sent, result, 130)
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    assert len(fake.sent("POST", "/v1/instances")) == 1
    words = assert_left_creating_and_named(fake, result, tmp_path)
    assert_printed_command_deletes_it(fake, words, tmp_path)


@pytest.mark.parametrize("answer", ["comes", "held past the bound"])
def test_github_cancel_during_the_create_call_exits_in_time_naming_the_instance(
    fake, tmp_path, answer
):
    """The create answer comes right after the SIGINT (the id is known: --delete ID),
    or not before the script must exit (only the name is: --sweep NAME)."""
    fake.timeline = CREATING
    released = threading.Event()
    create = Fault(apply=True, hold=released)
    fake.on("POST", "/v1/instances", create)
    name = a_name()
    marker = tmp_path / "ran"

    def send(signum: int) -> None:
        script.send(signum)
        if answer == "comes":
            released.set()

    with Script(fake, tmp_path, "--name", name, *command(MARK_COMMAND, str(marker))) as script:
        try:
            assert create.arrived.wait(15), "the create call never came"
            sent = script.cancel_like_github(send)
        finally:
            released.set()
        result = script.finish()

    assert_exited_by_itself(sent, result, 130)
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    assert len(fake.sent("POST", "/v1/instances")) == 1
    assert the_instance(fake).data["name"] == name
    if answer == "comes":
        words = assert_left_creating_and_named(fake, result, tmp_path)
    else:
        assert deletes(fake) == []  # no id, nothing to DELETE
        assert the_instance(fake).deleted_at is None
        words = the_left_line(result, tmp_path)
        assert words[2:] == ["--sweep", name]
        assert credentials_files(tmp_path) == []  # the password never came
    assert_printed_command_deletes_it(fake, words, tmp_path)


# ---------------------------------------------------------------------------
# 2. A closed terminal: SIGHUP to the whole process group, twice
# ---------------------------------------------------------------------------


def test_sighup_to_the_group_while_creating_counts_once_and_exits_129_naming_the_id(fake, tmp_path):
    fake.timeline = CREATING
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        wait_for(lambda: fake.sent("GET", INSTANCE) or script.exited, 10)
        script.send_group(signal.SIGHUP)
        time.sleep(0.05)  # a terminal sends SIGHUP twice, within 0.1 s
        script.send_group(signal.SIGHUP)
        hung_up = time.monotonic()
        # Counted once: the script goes on asking through the 409s, where a
        # second signal would end it within SECOND_SIGNAL_TIMEOUT.
        wait_for(
            lambda: (
                script.exited or time.monotonic() - hung_up > 3 * SHRUNK["SECOND_SIGNAL_TIMEOUT"]
            )
        )
        assert not script.exited, "the repeated SIGHUP counted as a second signal"
        # Then the rest of GitHub's sequence, to the group.
        sent = [signal.SIGHUP]
        with contextlib.suppress(subprocess.TimeoutExpired):
            script.process.wait(timeout=max(0.0, hung_up + SIGTERM_AFTER - time.monotonic()))
        sent += script.cancel_like_github(script.send_group, first=signal.SIGTERM)
        result = script.finish()

    assert_exited_by_itself(sent, result, 129)
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    words = assert_left_creating_and_named(fake, result, tmp_path)
    assert_printed_command_deletes_it(fake, words, tmp_path)


# ---------------------------------------------------------------------------
# 3. A second Ctrl-C ends the attempt
# ---------------------------------------------------------------------------


def test_a_second_sigint_while_creating_ends_the_run_promptly_naming_the_id(fake, tmp_path):
    fake.timeline = CREATING
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        wait_for(lambda: fake.sent("GET", INSTANCE) or script.exited, 10)
        script.send(signal.SIGINT)
        first = time.monotonic()
        wait_for(lambda: deletes(fake) or script.exited, 5)  # it acts on the first
        # The second Ctrl-C comes 1 s (scaled) after the first, and, on a loaded
        # machine too, more than SIGNAL_REPEAT_WINDOW after the script took the first.
        second_at = max(
            first + SHRUNK["SECOND_SIGNAL_TIMEOUT"],
            time.monotonic() + 2 * SHRUNK["SIGNAL_REPEAT_WINDOW"],
        )
        time.sleep(max(0.0, second_at - time.monotonic()))
        assert not script.exited, script.finish()
        script.send(signal.SIGINT)
        # Within SECOND_SIGNAL_TIMEOUT of it; checked with room to spare: before
        # GitHub's SIGTERM, which comes before the first signal's own bound ends.
        try:
            script.process.wait(timeout=max(0.0, first + SIGTERM_AFTER - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail("the second SIGINT did not end the run promptly")
        result = script.finish()

    assert result.returncode == 130, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    instance = the_instance(fake)
    assert instance.deleted_at is None
    assert deletes(fake), "no DELETE was tried"
    assert len(busy_warnings(result)) <= 1, result.stderr
    words = the_left_line(result, tmp_path)
    assert words[2:] == ["--delete", instance.data["id"]]
    assert len(credentials_files(tmp_path)) == 1
    assert_printed_command_deletes_it(fake, words, tmp_path)


def test_the_printed_command_repeats_tenant_and_api_url_given_as_flags(fake, tmp_path):
    """--tenant and --api-url given as flags, not from the environment: the printed
    command repeats them, and works in an environment without them."""
    fake.timeline = CREATING
    flags = ("--tenant", TENANT_ID, "--api-url", fake.url)
    with Script(fake, tmp_path, *flags, *command(MARK_COMMAND, "ran"), AURA_API_URL=None) as script:
        wait_for(lambda: fake.sent("GET", INSTANCE) or script.exited, 10)
        script.send(signal.SIGINT)
        wait_for(lambda: deletes(fake) or script.exited, 5)
        time.sleep(0.5)  # the second Ctrl-C, well outside SIGNAL_REPEAT_WINDOW
        script.send(signal.SIGINT)
        result = script.finish()

    assert result.returncode == 130, result.stderr
    assert_clean(fake, result)
    instance_id = the_instance(fake).data["id"]
    words = the_left_line(result, tmp_path)
    assert words[-2:] == ["--delete", instance_id]
    given = words[2:-2]
    assert sorted(zip(given[::2], given[1::2])) == sorted(zip(flags[::2], flags[1::2]))
    assert_printed_command_deletes_it(fake, words, tmp_path, AURA_API_URL=None)


# ---------------------------------------------------------------------------
# 4. SIGHUP during the create call: the password is still saved and shown
# ---------------------------------------------------------------------------


def test_sighup_during_the_create_call_still_saves_and_prints_the_password(fake, tmp_path):
    released = threading.Event()
    create = Fault(apply=True, hold=released)
    fake.on("POST", "/v1/instances", create)
    with Script(fake, tmp_path) as script:
        try:
            assert create.arrived.wait(15), "the create call never came"
            script.send(signal.SIGHUP)
        finally:
            released.set()
        result = script.finish()

    assert result.returncode == 129, result.stderr
    assert "Traceback" not in result.stderr
    data = the_instance(fake).data
    assert result.stdout.splitlines() == printed(data)
    [path] = credentials_files(tmp_path)
    values = file_values(path)
    assert values["AURA_INSTANCEID"] == data["id"]
    assert values["NEO4J_PASSWORD"] == data["password"]
    assert data["password"] not in result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr, path.read_text())
    assert deletes(fake) == []  # no command: the instance is the run's result
    assert the_instance(fake).deleted_at is None


def test_sighup_during_the_create_call_with_a_command_saves_then_deletes(fake, tmp_path):
    released = threading.Event()
    create = Fault(apply=True, hold=released)
    fake.on("POST", "/v1/instances", create)
    seen: dict[str, str] = {}  # the credentials files as the DELETE arrived
    fake.on(
        "DELETE",
        INSTANCE,
        Fault(
            action=lambda: seen.update({p.name: p.read_text() for p in credentials_files(tmp_path)})
        ),
    )
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        try:
            assert create.arrived.wait(15), "the create call never came"
            script.send(signal.SIGHUP)
        finally:
            released.set()
        result = script.finish()

    assert result.returncode == 129, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    instance = the_instance(fake)
    [text] = seen.values()  # saved before the delete
    assert f"NEO4J_PASSWORD={instance.data['password']}" in text.splitlines()
    [delete] = deletes(fake)
    assert delete.path == f"/v1/instances/{instance.data['id']}"
    assert instance.deleted_at is not None
    assert fake.sent("GET", INSTANCE)[-1].at > delete.at  # confirmed
    assert credentials_files(tmp_path) == []
    assert "delete it with: " not in result.stderr


# ---------------------------------------------------------------------------
# 5. nohup: a SIGHUP inherited as ignored stays ignored
# ---------------------------------------------------------------------------


def test_sighup_inherited_as_ignored_stays_ignored(fake, tmp_path):
    with Script(fake, tmp_path, *command(GO_COMMAND), ignore_sighup=True) as script:
        script.wait_for_stdout("ready\n")
        script.send(signal.SIGHUP)
        script.send_group(signal.SIGHUP)
        (tmp_path / "go").touch()
        result = script.finish()

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == "ready\n"
    instance = the_instance(fake)
    [delete] = deletes(fake)
    assert delete.path == f"/v1/instances/{instance.data['id']}"
    assert instance.deleted_at is not None
    assert credentials_files(tmp_path) == []
    assert error_lines(result) == []


# ---------------------------------------------------------------------------
# 6. A command that cannot run costs nothing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "program",
    ["no-such-command-xyz", "./not-executable", "./a-directory", "/nonexistent/bin/tool"],
)
def test_a_command_that_cannot_run_is_exit_127_before_any_request(run, fake, tmp_path, program):
    (tmp_path / "not-executable").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "not-executable").chmod(0o644)
    (tmp_path / "a-directory").mkdir()

    result = run("--", program, "--flag")

    assert result.returncode == 127, result.stderr
    assert "Traceback" not in result.stderr
    [error] = error_lines(result)
    assert program in error
    assert result.stdout == ""
    assert fake.connections == 0
    assert fake.requests == []
    assert fake.instances == {}
    assert credentials_files(tmp_path) == []


# ---------------------------------------------------------------------------
# 7. A create answer whose id is a number
# ---------------------------------------------------------------------------


def listing_with_an_odd_entry(fake) -> Callable[[Any], dict[str, Any]]:
    """GET /v1/instances as the fake answers it, plus an entry whose id is a number."""

    def body(request: Any) -> dict[str, Any]:
        shown = [
            {
                key: i.data[key]
                for key in ("id", "name", "tenant_id", "cloud_provider", "created_at")
            }
            for i in list(fake.instances.values())
            if i.deleted_at is None
        ]
        return {"data": [*shown, {"id": 42, "name": "someone-else"}]}

    return body


def test_a_numeric_id_goes_on_with_the_instance_found_by_name(run, fake, tmp_path):
    fake.on("POST", "/v1/instances", Fault(apply=True, patch={"id": 12345678}))
    # The listing before the create is the real one (an odd entry there is refused,
    # test_leaks.py); one odd entry in those after it must not spoil the lookup.
    listing = Fault(status=200, body=listing_with_an_odd_entry(fake))
    fake.on("GET", "/v1/instances", None, *[listing] * 5)
    name = a_name()

    result = run("--name", name, *command(SEE_COMMAND))

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    instance = the_instance(fake)
    real_id = instance.data["id"]
    seen = json.loads((tmp_path / "seen.json").read_text())  # the command ran
    [text] = seen["files"].values()  # and the password had been saved
    assert f"NEO4J_PASSWORD={instance.data['password']}" in text.splitlines()
    assert seen["id"] == real_id  # the instance found by name is the one used
    assert {r.path for r in deletes(fake)} == {f"/v1/instances/{real_id}"}
    assert instance.deleted_at is not None
    assert fake.sent("GET", INSTANCE)[-1].at > deletes(fake)[-1].at  # confirmed
    assert "delete it with: " not in result.stderr


def test_a_numeric_id_and_no_instance_found_by_name_skips_the_command(run, fake, tmp_path):
    fake.on("POST", "/v1/instances", Fault(apply=True, patch={"id": 12345678}))
    # The listing before the create is the real one; every one after it is empty.
    fake.on("GET", "/v1/instances", None, *[Fault(status=200, body={"data": []}) for _ in range(5)])
    name = a_name()
    marker = tmp_path / "ran"

    result = run("--name", name, *command(MARK_COMMAND, str(marker)))

    assert result.returncode == 1, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    assert result.stdout == ""
    instance = the_instance(fake)
    assert deletes(fake) == []
    assert instance.deleted_at is None
    [path] = credentials_files(tmp_path)  # the password was saved
    assert file_values(path)["NEO4J_PASSWORD"] == instance.data["password"]
    words = the_left_line(result, tmp_path)
    assert words[2:] == ["--sweep", name]
    # The printed command removes it (the listing is the real one again).
    fake.on("GET", "/v1/instances")
    later = run_printed(words, fake, tmp_path)
    assert later.returncode == 0, later.stderr
    assert "Traceback" not in later.stderr
    assert instance.deleted_at is not None
    assert later.stdout.split() == [instance.data["id"]]


# ---------------------------------------------------------------------------
# 8. SIGTERM during the DELETE
# ---------------------------------------------------------------------------


def test_sigterm_during_the_delete_still_confirms_and_removes_the_file(fake, tmp_path):
    released = threading.Event()
    delete = Fault(apply=True, hold=released)
    fake.on("DELETE", INSTANCE, delete)
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        try:
            assert delete.arrived.wait(15), "the DELETE never came"
            assert len(credentials_files(tmp_path)) == 1
            script.send(signal.SIGTERM)
        finally:
            released.set()
        result = script.finish()

    assert result.returncode == 143, result.stderr
    assert_clean(fake, result)
    assert marker.exists()
    instance = the_instance(fake)
    [sent] = deletes(fake)
    assert sent.path == f"/v1/instances/{instance.data['id']}"
    assert instance.deleted_at is not None
    assert fake.sent("GET", INSTANCE)[-1].at > sent.at  # confirmed
    assert credentials_files(tmp_path) == []
    assert "delete it with: " not in result.stderr


# ---------------------------------------------------------------------------
# 9. Not in a terminal: the command's whole process group
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("leader", ["stays", "exits"])
def test_the_commands_whole_group_is_signalled_then_killed_when_the_grace_ends(
    fake, tmp_path, leader
):
    """A command whose background child ignores signals: the child gets the signal
    too, and no process of the group is left once the script has ended, whether
    the leader waits ("stays") or ends at once on the signal ("exits")."""
    marker = tmp_path / "grandchild.signals"
    with Script(
        fake,
        tmp_path,
        *command(LEADER, "{tag}", leader, GRANDCHILD),
        constants={"COMMAND_GRACE": 1},
    ) as script:
        script.wait_for_stdout("ready\n")
        leader_pid, pgid = map(int, (tmp_path / "leader.pid").read_text().split())
        grandchild = int((tmp_path / "grandchild.pid").read_text())
        assert pgid == leader_pid != os.getpgid(script.process.pid)  # a group of its own
        assert os.getpgid(grandchild) == pgid
        script.send(signal.SIGTERM)
        result = script.finish()
        wait_for(lambda: group_members(pgid) == [], 2)  # SIGKILLed: gone at once
        assert not alive(grandchild)

    assert result.returncode == 143, result.stderr
    assert_clean(fake, result)
    assert "SIGTERM" in marker.read_text().split()  # passed to the group, not only the leader
    instance = the_instance(fake)
    assert instance.deleted_at is not None
    assert credentials_files(tmp_path) == []


# ---------------------------------------------------------------------------
# 10. A second signal during the command's grace
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT-again"])
def test_a_second_signal_in_the_grace_kills_the_command_and_deletes(fake, tmp_path, second):
    # A grace and a bound far longer than the test: only the second signal can end it soon.
    constants = {"COMMAND_GRACE": 20, "SIGNAL_EXIT_TIMEOUT": 30}
    marker = tmp_path / "signals"
    with Script(
        fake, tmp_path, *command(RECORDER, "{tag}", str(marker)), constants=constants
    ) as script:
        script.wait_for_stdout("ready\n")
        command_pids = tagged(script.tag)
        script.send(signal.SIGINT)
        wait_for(lambda: marker.exists() or script.exited, 5)  # passed on: the grace runs
        assert marker.read_text().split() == ["SIGINT"]
        # The script took the signal before it passed it on, so before now. The same
        # signal again counts only SIGNAL_REPEAT_WINDOW after that, on a loaded machine too.
        time.sleep(2 * SHRUNK["SIGNAL_REPEAT_WINDOW"])
        script.send(second)
        try:
            script.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("the second signal did not end the command's grace")
        result = script.finish()
        assert not any(alive(pid) and pid != script.process.pid for pid in command_pids)

    assert result.returncode == 130, result.stderr
    assert_clean(fake, result)
    assert result.stdout == "ready\n"
    assert not (tmp_path / "finished").exists()
    instance = the_instance(fake)
    assert {r.path for r in deletes(fake)} == {f"/v1/instances/{instance.data['id']}"}
    assert instance.deleted_at is not None
    assert credentials_files(tmp_path) == []


# ---------------------------------------------------------------------------
# 11. A terminal that hung up: its writes fail with EIO
# ---------------------------------------------------------------------------


def test_a_terminal_that_hung_up_is_like_a_closed_pipe(fake, tmp_path):
    """Item 2: once the terminal is gone, writing the credentials to it fails with
    EIO. That is no traceback: the credentials file is the record, and the run
    ends as the SIGHUP says."""
    import pty

    released = threading.Event()
    create = Fault(apply=True, hold=released)
    fake.on("POST", "/v1/instances", create)
    terminal, its_end = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        env=script_env(fake),
        cwd=tmp_path,
        stdin=its_end,
        stdout=its_end,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    os.close(its_end)
    try:
        assert create.arrived.wait(30), "the create call never came"
        os.close(terminal)  # the terminal goes away: writes to it now fail with EIO
        process.send_signal(signal.SIGHUP)
        released.set()
        _, stderr = process.communicate(timeout=30)
    finally:
        released.set()
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 128 + signal.SIGHUP, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    data = the_instance(fake).data
    [path] = credentials_files(tmp_path)
    assert f"NEO4J_PASSWORD={data['password']}" in path.read_text().splitlines()
    assert f"warning: stdout was closed; the credentials are in {path.name}" in stderr
    assert stderr.splitlines()[-1] == "hung up"
    assert_no_secrets(fake, stderr)


# ---------------------------------------------------------------------------
# 12. What the review found: a resend's wait, an ambiguous create, repeated Ctrl-C
# ---------------------------------------------------------------------------


def test_a_signal_during_a_resends_wait_sends_nothing_after_the_bound(fake, tmp_path):
    """A 429 to the create call asks for 20 s; Ctrl-C comes during that wait. The
    run ends by itself within the bound, and the create call is not resent then:
    it would create an instance after the script had promised to stop."""
    too_many = Fault(status=429, headers={"Retry-After": "20"}, body={"error": "slow down"})
    fake.on("POST", "/v1/instances", too_many)
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        assert too_many.arrived.wait(15), "the create call never came"
        script.send(signal.SIGINT)
        sent = [signal.SIGINT]
        with contextlib.suppress(subprocess.TimeoutExpired):
            script.process.wait(timeout=SHRUNK["SIGNAL_EXIT_TIMEOUT"] + 1)
        if not script.exited:
            script.kill()
            sent.append(signal.SIGKILL)
        result = script.finish()

    assert_exited_by_itself(sent, result, 130)
    assert_clean(fake, result)
    assert len(fake.sent("POST", "/v1/instances")) == 1  # not resent past the bound
    assert fake.instances == {}
    assert not marker.exists()


def test_an_ambiguous_create_under_a_command_deletes_what_the_check_found(fake, tmp_path):
    """The create call answers 500 after Aura created the instance: its password is
    lost, so the command cannot run, and the instance the check finds is deleted."""
    fake.on("POST", "/v1/instances", Fault(status=500, apply=True, body={"error": "boom"}))
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        result = script.finish()

    assert result.returncode == 1, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    instance = the_instance(fake)
    assert instance.deleted_at is not None
    assert error_lines(result) == [
        f"error: the create call failed, but instance {instance.data['id']} named "
        "'my-instance' was created all the same; it is deleted again, and the command was "
        "not run"
    ]


def test_an_ambiguous_create_whose_check_fails_names_the_sweep(fake, tmp_path):
    fake.on("POST", "/v1/instances", Fault(status=500, apply=True, body={"error": "boom"}))
    # The listing before the create answers; the check after it fails for good.
    failing = [Fault(status=503, headers={"Retry-After": "0"}) for _ in range(10)]
    fake.on("GET", "/v1/instances", None, *failing)
    marker = tmp_path / "ran"
    with Script(fake, tmp_path, *command(MARK_COMMAND, str(marker))) as script:
        result = script.finish()

    assert result.returncode == 1, result.stderr
    assert_clean(fake, result)
    assert not marker.exists()
    assert the_instance(fake).deleted_at is None
    words = the_left_line(result, tmp_path)
    assert words[2:] == ["--sweep", "my-instance"]
    fake.on("GET", "/v1/instances")  # the API recovers
    assert_printed_command_deletes_it(fake, words, tmp_path)


def test_ctrl_c_pressed_again_and_again_counts_as_a_second_signal(fake, tmp_path):
    """Presses closer than SIGNAL_REPEAT_WINDOW each: the first counts, and the next
    one that comes a window after it is a second signal (it ends the grace)."""
    constants = {"COMMAND_GRACE": 20, "SIGNAL_EXIT_TIMEOUT": 30}
    window = SHRUNK["SIGNAL_REPEAT_WINDOW"]
    marker = tmp_path / "signals"
    with Script(
        fake, tmp_path, *command(RECORDER, "{tag}", str(marker)), constants=constants
    ) as script:
        script.wait_for_stdout("ready\n")
        deadline = time.monotonic() + 5
        # Until the grace ends (the DELETE comes next), which only a counted second
        # press does before the 20 s grace is over.
        while not deletes(fake) and not script.exited and time.monotonic() < deadline:
            script.send(signal.SIGINT)
            time.sleep(window * 0.8)
        assert deletes(fake), "no press counted as a second signal: the grace went on"
        result = script.finish()

    assert result.returncode == 130, result.stderr
    assert_clean(fake, result)
    assert the_instance(fake).deleted_at is not None
