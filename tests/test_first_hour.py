"""A newcomer's first hour (issue #17): messages that point to the fix, quiet and
truthful waiting, a script that starts fast and says what is missing.

End to end against the fake, with the `run` fixture (a forked run; constants
shrunk with monkeypatch reach it) or, where the interpreter itself matters, a
real `python create_instance.py`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SCRIPT, script_env
from test_settings import edited_script, run_edited

import create_instance
from fake_aura import TENANT_ID, Fault
from helpers import assert_no_secrets

INSTANCE = "/v1/instances/{id}"


# ---------------------------------------------------------------------------
# Messages that point to the fix
# ---------------------------------------------------------------------------


def test_delete_with_an_instance_name_says_whose_name_it_is(fake, run):
    instance_id = fake.add_instance("graph-1")

    result = run("--delete", "graph-1")

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: 'graph-1' is the name of instance {instance_id}, not an id; --delete takes "
        "the id, as a name can match the wrong instance (--list shows both)"
    ]
    assert fake.instances[instance_id].deleted_at is None
    assert_no_secrets(fake, result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("value", "says_shape"), [("0badc0de", False), ("my-old-db", True)], ids=["id", "not-an-id"]
)
def test_delete_of_an_unknown_value_points_to_list(fake, run, value, says_shape):
    result = run("--delete", value)

    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: no instance has the id {value}")
    assert line.endswith("; --list shows the tenant's instances")
    assert ("8 hex digits" in line) is says_shape


def test_an_edited_tenant_constant_that_matches_nothing_is_named_as_a_constant(fake, tmp_path):
    script = edited_script(tmp_path, TENANT="Staging")

    result = run_edited(fake, tmp_path, script)

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: no tenant is named 'Staging' (from TENANT in create_instance.py). "
        f"The account has: 'Production' ({TENANT_ID})."
    ]
    assert fake.sent("POST", "/v1/instances") == []


def test_a_tenant_from_dotenv_is_named_with_its_line(fake, run, tmp_path):
    (tmp_path / ".env").write_text("# where\nAURA_TENANT=production\n")

    result = run()

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: no tenant is named 'production' (from AURA_TENANT in .env line 2). Did you "
        f"mean 'Production'? The account has: 'Production' ({TENANT_ID})."
    ]


@pytest.mark.parametrize(("flag", "value"), [("--memory", "2gb"), ("--storage", "8gb")])
def test_a_size_in_the_wrong_case_gets_a_did_you_mean(fake, run, flag, value):
    result = run(flag, value)

    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.endswith(f"did you mean {value.upper()!r}?"), line
    assert fake.connections == 0


# ---------------------------------------------------------------------------
# Quiet, truthful waiting
# ---------------------------------------------------------------------------


def test_an_api_that_stops_answering_during_the_wait_is_told_in_few_lines(fake, run, monkeypatch):
    """Issue #17: at most 20 stderr lines over a 3-minute --wait-timeout, and a final
    message that names the unreachable API. The same, 30 times faster: a poll every
    0.1 s, a reminder every 2 s, a 6 s wait, and no resend backoff worth the name."""
    monkeypatch.setattr(create_instance, "WAIT_INTERVAL", 0.1)
    monkeypatch.setattr(create_instance, "WAIT_REMINDER_INTERVAL", 2)
    monkeypatch.setattr(create_instance, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(create_instance, "MIN_REQUEST_INTERVAL", 0.01)
    fake.running_after = 600
    # The first status check answers; every one after it loses its connection.
    fake.on("GET", INSTANCE, None, *[Fault(drop=True) for _ in range(2000)])

    result = run("--wait", "--wait-timeout", "6", "--no-credentials-file", timeout=60)

    assert result.returncode == 4, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) <= 20, result.stderr
    assert len(fake.sent("GET", INSTANCE)) > 20  # it did keep asking, quietly
    assert not [line for line in lines if "retrying in" in line]  # resends: --verbose only
    assert lines[-1].startswith("error: the API could not be reached for the last ")
    assert "of the 6 s wait" in lines[-1]
    # The last check lost its connection, or was cut off at the wait's hard limit.
    assert "connection was dropped" in lines[-1] or "no answer in time" in lines[-1]
    assert "still 'creating' after" not in result.stderr
    reminders = [line for line in lines if "has not answered for" in line]
    assert 1 <= len(reminders) <= 3, result.stderr


def test_an_api_that_answers_again_says_so_once(fake, run, monkeypatch):
    monkeypatch.setattr(create_instance, "WAIT_INTERVAL", 0.1)
    monkeypatch.setattr(create_instance, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(create_instance, "MIN_REQUEST_INTERVAL", 0.01)
    fake.running_after = 3
    fake.on("GET", INSTANCE, None, *[Fault(drop=True) for _ in range(10)])

    result = run("--wait-for", "running", "--no-credentials-file", timeout=60)

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len([line for line in lines if line.startswith("warning: ")]) == 1, result.stderr
    assert len([line for line in lines if line.startswith("The API answers again")]) == 1


# ---------------------------------------------------------------------------
# Fast, and honest about what is missing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [("--help",), ("--version",), ("--memory", "lots")], ids=["help", "version", "usage"]
)
def test_runs_that_need_no_network_never_import_requests(fake, tmp_path, args):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(SCRIPT), *args],
        env=script_env(fake),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode in (0, 2), result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "argparse" in imported  # importtime did report
    assert not [name for name in imported if name.split(".")[0] in ("requests", "urllib3")]


def test_without_requests_one_line_says_what_to_install(fake, tmp_path):
    # -S: no site-packages, so neither requests nor urllib3 can be found.
    result = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), "--list"],
        env=script_env(fake),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: this script needs the requests package")
    assert "pip install -r requirements.txt" in line and "uv run" in line
    assert fake.connections == 0
