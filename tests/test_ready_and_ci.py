"""--wait ends when the database answers a query; secrets stay out of CI logs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer

import pytest

from fake_aura import Fault, other_loopback_host
from helpers import assert_no_secrets, credentials_files, run_changed


def only_instance(fake):
    [instance] = fake.instances.values()
    return instance


def test_wait_ends_at_the_first_successful_query_and_not_before(fake, run):
    fake.running_after = 0  # the first poll sees running; probes fail for 0.8 s after that
    fake.query_ready_after = 0.8  # the first probe fails, the second (1 s later) succeeds

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
    fake.query_ready_after = 0.8

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

    result = run("--wait", "--query-timeout", "0.5", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["status"] == "running" and output["queryable_after_s"] is None
    [warning] = [line for line in result.stderr.splitlines() if "did not answer" in line]
    assert "running but did not answer a query from here" in warning and "HTTP 503" in warning
    assert 1 <= len(fake.query_requests) <= 3
    # It kept probing until --query-timeout had passed, not one interval short of it.
    assert fake.query_requests[-1].at >= only_instance(fake).running_since() + 0.5


class Loopback(ThreadingHTTPServer):
    """An HTTP server on a loopback address that gives every request one canned
    answer and records (method, target) of each request: a Query API, a redirecting one, or an
    HTTPS proxy that refuses every tunnel."""

    daemon_threads = True

    def __init__(self, status: int, headers: dict[str, str] | None = None, host="127.0.0.1"):
        self.status = status
        self.answer_headers = headers or {}
        self.received: list[tuple[str, str]] = []
        super().__init__((host, 0), _CannedAnswer)
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()

    def server_bind(self) -> None:
        # HTTPServer's looks the host up (getfqdn): a DNS query, off loopback, for 127.0.0.2.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        super().__exit__(*exc)


class _CannedAnswer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Loopback

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def do_CONNECT(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.server.received.append((self.command, self.path))
        self.send_response(self.server.status)
        for name, value in self.server.answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def connection_url_answered(connection_url: str) -> Fault:
    """A Fault for the create call: the instance is created; its connection URL is this."""
    return Fault(patch={"connection_url": connection_url})


PROBE = "/db/neo4j/query/v2"


@pytest.mark.parametrize(
    "connection_url",
    [
        "neo4j+s://db1d1234.aura.invalid",
        "neo4j+s://db1d1234.aura.invalid:7687",
        "neo4j://db1d1234.aura.invalid",
    ],
)
def test_probe_goes_over_https_to_port_443_of_the_instance_host(fake, tmp_path, connection_url):
    """Seen through an HTTPS proxy that refuses every tunnel: only https is sent through
    it, and the tunnel asked for names the host and port. Should the proxy be bypassed,
    the name does not resolve ("no-dns"): nothing leaves 127.0.0.1 either way."""
    fake.running_after = 0
    fake.on("POST", "/v1/instances", connection_url_answered(connection_url))

    with Loopback(403) as proxy:
        result = run_changed(
            ["no-dns"],
            fake,
            tmp_path,
            "--wait",
            "--query-timeout",
            "0.2",
            "--no-credentials-file",
            HTTPS_PROXY=f"http://{proxy.address}",
        )

    assert result.returncode == 0, result.stderr
    assert proxy.received
    assert set(proxy.received) == {("CONNECT", "db1d1234.aura.invalid:443")}
    assert result.stderr.splitlines()[-1] == (
        f"warning: instance {only_instance(fake).data['id']} is running but did not answer a "
        "query from here within 0.2 s (last: the proxy refused or dropped the connection); a "
        "proxy or an IP filter may be in the way"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_probe_of_a_loopback_instance_is_plain_http_to_the_url_port(fake, run, host):
    fake.running_after = 0
    with Loopback(202) as query_api:
        port = query_api.address.rsplit(":", 1)[1]
        fake.on("POST", "/v1/instances", connection_url_answered(f"neo4j+s://{host}:{port}"))

        result = run("--wait", "--output", "json", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert query_api.received == [("POST", PROBE)]
    assert json.loads(result.stdout)["queryable_after_s"] is not None


def test_probe_never_follows_a_redirect(fake, run):
    fake.running_after = 0
    with (
        Loopback(202, host=other_loopback_host()) as elsewhere,
        Loopback(307, {"Location": f"http://{elsewhere.address}{PROBE}"}) as redirecting,
    ):
        fake.on(
            "POST", "/v1/instances", connection_url_answered(f"neo4j+s://{redirecting.address}")
        )

        result = run(
            "--wait", "--query-timeout", "0.2", "--output", "json", "--no-credentials-file"
        )

    assert result.returncode == 0, result.stderr
    assert redirecting.received
    assert set(redirecting.received) == {("POST", PROBE)}
    assert elsewhere.received == []
    assert json.loads(result.stdout)["queryable_after_s"] is None
    assert "(last: HTTP 307)" in result.stderr.splitlines()[-1]


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
    assert f"::add-mask::{password}" in result.stderr.splitlines()


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


def test_github_output_uses_a_heredoc_for_a_multiline_value(fake, run, tmp_path):
    outputs = tmp_path / "github_output"
    fake.on("POST", "/v1/instances", Fault(patch={"name": "two\nlines"}))

    result = run(
        "--no-credentials-file", env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs)}
    )

    assert result.returncode == 0, result.stderr
    data = only_instance(fake).data
    lines = outputs.read_text().splitlines()
    assert lines[0] == f"instance_id={data['id']}"
    name, delimiter = lines[1].split("<<")
    assert name == "instance_name" and delimiter.startswith("ghadelimiter_")
    assert lines[2:5] == ["two", "lines", delimiter]
    assert lines[5] == f"connection_uri={data['connection_url']}"


def test_quiet_keeps_the_password_off_stdout_when_a_file_has_it(fake, run, tmp_path):
    result = run("--quiet")

    assert result.returncode == 0, result.stderr
    data = only_instance(fake).data
    [credentials_file] = tmp_path.glob("Neo4j-*-Created-*.txt")
    assert result.stdout.splitlines() == [
        f"Instance ID {data['id']}",
        "Username neo4j",
        f"Credentials file {credentials_file.name}",
        f"Connection URI {data['connection_url']}",
    ]
    assert result.stderr == ""
    assert f"NEO4J_PASSWORD={data['password']}" in credentials_file.read_text()


def test_quiet_without_a_file_still_prints_the_only_copy(fake, run):
    result = run("--quiet", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert f"Password {only_instance(fake).data['password']}" in result.stdout.splitlines()
