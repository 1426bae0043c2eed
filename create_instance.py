#!/usr/bin/env python3
"""Create a Neo4j Aura database instance and hand over its one-time credentials.

    export AURA_CLIENT_ID=... AURA_CLIENT_SECRET=...
    python create_instance.py --tenant "My project" --name my-instance --wait

The Aura API returns the new instance's password once, in the answer to the
create call. Everything here is arranged around not losing it and not creating
an instance the user did not ask for. A run goes like this:

1. Settings: the constants below, overridden by a `.env` file in the current
   directory, then by the environment, then by flags. Credentials come only
   from the environment or `.env`, never from flags (`ps` would show them).
2. Local checks: everything that can be checked without the network (names,
   sizes, the credentials file's path) is checked first, so a typo costs
   nothing.
3. Token: POST {base}/oauth/token with the client id and secret; renewed once
   if Aura refuses it mid-run.
4. Tenant: a tenant (project) name is turned into its id with GET /v1/tenants;
   an id is used as is.
5. Duplicate guard: GET /v1/instances; an instance with the same name stops
   the run, unless --allow-duplicate-name.
6. Create: POST /v1/instances, sent again only if Aura provably did not act
   on it. After an ambiguous failure the tenant's instances are listed
   instead, to say whether the instance exists. A 400 is explained with the
   tenant's configurations (GET /v1/tenants/{id}), fetched only then.
7. Save, then show: the credentials go to a 0600 file first, then to the
   file GITHUB_OUTPUT names, if set, then to stdout (text, or JSON when the
   run ends). Ctrl-C and SIGTERM wait until they are out.
8. Wait (--wait): poll GET /v1/instances/{id} every 3 s until `running`,
   then probe the database's Query API with RETURN 1 until it answers.

All Aura API requests of a run share one `requests.Session`, so one
connection serves them all, and one urllib3 Retry decides what is resent.
Messages for people go to stderr; stdout carries only the result.

Exit codes: 0 created (or listed, or the dry run passed); 1 the API or the
network failed; 2 usage or configuration error; 3 authentication or
permission refused; 4 --wait: the instance did not become ready; 130
interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import difflib
import ipaddress
import json
import logging
import os
import random
import re
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, NewConnectionError, ResponseError
from urllib3.util.retry import Retry

__all__ = [
    "AuraError",
    "call_endpoint",
    "create_instance",
    "get_configurations",
    "get_instance",
    "get_oauth_token",
    "get_tenant_id",
    "list_instances",
    "main",
    "read_dotenv",
]
__version__ = "1.0.0"

# ---------------------------------------------------------------------------
# Settings: edit these to target your own tenant. The environment, a .env file
# and flags override them for one run (see README.md or --help).
# ---------------------------------------------------------------------------
TENANT = ""  # tenant (project) name or id; empty: the account's only tenant
INSTANCE_NAME = "my-instance"  # 1 to 30 characters, no leading/trailing space
NEO4J_VERSION = "5"
REGION = "europe-west1"
MEMORY = "2GB"
INSTANCE_TYPE = "enterprise-db"  # enterprise-db is Virtual Dedicated Cloud
CLOUD_PROVIDER = "gcp"
STORAGE = ""  # such as "4GB"; empty: not sent, and Aura applies its own default
VECTOR_OPTIMIZED = False
GRAPH_ANALYTICS_PLUGIN = False  # professional-db only
CUSTOMER_MANAGED_KEY_ID = ""  # enterprise-db and enterprise-ds only
API_URL = "https://api.neo4j.io"
# ---------------------------------------------------------------------------

CONNECT_TIMEOUT = 10  # seconds to open a connection
READ_TIMEOUT = 30  # seconds to wait for an answer; --timeout changes it
RETRIES = 4  # resends of one request after a safe-to-retry failure
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_BUDGET = 60  # seconds one request may spend waiting to be resent
BACKOFF_BASE = 0.5  # seconds; the ceiling of the nth wait is BACKOFF_BASE * 2**n
BACKOFF_MAX = 8
MIN_REQUEST_INTERVAL = 60 / 125  # the API allows 125 requests a minute
WAIT_INTERVAL = 3  # seconds between status polls with --wait: 20 a minute
WAIT_TIMEOUT = 900  # creation "can occasionally take up to 10 minutes"
QUERY_TIMEOUT = 120  # seconds after running to wait for the database to answer
QUERY_PROBE_INTERVAL = 1  # seconds between RETURN 1 probes of the new database
QUERY_CONNECT_TIMEOUT = 3
QUERY_READ_TIMEOUT = 5

INSTANCE_TYPES = (
    "enterprise-db",
    "enterprise-ds",
    "business-critical",
    "professional-db",
    "professional-ds",
    "free-db",
)
CLOUD_PROVIDERS = ("gcp", "aws", "azure")
MAX_NAME_LENGTH = 30
KNOWN_STATUSES = frozenset(
    {
        "creating",
        "destroying",
        "running",
        "pausing",
        "paused",
        "suspending",
        "suspended",
        "resuming",
        "loading",
        "loading failed",
        "restoring",
        "updating",
        "overwriting",
    }
)
HOPELESS_STATUSES = frozenset(  # from creating, these never lead to running by themselves
    {"destroying", "pausing", "paused", "suspending", "suspended", "loading failed"}
)

EXIT_OK = 0
EXIT_FAILED = 1  # the API or the network failed
EXIT_USAGE = 2  # usage or configuration error, found before or by the API
EXIT_AUTH = 3  # authentication or permission refused
EXIT_NOT_READY = 4  # --wait: the instance did not become ready
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM

log = logging.getLogger("create_instance")


# ---------------------------------------------------------------------------
# The Aura API client
# ---------------------------------------------------------------------------


class AuraError(Exception):
    """A failure to report in one line, with the exit code it maps to.

    A failed API call also carries the HTTP status, the API's own messages and
    reasons, and the X-Request-Id that Aura support asks for.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = EXIT_FAILED,
        status: int | None = None,
        detail: str = "",
        reasons: tuple[str, ...] = (),
        request_id: str | None = None,
        unsent: bool = False,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.detail = detail
        self.reasons = reasons
        self.request_id = request_id
        self.unsent = unsent  # the request provably never reached the API

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.args[0]} (X-Request-Id {self.request_id})"
        return str(self.args[0])


class _Retry(Retry):
    """urllib3's Retry, made safe for a call that creates billed instances.

    A POST other than the token request is resent only when Aura provably did
    not act on it: a 429, or a connection that never opened. After a read
    timeout, a connection dropped once the request was sent, or a 5xx, Aura may
    have created the instance, and a second POST could create a second one;
    the caller finds out instead (see _create_without_duplicates).

    Waits follow Retry-After when Aura sends it, otherwise exponential backoff
    with full jitter; either way never shorter than the API's rate limit of
    125 requests a minute allows, and never past RETRY_BUDGET seconds in all.
    """

    deadline: float | None = None  # set at the first retry of a request
    wait = 0.0  # seconds before the next attempt: chosen, and logged, by increment()

    def new(self, **kwargs: Any) -> _Retry:
        retry = super().new(**kwargs)
        retry.deadline = self.deadline or time.monotonic() + RETRY_BUDGET
        return retry

    def get_backoff_time(self) -> float:
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempts)
        return max(MIN_REQUEST_INTERVAL, random.uniform(0, ceiling))

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:  # neither whole seconds nor an HTTP date: back off instead
            return None
        return None if seconds is None else max(seconds, MIN_REQUEST_INTERVAL)

    def sleep(self, response: Any = None) -> None:
        # urllib3 would draw a new random backoff here; wait what was logged.
        time.sleep(self.wait)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        not_acted_on = (response is not None and response.status == 429) or (
            error is not None and self._is_connection_error(error)
        )
        if method == "POST" and not _is_token_url(url or "") and not not_acted_on:
            if error is not None:
                raise error.with_traceback(_stacktrace)
            raise MaxRetryError(_pool, url or "", ResponseError("not resent"))  # type: ignore[arg-type]
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = retry.get_retry_after(response) if response is not None else None
        wait = wait if wait is not None else retry.get_backoff_time()
        assert retry.deadline is not None
        if time.monotonic() + wait > retry.deadline:
            raise MaxRetryError(_pool, url or "", error or ResponseError("retry budget spent"))  # type: ignore[arg-type]
        problem = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.info("%s %s: %s; retrying in %.1f s", method, _path_of(url or ""), problem, wait)
        retry.wait = wait
        return retry


def _is_token_url(url: str) -> bool:
    return urlsplit(url).path.endswith("/oauth/token")


class _Api:
    """What every request of the run shares: the session, base URL and token.

    One Session means one connection for the whole run (keep-alive). The
    client id and secret are kept, in memory only, to renew an expired token.
    """

    def __init__(self) -> None:
        self.base_url = API_URL
        self.read_timeout: float = READ_TIMEOUT
        self.client_credentials: tuple[str, str] | None = None
        self.token: str | None = None  # the newest token of the run
        self.superseded: set[str] = set()  # tokens replaced by a renewal
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = (
                f"create_instance.py/{__version__} {requests.utils.default_user_agent()}"
            )
            retry = _Retry(
                total=RETRIES,
                allowed_methods=frozenset({"GET", "POST"}),
                status_forcelist=RETRY_STATUSES,
                raise_on_status=False,
            )
            adapter = HTTPAdapter(max_retries=retry)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.hooks["response"].append(_log_response)
            self._session = session
        return self._session

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request; a network failure becomes an AuraError."""
        try:
            return self.session.request(
                method, url, timeout=(CONNECT_TIMEOUT, self.read_timeout), **kwargs
            )
        except requests.RequestException as exc:
            problem, unsent = _network_problem(exc)
            raise AuraError(f"{method} {_path_of(url)} failed: {problem}", unsent=unsent) from None


_api = _Api()


def get_oauth_token(client_id: str, client_secret: str) -> str:
    """Return an access token for the Aura API (valid for about an hour).

    The token stays in memory; it is never written anywhere. The credentials
    are kept in memory too, so that call_endpoint can renew an expired token.
    """
    response = _api.send(
        "POST",
        f"{_api.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
    )
    if not response.ok:
        error = _error_from(response, "the token request")
        if 400 <= response.status_code < 500 and response.status_code != 429:
            error.exit_code = EXIT_AUTH
            # Only a 401 means the credentials are wrong; 400, 403 and 404 mean the
            # request was malformed, which better credentials would not fix.
            advice = (
                "; check AURA_CLIENT_ID and AURA_CLIENT_SECRET"
                if response.status_code == 401
                else ""
            )
            error.args = (
                f"authentication failed (HTTP {response.status_code}: {error.detail}){advice}",
            )
        raise error
    token = _json_of(response, "the token request").get("access_token")
    if not isinstance(token, str) or not token:
        raise AuraError("the token request succeeded but its answer has no access_token")
    _api.client_credentials = (client_id, client_secret)
    _api.token = token
    return token


def call_endpoint(
    path: str, method: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call the Aura API at {base}/v1{path} and return the decoded JSON answer.

    `body`, if given, is sent as JSON. A token that Aura refuses (it answers
    403 once a token expires) is renewed once and the call sent again; a
    refused call was not carried out, so this is safe even for a POST. A
    token an earlier call has renewed is swapped for the newest, so a caller
    that still holds the old one is not refused again. Any failure raises
    AuraError with the API's messages and X-Request-Id.
    """
    if token in _api.superseded and _api.token:
        token = _api.token
    what = f"{method} /v1{path}"
    response = _request(method, path, token, body)
    if response.status_code in (401, 403) and _api.client_credentials:
        log.info(
            "%s: HTTP %s, the token may have expired; getting a new one", what, response.status_code
        )
        _api.superseded.add(token)
        response = _request(method, path, get_oauth_token(*_api.client_credentials), body)
        if response.status_code in (401, 403):
            error = _error_from(response, what)
            error.args = (
                f"{error.args[0]} (also with a new token: the API credentials may "
                "lack permission for this)",
            )
            raise error
    if not response.ok:
        raise _error_from(response, what)
    return _json_of(response, what)


def _request(method: str, path: str, token: str, body: dict[str, Any] | None) -> requests.Response:
    return _api.send(
        method,
        f"{_api.base_url}/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )


def _log_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """--verbose: one line per request. Headers and bodies are never logged."""
    if log.isEnabledFor(logging.DEBUG):
        parts = urlsplit(response.url)
        log.debug(
            "%s %s%s -> %s in %.0f ms%s",
            response.request.method,
            parts.path,
            f"?{parts.query}" if parts.query else "",
            response.status_code,
            response.elapsed.total_seconds() * 1000,
            f", X-Request-Id {response.headers['X-Request-Id']}"
            if "X-Request-Id" in response.headers
            else "",
        )


def get_tenant_id(tenant: str, token: str) -> str:
    """Return the id of the tenant (project) named or identified by `tenant`.

    A value shaped like a tenant id (a UUID) is used as is, with no request:
    the API rejects an id that does not exist when it is used. Otherwise the
    value may be an id or an exact name from GET /tenants. An empty value
    means the account's only tenant.
    """
    if _TENANT_ID.fullmatch(tenant):
        return tenant
    tenants = _data_list(call_endpoint("/tenants", "GET", token), "GET /v1/tenants")
    return _pick_tenant(tenant, tenants)


def create_instance(token: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create an instance from `spec` (the POST /instances body); return its `data`.

    The answer holds the one-time password: it cannot be fetched again.
    """
    answer = call_endpoint("/instances", "POST", token, spec)
    data = answer.get("data")
    if not isinstance(data, dict) or not data.get("id"):
        raise AuraError(
            "POST /v1/instances was accepted but its answer has no instance data; "
            "check the Aura console before trying again"
        )
    return data


def list_instances(token: str, tenant_id: str) -> list[dict[str, Any]]:
    """The instances of one tenant: id, name and so on, but no status."""
    path = f"/instances?tenantId={quote(tenant_id, safe='')}"
    return _data_list(call_endpoint(path, "GET", token), f"GET /v1{path}")


def get_instance(token: str, instance_id: str) -> dict[str, Any]:
    """One instance's details, with its status (never its password)."""
    path = f"/instances/{quote(instance_id, safe='')}"
    return _data_object(call_endpoint(path, "GET", token), f"GET /v1{path}")


def get_configurations(token: str, tenant_id: str) -> list[dict[str, Any]]:
    """The instance configurations (type, cloud, region, memory, storage, version)
    that a tenant may create."""
    path = f"/tenants/{quote(tenant_id, safe='')}"
    tenant = _data_object(call_endpoint(path, "GET", token), f"GET /v1{path}")
    configurations = tenant.get("instance_configurations")
    if not isinstance(configurations, list):
        raise AuraError(f"GET /v1{path} answered without instance_configurations")
    return [c for c in configurations if isinstance(c, dict)]


_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _pick_tenant(wanted: str, tenants: list[dict[str, Any]]) -> str:
    """Choose from GET /tenants: an exact id, else an exact name, else the only one."""
    listing = _tenant_listing(tenants)
    if not wanted:
        if len(tenants) == 1:
            return str(tenants[0]["id"])
        if not tenants:
            raise AuraError("the account has no tenants (projects)", exit_code=EXIT_USAGE)
        raise AuraError(
            f"the account has {len(tenants)} tenants; choose one with --tenant or "
            f"AURA_TENANT: {listing}",
            exit_code=EXIT_USAGE,
        )
    for tenant in tenants:
        if tenant.get("id") == wanted:
            return wanted
    ids = [str(t.get("id")) for t in tenants if t.get("name") == wanted]
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise AuraError(
            f"{len(ids)} tenants are named {wanted!r}; give the id instead: {', '.join(ids)}",
            exit_code=EXIT_USAGE,
        )
    near = [t.get("name") for t in tenants if str(t.get("name")).casefold() == wanted.casefold()]
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise AuraError(
        f"no tenant is named {wanted!r}; the account has: {listing or 'none'}.{hint}",
        exit_code=EXIT_USAGE,
    )


def _tenant_listing(tenants: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t.get('name')!r} ({t.get('id')})" for t in tenants)


def _json_of(response: requests.Response, what: str) -> dict[str, Any]:
    """Decode a successful answer, which the API always makes a JSON object."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise AuraError(
            f"{what} answered HTTP {response.status_code} with {_describe_body(response)}, "
            "not the JSON object the API sends",
            request_id=response.headers.get("X-Request-Id"),
        )
    return payload


def _data_list(answer: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The `data` array of a list answer, or an AuraError if it has none."""
    data = answer.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise AuraError(f"{what} answered without the expected data list")
    return data


def _data_object(answer: dict[str, Any], what: str) -> dict[str, Any]:
    """The `data` object of an answer, or an AuraError if it has none."""
    data = answer.get("data")
    if not isinstance(data, dict):
        raise AuraError(f"{what} answered without the expected data object")
    return data


def _error_from(response: requests.Response, what: str) -> AuraError:
    """Turn a failed answer into an AuraError with the API's messages.

    The API answers errors in two shapes, {"errors": [{"message", "reason",
    "field"}]} and the middleware's {"error": "..."}; proxies answer HTML.
    """
    messages: list[str] = []
    reasons: list[str] = []
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        for item in payload["errors"]:
            if not isinstance(item, dict):
                continue
            text = str(item.get("message") or item.get("reason") or "")
            if item.get("field"):
                text = f"{item['field']}: {text}"
            messages.append(text)
            if item.get("reason"):
                reasons.append(str(item["reason"]))
    elif isinstance(payload, dict) and payload.get("error"):
        text = str(payload["error"])
        if payload.get("error_description"):
            text = f"{text}: {payload['error_description']}"
        messages.append(text)
    else:
        messages.append(_describe_body(response))
    status = response.status_code
    detail = "; ".join(messages)
    return AuraError(
        f"{what} failed with HTTP {status}: {detail}",
        exit_code=EXIT_AUTH if status in (401, 403) else EXIT_FAILED,
        status=status,
        detail=detail,
        reasons=tuple(reasons),
        request_id=response.headers.get("X-Request-Id"),
    )


def _describe_body(response: requests.Response) -> str:
    """A short, safe description of a body that is not the API's JSON."""
    text = response.text.strip()
    if not text:
        return "an empty body"
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title:
        return f"an HTML page titled {title.group(1).strip()[:80]!r}"
    kind = response.headers.get("Content-Type", "unknown type").split(";")[0]
    if _is_token_url(response.url or ""):  # whatever it is, it may carry a token
        return f"a {kind} body"
    return f"a {kind} body starting {text[:80]!r}"


def _network_problem(exc: requests.RequestException) -> tuple[str, bool]:
    """One line for a network failure, and whether the request was never sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return "no connection in time (connect timeout)", True
    if isinstance(exc, requests.Timeout):
        return "no answer in time (read timeout)", False
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate check failed", False
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused or dropped the connection", False
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError):
            if "Name or service not known" in str(cause.reason) or "getaddrinfo" in str(
                cause.reason
            ):
                return "the host name could not be resolved", True
            return "the connection could not be opened (refused or unreachable)", True
        return "the connection was dropped before an answer came", False
    return type(exc).__name__, False


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


# ---------------------------------------------------------------------------
# The command line: settings, checks, create, deliver, wait
# ---------------------------------------------------------------------------


def read_dotenv(path: str = ".env") -> dict[str, str]:
    """Read KEY=VALUE lines from a .env file; a missing file is an empty one.

    Understands `#` comments, optional quotes and an `export ` prefix. A line
    that is none of these is an error (it may be a mistyped secret), reported
    by line number and never echoed.
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise AuraError(f"{path} is not UTF-8 text", exit_code=EXIT_USAGE) from None
    except OSError as exc:
        raise AuraError(f"cannot read {path}: {exc.strerror}", exit_code=EXIT_USAGE) from None
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, equals, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise AuraError(f"{path} line {number} is not KEY=VALUE", exit_code=EXIT_USAGE)
        quoted = re.fullmatch(r"""(["'])(.*?)\1(\s+#.*)?""", value)
        values[key] = quoted.group(2) if quoted else re.split(r"\s+#", value, maxsplit=1)[0]
    return values


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line and the documented exit code."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _seconds(text: str) -> float:
    """An argparse type: a duration in seconds, more than zero and at most a day."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    # `not (...)` also catches nan, for which every comparison is false.
    if not (0 < seconds <= 86400):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds between 0 and 86400")
    return seconds


def _shown(constant: str, when_empty: str) -> str:
    """A string constant as --help shows it as a default."""
    return repr(constant) if constant else when_empty


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="create_instance.py",
        description="Create a Neo4j Aura instance and print its one-time credentials. "
        "AURA_CLIENT_ID and AURA_CLIENT_SECRET must be set in the environment or "
        "in a .env file in the current directory.",
        epilog="Exit codes: 0 created (or listed, or dry run passed); 1 the API or the "
        "network failed; 2 usage or configuration error; 3 authentication or permission "
        "refused; 4 --wait: the instance did not become ready; 130 interrupted; 143 "
        "terminated.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--tenant",
        help="tenant (project) name or id (env AURA_TENANT; default "
        f"{_shown(TENANT, 'the only tenant of the account')})",
    )
    parser.add_argument(
        "--name", help=f"instance name (env AURA_INSTANCE_NAME; default {INSTANCE_NAME!r})"
    )
    parser.add_argument(
        "--api-url", help=f"Aura API base URL (env AURA_API_URL; default {API_URL})"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=READ_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds to wait for each answer from the API (default {READ_TIMEOUT})",
    )

    spec = parser.add_argument_group(
        "instance spec",
        "Defaults are the constants at the top of the script. "
        "--list-configurations shows what the tenant offers.",
    )
    spec.add_argument("--neo4j-version", help=f"Neo4j version (default {NEO4J_VERSION!r})")
    spec.add_argument("--region", help=f"cloud region (default {REGION!r})")
    spec.add_argument("--memory", help=f"memory size such as 2GB (default {MEMORY!r})")
    spec.add_argument(
        "--storage",
        help=f"storage size such as 4GB (default {_shown(STORAGE, 'none sent: Aura decides')})",
    )
    spec.add_argument(
        "--type", choices=INSTANCE_TYPES, help=f"instance type (default {INSTANCE_TYPE!r})"
    )
    spec.add_argument(
        "--cloud-provider",
        choices=CLOUD_PROVIDERS,
        help=f"cloud provider (default {CLOUD_PROVIDER!r})",
    )
    spec.add_argument(
        "--vector-optimized",
        action=argparse.BooleanOptionalAction,
        help=f"optimize the instance for vector search (default {VECTOR_OPTIMIZED})",
    )
    spec.add_argument(
        "--graph-analytics-plugin",
        action=argparse.BooleanOptionalAction,
        help=f"install the Graph Analytics plugin; professional-db only "
        f"(default {GRAPH_ANALYTICS_PLUGIN})",
    )
    spec.add_argument(
        "--source-instance-id", metavar="ID", help="clone the new instance from this instance"
    )
    spec.add_argument(
        "--source-snapshot-id",
        metavar="ID",
        help="clone from this (exportable) snapshot of --source-instance-id",
    )
    spec.add_argument(
        "--customer-managed-key-id",
        metavar="ID",
        help="encrypt with this customer managed key; enterprise-db and enterprise-ds only",
    )

    run = parser.add_argument_group("what to do")
    run.add_argument(
        "--allow-duplicate-name",
        action="store_true",
        help="create even if the tenant has an instance with the same name",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="run every check, print the JSON body that would be sent, create nothing",
    )
    run.add_argument(
        "--list-configurations",
        action="store_true",
        help="print the configurations the tenant offers, then exit",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="after printing the credentials, wait until the instance answers a query",
    )
    run.add_argument(
        "--wait-for",
        choices=("query", "running"),
        help="with --wait (implied): 'query' waits until the database answers a query "
        "(default); 'running' stops when the API reports the instance running",
    )
    run.add_argument(
        "--wait-timeout",
        type=_seconds,
        default=WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up waiting after this long, with exit code 4 (default {WAIT_TIMEOUT})",
    )

    run.add_argument(
        "--query-timeout",
        type=_seconds,
        default=QUERY_TIMEOUT,
        metavar="SECONDS",
        help="--wait-for query: stop probing this long after running, with exit code 0 "
        f"and a warning (default {QUERY_TIMEOUT})",
    )

    output = parser.add_argument_group("credentials and output")
    output.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="text: four labelled lines (default); json: one JSON object on stdout",
    )
    credentials_file = output.add_mutually_exclusive_group()
    credentials_file.add_argument(
        "--credentials-file",
        metavar="PATH",
        help="where to save the credentials (default: Neo4j-<id>-Created-<date>.txt here, "
        "as the Aura console names it); never overwritten",
    )
    credentials_file.add_argument(
        "--no-credentials-file",
        action="store_true",
        help="do not save the credentials; stdout is then the only copy of the password",
    )
    verbosity = output.add_mutually_exclusive_group()
    verbosity.add_argument(
        "--quiet",
        action="store_true",
        help="only the result on stdout (in text mode without the password when the "
        "credentials file has it) and only warnings and errors on stderr",
    )
    verbosity.add_argument(
        "--verbose",
        action="store_true",
        help="log each request (method, path, status, duration, X-Request-Id) to stderr",
    )
    return parser


def _setting(flag: str | None, variable: str, dotenv: dict[str, str], default: str) -> str:
    """Flag, then environment, then .env, then the constant.

    A variable that is set but blank is an error rather than a silent fallback
    to the constant: in CI it is usually a secret or variable that did not
    expand, and the fallback would create an instance nobody asked for.
    """
    if flag is not None:
        return flag
    for source, value in (
        ("environment", os.environ.get(variable)),
        (".env", dotenv.get(variable)),
    ):
        if value is not None:
            if not value.strip():
                raise AuraError(
                    f"{variable} is set but blank in the {source}; give it a value or unset it",
                    exit_code=EXIT_USAGE,
                )
            return value
    return default


def _check_api_url(url: str) -> str:
    """The base URL without a trailing slash; https unless the host is loopback."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AuraError(f"API URL {url!r} is not an http(s) URL", exit_code=EXIT_USAGE)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise AuraError(
            f"API URL {url!r} must use https (plain http only for localhost)",
            exit_code=EXIT_USAGE,
        )
    if parts.path.rstrip("/") or parts.query or parts.fragment:
        raise AuraError(
            f"API URL {url!r} must be the base URL without a path, such as {API_URL}",
            exit_code=EXIT_USAGE,
        )
    return f"{parts.scheme}://{parts.netloc}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _spec_from(args: argparse.Namespace, dotenv: dict[str, str]) -> dict[str, Any]:
    """The POST /instances body, less tenant_id, from flags and constants.

    Optional fields are present only when they are wanted: the API's defaults
    stay the API's business.
    """
    spec: dict[str, Any] = {
        "version": args.neo4j_version or NEO4J_VERSION,
        "region": args.region or REGION,
        "memory": args.memory or MEMORY,
        "name": _setting(args.name, "AURA_INSTANCE_NAME", dotenv, INSTANCE_NAME),
        "type": args.type or INSTANCE_TYPE,
        "cloud_provider": args.cloud_provider or CLOUD_PROVIDER,
    }
    optional = {
        "storage": args.storage or STORAGE,
        "vector_optimized": _flag_or_default(args.vector_optimized, VECTOR_OPTIMIZED),
        "graph_analytics_plugin": _flag_or_default(
            args.graph_analytics_plugin, GRAPH_ANALYTICS_PLUGIN
        ),
        "source_instance_id": args.source_instance_id,
        "source_snapshot_id": args.source_snapshot_id,
        "customer_managed_key_id": args.customer_managed_key_id or CUSTOMER_MANAGED_KEY_ID,
    }
    spec.update((key, value) for key, value in optional.items() if value)
    return spec


def _flag_or_default(flag: bool | None, default: bool) -> bool:
    # Not argparse's default=: before 3.11, BooleanOptionalAction appends its own
    # "(default: ...)" to the help text whenever a default is set.
    return default if flag is None else flag


def _check_spec(spec: dict[str, Any]) -> None:
    """The checks that need no network: each failure is one line, exit 2."""
    name = spec["name"]
    problem = None
    if not name.strip():
        problem = "the instance name is empty"
    elif name != name.strip():
        problem = f"the instance name {name!r} has leading or trailing whitespace"
    elif len(name) > MAX_NAME_LENGTH:
        problem = (
            f"the instance name is {len(name)} characters long; Aura allows at most "
            f"{MAX_NAME_LENGTH}"
        )
    elif spec["type"] not in INSTANCE_TYPES:
        problem = f"instance type {spec['type']!r} is not one of {', '.join(INSTANCE_TYPES)}"
    elif spec["cloud_provider"] not in CLOUD_PROVIDERS:
        problem = (
            f"cloud provider {spec['cloud_provider']!r} is not one of {', '.join(CLOUD_PROVIDERS)}"
        )
    elif not _SIZE.fullmatch(spec["memory"]):
        problem = f"memory {spec['memory']!r} is not a size such as 2GB"
    elif "storage" in spec and not _SIZE.fullmatch(spec["storage"]):
        problem = f"storage {spec['storage']!r} is not a size such as 4GB"
    elif "storage" in spec and spec["type"] == "free-db":
        problem = "free-db instances have no storage setting; leave --storage out"
    elif spec.get("graph_analytics_plugin") and spec["type"] != "professional-db":
        problem = "--graph-analytics-plugin is only for professional-db instances"
    elif spec.get("customer_managed_key_id") and spec["type"] not in (
        "enterprise-db",
        "enterprise-ds",
    ):
        problem = "a customer managed key is only for enterprise-db and enterprise-ds instances"
    elif "source_snapshot_id" in spec and "source_instance_id" not in spec:
        problem = "--source-snapshot-id needs --source-instance-id (the snapshot's instance)"
    if problem:
        raise AuraError(problem, exit_code=EXIT_USAGE)


_SIZE = re.compile(r"[0-9]+(\.[0-9]+)?GB")
_CONFIGURATION_KEYS = ("type", "cloud_provider", "region", "version", "memory", "storage")


def _configuration_problem(spec: dict[str, Any], offered: list[dict[str, Any]]) -> str | None:
    """None if the tenant offers what `spec` asks for; else what it offers nearest to it.

    Narrows down as Aura's choices do: type, then cloud and region, then
    version, then memory and storage; the first step that fails is explained.
    """
    keys = [key for key in _CONFIGURATION_KEYS if key in spec]
    if any(all(c.get(key) == spec[key] for key in keys) for c in offered):
        return None
    wanted = f"{spec['type']} with {spec['memory']} in {spec['cloud_provider']} {spec['region']}"
    of_type = [c for c in offered if c.get("type") == spec["type"]]
    if not of_type:
        types = sorted({str(c.get("type")) for c in offered})
        return f"the tenant offers no {spec['type']} instances; it offers: {', '.join(types)}"
    here = [
        c
        for c in of_type
        if (c.get("cloud_provider"), c.get("region")) == (spec["cloud_provider"], spec["region"])
    ]
    if not here:
        clouds: dict[str, set[str]] = {}
        for c in of_type:
            clouds.setdefault(str(c.get("cloud_provider")), set()).add(str(c.get("region")))
        elsewhere = sorted(cloud for cloud, regions in clouds.items() if spec["region"] in regions)
        if elsewhere:
            hint = f" {spec['region']} is a region of {' and '.join(elsewhere)}."
        else:
            every_region = sorted(set().union(*clouds.values()))
            near = difflib.get_close_matches(spec["region"], every_region, 1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
        where = "; ".join(f"{cloud}: {', '.join(sorted(r))}" for cloud, r in sorted(clouds.items()))
        return f"{wanted} is not offered.{hint} {spec['type']} is offered in {where}"
    versions = sorted({str(c.get("version")) for c in here})
    if spec["version"] not in versions:
        return f"Neo4j version {spec['version']!r} is not offered for {wanted}; offered: " + (
            ", ".join(versions)
        )
    sizes = [c for c in here if c.get("version") == spec["version"]]
    memories = sorted({str(c.get("memory")) for c in sizes}, key=_gigabytes)
    if spec["memory"] not in memories:
        return (
            f"{spec['type']} in {spec['cloud_provider']} {spec['region']} comes with memory "
            f"{', '.join(memories)}, not {spec['memory']}"
        )
    storages = sorted({str(c.get("storage")) for c in sizes if c.get("memory") == spec["memory"]})
    return f"with {spec['memory']} memory, storage is {', '.join(storages)}, not {spec['storage']}"


def _gigabytes(size: Any) -> float:
    match = _SIZE.fullmatch(str(size))
    return float(match.group(0)[:-2]) if match else float("inf")


def _configurations_table(offered: list[dict[str, Any]]) -> str:
    """The tenant's configurations, in the order given, as an aligned text table."""
    header = ("TYPE", "CLOUD", "REGION", "REGION NAME", "MEMORY", "STORAGE", "VERSION")
    rows = [header] + [
        tuple(
            str(c.get(key, ""))
            for key in (
                "type",
                "cloud_provider",
                "region",
                "region_name",
                "memory",
                "storage",
                "version",
            )
        )
        for c in offered
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n"
        for row in rows
    )


def _sorted_configurations(offered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        offered,
        key=lambda c: (
            str(c.get("type")),
            str(c.get("cloud_provider")),
            str(c.get("region")),
            str(c.get("version")),
            _gigabytes(c.get("memory")),
            _gigabytes(c.get("storage")),
        ),
    )


def _fill_free_spec(
    spec: dict[str, Any], args: argparse.Namespace, offered: list[dict[str, Any]]
) -> None:
    """free-db comes in one configuration: take it, except for what flags set."""
    free = [c for c in offered if c.get("type") == "free-db"]
    if not free:
        return  # _configuration_problem explains
    flags = {
        "cloud_provider": args.cloud_provider,
        "region": args.region,
        "memory": args.memory,
        "version": args.neo4j_version,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    # The free configuration that fits the flags given, if there is one.
    chosen = next(
        (c for c in free if all(c.get(key) == value for key, value in given.items())), free[0]
    )
    for key in flags:
        if key not in given and chosen.get(key):
            spec[key] = chosen[key]
    log.info(
        "free-db: %s %s with %s; what no flag set comes from the tenant's free configuration.",
        spec["cloud_provider"],
        spec["region"],
        spec["memory"],
    )


def _check_credentials_path(path: str | None) -> None:
    """Refuse, before anything is created, a credentials file that cannot be written."""
    directory = os.path.dirname(path or "") or "."
    if path and os.path.lexists(path):
        raise AuraError(
            f"credentials file {path} already exists; it is never overwritten",
            exit_code=EXIT_USAGE,
        )
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise AuraError(
            f"cannot write the credentials file in {directory}; choose another place with "
            "--credentials-file PATH, or --no-credentials-file",
            exit_code=EXIT_USAGE,
        )


def _default_credentials_path(instance: dict[str, Any]) -> str:
    """The Aura console's file name. The id comes from the API: keep it to a safe name."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", str(instance.get("id")))
    return f"Neo4j-{safe_id}-Created-{datetime.date.today().isoformat()}.txt"


def _save_credentials(instance: dict[str, Any], path: str) -> None:
    """Write the credentials in the Aura console's format, which also works as a .env file.

    The file is created with mode 0600, so it is never readable by others,
    not even for a moment; an existing file is never replaced; and the data
    is on disk before this returns.
    """
    content = "".join(
        f"{line}\n"
        for line in (
            "# Wait 60 seconds before connecting using these details, or login to "
            "https://console.neo4j.io to validate the Aura Instance is available",
            f"NEO4J_URI={instance.get('connection_url') or ''}",
            f"NEO4J_USERNAME={instance.get('username') or ''}",
            f"NEO4J_PASSWORD={instance.get('password') or ''}",
            "NEO4J_DATABASE=neo4j",
            f"AURA_INSTANCEID={instance.get('id') or ''}",
            f"AURA_INSTANCENAME={instance.get('name') or ''}",
        )
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


def _write_stdout(text: str) -> bool:
    """Write to stdout; False if nobody reads it any more (`| head -1` went away)."""
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        return False
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except (BrokenPipeError, ValueError):
        # Point stdout at /dev/null so the interpreter's final flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def _show(text: str) -> None:
    """Write a result that is the whole point of the run; a closed stdout is an error."""
    if not _write_stdout(text):
        raise AuraError("stdout was closed before the result could be written")


def _write_stderr(text: str) -> None:
    """Write to stderr if it is there: a closed stderr must not stop the password."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # None when closed (`2>&-`)
        sys.stderr.write(text)
        sys.stderr.flush()


def _save_and_show(
    instance: dict[str, Any], args: argparse.Namespace
) -> tuple[dict[str, Any], int]:
    """Save the credentials, hand them to CI, then (in text mode) print them.

    Returns the result for JSON output and the exit code so far. The file
    comes first: whatever happens to stdout afterwards (a closed pipe,
    Ctrl-C), the one-time password is already on disk.
    """
    result = dict(instance)
    exit_code = EXIT_OK
    password = str(instance.get("password") or "")
    on_github = os.environ.get("GITHUB_ACTIONS") == "true"
    if on_github and password:
        # The runner reads workflow commands from stderr as well as stdout, and
        # stderr is the stream a calling script does not capture.
        _write_stderr(f"::add-mask::{password}\n")
    if args.no_credentials_file:
        log.info("No credentials file (--no-credentials-file): stdout is the only copy.")
    else:
        path = args.credentials_file or _default_credentials_path(instance)
        try:
            _save_credentials(instance, path)
            result["credentials_file"] = path
            log.info("Credentials saved to %s (readable only by you).", path)
        except OSError as exc:
            log.warning(
                "warning: could not save the credentials to %s (%s); stdout has the only "
                "copy of the password: keep it now",
                path,
                exc.strerror or exc,
            )
            exit_code = EXIT_FAILED
    if os.environ.get("GITHUB_OUTPUT"):
        exit_code = max(exit_code, _write_github_outputs(os.environ["GITHUB_OUTPUT"], result))

    if args.output == "text":
        # A missing value prints as nothing, never as "None", which reads like a password.
        lines = [f"Instance ID {instance.get('id')}", f"Username {instance.get('username') or ''}"]
        if not (args.quiet and "credentials_file" in result):
            if on_github and password:
                # Also on stdout, so that anything replaying stdout into the log masks it.
                lines.append(f"::add-mask::{password}")
            lines.append(f"Password {password}")
        lines.append(f"Connection URI {instance.get('connection_url') or ''}")
        if not _write_stdout("".join(f"{line.rstrip()}\n" for line in lines)):
            exit_code = max(exit_code, _stdout_closed(result))
    missing = [key for key in ("password", "connection_url") if not instance.get(key)]
    if missing:
        log.error(
            "error: instance %s was created, but the API's answer had no %s; find it in "
            "the Aura console (a lost password can be reset there)",
            instance.get("id"),
            " and no ".join(missing),
        )
        exit_code = EXIT_FAILED
    return result, exit_code


def _write_github_outputs(path: str, result: dict[str, Any]) -> int:
    """Append the step outputs in GitHub's format; multi-line values as heredocs."""
    outputs = {
        "instance_id": result.get("id"),
        "instance_name": result.get("name"),
        "connection_uri": result.get("connection_url"),
        "username": result.get("username"),
        "password": result.get("password"),
        "credentials_file": result.get("credentials_file"),
    }
    text = ""
    for name, value in outputs.items():
        value = "" if value is None else str(value)
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
            text += f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            text += f"{name}={value}\n"
    try:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        log.warning(
            "warning: could not write the step outputs to GITHUB_OUTPUT (%s)", exc.strerror or exc
        )
        return EXIT_FAILED
    return EXIT_OK


def _stdout_closed(result: dict[str, Any]) -> int:
    if "credentials_file" in result:
        log.warning(
            "warning: stdout was closed; the credentials are in %s", result["credentials_file"]
        )
        return EXIT_OK
    log.error(
        "error: stdout was closed and no credentials file was written: the password "
        "is lost; reset it in the Aura console"
    )
    return EXIT_FAILED


def _create_without_duplicates(
    token: str, spec: dict[str, Any], known_ids: set[str]
) -> dict[str, Any]:
    """create_instance, and after a failure that may have created it, find out.

    A read timeout, a dropped connection or a 5xx after the POST was sent
    leaves it unknown whether Aura created the instance. Sending the POST
    again could create a second, billed one; instead, look for an instance
    with the name that was not there before.
    """
    try:
        return create_instance(token, spec)
    except AuraError as failure:
        if failure.unsent or (failure.status is not None and failure.status < 500):
            raise
        log.warning(
            "warning: %s; the instance may or may not exist now. Not resending the create "
            "call (that could create a second instance); checking the tenant's instances.",
            failure,
        )
        try:
            appeared = [
                instance
                for instance in list_instances(token, spec["tenant_id"])
                if instance.get("name") == spec["name"] and instance.get("id") not in known_ids
            ]
        except AuraError as check:
            raise AuraError(
                f"the create call failed ({failure}) and the check failed too ({check}); "
                f"look for an instance named {spec['name']!r} in the Aura console before "
                "running again"
            ) from None
        if appeared:
            raise AuraError(
                f"instance {', '.join(str(i.get('id')) for i in appeared)} named "
                f"{spec['name']!r} was created, but its password was lost with the failed "
                "answer; delete it or reset its password in the Aura console"
            ) from None
        raise AuraError(
            f"the create call failed ({failure}) and no instance named {spec['name']!r} "
            "appeared: nothing was created, and it is safe to run again"
        ) from None


def _explain_rejection(token: str, spec: dict[str, Any], rejection: AuraError) -> AuraError:
    """Turn a 400 from the create call into what the tenant offers instead.

    The configurations are fetched only now, after Aura said no: a check
    before every create would cost each successful run a round trip, and
    Aura checks the combination itself anyway, creating nothing when it
    rejects it.
    """
    if "tenant-not-found" in rejection.reasons:
        return _unknown_tenant(token, spec["tenant_id"])
    try:
        problem = _configuration_problem(spec, get_configurations(token, spec["tenant_id"]))
    except AuraError:
        problem = None
    # No problem found means another reason (missing billing details, say): Aura's
    # own message then. Either way a 400 created nothing, and the fix is the user's.
    return AuraError(f"{problem or rejection} (nothing was created)", exit_code=EXIT_USAGE)


def _unknown_tenant(token: str, tenant_id: str) -> AuraError:
    try:
        tenants = _data_list(call_endpoint("/tenants", "GET", token), "GET /v1/tenants")
        listing = _tenant_listing(tenants)
    except AuraError:
        listing = "(the list could not be fetched)"
    return AuraError(
        f"no tenant has the id {tenant_id}; the account has: {listing}", exit_code=EXIT_USAGE
    )


@contextlib.contextmanager
def _interrupts_deferred(reason: str) -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM from the create call until the password is out.

    The block covers the create call, the check after an ambiguous failure,
    and saving and printing the credentials. The first signal is reported and
    acted on when the block ends. Only a second Ctrl-C, a user at the terminal
    who insists, stops it at once; a supervisor's SIGTERM after a SIGINT
    (GitHub Actions cancels a job that way) waits like the first.
    """
    received: list[int] = []

    def defer(signum: int, frame: Any) -> None:
        # Record before anything else: another signal's handler can run in
        # the middle of this one, and must see this one as received.
        repeated = signum in received
        received.append(signum)
        if signum == signal.SIGINT and repeated:
            log.error(
                "error: stopped during the create call; an instance may have been created "
                "whose password is lost: look for it in the Aura console"
            )
            raise _Stopped(signum)
        if len(received) == 1:
            log.warning(
                "%s: %s; stopping right after.%s",
                "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name,
                reason,
                " Press it again to stop at once." if signum == signal.SIGINT else "",
            )

    previous = {signum: signal.signal(signum, defer) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        # Which came first can be a race between handlers; Ctrl-C, a person's, wins.
        raise _Stopped(signal.SIGINT if signal.SIGINT in received else received[0])


class _Stopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: unwinds like Ctrl-C, so the credentials still get out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: Any) -> None:
    raise _Stopped(signum)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Progress:
    """Status on stderr: one line rewritten in place on a terminal, else a line per change."""

    def __init__(self) -> None:
        self.on_terminal = (
            sys.stderr is not None and sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
        )
        self.last: str | None = None

    def show(self, status: str, elapsed: float) -> None:
        note = "" if status in KNOWN_STATUSES else " (a status this script does not know)"
        if self.on_terminal:
            _write_stderr(f"\r\x1b[KInstance status: {status}{note}, {elapsed:.0f} s")
        elif status != self.last:
            log.info("Instance status: %s%s, after %.0f s", status, note, elapsed)
        self.last = status

    def close(self) -> None:
        if self.on_terminal and self.last is not None:
            _write_stderr("\n")


def _wait_until_running(
    token: str, instance_id: str, timeout: float, result: dict[str, Any]
) -> None:
    """Poll the instance until it runs; keep result["status"] current.

    One poll every WAIT_INTERVAL seconds notices the change within that time
    while staying far below the API's rate limit. Transient failures do not
    end the wait (the instance is being created regardless); a status that
    cannot lead to running, or a 404, does, with exit code 4.
    """
    started = time.monotonic()
    deadline = started + timeout
    progress = _Progress()
    try:
        while True:
            poll_at = time.monotonic()
            try:
                result["status"] = str(get_instance(token, instance_id).get("status"))
            except AuraError as exc:
                if exc.status == 404:
                    raise AuraError(
                        f"instance {instance_id} is gone (HTTP 404) while waiting for it",
                        exit_code=EXIT_NOT_READY,
                    ) from None
                if exc.exit_code == EXIT_AUTH:
                    raise
                log.warning("warning: %s; still waiting", exc)
            else:
                progress.show(result["status"], poll_at - started)
                if result["status"] == "running":
                    return
                if result["status"] in HOPELESS_STATUSES:
                    raise AuraError(
                        f"instance {instance_id} is {result['status']!r}, so it will not "
                        "become running",
                        exit_code=EXIT_NOT_READY,
                    )
            next_poll = poll_at + WAIT_INTERVAL
            if next_poll > deadline:
                # No early last poll: that would break the spacing of the polls.
                time.sleep(max(0.0, deadline - time.monotonic()))
                raise AuraError(
                    f"instance {instance_id} is still {result.get('status', 'unknown')!r} "
                    f"after {timeout:g} s of waiting; it may still become ready (see the "
                    "Aura console)",
                    exit_code=EXIT_NOT_READY,
                )
            time.sleep(max(0.0, next_poll - time.monotonic()))
    except KeyboardInterrupt:
        log.warning("Stopped waiting; instance %s keeps starting.", instance_id)
        raise
    finally:
        progress.close()


def _query_api_url(connection_url: str) -> str | None:
    """The new database's Query API endpoint, on the host of its connection URL.

    Aura serves it over HTTPS on port 443 of that host. Plain http (and the
    URL's port) only for a loopback host, which is what the tests use.
    """
    parts = urlsplit(connection_url)
    host = parts.hostname
    if not host:
        return None
    if _is_loopback(host):
        return f"http://{parts.netloc}/db/neo4j/query/v2"
    return f"https://{f'[{host}]' if ':' in host else host}/db/neo4j/query/v2"


def _wait_until_queryable(
    instance: dict[str, Any], timeout: float, result: dict[str, Any], created_at: float
) -> None:
    """Probe the running instance with RETURN 1 until it answers, or give up.

    "Running" in the API comes before the database takes connections; this
    ends the wait when an application could connect. The credentials go only
    to the host of the instance's own connection URL, never through a
    redirect. The probe talks to the database, not the Aura API, so its pace
    is not bound by the API's rate limit. Giving up is not a failure: a proxy
    or an IP filter can keep this machine from the database while the
    instance is fine.
    """
    url = _query_api_url(str(instance.get("connection_url") or ""))
    result["queryable_after_s"] = None
    if url is None:
        log.warning("warning: no connection URL to probe; the instance is running")
        return
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    with requests.Session() as session:
        session.headers["User-Agent"] = _api.session.headers["User-Agent"]
        while True:
            attempt_at = time.monotonic()
            try:
                response = session.post(
                    url,
                    json={"statement": "RETURN 1"},
                    auth=(str(instance.get("username")), str(instance.get("password"))),
                    headers={"Accept": "application/json"},
                    timeout=(
                        QUERY_CONNECT_TIMEOUT,
                        max(0.1, min(QUERY_READ_TIMEOUT, deadline - attempt_at)),
                    ),
                    allow_redirects=False,
                )
                if 200 <= response.status_code < 300:  # not .ok: a 3xx is no answer
                    result["queryable_after_s"] = round(time.monotonic() - created_at, 1)
                    log.info(
                        "Instance %s answered a query %.1f s after the create call (it "
                        "reported running after %.1f s): ready to use.",
                        instance.get("id"),
                        result["queryable_after_s"],
                        result["running_after_s"],
                    )
                    return
                last_problem = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last_problem = _network_problem(exc)[0]
            now = time.monotonic()
            if now >= deadline:
                log.warning(
                    "warning: instance %s is running but did not answer a query from here "
                    "within %g s (last: %s); a proxy or an IP filter may be in the way",
                    instance.get("id"),
                    timeout,
                    last_problem,
                )
                return
            # The last probe goes out at the deadline: this server has no rate limit.
            time.sleep(max(0.0, min(attempt_at + QUERY_PROBE_INTERVAL, deadline) - now))


def _run(args: argparse.Namespace) -> int:
    # A blank flag is refused, not read as "use the default": in a pipeline,
    # --region "$REGION" with REGION unset would create in the wrong region.
    for option, value in vars(args).items():
        if isinstance(value, str) and not value.strip():
            raise AuraError(
                f"--{option.replace('_', '-')} is blank; give it a value or leave it out",
                exit_code=EXIT_USAGE,
            )
    if (args.wait or args.wait_for) and (args.dry_run or args.list_configurations):
        raise AuraError(
            "--wait has nothing to wait for with --dry-run or --list-configurations",
            exit_code=EXIT_USAGE,
        )
    dotenv = read_dotenv()
    client_id = _setting(None, "AURA_CLIENT_ID", dotenv, "").strip()
    client_secret = _setting(None, "AURA_CLIENT_SECRET", dotenv, "").strip()
    missing = [
        variable
        for variable, value in (
            ("AURA_CLIENT_ID", client_id),
            ("AURA_CLIENT_SECRET", client_secret),
        )
        if not value
    ]
    if missing:
        raise AuraError(
            f"{' and '.join(missing)} not set: create API credentials in the Aura console, "
            "then export them or put them in .env",
            exit_code=EXIT_USAGE,
        )
    _api.base_url = _check_api_url(_setting(args.api_url, "AURA_API_URL", dotenv, API_URL))
    _api.read_timeout = args.timeout
    tenant = _setting(args.tenant, "AURA_TENANT", dotenv, TENANT).strip()
    spec = _spec_from(args, dotenv)
    if not args.list_configurations:  # listing uses none of the spec
        _check_spec(spec)
    # A dry run checks the file too: it is to find whatever would stop the real run.
    if not (args.list_configurations or args.no_credentials_file):
        _check_credentials_path(args.credentials_file)

    token = get_oauth_token(client_id, client_secret)
    tenant_id = get_tenant_id(tenant, token)
    if args.list_configurations:
        offered = _sorted_configurations(_tenant_configurations(token, tenant_id))
        text = (
            json.dumps(offered, indent=2) + "\n"
            if args.output == "json"
            else _configurations_table(offered)
        )
        _show(text)
        return EXIT_OK
    spec["tenant_id"] = tenant_id
    if spec["type"] == "free-db" or args.dry_run:
        offered = _tenant_configurations(token, tenant_id)
        if spec["type"] == "free-db":
            _fill_free_spec(spec, args, offered)
        problem = _configuration_problem(spec, offered)
        if problem:
            raise AuraError(problem, exit_code=EXIT_USAGE)

    existing = list_instances(token, tenant_id)
    same_name = [str(i.get("id")) for i in existing if i.get("name") == spec["name"]]
    if same_name and not args.allow_duplicate_name:
        raise AuraError(
            f"an instance named {spec['name']!r} already exists in this tenant "
            f"({', '.join(same_name)}); choose another --name, or pass --allow-duplicate-name",
            exit_code=EXIT_USAGE,
        )
    if args.dry_run:
        log.info("Dry run: every check passed; this is the body that would be sent.")
        _show(json.dumps(spec, indent=2) + "\n")
        return EXIT_OK

    log.info(
        "Creating %s instance %r in tenant %s; Aura takes a few minutes to start it.",
        spec["type"],
        spec["name"],
        tenant_id,
    )
    created_at = time.monotonic()
    result: dict[str, Any] | None = None
    exit_code = EXIT_OK
    try:
        with _interrupts_deferred("the create call is under way and its password comes only once"):
            try:
                known = {str(i.get("id")) for i in existing}
                instance = _create_without_duplicates(token, spec, known)
            except AuraError as failure:
                # Not a refused token renewal (EXIT_AUTH): only the create call's own 400.
                if failure.status == 400 and failure.exit_code != EXIT_AUTH:
                    raise _explain_rejection(token, spec, failure) from None
                raise
            result, exit_code = _save_and_show(instance, args)
        wait_for = args.wait_for or ("query" if args.wait else None)
        if wait_for:
            _wait_until_running(token, str(instance["id"]), args.wait_timeout, result)
            result["running_after_s"] = round(time.monotonic() - created_at, 1)
        if wait_for == "running":
            log.info(
                "Instance %s is running. Aura advises waiting about 60 s before the "
                "first connection.",
                instance["id"],
            )
        elif wait_for == "query":
            _wait_until_queryable(instance, args.query_timeout, result, created_at)
    finally:
        # Also on the way out of a failed wait or an interruption: the password is in it.
        json_due = result is not None and args.output == "json"
        if json_due and not _write_stdout(json.dumps(result) + "\n"):
            exit_code = max(exit_code, _stdout_closed(result))
    return exit_code


def _tenant_configurations(token: str, tenant_id: str) -> list[dict[str, Any]]:
    """get_configurations, with an unknown tenant id reported as such."""
    try:
        return get_configurations(token, tenant_id)
    except AuraError as exc:
        if exc.status == 404:
            raise _unknown_tenant(token, tenant_id) from None
        raise


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    # SIGTERM (a cancelled CI job, a `timeout`) unwinds like Ctrl-C, so the
    # credentials are still saved and printed.
    previous_sigterm = signal.signal(signal.SIGTERM, _stop)
    try:
        return _run(args)
    except AuraError as exc:
        log.error("error: %s", exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if isinstance(exc, _Stopped) and exc.signum == signal.SIGTERM:
            log.error("terminated")
            return EXIT_TERMINATED
        log.error("interrupted")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
