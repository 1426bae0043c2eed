"""--wait ends when the database answers a query; secrets stay out of CI logs."""

from __future__ import annotations

import json

import pytest
import responses

import create_instance as ci
from helpers import assert_no_secrets, credentials_files


def only_instance(fake):
    [instance] = fake.instances.values()
    return instance


def test_wait_ends_at_the_first_successful_query_and_not_before(fake, run):
    fake.running_after = 0  # the first poll sees running; probes fail for 1.2 s after that
    fake.query_ready_after = 1.2

    result = run("--wait", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    instance = only_instance(fake)
    ready_at = instance.running_since() + fake.query_ready_after
    *failed, answered = fake.query_requests
    assert failed, "the probe should have been refused at least once"
    assert all(r.at < ready_at for r in failed)
    assert answered.at >= ready_at
    output = json.loads(result.stdout)
    assert output["status"] == "running"
    assert 0 <= output["running_after_s"] < output["queryable_after_s"]
    assert "answered a query" in result.stderr


def test_probe_sends_return_1_with_the_new_credentials_only_to_the_instance(fake, run):
    fake.running_after = 0
    result = run("--wait", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    instance = only_instance(fake)
    assert fake.query_requests
    for probe in fake.query_requests:
        assert (probe.method, probe.path) == ("POST", "/db/neo4j/query/v2")
        assert probe.json == {"statement": "RETURN 1"}
        assert probe.headers["Authorization"].startswith("Basic ")
    password = instance.data["password"]
    assert not any(password in str(r.headers) + r.body.decode() for r in fake.requests)


def test_wait_survives_a_refused_query_port_until_it_opens(fake, run):
    fake.running_after = 0
    fake.query_unready = "refuse"
    fake.query_ready_after = 1.2

    result = run("--wait", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["queryable_after_s"] >= output["running_after_s"]
    assert len(fake.query_requests) == 1  # refused connections never reach the server


def test_wait_for_running_does_not_probe(fake, run):
    fake.running_after = 0
    result = run("--wait-for", "running", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert fake.query_requests == []
    output = json.loads(result.stdout)
    assert output["status"] == "running" and "queryable_after_s" not in output
    assert "about 60 s" in result.stderr


def test_probe_gives_up_after_query_timeout_with_exit_0(fake, run):
    fake.running_after = 0
    fake.query_ready_after = 60

    result = run("--wait", "--query-timeout", "1.5", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["status"] == "running" and output["queryable_after_s"] is None
    [warning] = [line for line in result.stderr.splitlines() if "did not answer" in line]
    assert "running but did not answer a query from here" in warning and "HTTP 503" in warning
    assert 1 <= len(fake.query_requests) <= 3
    # It kept probing until --query-timeout had passed, not one interval short of it.
    assert fake.query_requests[-1].at >= only_instance(fake).running_since() + 1.5


@pytest.mark.parametrize(
    ("connection_url", "probe_url"),
    [
        ("neo4j+s://db1d1234.databases.neo4j.io", "https://db1d1234.databases.neo4j.io"),
        ("neo4j+s://db1d1234.databases.neo4j.io:7687", "https://db1d1234.databases.neo4j.io"),
        ("neo4j://db1d1234.databases.neo4j.io", "https://db1d1234.databases.neo4j.io"),
        ("neo4j+s://127.0.0.1:7687", "http://127.0.0.1:7687"),
        ("neo4j+s://[::1]:7687", "http://[::1]:7687"),
        ("neo4j://localhost:1234", "http://localhost:1234"),
    ],
)
def test_query_api_url_is_https_on_the_instance_host_except_loopback(connection_url, probe_url):
    assert ci._query_api_url(connection_url) == f"{probe_url}/db/neo4j/query/v2"


def test_probe_never_follows_a_redirect(monkeypatch):
    monkeypatch.setattr(ci, "QUERY_PROBE_INTERVAL", 0.05)
    url = "https://db1d1234.databases.neo4j.io/db/neo4j/query/v2"
    instance = {
        "id": "db1d1234",
        "connection_url": "neo4j+s://db1d1234.databases.neo4j.io",
        "username": "neo4j",
        "password": "pw",
    }
    result = {}
    with responses.RequestsMock() as mocked:
        mocked.post(url, status=307, headers={"Location": "https://elsewhere.example/q"})
        ci._wait_until_queryable(instance, 0.2, result, created_at=0.0)

        assert {call.request.url for call in mocked.calls} == {url}
    assert result["queryable_after_s"] is None


def mask_precedes_every_password_line(lines, password):
    masked = False
    for line in lines:
        if line == f"::add-mask::{password}":
            masked = True
        elif password in line and not masked:
            return False
    return True


def test_github_actions_mask_comes_before_every_password_on_stdout(fake, run):
    result = run("--no-credentials-file", env={"GITHUB_ACTIONS": "true"})

    assert result.returncode == 0, result.stderr
    password = only_instance(fake).data["password"]
    lines = result.stdout.splitlines()
    assert f"Password {password}" in lines
    assert mask_precedes_every_password_line(lines, password)
    assert mask_precedes_every_password_line(result.stderr.splitlines(), password)
    assert result.stderr.splitlines()[1] == f"::add-mask::{password}"


def test_json_mode_keeps_stdout_one_object_and_masks_on_stderr(fake, run):
    result = run("--no-credentials-file", "--output", "json", env={"GITHUB_ACTIONS": "true"})

    assert result.returncode == 0, result.stderr
    password = only_instance(fake).data["password"]
    assert json.loads(result.stdout)["password"] == password
    assert f"::add-mask::{password}" in result.stderr.splitlines()


def test_no_mask_lines_outside_github_actions(fake, run):
    result = run("--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert "::add-mask::" not in result.stdout + result.stderr


def test_github_output_file_gets_the_credentials(fake, run, tmp_path):
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=kept\n")

    result = run(env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs)})

    assert result.returncode == 0, result.stderr
    data = only_instance(fake).data
    [credentials_file] = tmp_path.glob("Neo4j-*-Created-*.txt")
    assert outputs.read_text().splitlines() == [
        "earlier=kept",
        f"instance_id={data['id']}",
        f"instance_name={data['name']}",
        f"connection_uri={data['connection_url']}",
        "username=neo4j",
        f"password={data['password']}",
        f"credentials_file={credentials_file.name}",
    ]


@pytest.mark.parametrize(
    ("github_output", "problem"),
    [("missing/output", "No such file or directory"), (".", "Is a directory")],
    ids=["missing-directory", "a-directory"],
)
def test_unwritable_github_output_still_saves_and_prints_the_credentials_and_exits_1(
    fake, run, tmp_path, github_output, problem
):
    result = run(env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / github_output)})

    assert result.returncode == 1
    data = only_instance(fake).data
    [credentials_file] = credentials_files(tmp_path)
    assert f"NEO4J_PASSWORD={data['password']}" in credentials_file.read_text().splitlines()
    password_lines = [f"::add-mask::{data['password']}", f"Password {data['password']}"]
    assert result.stdout.splitlines() == [
        f"Instance ID {data['id']}",
        "Username neo4j",
        *password_lines,
        f"Connection URI {data['connection_url']}",
    ]
    assert (
        f"warning: could not write the step outputs to GITHUB_OUTPUT ({problem})"
        in result.stderr.splitlines()
    )
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    assert not (tmp_path / "missing").exists()
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_github_output_uses_a_heredoc_for_multiline_values(tmp_path):
    outputs = tmp_path / "github_output"

    ci._write_github_outputs(str(outputs), {"id": "db1d1234", "name": "two\nlines"})

    lines = outputs.read_text().splitlines()
    assert lines[0] == "instance_id=db1d1234"
    name, delimiter = lines[1].split("<<")
    assert name == "instance_name" and delimiter.startswith("ghadelimiter_")
    assert lines[2:5] == ["two", "lines", delimiter]


def test_quiet_keeps_the_password_off_stdout_when_a_file_has_it(fake, run, tmp_path):
    result = run("--quiet")

    assert result.returncode == 0, result.stderr
    data = only_instance(fake).data
    assert result.stdout.splitlines() == [
        f"Instance ID {data['id']}",
        "Username neo4j",
        f"Connection URI {data['connection_url']}",
    ]
    assert result.stderr == ""
    [credentials_file] = tmp_path.glob("Neo4j-*-Created-*.txt")
    assert f"NEO4J_PASSWORD={data['password']}" in credentials_file.read_text()


def test_quiet_without_a_file_still_prints_the_only_copy(fake, run):
    result = run("--quiet", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert f"Password {only_instance(fake).data['password']}" in result.stdout.splitlines()
