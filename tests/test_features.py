"""--wait, --output json, tenant configurations, every create option, --dry-run.

End to end, as in test_core.py: the script runs as a subprocess against the
fake Aura API. A wait costs real seconds (one poll every 3 s), so the waits that
poll more than once run side by side, in the background, started together by the
`slow_waits` fixture when the first test that asks for them starts.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
from conftest import SCRIPT, script_env

from fake_aura import DEFAULT_CONFIGURATIONS, TENANT_ID, FakeAura, Fault
from helpers import assert_no_secrets, printed, wait_for

POLL = ("GET", "/v1/instances/{id}")
CREATE = ("POST", "/v1/instances")
CONFIGURATIONS = ("GET", "/v1/tenants/{id}")
BASE_BODY = {
    "version": "5",
    "region": "europe-west1",
    "memory": "2GB",
    "name": "my-instance",
    "type": "enterprise-db",
    "tenant_id": TENANT_ID,
    "cloud_provider": "gcp",
}


# -- helpers ---------------------------------------------------------------------------


def create_answer(fake, instance_id):
    """The `data` object the fake answered the create call with."""
    data = fake.instances[instance_id].data
    return {k: v for k, v in data.items() if k not in ("memory", "storage")}


def status_lines(stderr):
    """The statuses the progress lines on stderr reported, in order."""
    return re.findall(
        r"^Instance status: (.+?)(?: \(a status this script does not know\))?, after",
        stderr,
        re.M,
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def sorted_configurations(configurations):
    def gigabytes(size):
        return float(size[:-2])

    return sorted(
        configurations,
        key=lambda c: (
            c["type"],
            c["cloud_provider"],
            c["region"],
            c["version"],
            gigabytes(c["memory"]),
            gigabytes(c["storage"]),
        ),
    )


# -- --output json ---------------------------------------------------------------------


def test_json_output_is_exactly_one_object_with_the_create_answer(fake, run, tmp_path):
    result = run("--output", "json")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)  # the whole stdout: nothing else may be there
    [instance_id] = fake.instances
    path = output.pop("credentials_file")
    assert output == create_answer(fake, instance_id)
    assert set(output) >= {
        "id",
        "name",
        "tenant_id",
        "username",
        "password",
        "connection_url",
        "cloud_provider",
        "region",
        "type",
        "created_at",
    }
    assert "status" not in output
    assert (tmp_path / path).is_file()
    assert f"Created enterprise-db instance 'my-instance' ({instance_id})" in result.stderr


def test_json_output_keeps_extra_answer_fields_and_has_no_file_key_without_a_file(fake, run):
    result = run("--output", "json", "--no-credentials-file", "--vector-optimized")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    [instance_id] = fake.instances
    assert output == create_answer(fake, instance_id)
    assert output["vector_optimized"] is True
    assert "credentials_file" not in output
    assert "No credentials file" in result.stderr


def test_json_output_with_wait_adds_the_status(fake, run):
    fake.running_after = 0

    result = run("--output", "json", "--wait")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    [instance_id] = fake.instances
    assert output.pop("status") == "running"
    assert output.pop("credentials_file").startswith(f"Neo4j-{instance_id}-Created-")
    assert output.pop("running_after_s") <= output.pop("queryable_after_s")
    assert output == create_answer(fake, instance_id)
    assert "Instance status: running" in result.stderr


def test_json_output_of_a_failed_wait_still_carries_the_credentials(fake, run):
    """After the create, the one-time password must reach stdout even when the wait fails."""
    fake.timeline = [(0.0, "destroying")]

    result = run("--output", "json", "--wait", "--no-credentials-file")

    assert result.returncode == 4
    output = json.loads(result.stdout)
    [instance_id] = fake.instances
    assert output.pop("status") == "destroying"
    assert output == create_answer(fake, instance_id)
    assert len(error_lines(result.stderr)) == 1


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        ((), {"AURA_CLIENT_SECRET": "wrong-secret"}, 3),
        (("--graph-analytics-plugin",), {}, 2),
        (("--tenant", "nope"), {}, 2),
    ],
    ids=["auth", "local-check", "unknown-tenant"],
)
def test_json_mode_errors_are_one_stderr_line_and_an_empty_stdout(fake, run, args, env, code):
    result = run("--output", "json", *args, env=env)

    assert result.returncode == code
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error:")
    assert fake.sent(*CREATE) == []


def test_json_mode_duplicate_name_is_one_line_and_an_empty_stdout(fake, run):
    fake.add_instance("my-instance")

    result = run("--output", "json")

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "already exists" in line
    assert fake.sent(*CREATE) == []


def test_json_mode_rejected_configuration_has_an_empty_stdout(fake, run):
    result = run("--output", "json", "--memory", "3GB")

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = error_lines(result.stderr)
    assert result.stderr.splitlines()[-1] == line
    assert fake.instances == {}


def test_output_text_is_the_default(fake, run):
    explicit = run("--output", "text", "--name", "a")
    default = run("--name", "b")

    assert [explicit.returncode, default.returncode] == [0, 0]
    first, second = fake.instances
    assert explicit.stdout.splitlines() == printed(fake.instances[first].data)
    assert default.stdout.splitlines() == printed(fake.instances[second].data)


def test_invalid_output_value_is_rejected_before_any_request(fake, run):
    result = run("--output", "yaml")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "invalid choice" in result.stderr and "yaml" in result.stderr
    assert fake.requests == []


# -- tenant configurations -------------------------------------------------------------


def test_list_configurations_prints_a_sorted_table_and_creates_nothing(fake, run):
    result = run("--list-configurations")

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert re.split(r"\s{2,}", header) == [
        "TYPE",
        "CLOUD",
        "REGION",
        "REGION NAME",
        "MEMORY",
        "STORAGE",
        "VERSION",
    ]
    expected = [
        [
            c["type"],
            c["cloud_provider"],
            c["region"],
            c["region_name"],
            c["memory"],
            c["storage"],
            c["version"],
        ]
        for c in sorted_configurations(DEFAULT_CONFIGURATIONS)
    ]
    assert [re.split(r"\s{2,}", row) for row in rows] == expected
    assert [r.path for r in fake.sent("GET")][-1] == f"/v1/tenants/{TENANT_ID}"
    assert fake.sent("POST", "/v1/instances") == []
    assert fake.instances == {}


def test_list_configurations_ignores_the_settings_only_a_create_uses(fake, run):
    result = run("--list-configurations", "--name", " x", "--source-snapshot-id", "snap-42")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("TYPE")
    assert fake.sent(*CREATE) == []


def test_list_configurations_as_json_is_a_sorted_array(fake, run):
    result = run("--list-configurations", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sorted_configurations(DEFAULT_CONFIGURATIONS)
    assert fake.sent(*CREATE) == []


def test_list_configurations_sorts_sizes_by_value_not_as_text(fake, run):
    fake.tenants[0]["instance_configurations"] = [
        {**DEFAULT_CONFIGURATIONS[0], "memory": memory, "storage": storage}
        for memory, storage in (
            ("16GB", "32GB"),
            ("2GB", "4GB"),
            ("128GB", "256GB"),
            ("8GB", "16GB"),
        )
    ]

    result = run("--list-configurations", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert [c["memory"] for c in json.loads(result.stdout)] == ["2GB", "8GB", "16GB", "128GB"]


def test_happy_path_does_not_fetch_the_tenant_configurations(fake, run):
    result = run()

    assert result.returncode == 0, result.stderr
    assert fake.sent(*CONFIGURATIONS) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--region", "europe-west"),
            [
                "Did you mean 'europe-west1'?",
                "aws: eu-west-1",
                "gcp: europe-west1, us-central1",
            ],
        ),
        (
            ("--type", "professional-db", "--cloud-provider", "azure", "--region", "westeurope"),
            ["professional-db is offered in aws: eu-west-1; gcp: europe-west1, us-central1"],
        ),
        (("--memory", "3GB"), ["memory 2GB, 4GB, 8GB, not 3GB"]),
        (("--memory", "4GB", "--storage", "4GB"), ["storage is 8GB, not 4GB"]),
        (("--neo4j-version", "4"), ["'4'", "offered: 5"]),
        (("--type", "professional-ds"), ["enterprise-db, free-db, professional-db"]),
    ],
    ids=["region-typo", "type-regions", "memory", "storage", "version", "type"],
)
def test_rejected_configuration_exits_2_with_what_is_offered(fake, run, args, expected):
    result = run(*args)

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = error_lines(result.stderr)
    assert result.stderr.splitlines()[-1] == line
    # Aura's own message and reason first, then what the tenant offers instead.
    assert line.startswith("error: POST /v1/instances failed with HTTP 400: ")
    assert "for the requested configuration (reason: invalid-request) (X-Request-Id " in line
    for text in expected:
        assert text in line.split("; ", 1)[1], line
    assert line.endswith("(nothing was created)")
    assert fake.instances == {}
    # The API's 400 came first; only then were the configurations fetched.
    assert [(r.method, r.path) for r in fake.requests][-2:] == [
        ("POST", "/v1/instances"),
        ("GET", f"/v1/tenants/{TENANT_ID}"),
    ]


def test_the_instance_limit_is_one_line_with_the_api_message_and_no_retry(fake, run):
    fake.max_instances = 0

    result = run()

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "HTTP 405: Maximum number of instances reached" in line
    assert len(fake.sent(*CREATE)) == 1
    assert fake.instances == {}


def test_a_400_the_configurations_do_not_explain_is_still_exit_2_with_the_api_message(fake, run):
    fake.billing_missing = True

    result = run()

    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert "HTTP 400: You must provide billing details" in line
    assert "nothing was created" in line
    assert fake.instances == {}


@pytest.mark.parametrize(
    "args",
    [("--cloud-provider", "aws"), ("--type", "free-db", "--cloud-provider", "aws", "--dry-run")],
    ids=["enterprise-db", "free-db-dry-run"],
)
def test_a_region_of_another_cloud_is_not_suggested_back_unchanged(fake, run, args):
    result = run(*args)

    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert "gcp: europe-west1" in line
    assert "europe-west1 is a region of gcp." in line
    assert "Did you mean" not in line
    assert fake.instances == {}


# -- every option of the create call ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        ((), {}),
        (("--storage", "4GB"), {"storage": "4GB"}),
        (("--vector-optimized",), {"vector_optimized": True}),
        (
            ("--type", "professional-db", "--graph-analytics-plugin"),
            {"type": "professional-db", "graph_analytics_plugin": True},
        ),
        (("--source-instance-id", "0a1b2c3d"), {"source_instance_id": "0a1b2c3d"}),
        (
            ("--source-instance-id", "0a1b2c3d", "--source-snapshot-id", "snap-42"),
            {"source_instance_id": "0a1b2c3d", "source_snapshot_id": "snap-42"},
        ),
        (("--customer-managed-key-id", "cmk-7"), {"customer_managed_key_id": "cmk-7"}),
        (
            (
                "--memory",
                "8GB",
                "--storage",
                "16GB",
                "--cloud-provider",
                "aws",
                "--region",
                "eu-west-1",
                "--vector-optimized",
                "--source-instance-id",
                "0a1b2c3d",
                "--source-snapshot-id",
                "snap-42",
                "--customer-managed-key-id",
                "cmk-7",
            ),
            {
                "memory": "8GB",
                "storage": "16GB",
                "cloud_provider": "aws",
                "region": "eu-west-1",
                "vector_optimized": True,
                "source_instance_id": "0a1b2c3d",
                "source_snapshot_id": "snap-42",
                "customer_managed_key_id": "cmk-7",
            },
        ),
    ],
    ids=["none", "storage", "vector", "graph-analytics", "clone", "snapshot", "cmk", "all"],
)
def test_create_body_has_exactly_the_options_given(fake, run, args, extra):
    result = run(*args)

    assert result.returncode == 0, result.stderr
    [create] = fake.sent(*CREATE)
    assert create.json == {**BASE_BODY, **extra}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--graph-analytics-plugin",), "professional-db"),
        (("--type", "free-db", "--graph-analytics-plugin"), "professional-db"),
        (("--source-snapshot-id", "snap-42"), "--source-instance-id"),
        (("--type", "professional-db", "--customer-managed-key-id", "cmk-7"), "enterprise-db"),
        (("--type", "free-db", "--customer-managed-key-id", "cmk-7"), "enterprise-db"),
        (("--type", "free-db", "--storage", "2GB"), "storage"),
        (("--storage", "4 GB"), "storage"),
    ],
)
def test_option_misuse_exits_2_before_any_request(fake, run, args, expected):
    result = run(*args)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert expected in line
    assert fake.requests == []


def test_free_db_takes_its_configuration_from_the_tenant(fake, run):
    result = run("--type", "free-db")

    assert result.returncode == 0, result.stderr
    [create] = fake.sent(*CREATE)
    assert create.json == {**BASE_BODY, "type": "free-db", "memory": "1GB"}
    assert "free-db: gcp europe-west1 with 1GB; what no setting chose comes from the tenant's" in (
        result.stderr
    )


FREE_DB_IN_AWS = {
    "type": "free-db",
    "cloud_provider": "aws",
    "region": "us-east-1",
    "region_name": "N. Virginia (us-east-1)",
    "memory": "1GB",
    "storage": "2GB",
    "version": "5",
}


def test_free_db_uses_the_tenants_values_not_the_defaults(fake, run):
    fake.tenants[0]["instance_configurations"] = [
        *DEFAULT_CONFIGURATIONS[:-1],
        FREE_DB_IN_AWS,
    ]

    result = run("--type", "free-db")

    assert result.returncode == 0, result.stderr
    [create] = fake.sent(*CREATE)
    assert create.json == {
        **BASE_BODY,
        "type": "free-db",
        "memory": "1GB",
        "cloud_provider": "aws",
        "region": "us-east-1",
    }
    assert "aws us-east-1 with 1GB" in result.stderr


def test_free_db_takes_the_free_configuration_that_fits_the_flags(fake, run):
    fake.tenants[0]["instance_configurations"] = [
        *DEFAULT_CONFIGURATIONS,  # ends with free-db in gcp europe-west1
        FREE_DB_IN_AWS,
    ]

    result = run("--type", "free-db", "--cloud-provider", "aws")

    assert result.returncode == 0, result.stderr
    [create] = fake.sent(*CREATE)
    assert (create.json["cloud_provider"], create.json["region"]) == ("aws", "us-east-1")


def test_free_db_flags_win_and_are_checked_against_the_tenant(fake, run):
    result = run("--type", "free-db", "--memory", "2GB")

    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert "1GB" in line and "2GB" in line
    assert fake.sent(*CREATE) == []


# -- --dry-run -------------------------------------------------------------------------


def test_dry_run_prints_the_body_and_sends_no_post(fake, run, tmp_path):
    result = run("--dry-run", "--name", "graph-1")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**BASE_BODY, "name": "graph-1"}
    assert fake.sent(*CREATE) == []
    assert fake.instances == {}
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/oauth/token"),
        ("GET", "/v1/tenants"),
        ("GET", f"/v1/tenants/{TENANT_ID}"),
        ("GET", "/v1/instances"),
    ]
    assert list(tmp_path.glob("Neo4j-*")) == []


def test_dry_run_body_carries_every_option(fake, run):
    result = run(
        "--dry-run",
        "--type",
        "professional-db",
        "--memory",
        "4GB",
        "--storage",
        "8GB",
        "--graph-analytics-plugin",
        "--vector-optimized",
        "--source-instance-id",
        "0a1b2c3d",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        **BASE_BODY,
        "type": "professional-db",
        "memory": "4GB",
        "storage": "8GB",
        "graph_analytics_plugin": True,
        "vector_optimized": True,
        "source_instance_id": "0a1b2c3d",
    }
    assert fake.sent(*CREATE) == []


def test_dry_run_of_free_db_shows_the_filled_in_body(fake, run):
    result = run("--dry-run", "--type", "free-db")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**BASE_BODY, "type": "free-db", "memory": "1GB"}
    assert "free-db" in result.stderr
    assert fake.sent(*CREATE) == []


def test_dry_run_finds_an_unoffered_configuration_without_any_post(fake, run):
    result = run("--dry-run", "--region", "europe-west")

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "Did you mean 'europe-west1'?" in line
    assert fake.sent("POST", "/v1/instances") == []
    assert fake.instances == {}


def test_dry_run_duplicate_name_exits_2(fake, run):
    existing = fake.add_instance("graph-1")

    refused = run("--dry-run", "--name", "graph-1")
    allowed = run("--dry-run", "--name", "graph-1", "--allow-duplicate-name")

    assert refused.returncode == 2
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert existing in line and "already exists" in line
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["name"] == "graph-1"
    assert fake.sent(*CREATE) == []
    assert list(fake.instances) == [existing]


def test_dry_run_runs_the_local_checks_first(fake, run):
    result = run("--dry-run", "--source-snapshot-id", "snap-42")

    assert result.returncode == 2
    assert fake.requests == []


@pytest.mark.parametrize("path", ["taken.txt", "no-such-dir/credentials.txt"])
def test_dry_run_checks_the_credentials_file_as_the_real_run_does(fake, run, tmp_path, path):
    (tmp_path / "taken.txt").write_text("keep me\n")

    real = run("--credentials-file", path)
    dry = run("--dry-run", "--credentials-file", path)

    assert real.returncode == 2
    assert dry.returncode == 2
    assert dry.stderr == real.stderr
    assert dry.stdout == ""
    assert fake.sent(*CREATE) == []


def test_dry_run_with_json_output_is_still_just_the_body(fake, run):
    result = run("--dry-run", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == BASE_BODY
    assert fake.sent(*CREATE) == []


# -- --wait -----------------------------------------------------------------------------
#
# Each wait that polls more than once costs real seconds. Those scenarios run side
# by side, each against its own fake, all started by the `slow_waits` fixture when
# the first test that requests it starts, wherever that test is in the file: any
# order is correct. This one is also quick: the ordinary tests (waits that end at
# their first poll) come between the first slow-wait test and the others, whose
# scenarios finish meanwhile.


def _running_after_2_s(fake):
    fake.running_after = 2  # polls at 0 s (creating) and 3 s (running)


def _destroyed_after_1_s(fake):
    fake.timeline = [(0.0, "creating"), (1.0, "destroying")]


WAIT_TIMEOUT = 6.5  # polls at 0, 3 and 6 s, then the give-up at 6.5 s


def _never_running(fake):
    fake.timeline = [(0.0, "creating"), (1.5, "warming-up")]  # a status the script does not know


def _token_expires_at_first_poll(fake):
    fake.running_after = 2
    fake.on(*POLL, Fault(expire_tokens=True))


class SlowWait(NamedTuple):
    configure: Callable[[FakeAura], None]
    args: tuple[str, ...]
    terminal: bool = False  # stderr on a pseudo-terminal, as in an interactive shell


SLOW_WAITS = {
    "running": SlowWait(_running_after_2_s, ("--wait-for", "running")),
    "destroying": SlowWait(_destroyed_after_1_s, ("--wait",)),
    "timeout": SlowWait(_never_running, ("--wait", "--wait-timeout", str(WAIT_TIMEOUT))),
    "token": SlowWait(_token_expires_at_first_poll, ("--wait",)),
    "terminal": SlowWait(_running_after_2_s, ("--wait", "--wait-for", "running"), terminal=True),
}


class Scenario(NamedTuple):
    fake: FakeAura
    cwd: Path
    result: subprocess.CompletedProcess[str]
    elapsed: float  # seconds from start to exit


class Background:
    """One slow scenario: the script run against its own fake, collected by a thread."""

    def __init__(self, wait: SlowWait, cwd: Path):
        self.fake = FakeAura().start()
        wait.configure(self.fake)
        self.cwd = cwd
        self.terminal = None  # the pseudo-terminal's master end, if stderr is one
        stderr = subprocess.PIPE
        if wait.terminal:
            self.terminal, stderr = pty.openpty()
            tty.setraw(stderr)  # no "\n" to "\r\n": read what the script wrote
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), *wait.args],
            env=script_env(self.fake),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        if self.terminal is not None:
            os.close(stderr)  # the script holds the only other end now
        self.output = ("", "")
        self.elapsed = float("inf")
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self):
        if self.terminal is None:
            self.output = self.process.communicate()
        else:
            written = b""
            while True:
                try:
                    chunk = os.read(self.terminal, 4096)
                except OSError:  # EIO: the script, the terminal's only user, has exited
                    break
                if not chunk:
                    break
                written += chunk
            self.output = (self.process.stdout.read(), written.decode())
            self.process.wait()
            os.close(self.terminal)
        self.elapsed = time.monotonic() - self.started

    def result(self):
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the scenario did not end within 30 s"
        completed = subprocess.CompletedProcess(
            self.process.args, self.process.returncode, *self.output
        )
        return Scenario(self.fake, self.cwd, completed, self.elapsed)

    def stop(self):
        self.process.kill()
        self.thread.join(timeout=5)
        self.fake.stop()


@pytest.fixture(scope="module")
def slow_waits(tmp_path_factory):
    """Every slow wait, by name, all started together on first use and shared.

    Each test that asserts on a scenario requests this fixture, so no test
    depends on another having run first, and a run that selects none of them
    starts none. They sleep, mostly: side by side, they cost about as much as
    the longest of them.
    """
    started = {}
    try:
        for name, wait in SLOW_WAITS.items():
            started[name] = Background(wait, tmp_path_factory.mktemp(name))
        yield started
    finally:
        for scenario in started.values():
            scenario.stop()


def failed_wait(fake, result):
    """A wait that must end with exit 4 after printing the credentials: (instance id, error)."""
    assert result.returncode == 4
    [instance_id] = fake.instances
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)
    [line] = error_lines(result.stderr)
    assert instance_id in line
    return instance_id, line


def test_wait_returns_once_the_instance_is_running(slow_waits):
    fake, cwd, result, _ = slow_waits["running"].result()

    assert result.returncode == 0, result.stderr
    [instance_id] = fake.instances
    instance = fake.instances[instance_id]
    polls = fake.sent(*POLL)
    assert len(polls) == 2
    assert all(p.path == f"/v1/instances/{instance_id}" for p in polls)
    assert [instance.status(p.at) for p in polls] == ["creating", "running"]
    # stdout is the same four lines as without --wait; progress is on stderr.
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)
    assert status_lines(result.stderr) == ["creating", "running"]
    assert "60 s" in result.stderr.split("Instance status: running")[1]
    [saved] = cwd.glob(f"Neo4j-{instance_id}-Created-*.txt")
    assert f"NEO4J_PASSWORD={instance.data['password']}" in saved.read_text()


def test_refused_permission_during_the_wait_is_exit_3_after_the_credentials(fake, run, tmp_path):
    fake.running_after = 60
    denied = Fault(
        status=403,
        body={"errors": [{"message": "Access to instance denied", "reason": "forbidden"}]},
    )
    fake.on(*POLL, denied, denied)

    result = run("--wait")

    assert result.returncode == 3
    [instance_id] = fake.instances
    data = fake.instances[instance_id].data
    assert result.stdout.splitlines() == printed(data)
    [saved] = tmp_path.glob(f"Neo4j-{instance_id}-Created-*.txt")
    assert f"NEO4J_PASSWORD={data['password']}" in saved.read_text().splitlines()
    assert result.stderr.splitlines()[-1] == (
        f"error: GET /v1/instances/{instance_id} failed with HTTP 403: Access to instance denied "
        "(also with a new token: the API credentials may lack permission for this)"
    )
    assert len(error_lines(result.stderr)) == 1
    assert len(fake.sent(*POLL)) == 2  # once more with a new token, then no more
    assert len(fake.sent("POST", "/oauth/token")) == 2
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_refused_token_renewal_during_the_wait_is_exit_3_and_json_still_has_the_password(fake, run):
    fake.running_after = 60
    fake.on(*POLL, Fault(expire_tokens=True))
    refused = Fault(
        status=401,
        body={
            "error": "invalid_client",
            "error_description": "The provided credentials are invalid, expired, or revoked.",
        },
    )
    fake.on("POST", "/oauth/token", None, refused)

    result = run("--wait", "--output", "json", "--no-credentials-file")

    assert result.returncode == 3
    [instance_id] = fake.instances
    output = json.loads(result.stdout)
    assert output == create_answer(fake, instance_id)  # no status: no poll was answered
    assert result.stderr.splitlines()[-1] == (
        "error: authentication failed (HTTP 401: invalid_client: The provided credentials are "
        "invalid, expired, or revoked.); check AURA_CLIENT_ID and AURA_CLIENT_SECRET"
    )
    assert len(error_lines(result.stderr)) == 1
    assert len(fake.sent(*POLL)) == 1
    assert_no_secrets(fake, result.stdout, result.stderr)


@pytest.mark.parametrize(
    "status", ["pausing", "paused", "suspending", "suspended", "loading failed"]
)
def test_wait_fails_fast_on_a_status_that_cannot_lead_to_running(fake, run, status):
    fake.timeline = [(0.0, status)]

    result = run("--wait")

    _, line = failed_wait(fake, result)
    assert len(fake.sent(*POLL)) == 1
    assert f"'{status}'" in line


def test_wait_fails_fast_when_the_instance_is_gone(fake, run):
    fake.running_after = 60
    gone = {"errors": [{"message": "DB not found", "reason": "db-not-found"}]}
    fake.on(*POLL, Fault(status=404, body=gone))

    result = run("--wait")

    _, line = failed_wait(fake, result)
    assert len(fake.sent(*POLL)) == 1
    assert "404" in line


# Run the script with SIGINT at its default, as in a terminal, even when the tests
# themselves run as a background job, which inherits SIGINT ignored. (exec keeps a
# default disposition; preexec_fn would be unsafe with the fake's threads running.)
WITH_CTRL_C = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def interrupt_the_wait(fake, cwd, *args):
    """Start the script with --wait, press Ctrl-C once it has shown a status; return
    (exit code, stdout, stderr)."""
    stderr_path = cwd / "stderr.txt"
    with stderr_path.open("w") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-c", WITH_CTRL_C, str(SCRIPT), "--wait", *args],
            env=script_env(fake),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        try:
            wait_for(lambda: "Instance status: creating" in stderr_path.read_text())
            process.send_signal(signal.SIGINT)
            stdout, _ = process.communicate(timeout=10)
        finally:
            process.kill()
    return process.returncode, stdout, stderr_path.read_text()


def test_ctrl_c_during_the_wait_exits_130_with_credentials_printed_and_saved(fake, tmp_path):
    fake.running_after = 60

    code, stdout, stderr = interrupt_the_wait(fake, tmp_path)

    assert code == 130, stderr
    [instance_id] = fake.instances
    assert stdout.splitlines() == printed(fake.instances[instance_id].data)
    [saved] = tmp_path.glob(f"Neo4j-{instance_id}-Created-*.txt")
    assert fake.instances[instance_id].data["password"] in saved.read_text()
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "interrupted"


def test_ctrl_c_during_the_wait_in_json_mode_still_delivers_the_object(fake, tmp_path):
    fake.running_after = 60

    code, stdout, stderr = interrupt_the_wait(fake, tmp_path, "--output", "json")

    assert code == 130, stderr
    [instance_id] = fake.instances
    output = json.loads(stdout)
    assert output["password"] == fake.instances[instance_id].data["password"]
    assert output["status"] == "creating"
    assert (tmp_path / output["credentials_file"]).is_file()


# The other slow scenarios: started with the first slow-wait test above, they have
# finished, or nearly, while the ordinary tests ran.


def test_wait_fails_fast_when_the_instance_is_destroying(slow_waits):
    fake, _, result, _ = slow_waits["destroying"].result()

    instance_id, line = failed_wait(fake, result)
    statuses = [fake.instances[instance_id].status(p.at) for p in fake.sent(*POLL)]
    assert statuses == ["creating", "destroying"]  # no poll after the hopeless status
    assert "'destroying'" in line
    assert result.stderr.splitlines()[-1] == line


def test_wait_timeout_exits_4_saying_it_may_still_become_ready(slow_waits):
    fake, _, result, _ = slow_waits["timeout"].result()

    _, line = failed_wait(fake, result)

    assert "may still become ready" in line
    assert "'warming-up'" in line  # the last status seen


def test_wait_never_polls_faster_than_every_3_seconds(slow_waits):
    """A --wait of N seconds sends at most N/3 + 2 polls, over the run's one connection."""
    fake, _, result, elapsed = slow_waits["timeout"].result()

    assert result.returncode == 4
    polls = fake.sent(*POLL)
    assert elapsed > WAIT_TIMEOUT  # the wait lasted all of --wait-timeout
    assert 2 <= len(polls) <= WAIT_TIMEOUT / 3 + 2
    assert all(later.at - earlier.at > 2.9 for earlier, later in zip(polls, polls[1:]))
    assert fake.connections == 1


def test_wait_shows_an_unknown_status_and_keeps_waiting(slow_waits):
    fake, _, result, _ = slow_waits["timeout"].result()

    assert result.returncode == 4
    [instance] = fake.instances.values()
    polls = fake.sent(*POLL)
    assert [instance.status(p.at) for p in polls][:2] == ["creating", "warming-up"]
    assert len(polls) >= 3  # it polled again after the unknown status
    # One line per status change, however many polls saw it.
    assert status_lines(result.stderr) == ["creating", "warming-up"]
    assert "warming-up (a status this script does not know)" in result.stderr


def test_token_expiring_during_the_wait_is_renewed_once(slow_waits):
    fake, _, result, _ = slow_waits["token"].result()

    assert result.returncode == 0, result.stderr
    assert len(fake.sent("POST", "/oauth/token")) == 2
    refused, again, later = fake.sent(*POLL)
    assert refused.headers["Authorization"] != again.headers["Authorization"]
    assert later.headers["Authorization"] == again.headers["Authorization"]
    [instance_id] = fake.instances
    assert fake.instances[instance_id].status(later.at) == "running"
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)


def test_on_a_terminal_the_status_is_one_line_rewritten_in_place(slow_waits):
    fake, _, result, _ = slow_waits["terminal"].result()

    assert result.returncode == 0, result.stderr
    [instance_id] = fake.instances
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)
    # From the first status on: each poll rewrites the line, then one newline ends it.
    progress, after = result.stderr[result.stderr.index("\r") :].split("\n", 1)
    assert re.fullmatch(r"(\r\x1b\[KInstance status: [a-z]+, \d+ s)+", progress), progress
    statuses = re.findall(r"\r\x1b\[KInstance status: ([a-z]+), \d+ s", progress)
    assert statuses == ["creating", "running"]
    assert after == (
        f"Instance {instance_id} is running. Aura advises waiting about 60 s before the first "
        "connection.\n"
    )
    assert status_lines(result.stderr) == []  # not the line-per-change form of a log
