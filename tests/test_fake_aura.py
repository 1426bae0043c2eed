"""Tests of the fake itself: the features other tests build on behave as documented."""

from __future__ import annotations

import base64
import contextlib
import gzip
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fake_aura import (
    CLIENT_ID,
    CLIENT_SECRET,
    REMOVE,
    TENANT_ID,
    FakeAura,
    Fault,
    echo_headers,
    other_loopback_host,
)
from helpers import wait_for

SPEC = {
    "name": "Test",
    "tenant_id": TENANT_ID,
    "type": "enterprise-db",
    "cloud_provider": "gcp",
    "region": "europe-west1",
    "memory": "2GB",
    "version": "5",
}


def token(fake: FakeAura) -> str:
    answer = requests.post(
        f"{fake.url}/oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def api(fake: FakeAura, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(fake)}"}
    return requests.request(method, f"{fake.url}{path}", headers=headers, timeout=10, **kwargs)


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


# ---------------------------------------------------------------------------
# Hold
# ---------------------------------------------------------------------------


def test_a_held_create_creates_the_instance_then_answers_only_when_released(fake):
    held = Fault(hold=threading.Event())
    fake.on("POST", "/v1/instances", held)

    thread, result = in_background(lambda: api(fake, "POST", "/v1/instances", json=SPEC))

    assert held.arrived.wait(5)
    assert len(fake.instances) == 1  # performed before the hold
    thread.join(0.2)
    assert thread.is_alive() and result == []
    held.hold.set()
    thread.join(5)
    [answer] = result
    assert answer.status_code == 202
    assert answer.json()["data"]["id"] in fake.instances


def test_a_held_error_is_not_performed_and_answers_the_error_when_released(fake):
    held = Fault(status=500, body={"error": "boom"}, hold=threading.Event())
    fake.on("POST", "/v1/instances", held)

    thread, result = in_background(lambda: api(fake, "POST", "/v1/instances", json=SPEC))

    assert held.arrived.wait(5)
    assert fake.instances == {}
    held.hold.set()
    thread.join(5)
    assert result[0].status_code == 500
    assert result[0].json() == {"error": "boom"}


def test_a_held_call_is_answered_when_the_fake_stops():
    held = Fault(hold=threading.Event())
    with FakeAura() as fake:
        fake.on("GET", "/v1/tenants", held)
        thread, result = in_background(lambda: api(fake, "GET", "/v1/tenants"))
        assert held.arrived.wait(5)
    thread.join(5)
    assert not thread.is_alive()
    assert result[0].status_code == 200


@pytest.mark.parametrize("fault", [Fault(), Fault(status=503)])
def test_arrived_is_set_for_any_fault_once_its_call_arrives(fake, fault):
    fake.on("GET", "/v1/tenants", fault)
    assert not fault.arrived.is_set()

    api(fake, "GET", "/v1/tenants")

    assert fault.arrived.is_set()


# ---------------------------------------------------------------------------
# DELETE /v1/instances/{id}
# ---------------------------------------------------------------------------


def test_delete_answers_202_destroying_then_the_instance_is_gone(fake):
    fake.running_after = 0
    fake.delete_after = 0.2
    instance_id = fake.add_instance("Doomed")
    shown = api(fake, "GET", f"/v1/instances/{instance_id}").json()["data"]

    deleted = api(fake, "DELETE", f"/v1/instances/{instance_id}")

    assert deleted.status_code == 202
    assert deleted.json() == {"data": {**shown, "status": "destroying"}}
    assert "X-Request-Id" in deleted.headers
    during = api(fake, "GET", f"/v1/instances/{instance_id}")
    assert during.json()["data"]["status"] == "destroying"
    assert [i["id"] for i in api(fake, "GET", "/v1/instances").json()["data"]] == [instance_id]
    again = api(fake, "DELETE", f"/v1/instances/{instance_id}")
    assert again.status_code == 404
    assert again.json() == {
        "errors": [{"message": f"DB not found: {instance_id}", "reason": "db-not-found"}]
    }
    wait_for(lambda: fake.instances[instance_id].gone(time.monotonic()))
    after = api(fake, "GET", f"/v1/instances/{instance_id}")
    assert after.status_code == 404
    assert after.json()["errors"][0]["reason"] == "db-not-found"
    assert api(fake, "GET", "/v1/instances").json() == {"data": []}
    assert api(fake, "DELETE", f"/v1/instances/{instance_id}").status_code == 404
    assert [r.method for r in fake.sent(route="/v1/instances/{id}")].count("DELETE") == 3


def test_delete_while_creating_answers_409_ongoing_operation(fake):
    fake.running_after = 60
    instance_id = fake.add_instance("Busy")

    answer = api(fake, "DELETE", f"/v1/instances/{instance_id}")

    assert answer.status_code == 409
    assert answer.json() == {
        "errors": [
            {
                "message": "The database is current undergoing an operation: creating",
                "reason": "ongoing-database-operation",
            }
        ]
    }
    assert fake.instances[instance_id].deleted_at is None


def test_an_instance_added_with_created_at_shows_it_and_still_answers_409_while_creating(fake):
    fake.running_after = 60
    old = fake.add_instance("Old", created_at="2026-01-01T00:00:00Z")
    odd = fake.add_instance("Odd", created_at="yesterday")

    listed = api(fake, "GET", "/v1/instances", params={"tenantId": TENANT_ID}).json()["data"]
    shown = api(fake, "GET", f"/v1/instances/{old}").json()["data"]
    busy = api(fake, "DELETE", f"/v1/instances/{old}")

    assert {i["id"]: i["created_at"] for i in listed} == {
        old: "2026-01-01T00:00:00Z",
        odd: "yesterday",
    }
    assert shown["created_at"] == "2026-01-01T00:00:00Z"
    assert shown["status"] == "creating"  # the timeline starts when it was added
    assert busy.status_code == 409
    assert fake.instances[old].deleted_at is None


def test_created_at_is_now_in_utc_with_a_z_and_a_client_cannot_set_it(fake):
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    added = fake.add_instance("Now")
    created = api(
        fake, "POST", "/v1/instances", json={**SPEC, "created_at": "2000-01-01T00:00:00Z"}
    ).json()["data"]
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    listed = api(fake, "GET", "/v1/instances").json()["data"]
    for entry in listed:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["created_at"])
        assert before <= entry["created_at"] <= after  # same format: text order is time order
    assert {i["id"] for i in listed} == {added, created["id"]}
    assert created["created_at"] == next(
        i["created_at"] for i in listed if i["id"] == created["id"]
    )


def test_delete_of_an_unknown_instance_is_404(fake):
    answer = api(fake, "DELETE", "/v1/instances/0badf00d")

    assert answer.status_code == 404
    assert answer.json()["errors"][0]["reason"] == "db-not-found"


def test_delete_faults_work_like_on_other_routes(fake):
    fake.running_after = 0
    instance_id = fake.add_instance("Flaky")
    fake.on("DELETE", "/v1/instances/{id}", Fault(status=503, body={"error": "down"}))

    assert api(fake, "DELETE", f"/v1/instances/{instance_id}").status_code == 503
    assert fake.instances[instance_id].deleted_at is None
    assert api(fake, "DELETE", f"/v1/instances/{instance_id}").status_code == 202


def test_a_deleted_instance_stops_answering_queries_at_once(fake):
    fake.running_after = 0
    fake.delete_after = 0.2
    answer = api(fake, "POST", "/v1/instances", json=SPEC).json()["data"]
    query = f"http://{answer['connection_url'].split('://')[1]}/db/neo4j/query/v2"
    auth = (answer["username"], answer["password"])

    def ask() -> int:
        return requests.post(
            query, auth=auth, json={"statement": "RETURN 1"}, timeout=5
        ).status_code

    assert ask() == 202
    api(fake, "DELETE", f"/v1/instances/{answer['id']}")
    assert ask() == 503
    wait_for(lambda: ask() == 401)


# ---------------------------------------------------------------------------
# Standalone run
# ---------------------------------------------------------------------------

FAKE = Path(__file__).resolve().parent / "fake_aura.py"
# SIGINT at its default even when the tests run as a background job (see test_features).
WITH_CTRL_C = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def test_standalone_on_a_busy_port_prints_one_line_and_exits_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(FAKE), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=10,
        )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_standalone_ctrl_c_exits_130_quietly():
    process = subprocess.Popen(
        [sys.executable, "-c", WITH_CTRL_C, str(FAKE), "--port", "0", "--running-after", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()

    assert lines[0] == "Fake Aura API running. In another shell:\n"
    assert lines[1].startswith("  export AURA_API_URL=http://127.0.0.1:")
    assert lines[2] == "  python create_instance.py\n"
    assert process.returncode == 130
    assert stderr == ""


# ---------------------------------------------------------------------------
# Hostile answers
# ---------------------------------------------------------------------------


def test_echo_headers_quotes_the_basic_credentials_of_the_token_call(fake):
    fake.on("POST", "/oauth/token", Fault(status=400, body=echo_headers))

    answer = requests.post(
        f"{fake.url}/oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert f"Authorization: Basic {basic}" in answer.json()["error_description"]


def test_a_callable_body_can_quote_the_bearer_token_in_any_shape(fake):
    fake.on(
        "GET",
        "/v1/tenants",
        Fault(status=404, body=lambda r: f"no tenants for {r.headers['Authorization']}"),
    )
    bearer = token(fake)

    answer = requests.get(
        f"{fake.url}/v1/tenants", headers={"Authorization": f"Bearer {bearer}"}, timeout=5
    )

    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "text/plain"
    assert answer.text == f"no tenants for Bearer {bearer}"


def test_raw_gzip_bytes_go_out_with_their_raw_length(fake):
    compressed = gzip.compress(b'{"data": []}' + b" " * 100_000)
    fake.on(
        "GET",
        "/v1/tenants",
        Fault(
            status=200,
            body=compressed,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ),
    )

    answer = api(fake, "GET", "/v1/tenants")

    assert answer.headers["Content-Length"] == str(len(compressed))
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.json() == {"data": []}


def test_headers_apply_to_a_normal_answer_and_may_replace_the_fakes_own(fake):
    fake.on("GET", "/v1/tenants", Fault(headers={"Content-Type": "text/html", "X-Extra": "1"}))

    answer = api(fake, "GET", "/v1/tenants")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.headers["X-Extra"] == "1"
    assert answer.json()["data"][0]["id"] == TENANT_ID


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_stream_bytes_sends_exactly_that_many_bytes(fake, framing):
    size = 3_000_000
    fake.on("GET", "/v1/tenants", Fault(status=200, stream_bytes=size, framing=framing))

    answer = api(fake, "GET", "/v1/tenants", stream=True)
    received = sum(len(chunk) for chunk in answer.iter_content(65536))

    assert received == size
    assert answer.headers.get("Content-Length") == (str(size) if framing == "length" else None)
    assert (answer.headers.get("Transfer-Encoding") == "chunked") == (framing == "chunked")
    assert answer.headers["Content-Type"] == "application/json"


def test_a_small_stream_is_a_json_object(fake):
    fake.on("GET", "/v1/tenants", Fault(status=200, stream_bytes=100))

    answer = api(fake, "GET", "/v1/tenants")

    assert len(answer.content) == 100
    assert answer.json() == {"data": []}


def test_drip_sends_the_body_a_byte_at_a_time(fake):
    fake.on("GET", "/v1/tenants", Fault(status=200, body="abcdef", drip=0.05))

    started = time.monotonic()
    answer = api(fake, "GET", "/v1/tenants")

    assert answer.text == "abcdef"
    assert time.monotonic() - started >= 0.25


def test_drip_stops_quietly_when_the_client_goes_away(fake):
    fake.on("GET", "/v1/tenants", Fault(status=200, stream_bytes=10_000, drip=0.01))
    answer = api(fake, "GET", "/v1/tenants", stream=True)
    assert answer.raw.read(3) == b'{"d'
    answer.close()

    wait_for(lambda: any("went away mid-answer" in line for line in fake.log))


def raw_request(port: int, request: bytes) -> socket.socket:
    """A connection to the fake's 127.0.0.1:`port` with `request` sent on it."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(request)
    return connection


def read_head(connection: socket.socket) -> tuple[bytes, int]:
    """An answer's head, up to its blank line, and the number of reads it took."""
    head, reads = b"", 0
    while b"\r\n\r\n" not in head:
        piece = connection.recv(4096)
        assert piece, f"the connection closed after {head!r}"
        head, reads = head + piece, reads + 1
    return head, reads


def test_drip_headers_sends_the_head_a_byte_at_a_time_then_the_answer(fake):
    fake.on("GET", "/v1/tenants", Fault(drip_headers=0.005))
    request = f"GET /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token(fake)}\r\n\r\n"

    with raw_request(fake._server.server_address[1], request.encode()) as connection:
        head, reads = read_head(connection)

    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    # A read returns what has arrived: one byte each time, but for a late reader.
    assert reads > len(head) // 2
    # The answer after the head is the normal one.
    fake.on("GET", "/v1/tenants", Fault(drip_headers=0.002))
    answer = api(fake, "GET", "/v1/tenants")
    assert answer.json()["data"][0]["id"] == TENANT_ID


def test_drip_headers_stops_when_the_client_goes_away(fake):
    fake.on("GET", "/v1/tenants", Fault(drip_headers=0.01))
    request = f"GET /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token(fake)}\r\n\r\n"

    with raw_request(fake._server.server_address[1], request.encode()) as connection:
        assert connection.recv(1) == b"H"

    wait_for(lambda: any("went away mid-answer" in line for line in fake.log))


def test_drip_headers_stops_when_the_fake_stops():
    with FakeAura() as fake:
        fake.on("GET", "/v1/tenants", Fault(drip_headers=0.5))
        request = (
            f"GET /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token(fake)}\r\n\r\n"
        )
        connection = raw_request(fake._server.server_address[1], request.encode())
        assert connection.recv(1) == b"H"
    received = b"H"
    with connection, contextlib.suppress(ConnectionResetError):
        # The fake has stopped: the connection ends (closed or reset), a few bytes in.
        while len(received) < 5 and (piece := connection.recv(4096)):
            received += piece
    assert len(received) < 5, "the fake went on dripping after it stopped"


def test_query_drip_headers_drips_the_head_of_the_query_apis_answers(fake):
    fake.running_after = 0
    answer = api(fake, "POST", "/v1/instances", json=SPEC).json()["data"]
    port = int(answer["connection_url"].rsplit(":", 1)[1])
    basic = base64.b64encode(f"{answer['username']}:{answer['password']}".encode()).decode()
    body = b'{"statement": "RETURN 1"}'
    request = (
        f"POST /db/neo4j/query/v2 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    fake.query_drip_headers = 0.005

    with raw_request(port, request) as connection:
        head, reads = read_head(connection)

    assert head.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert reads > len(head) // 2
    assert len(fake.query_requests) == 1


def test_patch_rewrites_the_real_create_answer(fake):
    hostile = "a\n::add-mask::x"
    fake.on("POST", "/v1/instances", Fault(patch={"password": hostile, "username": REMOVE}))

    answer = api(fake, "POST", "/v1/instances", json=SPEC)

    assert answer.status_code == 202
    data = answer.json()["data"]
    assert data["password"] == hostile
    assert "username" not in data
    [instance] = fake.instances.values()
    assert instance.data["id"] == data["id"]
    assert instance.data["password"] != hostile


def test_patch_rewrites_each_item_of_a_list(fake):
    fake.add_instance("One")
    fake.add_instance("Two")
    fake.on("GET", "/v1/instances", Fault(patch={"name": "\x1b[2J"}))

    answer = api(fake, "GET", "/v1/instances")

    assert [i["name"] for i in answer.json()["data"]] == ["\x1b[2J", "\x1b[2J"]


def test_a_second_fake_on_another_loopback_host_sees_a_redirected_create():
    with FakeAura() as fake, FakeAura(host=other_loopback_host()) as other:
        assert other.url.startswith(f"http://{other_loopback_host()}:")
        assert other.url != fake.url
        fake.on(
            "POST",
            "/v1/instances",
            Fault(status=307, headers={"Location": f"{other.url}/v1/instances"}),
        )

        answer = api(fake, "POST", "/v1/instances", json=SPEC)

        assert answer.status_code == 401  # requests drops the token for another host
        [redirected] = other.sent("POST", "/v1/instances")
        assert redirected.json == SPEC
        assert "Authorization" not in redirected.headers
        assert fake.instances == other.instances == {}


def test_the_fake_refuses_a_non_loopback_host():
    with pytest.raises(ValueError, match="loopback"):
        FakeAura(host="0.0.0.0")
