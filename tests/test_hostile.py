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

import gzip
import shutil
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import SCRIPT, script_env

from fake_aura import CLIENT_SECRET, FakeAura, Fault, other_loopback_host
from helpers import calls

HAPPY = [
    ("POST", "/oauth/token"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
]
TOO_LARGE = "answered with more than 10 MB, far more than the API ever sends; the rest was not read"
MAX_GROWTH = 100 * 2**20  # bytes the run may add to the interpreter's peak memory

# Runs main() in a child interpreter, then writes how far its peak memory (RSS)
# grew above the interpreter's with create_instance imported, in bytes.
MEASURED = """
import resource, sys
import create_instance
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = create_instance.main(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes there, else KiB
open(sys.argv[1], "w").write(str((peak - before) * unit))
sys.exit(code)
"""


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


def run_measured(fake, cwd: Path, *args: str):
    """Run the script's main() as run() does; also return its memory growth in bytes."""
    peak_file = cwd / "peak"
    result = subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak_file), *args],
        env=script_env(fake, PYTHONPATH=str(SCRIPT.parent)),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, int(peak_file.read_text())


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


def throwaway_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made now with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    certificate, key = directory / "cert.pem", directory / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    command += " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    return certificate, key


class _Redirecting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(308)
        self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


class TLSServer(ThreadingHTTPServer):
    """https on 127.0.0.1 with a throwaway certificate, redirecting every request
    to `location`; `accepted` counts the TCP connections, handshakes or not."""

    daemon_threads = True

    def __init__(self, certificate: Path, key: Path, location: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Redirecting)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.location = location
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def get_request(self):
        connection, address = super().get_request()
        self.accepted += 1
        # The handshake happens here; a client that refuses the certificate
        # makes it raise, and socketserver then drops the connection quietly.
        return self.context.wrap_socket(connection, server_side=True), address

    def __enter__(self) -> TLSServer:
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return throwaway_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def other():
    """A second fake API on another loopback host: where a redirect must not lead."""
    with FakeAura(host=other_loopback_host()) as server:
        yield server


# ---------------------------------------------------------------------------
# Bounded memory and time
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_200_mb_answer_is_refused_in_bounded_memory(fake, tmp_path, framing):
    """Declared too large (Content-Length) or found to be while read: refused, either way."""
    fake.on("GET", "/v1/instances", Fault(status=200, stream_bytes=200_000_000, framing=framing))

    result, growth = run_measured(fake, tmp_path)

    assert error_line(result, fake) == f"error: GET /v1/instances {TOO_LARGE}"
    assert growth < MAX_GROWTH
    assert calls(fake) == HAPPY[:3]  # not resent, and nothing created


def test_a_gzip_bomb_is_refused_in_bounded_memory(fake, tmp_path):
    # 1 MB that inflates to 1 GiB: 1024 gzip members of 1 MiB of zeros each.
    bomb = gzip.compress(bytes(2**20), compresslevel=9) * 1024
    fake.on(
        "GET",
        "/v1/instances",
        Fault(
            status=200,
            body=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ),
    )

    result, growth = run_measured(fake, tmp_path)

    assert error_line(result, fake) == f"error: GET /v1/instances {TOO_LARGE}"
    assert growth < MAX_GROWTH
    assert calls(fake) == HAPPY[:3]


def test_an_answer_that_is_retried_is_not_read(fake, tmp_path):
    """urllib3 would read a 503's whole body before resending; its connection is closed instead."""
    fake.on(
        "GET",
        "/v1/tenants",
        Fault(status=503, stream_bytes=200_000_000, framing="chunked"),
    )

    result, growth = run_measured(fake, tmp_path)

    assert result.returncode == 0, result.stderr
    clean(result, fake)
    assert growth < MAX_GROWTH
    assert calls(fake) == [*HAPPY[:2], ("GET", "/v1/tenants"), *HAPPY[2:]]
    assert fake.connections == 2


def test_a_dripping_answer_ends_at_the_timeout_not_at_its_end(fake, tmp_path):
    """--timeout bounds the whole answer: each byte comes in time, the answer does not.

    Dripped whole, the body would take 200 s; each read would succeed.
    """
    fake.on("GET", "/v1/tenants", Fault(status=200, body={"data": [], "pad": " " * 1000}, drip=0.2))

    result = run(fake, tmp_path, "--timeout", "1")

    assert (
        error_line(result, fake)
        == "error: GET /v1/tenants failed: no answer in time (read timeout)"
    )
    assert calls(fake) == HAPPY[:2]  # one attempt: a body read too slowly is not resent


def test_wait_timeout_is_a_hard_limit_even_while_status_checks_fail(fake, tmp_path):
    fake.running_after = 100
    fake.on("GET", "/v1/instances/{id}", *[Fault(status=500, body={"error": "boom"})] * 20)

    result = run(fake, tmp_path, "--wait", "--wait-timeout", "1", "--no-credentials-file")

    line = error_line(result, fake, code=4)
    assert "after 1 s of waiting" in line
    # Resends come at least 0.48 s apart and stop at the wait's deadline; without
    # it, the first status check alone would be sent five times, over seconds.
    assert len(fake.sent("GET", "/v1/instances/{id}")) <= 3


@pytest.mark.parametrize("status", [200, 400])
def test_json_nested_100000_deep_is_one_line(fake, tmp_path, status):
    fake.on(
        "GET",
        "/v1/tenants",
        Fault(status=status, body="[" * 100_000, headers={"Content-Type": "application/json"}),
    )

    result = run(fake, tmp_path)

    line = error_line(result, fake)
    assert line.startswith("error: GET /v1/tenants ")
    assert "application/json body starting '[[[[" in line
    assert calls(fake) == HAPPY[:2]


# ---------------------------------------------------------------------------
# Redirects stay at home
# ---------------------------------------------------------------------------


def test_a_redirect_to_another_host_is_refused_naming_it(fake, other, tmp_path):
    fake.on(
        "GET", "/v1/tenants", Fault(status=302, headers={"Location": f"{other.url}/v1/tenants"})
    )

    result = run(fake, tmp_path)

    line = error_line(result, fake)
    assert line.startswith("error: GET /v1/tenants was redirected to ")
    assert other.host in line
    assert other.requests == [] and other.connections == 0
    assert calls(fake) == HAPPY[:2]


@pytest.mark.parametrize("redirects", [3, 4])
def test_a_same_host_redirect_is_followed_at_most_three_times(fake, tmp_path, redirects):
    moved = Fault(status=308, headers={"Location": "/v1/tenants"})
    fake.on("GET", "/v1/tenants", *[moved] * redirects)

    result = run(fake, tmp_path)

    tenant_lists = [call for call in calls(fake) if call == ("GET", "/v1/tenants")]
    if redirects == 3:
        assert result.returncode == 0, result.stderr
        clean(result, fake)
        assert len(tenant_lists) == 4
        assert len(fake.instances) == 1
    else:
        line = error_line(result, fake)
        assert line == "error: GET /v1/tenants was redirected more than 3 times"
        assert len(tenant_lists) == 4  # the first request and three redirects followed
        assert fake.instances == {}


@pytest.mark.parametrize("acted", [False, True], ids=["nothing-created", "created"])
def test_a_redirect_of_the_create_call_is_not_followed_and_the_tenant_is_checked(
    fake, tmp_path, acted
):
    """Even to the same host: a create call is never sent twice. What exists is said."""
    fake.on(
        "POST",
        "/v1/instances",
        Fault(apply=acted, status=307, headers={"Location": "/v1/instances"}),
    )

    result = run(fake, tmp_path)

    line = error_line(result, fake)
    assert calls(fake) == [*HAPPY, ("GET", "/v1/instances")]
    assert "answered HTTP 307, a redirect, which the create call never follows" in result.stderr
    if acted:
        [instance_id] = fake.instances
        assert line.startswith(f"error: instance {instance_id} named 'my-instance' was created")
    else:
        assert line.endswith("nothing was created, and it is safe to run again")


def test_a_redirect_from_http_to_https_asks_for_an_https_api_url(fake, tmp_path):
    secure = fake.url.replace("http://", "https://")
    fake.on("GET", "/v1/tenants", Fault(status=308, headers={"Location": f"{secure}/v1/tenants"}))

    result = run(fake, tmp_path)

    assert error_line(result, fake) == (
        "error: GET /v1/tenants was redirected to https; use an https:// API URL"
    )
    assert fake.connections == 1


def test_a_redirect_from_https_to_plain_http_is_refused(fake, tmp_path, certificate):
    with TLSServer(*certificate, location=f"{fake.url}/oauth/token") as server:
        result = run(
            fake,
            tmp_path,
            AURA_API_URL=server.url,
            REQUESTS_CA_BUNDLE=str(certificate[0]),
        )

    line = error_line(result, fake)
    assert line.startswith("error: POST /oauth/token was redirected to 'http://127.0.0.1:")
    assert fake.requests == [] and fake.connections == 0


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


@pytest.mark.parametrize("token", ["tok\u2713", "tok\r\nX-Injected: 1"], ids=["unicode", "crlf"])
def test_an_access_token_no_header_can_carry_is_one_line(fake, tmp_path, token):
    fake.on("POST", "/oauth/token", Fault(status=200, body={"access_token": token}))

    result = run(fake, tmp_path)

    assert error_line(result, fake) == (
        "error: the token request succeeded but its access_token is not plain ASCII"
    )
    assert calls(fake) == HAPPY[:1]


def test_a_certificate_that_fails_verification_is_one_line_after_one_connection(
    fake, tmp_path, certificate
):
    with TLSServer(*certificate) as server:
        result = run(fake, tmp_path, "--verbose", AURA_API_URL=server.url)

    line = error_line(result, fake)
    assert line.startswith("error: POST /oauth/token failed: the TLS certificate of 127.0.0.1")
    assert "self-signed certificate" in line.replace("self signed", "self-signed")
    assert "REQUESTS_CA_BUNDLE" in line
    assert server.accepted == 1
    assert "retrying" not in result.stderr


def test_a_connection_url_that_cannot_be_parsed_is_not_probed(fake, tmp_path):
    fake.running_after = 0
    fake.on("POST", "/v1/instances", Fault(patch={"connection_url": "neo4j+s://[::1"}))

    result = run(fake, tmp_path, "--wait")

    assert result.returncode == 0, result.stderr
    clean(result, fake)
    assert "warning: no connection URL to probe; the instance is running" in result.stderr
    assert "Connection URI neo4j+s://[::1" in result.stdout.splitlines()
    assert fake.query_requests == []
    [instance_id] = fake.instances
    assert ("GET", f"/v1/instances/{instance_id}") in calls(fake)  # --wait went on as usual
