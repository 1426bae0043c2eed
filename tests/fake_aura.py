"""A fake Aura API v1 on 127.0.0.1, for tests and for trying the script offline.

It behaves like the real API as Neo4j's OpenAPI file and documentation describe
it, including the unkind parts: two error shapes, 403 for an expired token,
415 without a JSON content type, instance lists without a status, and a create
call that is rejected with a 400 naming the field when the tenant does not offer
the requested configuration.

DELETE /v1/instances/{id} answers 202 with the instance "destroying" once,
then 404 db-not-found (also to a repeat); the instance shows "destroying" for
`delete_after` seconds, then is gone. While it is creating (any status in
`delete_busy_statuses`) a DELETE answers 409 ongoing-database-operation.
Every instance carries `created_at` ("%Y-%m-%dT%H:%M:%SZ", UTC, set by the fake
when it is created, as Aura sets it); `add_instance(name, created_at=...)` gives
a test's instance any other.

Tests script faults per endpoint and per call number with `FakeAura.on`, and
assert on `FakeAura.requests` (every request received) and
`FakeAura.connections` (every TCP connection accepted). A `Fault` can also
hold an answer back until the test releases it, and answer with anything a
hostile network might send: any bytes and headers, a body quoting the
request's credentials, an endless stream, a drip, fields of a real answer
rewritten. A second FakeAura on `other_loopback_host()` can play the target
of a redirect.

Each new instance's connection URL points at a second server on 127.0.0.1
that plays the new database's Query API (POST /db/neo4j/query/v2): it answers
503, or refuses connections, until `query_ready_after` seconds after the
instance reports running, then 202 to the instance's own credentials.
`query_drip_headers` makes it send the head of every answer one byte at a time,
that many seconds apart, as `Fault.drip_headers` does for the API.

Run it alone to try create_instance.py without an Aura account:

    python tests/fake_aura.py --port 8765
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import ipaddress
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-do-not-print"
TENANT_ID = "6981ace7-efe8-4f5c-b7c5-267b5162ce91"  # the one tenant, "Production"
# How often a server checks for stop(); socketserver's default, 0.5 s, makes
# stopping the two servers cost most of a second in every test.
SHUTDOWN_POLL = 0.02
# A held call answers anyway after this long, so a broken test cannot hang the suite.
HOLD_TIMEOUT = 30.0
REMOVE = object()  # in Fault.patch: leave this key out of the answer

DEFAULT_CONFIGURATIONS = [
    {
        "type": itype,
        "cloud_provider": cloud,
        "region": region,
        "region_name": region_name,
        "memory": memory,
        "storage": storage,
        "version": "5",
    }
    for itype in ("enterprise-db", "professional-db")
    for cloud, region, region_name in (
        ("gcp", "europe-west1", "Belgium (europe-west1)"),
        ("gcp", "us-central1", "Iowa (us-central1)"),
        ("aws", "eu-west-1", "Ireland (eu-west-1)"),
    )
    for memory, storage in (("2GB", "4GB"), ("4GB", "8GB"), ("8GB", "16GB"))
] + [
    {
        "type": "free-db",
        "cloud_provider": "gcp",
        "region": "europe-west1",
        "region_name": "Belgium (europe-west1)",
        "memory": "1GB",
        "storage": "2GB",
        "version": "5",
    },
]


@dataclass
class Fault:
    r"""What to do instead of (or after) the normal handling of one call.

    status and body replace the answer (body counts only with a status: a
    dict or list, sent as JSON; a str or bytes, sent as they are, with
    Content-Length their raw length; or a callable taking the Recorded request
    and returning any of those, such as `echo_headers`); `headers` are added
    to the answer, whatever its status, and replace the fake's own of the
    same name (Content-Type; even Content-Length, to lie about it: the
    connection then closes after the body); `delay` waits before answering;
    `drop` closes the connection without any answer; `apply` first performs
    the call for real (so a POST that "failed" still created its instance);
    `expire_tokens` makes every token issued so far invalid before the call;
    `action` is called just before answering, to change the world the script
    sees at that moment (say, make its credentials file path unwritable).

    `arrived` is set once the call has been received and, if it is performed
    at all, performed (a held POST /v1/instances has created its instance).
    `hold` then keeps the answer back until the test sets it (or HOLD_TIMEOUT
    passes, or the fake stops): wait for `arrived`, signal the script, wait
    for what it prints, set `hold`. A held fault without status, drop or
    apply performs the call and answers normally.

    Hostile answers, for a script that must survive anything:
    `patch` rewrites fields of the answer's "data" (each item's, for a list),
    REMOVE leaving a key out: Fault(patch={"password": "a\n::add-mask::x"})
    creates the instance and answers with that password;
    `stream_bytes` replaces the body with that many bytes made on the fly,
    '{"data": [' then spaces then ']}', costing the fake no memory;
    `framing` is how the body's end is told: "length" (Content-Length),
    "chunked" (Transfer-Encoding) or "close" (neither; the connection closes);
    `drip` sends the body one byte at a time, that many seconds apart,
    stopping when the client goes away; `drip_headers` does the same with
    the status line and headers (the whole head, up to its blank line), so
    that no answer reaches the client before len(head) * drip_headers
    seconds, though every single read gets a byte in time. Both stop when
    the fake stops.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    apply: bool = False
    expire_tokens: bool = False
    action: Callable[[], None] | None = None
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    patch: dict[str, Any] | None = None
    stream_bytes: int = 0
    framing: str = "length"
    drip: float = 0.0
    drip_headers: float = 0.0

    def __post_init__(self) -> None:
        if self.framing not in ("length", "chunked", "close"):
            raise ValueError(f"framing must be length, chunked or close, not {self.framing!r}")


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    connection: int
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def echo_headers(request: Recorded) -> dict[str, str]:
    """A Fault body quoting the request's headers verbatim, Authorization included,
    as a careless server's error does: Fault(status=400, body=echo_headers)."""
    quoted = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
    return {"error": "invalid_request", "error_description": f"rejected: {quoted}"}


@functools.cache
def other_loopback_host() -> str:
    """A loopback host other than 127.0.0.1, for a second FakeAura (a redirect's
    target): 127.0.0.2 where it can be bound, else "localhost", another name."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return "localhost"
    return "127.0.0.2"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _patched(answer: Any, patch: dict[str, Any]) -> Any:
    """The answer with fields of its data (or of each item of a data list) rewritten."""

    def rewrite(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        new = {**item, **patch}
        return {k: v for k, v in new.items() if v is not REMOVE}

    if not isinstance(answer, dict) or "data" not in answer:
        return answer
    data = answer["data"]
    return {
        **answer,
        "data": [rewrite(i) for i in data] if isinstance(data, list) else rewrite(data),
    }


def _filler(size: int) -> Iterator[bytes]:
    """`size` bytes of a JSON object with an empty data list, padded with spaces."""
    head, tail = b'{"data": [', b"]}"
    if size < len(head) + len(tail):
        yield b" " * size
        return
    yield head
    block = b" " * 65536
    left = size - len(head) - len(tail)
    while left > 0:
        yield block if left >= len(block) else block[:left]
        left -= len(block)
    yield tail


@dataclass
class Instance:
    """One instance. A deleted one stays in FakeAura.instances, with deleted_at
    and gone_at set (monotonic times); the API stops showing it at gone_at."""

    data: dict[str, Any]
    created: float
    timeline: list[tuple[float, str]]
    deleted_at: float | None = None
    gone_at: float | None = None

    def gone(self, now: float) -> bool:
        return self.gone_at is not None and now >= self.gone_at

    def running_since(self) -> float | None:
        """When the timeline reaches running, in monotonic time, if it does."""
        return next((self.created + t for t, s in self.timeline if s == "running"), None)

    def status(self, now: float) -> str:
        if self.deleted_at is not None:
            return "destroying"
        current = self.timeline[0][1]
        for after, status in self.timeline:
            if now - self.created >= after:
                current = status
        return current


def _route(path: str) -> str:
    """The endpoint template a path belongs to, for scripting faults."""
    for pattern, route in (
        (r"/v1/tenants/[^/]+", "/v1/tenants/{id}"),
        (r"/v1/instances/[^/]+", "/v1/instances/{id}"),
    ):
        if re.fullmatch(pattern, path):
            return route
    return path


class FakeAura:
    """The fake API server. Use as a context manager, or start()/stop().

    `host` is a loopback address or "localhost" (anything else is refused);
    the database servers of the instances it creates listen there too.
    """

    def __init__(
        self,
        *,
        tenants: list[dict[str, Any]] | None = None,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        rtt: float = 0.0,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the fake serves loopback addresses only, not {host}")
        self.host = host
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenants = (
            tenants
            if tenants is not None
            else [
                {
                    "id": TENANT_ID,
                    "name": "Production",
                    # a copy: tests edit their fake's offer, and must not edit the next one's
                    "instance_configurations": copy.deepcopy(DEFAULT_CONFIGURATIONS),
                }
            ]
        )
        self.rtt = rtt  # simulated round trip: a request pays 1, a new connection 2 more
        self.token_lifetime = 3600
        self.running_after = 0.5  # seconds from creating to running, for new instances
        self.timeline: list[tuple[float, str]] | None = None  # overrides running_after
        self.billing_missing = False
        self.max_instances: int | None = None
        self.delete_after = 0.5  # seconds an instance shows "destroying" after its DELETE
        self.delete_busy_statuses = {"creating"}  # a DELETE in these answers 409
        self.instances: dict[str, Instance] = {}
        self.requests: list[Recorded] = []
        self.connections = 0
        self.log: list[str] = []
        self._tokens: dict[str, float] = {}
        self._faults: dict[tuple[str, str], list[Fault | None]] = {}
        self._calls: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # releases held calls
        self._server = _Server((host, port), _handler_for(self))
        self._server.fake = self
        self._thread: threading.Thread | None = None
        # The new databases' Query API: bound now, so connection URLs can name
        # its port, but listening only when it should accept connections.
        self.query_ready_after = 0.0  # seconds after running until queries succeed
        self.query_unready = "503"  # or "refuse": no connections until then
        self.query_drip_headers = 0.0  # seconds between the bytes of each answer's head
        self.query_requests: list[Recorded] = []
        self._query = _Server((host, 0), _query_handler_for(self), bind_and_activate=False)
        self._query.fake = self
        self._query.allow_reuse_address = True
        self._query.server_bind()
        self._query_listening = False
        self._query_lock = threading.Lock()  # apart from _lock: _create holds that one

    # -- control ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> FakeAura:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        with self._query_lock:
            if self._query_listening:
                self._query.shutdown()
        self._query.server_close()

    def _listen_for_queries(self) -> None:
        with self._query_lock:
            if self._query_listening:
                return
            self._query_listening = True
            self._query.server_activate()
        threading.Thread(
            target=self._query.serve_forever, args=(SHUTDOWN_POLL,), daemon=True
        ).start()

    def __enter__(self) -> FakeAura:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def on(self, method: str, route: str, *faults: Fault | None) -> None:
        """Script the next calls to an endpoint: call k gets faults[k-1] (None: normal).

        `route` is a path such as "/oauth/token" or "/v1/instances", or a
        template such as "/v1/instances/{id}".
        """
        with self._lock:
            self._faults[(method, route)] = list(faults)
            self._calls[(method, route)] = 0

    def add_instance(
        self, name: str, tenant_id: str | None = None, created_at: Any = None, **data: Any
    ) -> str:
        """An instance that exists before the test starts; returns its id.

        `created_at` is what the API shows as its creation time (any value, so a
        test can give one a client cannot read, such as "yesterday"); by default
        now. It changes only what is shown: the instance's `timeline` still
        starts now, so an instance "created" a day ago can still be creating.
        """
        tenant_id = tenant_id or self.tenants[0]["id"]
        spec = {
            "name": name,
            "tenant_id": tenant_id,
            "type": "enterprise-db",
            "cloud_provider": "gcp",
            "region": "europe-west1",
            "memory": "2GB",
            "version": "5",
            **data,
        }
        return self._create(spec, created_at)["id"]

    def sent(self, method: str | None = None, route: str | None = None) -> list[Recorded]:
        """The requests received, optionally only those to one endpoint."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (route is None or route in (r.path, _route(r.path)))
        ]

    # -- behaviour ----------------------------------------------------------

    def _issue_token(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        return {"access_token": token, "expires_in": self.token_lifetime, "token_type": "bearer"}

    def _token_valid(self, token: str) -> bool:
        expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def _tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tenants if t["id"] == tenant_id), None)

    def _create(self, spec: dict[str, Any], created_at: Any = None) -> dict[str, Any]:
        """Create an instance from a request's spec (whose own created_at, if a client
        sent one, is not read: Aura sets it), at `created_at` if given, else now."""
        instance_id = secrets.token_hex(4)
        if created_at is None:
            created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        port = self._query.server_address[1]
        data = {
            "id": instance_id,
            "connection_url": f"neo4j+s://{self.host}:{port}",
            "username": "neo4j",
            "password": secrets.token_urlsafe(32),
            "tenant_id": spec["tenant_id"],
            "cloud_provider": spec["cloud_provider"],
            "region": spec["region"],
            "type": spec["type"],
            "name": spec["name"],
            "created_at": created_at,
        }
        for optional in ("vector_optimized", "graph_analytics_plugin"):
            if optional in spec:
                data[optional] = spec[optional]
        timeline = self.timeline or [(0.0, "creating"), (self.running_after, "running")]
        full = {**data, "memory": spec["memory"], "storage": spec.get("storage", "")}
        instance = Instance(full, time.monotonic(), list(timeline))
        self.instances[instance_id] = instance
        running = instance.running_since()
        if self.query_unready != "refuse":
            self._listen_for_queries()
        elif running is not None:
            delay = running + self.query_ready_after - time.monotonic()
            timer = threading.Timer(max(0.0, delay), self._listen_for_queries)
            timer.daemon = True
            timer.start()
        return data

    def _live(self, now: float) -> list[Instance]:
        """The instances the API still shows: all but the deleted and gone."""
        return [i for i in self.instances.values() if not i.gone(now)]

    def _query_ready(self, username: str, password: str) -> bool | None:
        """None: no instance has these credentials; else whether it answers queries.

        A deleted instance stops answering at once: 503 DatabaseUnavailable
        while it is destroying (its server is going down), then 401 once it
        is gone, as for credentials no database knows.
        """
        now = time.monotonic()
        for instance in self._live(now):
            if (instance.data["username"], instance.data["password"]) == (username, password):
                if instance.deleted_at is not None:
                    return False
                running = instance.running_since()
                return running is not None and now >= running + self.query_ready_after
        return None


_NORMAL = Fault()  # how a call without a scripted fault is answered


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAura

    def server_bind(self) -> None:
        # HTTPServer's would look the host up (getfqdn): perhaps a DNS query, off loopback.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a test's short read timeout) is expected here.
        self.fake.log.append(f"client {client_address} went away")


def _error(message: str, reason: str, field_name: str | None = None) -> dict[str, Any]:
    item = {"message": message, "reason": reason}
    if field_name:
        item["field"] = field_name
    return {"errors": [item]}


class _Answer(Exception):
    """Raised inside a handler to answer at once with status and body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


class _DrippingHead(BaseHTTPRequestHandler):
    """A handler that can send its head (status line and headers) one byte at a
    time, `head_drip` seconds apart, as a server that sends headers slowly does."""

    server: _Server
    head_drip = 0.0

    def flush_headers(self) -> None:
        if not self.head_drip or not getattr(self, "_headers_buffer", None):
            super().flush_headers()
            return
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        for number in range(len(head)):
            if number and self.server.fake._stopped.wait(self.head_drip):
                self.close_connection = True
                raise ConnectionAbortedError("the fake stopped while it dripped a head")
            self.wfile.write(head[number : number + 1])  # OSError once the client is gone


def _handler_for(fake: FakeAura) -> type[BaseHTTPRequestHandler]:
    class Handler(_DrippingHead):
        protocol_version = "HTTP/1.1"
        server_version = "FakeAura/1.0"
        # The headers and the body go out in two writes. With Nagle's algorithm the
        # second waits for the client's delayed ACK, some 40 ms on every request but
        # a connection's first: a cost of keep-alive that real servers do not have.
        disable_nagle_algorithm = True
        timeout = 30

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake.connections += 1
                self.connection_number = fake.connections
            if fake.rtt:
                time.sleep(2 * fake.rtt)  # TCP and TLS 1.3 handshakes

        def log_message(self, format: str, *args: Any) -> None:
            fake.log.append(format % args)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

        # -- plumbing -------------------------------------------------------

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            route = _route(parts.path)
            recorded = Recorded(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers.items()),
                body,
                self.connection_number,
                time.monotonic(),
            )
            with fake._lock:
                fake.requests.append(recorded)
                key = (self.command, route)
                fake._calls[key] = fake._calls.get(key, 0) + 1
                scripted = fake._faults.get(key, [])
                number = fake._calls[key]
                fault = scripted[number - 1] if number <= len(scripted) else None
            if fake.rtt:
                time.sleep(fake.rtt)
            if fault and fault.expire_tokens:
                fake._tokens.clear()
            if fault and not fault.apply and (fault.status or fault.drop):
                status, answer, headers = 0, None, {}
            else:
                status, answer, headers = self._dispatch(parts.path, parts.query, body)
            if fault:
                fault.arrived.set()
                if fault.hold is not None:
                    self._wait_for(fault.hold)
                if fault.action:
                    fault.action()
                time.sleep(fault.delay)
                if fault.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                headers = {**headers, **fault.headers}
                if fault.status:
                    status, answer = fault.status, fault.body
                    if callable(answer):
                        answer = answer(recorded)
                if fault.patch:
                    answer = _patched(answer, fault.patch)
            self._send(status, answer, headers, fault or _NORMAL)

        def _wait_for(self, hold: threading.Event) -> None:
            deadline = time.monotonic() + HOLD_TIMEOUT
            while not hold.wait(0.01):
                if fake._stopped.is_set() or time.monotonic() > deadline:
                    fake.log.append(f"{self.command} {self.path}: held call answered unreleased")
                    return

        def _send(self, status: int, answer: Any, headers: dict[str, str], fault: Fault) -> None:
            if isinstance(answer, (dict, list)):
                payload = json.dumps(answer).encode()
                content_type = "application/json"
            else:
                payload = (answer or "").encode() if isinstance(answer, str) else answer or b""
                content_type = "text/html" if payload.startswith(b"<") else "text/plain"
            chunks: Iterable[bytes] = [payload]
            size = len(payload)
            if fault.stream_bytes:
                chunks, size = _filler(fault.stream_bytes), fault.stream_bytes
                content_type = "application/json"
            own = {"Content-Type": content_type}
            if fault.framing == "length":
                own["Content-Length"] = str(size)
            elif fault.framing == "chunked":
                own["Transfer-Encoding"] = "chunked"
            else:
                own["Connection"] = "close"
            given = {name.lower() for name in headers}
            self.send_response(status)
            for name, value in own.items():
                if name.lower() not in given:
                    self.send_header(name, value)
            for name, value in headers.items():
                self.send_header(name, value)
            if fault.framing == "close" or given & {"content-length", "transfer-encoding"}:
                self.close_connection = True  # the client cannot tell where the body ends
            try:
                self.head_drip = fault.drip_headers
                self.end_headers()
                self._write(chunks, fault.framing == "chunked", fault.drip)
            except OSError:
                fake.log.append(f"{self.command} {self.path}: client went away mid-answer")
                self.close_connection = True

        def _write(self, chunks: Iterable[bytes], chunked: bool, drip: float) -> None:
            first = True
            for chunk in chunks:
                for piece in (chunk[i : i + 1] for i in range(len(chunk))) if drip else [chunk]:
                    if not piece:
                        continue
                    if drip and not first and fake._stopped.wait(drip):
                        self.close_connection = True  # the fake stopped: stop dripping
                        return
                    first = False
                    if chunked:
                        piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                    self.wfile.write(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

        def _dispatch(self, path: str, query: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
            try:
                if path == "/oauth/token" and self.command == "POST":
                    return 200, self._token(body), {}
                if not path.startswith("/v1/"):
                    raise _Answer(404, {"error": "Not Found"})
                self._authenticate()
                request_id = {"X-Request-Id": uuid.uuid4().hex}
                try:
                    status, answer = self._api(path, parse_qs(query), body)
                except _Answer as answer:
                    return answer.status, answer.body, request_id
                return status, answer, request_id
            except _Answer as answer:
                return answer.status, answer.body, {}

        def _token(self, body: bytes) -> dict[str, Any]:
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                raise _Answer(
                    400, {"error": "invalid_request", "error_description": "Request is invalid."}
                )
            expected = (
                "Basic "
                + base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
            )
            if self.headers.get("Authorization") != expected:
                raise _Answer(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "The provided credentials are "
                        "invalid, expired, or revoked.",
                    },
                )
            if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
                raise _Answer(
                    400,
                    {"error": "unsupported_grant_type", "error_description": "Request is invalid."},
                )
            with fake._lock:
                return fake._issue_token()

        def _authenticate(self) -> None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise _Answer(401, {"error": "Authorization field missing"})
            if not fake._token_valid(header[len("Bearer ") :]):
                # Aura answers an expired or revoked token with 403.
                raise _Answer(403, {"error": "Access to this API has been disallowed"})

        def _api(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
            segments = path.strip("/").split("/")[1:]
            if self.command == "POST" and (
                self.headers.get("Content-Type", "").split(";")[0] != "application/json"
            ):
                raise _Answer(415, {"error": "Unsupported Media Type"})
            if segments == ["tenants"] and self.command == "GET":
                return 200, {"data": [{"id": t["id"], "name": t["name"]} for t in fake.tenants]}
            if len(segments) == 2 and segments[0] == "tenants" and self.command == "GET":
                tenant = fake._tenant(segments[1])
                if tenant is None:
                    raise _Answer(
                        404,
                        _error("The tenant you specified could not be found", "tenant-not-found"),
                    )
                return 200, {"data": tenant}
            if segments == ["instances"] and self.command == "GET":
                wanted = query.get("tenantId", [None])[0]
                return 200, {
                    "data": [
                        {
                            key: i.data[key]
                            for key in ("id", "name", "tenant_id", "cloud_provider", "created_at")
                        }
                        for i in fake._live(time.monotonic())
                        if wanted is None or i.data["tenant_id"] == wanted
                    ]
                }
            if segments == ["instances"] and self.command == "POST":
                return 202, {"data": self._create(body)}
            if len(segments) == 2 and segments[0] == "instances" and self.command == "GET":
                now = time.monotonic()
                return 200, {"data": self._shown(self._instance(segments[1], now), now)}
            if len(segments) == 2 and segments[0] == "instances" and self.command == "DELETE":
                return 202, {"data": self._delete(segments[1])}
            raise _Answer(404, {"error": "Not Found"})

        def _instance(self, instance_id: str, now: float) -> Instance:
            instance = fake.instances.get(instance_id)
            if instance is None or instance.gone(now):
                raise _Answer(404, _error(f"DB not found: {instance_id}", "db-not-found"))
            return instance

        def _shown(self, instance: Instance, now: float) -> dict[str, Any]:
            """The instance as GET /instances/{id} shows it."""
            data = {k: v for k, v in instance.data.items() if k not in ("password",)}
            return {**data, "status": instance.status(now)}

        def _delete(self, instance_id: str) -> dict[str, Any]:
            """Aura answers 202 at most once; a repeat gets 404, as once it is gone."""
            with fake._lock:
                now = time.monotonic()
                instance = self._instance(instance_id, now)
                status = instance.status(now)
                if instance.deleted_at is not None:
                    raise _Answer(404, _error(f"DB not found: {instance_id}", "db-not-found"))
                if status in fake.delete_busy_statuses:
                    raise _Answer(
                        409,
                        _error(
                            f"The database is current undergoing an operation: {status}",
                            "ongoing-database-operation",
                        ),
                    )
                instance.deleted_at = now
                instance.gone_at = now + fake.delete_after
                return self._shown(instance, now)

        def _create(self, body: bytes) -> dict[str, Any]:
            try:
                spec = json.loads(body)
            except ValueError:
                raise _Answer(
                    400, _error("Request body is not valid JSON", "invalid-request")
                ) from None
            if not isinstance(spec, dict):
                raise _Answer(400, _error("Request body must be an object", "invalid-request"))
            for required in (
                "version",
                "region",
                "memory",
                "name",
                "type",
                "tenant_id",
                "cloud_provider",
            ):
                if not isinstance(spec.get(required), str):
                    raise _Answer(
                        400, _error(f"{required} is required", "invalid-request", required)
                    )
            name = spec["name"]
            if not 1 <= len(name) <= 30 or name != name.strip():
                raise _Answer(
                    400,
                    _error(
                        "name must be 1 to 30 characters with no leading or trailing whitespace",
                        "invalid-request",
                        "name",
                    ),
                )
            tenant = fake._tenant(spec["tenant_id"])
            if tenant is None:
                raise _Answer(
                    400,
                    _error(
                        "The tenant you specified could not be found",
                        "tenant-not-found",
                        "tenant_id",
                    ),
                )
            if fake.billing_missing:
                raise _Answer(
                    400,
                    _error(
                        "You must provide billing details in the Aura "
                        "Console before creating an instance",
                        "missing-billing-details",
                    ),
                )
            self._check_configuration(spec, tenant["instance_configurations"])
            with fake._lock:
                live = fake._live(time.monotonic())
                if fake.max_instances is not None and len(live) >= fake.max_instances:
                    raise _Answer(
                        405, _error("Maximum number of instances reached", "instance-limit-reached")
                    )
                return fake._create(spec)

        def _check_configuration(
            self, spec: dict[str, Any], configurations: list[dict[str, Any]]
        ) -> None:
            """Reject, naming the first field that no remaining configuration allows."""
            remaining = configurations
            for key in ("type", "cloud_provider", "region", "version", "memory", "storage"):
                if key not in spec:
                    continue
                matching = [c for c in remaining if c[key] == spec[key]]
                if not matching:
                    raise _Answer(
                        400,
                        _error(
                            f"Invalid {key} '{spec[key]}' for the requested configuration",
                            "invalid-request",
                            key,
                        ),
                    )
                remaining = matching

    return Handler


def _query_handler_for(fake: FakeAura) -> type[BaseHTTPRequestHandler]:
    """The Query API of the new databases, as Neo4j documents it."""

    class QueryHandler(_DrippingHead):
        protocol_version = "HTTP/1.1"
        server_version = "FakeNeo4j/5"
        disable_nagle_algorithm = True  # see the API handler
        timeout = 30

        def log_message(self, format: str, *args: Any) -> None:
            fake.log.append("query: " + format % args)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with fake._lock:
                fake.query_requests.append(
                    Recorded(
                        self.command,
                        self.path,
                        {},
                        dict(self.headers.items()),
                        body,
                        0,
                        time.monotonic(),
                    )
                )
            status, answer = self._answer(body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.head_drip = fake.query_drip_headers
            try:
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                fake.log.append(f"query: {self.command} {self.path}: client went away mid-answer")
                self.close_connection = True

        def _answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
            if self.path != "/db/neo4j/query/v2":
                return 404, {
                    "errors": [{"code": "Neo.ClientError.Request.Invalid", "message": "Not found"}]
                }
            header = self.headers.get("Authorization", "")
            try:
                username, _, password = (
                    base64.b64decode(header[len("Basic ") :]).decode().partition(":")
                )
            except ValueError:
                username = password = ""
            ready = fake._query_ready(username, password)
            if ready is None:
                return 401, {
                    "errors": [
                        {
                            "code": "Neo.ClientError.Security.Unauthorized",
                            "message": "Invalid username or password.",
                        }
                    ]
                }
            if not ready:
                return 503, {
                    "errors": [
                        {
                            "code": "Neo.TransientError.General.DatabaseUnavailable",
                            "message": "Database unavailable",
                        }
                    ]
                }
            if json.loads(body or b"{}").get("statement") != "RETURN 1":
                return 400, {
                    "errors": [
                        {
                            "code": "Neo.ClientError.Statement.SyntaxError",
                            "message": "unexpected statement",
                        }
                    ]
                }
            return 202, {"data": {"fields": ["1"], "values": [[1]]}, "bookmarks": ["FB:fake"]}

    return QueryHandler


def main() -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Aura API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--running-after",
        type=float,
        default=5.0,
        help="seconds an instance stays 'creating' (default 5)",
    )
    parser.add_argument(
        "--query-ready-after",
        type=float,
        default=0.0,
        help="seconds after running until the new database answers queries (default 0)",
    )
    args = parser.parse_args()
    try:
        try:
            fake = FakeAura(port=args.port)
        except OSError as exc:
            print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
            return 1
        fake.running_after = args.running_after
        fake.query_ready_after = args.query_ready_after
        print("Fake Aura API running. In another shell:", flush=True)
        print(
            f"  export AURA_API_URL={fake.url} AURA_CLIENT_ID={fake.client_id} "
            f"AURA_CLIENT_SECRET={fake.client_secret}",
            flush=True,
        )
        print("  python create_instance.py", flush=True)
        fake.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
