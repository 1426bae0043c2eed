"""Seeing and cleaning up the tenant (issue #15): `--list`, `--sweep PATTERN`, and the
credentials files that follow a confirmed delete (`--sweep`, `--delete ID`).

End to end against the fake, through the forked `run` fixture. The script's
pacing (MIN_REQUEST_INTERVAL) and its 409 retry interval (DELETE_BUSY_INTERVAL)
are shrunk in this process before each run; the forked child inherits them.
Every test asserts the exit code, stdout exactly (JSON: exactly as decoded),
the requests the fake received and, where it matters, the files left.

Instances are added so that the API's order, their names' order and their
creation times' order are one order: a listing or a sweep may keep the API's
order or sort by name or by age, and the expected output is the same.
"""

from __future__ import annotations

import datetime
import json
import re
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

import create_instance
from fake_aura import TENANT_ID, Fault
from helpers import assert_no_secrets, calls

INSTANCE = "/v1/instances/{id}"  # the route of GET and DELETE of one instance
STAGING_ID = "da045ab3-3b89-4f45-8b96-528f2e47cd13"
FIRST_REQUESTS = [("POST", "/oauth/token"), ("GET", "/v1/tenants"), ("GET", "/v1/instances")]
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but \t and \n
BUSY_INTERVAL = 0.1


@pytest.fixture
def fake(fake):
    """Added instances run at once; a deleted one shows destroying for 0.2 s, then is gone."""
    fake.running_after = 0
    fake.delete_after = 0.2
    return fake


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Pacing and 409 retries shrunk, so that a sweep of a few instances takes no time."""
    monkeypatch.setattr(create_instance, "MIN_REQUEST_INTERVAL", 0.01)
    monkeypatch.setattr(create_instance, "DELETE_BUSY_INTERVAL", BUSY_INTERVAL)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def ago(seconds: float) -> str:
    """A created_at as Aura writes it (UTC, with a Z), `seconds` before now."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def day(n: int) -> str:
    """A created_at on the nth of January 2026: older than any --older-than tested here."""
    return f"2026-01-{n:02d}T00:00:00Z"


def listed(fake, instance_id: str) -> dict[str, Any]:
    """The instance as GET /v1/instances shows it."""
    data = fake.instances[instance_id].data
    return {key: data[key] for key in ("id", "name", "tenant_id", "cloud_provider", "created_at")}


def table(*rows: tuple[str, str, str, str]) -> str:
    """--list's text: a header, then a line per instance, columns two spaces apart."""
    rows = (("ID", "NAME", "CREATED", "CLOUD"), *rows)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n"
        for row in rows
    )


def row(fake, instance_id: str, name: str | None = None) -> tuple[str, str, str, str]:
    data = listed(fake, instance_id)
    return (data["id"], name or data["name"], data["created_at"], data["cloud_provider"])


def lines(*ids: str) -> str:
    return "".join(f"{i}\n" for i in ids)


def deletes(fake) -> list[Any]:
    return fake.sent("DELETE", INSTANCE)


def accepted(fake) -> list[str]:
    """The ids of the instances whose DELETE the fake accepted, in the order it did."""
    done = [i for i in fake.instances.values() if i.deleted_at is not None]
    return [i.data["id"] for i in sorted(done, key=lambda i: i.deleted_at)]


def paths(fake, method: str) -> list[str]:
    return [r.path for r in fake.sent(method, INSTANCE)]


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_clean(fake, result) -> None:
    """No traceback, no secret, no raw control character in what the run printed."""
    assert "Traceback" not in result.stderr, result.stderr
    assert_no_secrets(fake, result.stdout, result.stderr)
    assert not RAW_CONTROL.search(result.stdout + result.stderr)


def assert_json(result, expected: Any) -> None:
    """stdout is one JSON document, `expected`, and a newline."""
    assert result.stdout.endswith("\n"), result.stdout
    assert json.loads(result.stdout) == expected


def assert_deleted_and_confirmed(fake, *ids: str) -> None:
    """The swept part of a run: per instance, one DELETE then one confirming GET; the
    fake accepted a DELETE of these and of no other."""
    assert calls(fake)[:3] == FIRST_REQUESTS, calls(fake)
    assert fake.sent("GET", "/v1/instances")[0].query == {"tenantId": [TENANT_ID]}
    for instance_id in ids:
        path = f"/v1/instances/{instance_id}"
        assert [r.method for r in fake.requests if r.path == path] == ["DELETE", "GET"]
    assert sorted(accepted(fake)) == sorted(ids)
    assert sorted(paths(fake, "DELETE")) == sorted(f"/v1/instances/{i}" for i in ids)
    assert len(calls(fake)) == 3 + 2 * len(ids), calls(fake)


def assert_untouched(fake, *ids: str) -> None:
    for instance_id in ids:
        assert fake.instances[instance_id].deleted_at is None
        assert not [r for r in fake.requests if instance_id in r.path]


def assert_only_listed(fake) -> None:
    """The run read the tenant's instances and did nothing else."""
    assert calls(fake) == FIRST_REQUESTS
    assert accepted(fake) == []


def credentials_file(directory: Path, file_id: str, instance_id: str, date: str) -> Path:
    """A credentials file as the script writes it: Neo4j-<file_id>-Created-<date>.txt
    whose AURA_INSTANCEID is `instance_id`."""
    path = directory / f"Neo4j-{file_id}-Created-{date}.txt"
    path.write_text(
        f"NEO4J_URI=neo4j+s://{instance_id}.databases.neo4j.io\n"
        "NEO4J_USERNAME=neo4j\n"
        "NEO4J_PASSWORD=not-a-real-password-0123456789\n"
        "NEO4J_DATABASE=neo4j\n"
        f"AURA_INSTANCEID={instance_id}\n"
        "AURA_INSTANCENAME=whatever\n"
    )
    return path


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------------------
# 1. --list
# ---------------------------------------------------------------------------


def test_list_prints_a_header_and_a_line_per_instance(fake, run):
    first = fake.add_instance("alpha", created_at=day(1))
    second = fake.add_instance("beta-long-name", created_at=day(2), cloud_provider="aws")
    third = fake.add_instance("ci-3", created_at=day(3), cloud_provider="azure")

    result = run("--list")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == table(row(fake, first), row(fake, second), row(fake, third))
    assert_only_listed(fake)
    assert fake.sent("GET", "/v1/instances")[0].query == {"tenantId": [TENANT_ID]}


def test_list_output_json_is_the_apis_objects(fake, run):
    ids = [fake.add_instance(f"db-{n}", created_at=day(n)) for n in (1, 2)]

    result = run("--list", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert_json(result, [listed(fake, i) for i in ids])
    assert_only_listed(fake)


def test_list_of_a_tenant_given_by_name_shows_only_its_instances(fake, run):
    fake.tenants.append({**fake.tenants[0], "id": STAGING_ID, "name": "Staging"})
    fake.add_instance("production-db", created_at=day(1))
    staging = fake.add_instance("staging-db", tenant_id=STAGING_ID, created_at=day(2))

    result = run("--list", "--tenant", "Staging")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == table(row(fake, staging))
    assert calls(fake) == FIRST_REQUESTS
    assert fake.sent("GET", "/v1/instances")[0].query == {"tenantId": [STAGING_ID]}


@pytest.mark.parametrize(("output", "expected"), [("text", table()), ("json", [])])
def test_list_of_an_empty_tenant(fake, run, output, expected):
    result = run("--list", "--output", output)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    if output == "json":
        assert_json(result, expected)
    else:
        assert result.stdout == expected
    assert_only_listed(fake)


def test_list_escapes_control_characters_in_a_name(fake, run):
    instance_id = fake.add_instance("plain", created_at=day(1))
    hostile = "db\x1b[2J\x9b31m\nowned"
    fake.on("GET", "/v1/instances", Fault(patch={"name": hostile}))

    text = run("--list")
    fake.on("GET", "/v1/instances", Fault(patch={"name": hostile}))
    as_json = run("--list", "--output", "json")

    assert text.returncode == 0, text.stderr
    assert_clean(fake, text)
    assert text.stdout == table(row(fake, instance_id, name=r"db\x1b[2J\x9b31m\nowned"))
    assert as_json.returncode == 0, as_json.stderr
    assert_clean(fake, as_json)  # JSON escapes the controls its own way
    assert_json(as_json, [{**listed(fake, instance_id), "name": hostile}])


@pytest.mark.parametrize("command", ["--list", "--sweep"])
def test_a_wrong_secret_is_exit_3_and_one_line(fake, run, command):
    instance_id = fake.add_instance("ci-1")
    args = ["--list"] if command == "--list" else ["--sweep", "ci-*"]

    result = run(*args, env={"AURA_CLIENT_SECRET": "not-the-secret"})

    assert result.returncode == 3, result.stderr
    assert_clean(fake, result)
    assert "not-the-secret" not in result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert result.stdout == ""
    assert calls(fake) == [("POST", "/oauth/token")]
    assert_untouched(fake, instance_id)


# ---------------------------------------------------------------------------
# 2. --sweep: what matches
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ci-1", "x"], ids=["name", "one-character-name"])
def test_sweep_of_an_exact_name_deletes_every_instance_of_that_name_and_no_other(fake, run, name):
    first = fake.add_instance(name, created_at=day(1))
    prefixed = fake.add_instance(f"{name}0", created_at=day(2))
    other_case = fake.add_instance(name.upper(), created_at=day(3))
    second = fake.add_instance(name, created_at=day(4))  # Aura does not keep names unique

    result = run("--sweep", name)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(first, second)
    assert_deleted_and_confirmed(fake, first, second)
    assert_untouched(fake, prefixed, other_case)
    assert error_lines(result) == []
    for instance_id in (first, second):
        assert instance_id in result.stderr  # a line per instance as it goes


def test_sweep_of_a_pattern_deletes_the_matches_and_leaves_the_others(fake, run):
    names = ["ci-", "CI-1", "ci-1", "ci", "ci-2", "cia", "ci-a", "prod-ci-b", "ci-b", "xci-c"]
    ids = {name: fake.add_instance(name, created_at=day(n)) for n, name in enumerate(names, 1)}
    match_ids = [ids[name] for name in names if name.startswith("ci-")]  # "ci-": * matches ""
    others = [ids[name] for name in names if not name.startswith("ci-")]

    result = run("--sweep", "ci-*")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(*match_ids)
    assert_deleted_and_confirmed(fake, *match_ids)
    assert_untouched(fake, *others)


def test_sweep_of_a_tenant_given_by_name_sweeps_only_that_tenant(fake, run):
    fake.tenants.append({**fake.tenants[0], "id": STAGING_ID, "name": "Staging"})
    production = fake.add_instance("ci-1", created_at=day(1))
    staging = fake.add_instance("ci-2", tenant_id=STAGING_ID, created_at=day(2))

    result = run("--sweep", "ci-*", "--tenant", "Staging")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(staging)
    assert fake.sent("GET", "/v1/instances")[0].query == {"tenantId": [STAGING_ID]}
    assert_untouched(fake, production)
    assert accepted(fake) == [staging]


@pytest.mark.parametrize(("output", "expected"), [("text", ""), ("json", [])])
def test_sweep_that_matches_nothing_is_exit_0(fake, run, output, expected):
    others = [fake.add_instance(name) for name in ("prod-1", "ci", "CI-1")]

    result = run("--sweep", "ci-*", "--output", output)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    if output == "json":
        assert_json(result, expected)
    else:
        assert result.stdout == expected
    assert_only_listed(fake)
    assert_untouched(fake, *others)


def test_sweep_output_json_is_an_array_of_the_deleted_ids(fake, run):
    ids = [fake.add_instance(f"ci-{n}", created_at=day(n)) for n in (1, 2)]
    other = fake.add_instance("keep-me")

    result = run("--sweep", "ci-*", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert_json(result, accepted(fake))
    assert sorted(json.loads(result.stdout)) == sorted(ids)
    assert_deleted_and_confirmed(fake, *ids)
    assert_untouched(fake, other)


@pytest.mark.parametrize("output", ["text", "json"])
def test_sweep_dry_run_prints_what_would_be_deleted_and_deletes_nothing(
    fake, run, tmp_path, output
):
    ids = [fake.add_instance(f"ci-{n}", created_at=day(n)) for n in (1, 2)]
    other = fake.add_instance("keep-me")
    kept = [credentials_file(tmp_path, i, i, "2026-01-01") for i in ids]

    result = run("--sweep", "ci-*", "--dry-run", "--output", output)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    if output == "json":
        assert_json(result, ids)
    else:
        assert result.stdout == lines(*ids)
    assert_only_listed(fake)
    assert_untouched(fake, other, *ids)
    assert all(path.exists() for path in kept)


# ---------------------------------------------------------------------------
# 3. --sweep: refused before any request
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["*", "ci*", "?x", "[c]i-*", "??-1", "c*-1", "ci[-]*"])
def test_a_pattern_without_three_plain_characters_before_its_first_wildcard_is_exit_2(
    fake, run, pattern
):
    instance_id = fake.add_instance("ci-1")

    result = run("--sweep", pattern)

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert "error:" in result.stderr
    assert result.stdout == ""
    assert fake.connections == 0
    assert_untouched(fake, instance_id)


@pytest.mark.parametrize(
    "duration", ["0", "0s", "-1", "366d", "8761h", "31536001", "1w", "abc", "1h30m", ""]
)
def test_a_bad_duration_is_exit_2_before_any_request(fake, run, duration):
    instance_id = fake.add_instance("ci-1", created_at=day(1))

    result = run("--sweep", "ci-*", f"--older-than={duration}")

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert "error:" in result.stderr
    assert result.stdout == ""
    assert fake.connections == 0
    assert_untouched(fake, instance_id)


USAGE_ERRORS = {
    "--list --delete": ("--list", "--delete", "0badc0de"),
    "--list --sweep": ("--list", "--sweep", "ci-1"),
    "--list --wait": ("--list", "--wait"),
    "--list --dry-run": ("--list", "--dry-run"),
    "--list -- COMMAND": ("--list", "--", sys.executable, "-c", "pass"),
    "--list --older-than": ("--list", "--older-than", "1h"),
    "--older-than alone": ("--older-than", "1h"),
    "--sweep --delete": ("--sweep", "ci-1", "--delete", "0badc0de"),
    "--sweep -- COMMAND": ("--sweep", "ci-1", "--", sys.executable, "-c", "pass"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_before_any_request(fake, run, case):
    instance_id = fake.add_instance("ci-1", created_at=day(1))

    result = run(*USAGE_ERRORS[case])

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert "error:" in result.stderr
    assert result.stdout == ""
    assert fake.connections == 0
    assert_untouched(fake, instance_id)


@pytest.mark.parametrize("instance_id", [".", "..", "a/b", "abc$(x)", "../x", "ab cd", "ab%2F"])
def test_delete_of_an_id_that_is_not_plain_is_exit_2_before_any_request(fake, run, instance_id):
    result = run("--delete", instance_id)

    assert result.returncode == 2, result.stderr
    assert_clean(fake, result)
    assert "error:" in result.stderr
    assert result.stdout == ""
    assert fake.connections == 0


# ---------------------------------------------------------------------------
# 4. --older-than
# ---------------------------------------------------------------------------


def py39_fromisoformat(text: str) -> datetime.datetime:
    """datetime.fromisoformat as Python 3.9 has it: no Z, fractions of 3 or 6 digits."""
    if not isinstance(text, str):
        raise TypeError("fromisoformat: argument must be str")
    grammar = (
        r"\d{4}-\d\d-\d\d(.\d\d(:\d\d(:\d\d(\.(\d{3}|\d{6}))?)?)?"
        r"([+-]\d\d:\d\d(:\d\d(\.\d{6})?)?)?)?"
    )
    if not re.fullmatch(grammar, text, re.ASCII):
        raise ValueError(f"Invalid isoformat string: {text!r}")
    return datetime.datetime.fromisoformat(text)


class Py39DateTime(datetime.datetime):
    @classmethod
    def fromisoformat(cls, text: str) -> datetime.datetime:
        return py39_fromisoformat(text)


def as_on_python39(monkeypatch) -> None:
    """The script's datetime.datetime.fromisoformat, in the forked child, as 3.9's."""
    used = getattr(create_instance, "datetime", None)
    if isinstance(used, types.ModuleType):
        shim = types.ModuleType("datetime")
        shim.__dict__.update(vars(datetime))
        shim.datetime = Py39DateTime
        monkeypatch.setattr(create_instance, "datetime", shim)
    elif used is datetime.datetime:
        monkeypatch.setattr(create_instance, "datetime", Py39DateTime)


@pytest.mark.parametrize("python", ["this", "3.9"])
@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("120", 120), ("365d", 365 * 86400)],
)
def test_older_than_deletes_only_the_instances_created_before_then(
    fake, run, monkeypatch, duration, seconds, python
):
    if python == "3.9":
        as_on_python39(monkeypatch)
    older = fake.add_instance("ci-1", created_at=ago(seconds + 60))  # ends with Z
    newer = fake.add_instance("ci-2", created_at=ago(seconds - 60))
    other = fake.add_instance("prod-1", created_at=ago(seconds + 60))

    result = run("--sweep", "ci-*", "--older-than", duration)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(older)
    assert_deleted_and_confirmed(fake, older)
    assert_untouched(fake, newer, other)


@pytest.mark.parametrize(
    "created_at",
    ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00.123Z", "2026-01-01T01:00:00+01:00"],
)
def test_older_than_reads_other_iso_forms_of_an_old_created_at(fake, run, monkeypatch, created_at):
    as_on_python39(monkeypatch)
    instance_id = fake.add_instance("ci-1", created_at=created_at)

    result = run("--sweep", "ci-*", "--older-than", "1h")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(instance_id)
    assert_deleted_and_confirmed(fake, instance_id)


@pytest.mark.parametrize("created_at", ["yesterday", "", "2026-02-30T00:00:00Z", "12:00"])
def test_a_created_at_that_cannot_be_read_is_skipped_named_and_exit_5(fake, run, created_at):
    first = fake.add_instance("ci-1", created_at=day(1))
    odd = fake.add_instance("ci-2", created_at=created_at)
    third = fake.add_instance("ci-3", created_at=day(3))

    result = run("--sweep", "ci-*", "--older-than", "1h")

    assert result.returncode == 5, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(first, third)
    assert_deleted_and_confirmed(fake, first, third)
    assert_untouched(fake, odd)
    assert any(odd in line or "ci-2" in line for line in result.stderr.splitlines())


def test_a_created_at_that_cannot_be_read_does_not_matter_without_older_than(fake, run):
    odd = fake.add_instance("ci-1", created_at="yesterday")

    result = run("--sweep", "ci-*")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(odd)
    assert_deleted_and_confirmed(fake, odd)


# ---------------------------------------------------------------------------
# 5. --sweep: an entry whose id is not plain
# ---------------------------------------------------------------------------


def listing_with(fake, extra: dict[str, Any]) -> Fault:
    """GET /v1/instances answered with the fake's real list plus one `extra` entry."""

    def body(request) -> dict[str, Any]:
        now = time.monotonic()
        live = [listed(fake, i.data["id"]) for i in fake.instances.values() if not i.gone(now)]
        return {"data": [*live, extra]}

    return Fault(status=200, body=body)


@pytest.mark.parametrize(
    "odd_id", ["../x", "..", "a/b", "abc$(x)", "ab%2Fcd", "a b", "", 12345, None]
)
def test_a_listed_instance_whose_id_is_not_plain_is_skipped_named_and_exit_5(fake, run, odd_id):
    good = fake.add_instance("ci-1", created_at=day(1))
    odd = {
        "id": odd_id,
        "name": "ci-odd",
        "tenant_id": TENANT_ID,
        "cloud_provider": "gcp",
        "created_at": day(2),
    }
    fake.on("GET", "/v1/instances", listing_with(fake, odd))

    result = run("--sweep", "ci-*")

    assert result.returncode == 5, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(good)
    assert_deleted_and_confirmed(fake, good)  # no request for the odd one
    assert any("ci-odd" in line for line in result.stderr.splitlines()), result.stderr


# ---------------------------------------------------------------------------
# 6. --sweep: instances still being created (409)
# ---------------------------------------------------------------------------


def busy_lines(result, instance_id: str) -> list[str]:
    """The stderr lines that say Aura is still busy creating this instance."""
    return [
        line
        for line in result.stderr.splitlines()
        if instance_id in line
        and not line.startswith("error:")
        and re.search(r"409|busy|creating|being created", line, re.I)
    ]


def test_a_creating_instance_is_asked_again_until_it_runs_then_deleted(fake, run):
    running = fake.add_instance("ci-1", created_at=day(1))
    fake.timeline = [(0.0, "creating"), (2.5, "running")]
    creating = fake.add_instance("ci-2", created_at=day(2))
    fake.timeline = None

    result = run("--sweep", "ci-*", "--wait-timeout", "30")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(running, creating)
    assert accepted(fake) == [running, creating]
    started = fake.instances[creating].running_since()
    tries = [r for r in deletes(fake) if r.path == f"/v1/instances/{creating}"]
    refused = [r for r in tries if r.at < started]
    assert len(refused) >= 3, "the DELETE should have been refused with 409 a few times"
    assert len(tries) == len(refused) + 1  # and then accepted once
    # A GET may follow each 409 (is it being deleted already?); one confirms the delete.
    confirmations = [
        r for r in fake.sent("GET", INSTANCE) if r.path == tries[-1].path and r.at > tries[-1].at
    ]
    assert len(confirmations) == 1
    assert len(busy_lines(result, creating)) == 1, result.stderr  # not one per attempt
    assert len(result.stderr.splitlines()) < len(refused), result.stderr
    assert error_lines(result) == []


def test_creating_instances_past_wait_timeout_are_named_and_exit_5(fake, run, tmp_path):
    running = fake.add_instance("ci-1", created_at=day(1))
    fake.timeline = [(0.0, "creating"), (60.0, "running")]
    creating = [fake.add_instance(f"ci-{n}", created_at=day(n)) for n in (2, 3)]
    fake.timeline = None
    files_kept = [credentials_file(tmp_path, i, i, "2026-01-01") for i in creating]
    started = time.monotonic()

    result = run("--sweep", "ci-*", "--wait-timeout", "3")

    took = time.monotonic() - started
    assert result.returncode == 5, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(running)
    assert accepted(fake) == [running]
    assert took < 3 + 1.5, "one budget for the whole sweep, not 3 s for each"
    errors = error_lines(result)
    for instance_id in creating:
        assert len([line for line in errors if instance_id in line]) == 1, result.stderr
        assert len(busy_lines(result, instance_id)) == 1, result.stderr
        assert fake.instances[instance_id].deleted_at is None
    # In rounds over both, not one after the other.
    order = [r.path.rsplit("/", 1)[1] for r in deletes(fake)]
    order = [instance_id for instance_id in order if instance_id != running]
    assert order[:4] == [creating[0], creating[1], creating[0], creating[1]], order
    assert all(path.exists() for path in files_kept)


def test_requests_are_paced_at_least_min_request_interval_apart(fake, run, monkeypatch):
    interval = 0.05
    monkeypatch.setattr(create_instance, "MIN_REQUEST_INTERVAL", interval)
    monkeypatch.setattr(create_instance, "DELETE_BUSY_INTERVAL", 0.01)
    ids = [fake.add_instance(f"ci-{n}", created_at=day(n)) for n in (1, 2)]
    fake.timeline = [(0.0, "creating"), (1.0, "running")]
    ids.append(fake.add_instance("ci-3", created_at=day(3)))
    fake.timeline = None

    result = run("--sweep", "ci-*", "--wait-timeout", "30")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(*ids)
    assert len(fake.requests) >= 3 + 2 * len(ids) + 1  # at least one 409
    # The token request is one of the API's requests too: with it unpaced, a sweep of
    # 62 instances would send 126 requests within a minute.
    short = [
        (f"{a.method} {a.path} -> {b.method} {b.path}", round(b.at - a.at, 4))
        for a, b in zip(fake.requests, fake.requests[1:])
        if b.at - a.at < interval - 0.01
    ]
    assert short == [], short
    # And the floor is the constant as this test set it (read at call time), not the
    # 0.48 s of the script: the median, which a busy machine's odd slow gap leaves alone.
    gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:])]
    assert statistics.median(gaps) < 0.3, gaps


@pytest.mark.parametrize("refusal", ["404", "409"])
def test_an_instance_already_being_deleted_counts_as_deleted(fake, run, tmp_path, refusal):
    # An earlier run (the wrapper step) deleted it; the listing still shows it, destroying.
    instance_id = fake.add_instance("ci-1", created_at=day(1))
    instance = fake.instances[instance_id]
    instance.deleted_at = time.monotonic()
    instance.gone_at = instance.deleted_at + 60
    path = credentials_file(tmp_path, instance_id, instance_id, "2026-01-01")
    if refusal == "409":  # the fake's own answer to a second DELETE is Aura's usual 404
        busy = "The database is current undergoing an operation: destroying"
        fake.on(
            "DELETE",
            INSTANCE,
            Fault(
                status=409,
                body={"errors": [{"message": busy, "reason": "ongoing-database-operation"}]},
            ),
        )

    result = run("--sweep", "ci-*", "--wait-timeout", "30")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(instance_id)
    assert calls(fake)[:4] == [*FIRST_REQUESTS, ("DELETE", f"/v1/instances/{instance_id}")]
    assert calls(fake)[4:] in (
        [("GET", f"/v1/instances/{instance_id}")],  # 404: the GET confirms
        [("GET", f"/v1/instances/{instance_id}")] * 2,  # 409: a GET looks, then one confirms
    )
    assert not path.exists()


# ---------------------------------------------------------------------------
# 7. Deletes that fail
# ---------------------------------------------------------------------------


def test_a_delete_aura_keeps_failing_is_named_and_the_others_are_still_deleted(
    fake, run, monkeypatch, tmp_path
):
    monkeypatch.setattr(create_instance, "BACKOFF_BASE", 0.01)
    failing = fake.add_instance("ci-1", created_at=day(1))
    deleted = fake.add_instance("ci-2", created_at=day(2))
    kept = credentials_file(tmp_path, failing, failing, "2026-01-01")
    gone = credentials_file(tmp_path, deleted, deleted, "2026-01-01")
    failure = Fault(status=500, body={"errors": [{"message": "boom", "reason": "internal"}]})
    fake.on("DELETE", INSTANCE, *[failure] * (create_instance.RETRIES + 1))

    result = run("--sweep", "ci-*")

    assert result.returncode == 5, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(deleted)
    assert accepted(fake) == [deleted]
    assert paths(fake, "DELETE").count(f"/v1/instances/{failing}") == create_instance.RETRIES + 1
    assert len([line for line in error_lines(result) if failing in line]) == 1, result.stderr
    assert kept.exists()
    assert not gone.exists()


@pytest.mark.parametrize("command", ["--sweep", "--delete"])
def test_a_delete_that_is_not_confirmed_keeps_the_credentials_file(fake, run, tmp_path, command):
    instance_id = fake.add_instance("ci-1", created_at=day(1))
    path = credentials_file(tmp_path, instance_id, instance_id, "2026-01-01")
    # Aura answers the DELETE 202, but the GET after it shows the instance running.
    fake.on("GET", INSTANCE, Fault(patch={"status": "running"}))

    result = run(command, "ci-*" if command == "--sweep" else instance_id)

    assert result.returncode == (5 if command == "--sweep" else 1), result.stderr
    assert_clean(fake, result)
    assert result.stdout == ""
    assert [line for line in error_lines(result) if instance_id in line], result.stderr
    assert path.exists()


# ---------------------------------------------------------------------------
# 8. The credentials file follows the instance
# ---------------------------------------------------------------------------


def test_a_sweep_removes_the_credentials_files_of_the_instances_it_deleted(fake, run, tmp_path):
    swept = fake.add_instance("ci-1", created_at=day(1))
    kept = fake.add_instance("prod-1", created_at=day(2))
    ours = [
        credentials_file(tmp_path, swept, swept, "2026-01-01"),
        credentials_file(tmp_path, swept, swept, "2026-01-02"),
    ]
    others = [
        credentials_file(tmp_path, swept, "0badc0de", "2026-01-03"),  # says another instance
        credentials_file(tmp_path, kept, kept, "2026-01-01"),  # an instance not swept
    ]
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text(f"AURA_INSTANCEID={swept}\n")

    result = run("--sweep", "ci-*")

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == lines(swept)
    assert_deleted_and_confirmed(fake, swept)
    assert not any(path.exists() for path in ours)
    assert files(tmp_path) == sorted(p.name for p in [*others, unrelated])


def test_delete_by_id_removes_its_credentials_file_and_no_other(fake, run, tmp_path):
    instance_id = fake.add_instance("old-one", created_at=day(1))
    other = fake.add_instance("other", created_at=day(2))
    ours = credentials_file(tmp_path, instance_id, instance_id, "2026-01-01")
    others = [
        credentials_file(tmp_path, instance_id, other, "2026-01-02"),
        credentials_file(tmp_path, other, other, "2026-01-01"),
    ]
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text(f"AURA_INSTANCEID={instance_id}\n")

    result = run("--delete", instance_id)

    assert result.returncode == 0, result.stderr
    assert_clean(fake, result)
    assert result.stdout == ""
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("DELETE", f"/v1/instances/{instance_id}"),
        ("GET", f"/v1/instances/{instance_id}"),
    ]
    assert not ours.exists()
    assert files(tmp_path) == sorted(p.name for p in [*others, unrelated])
    assert_untouched(fake, other)
