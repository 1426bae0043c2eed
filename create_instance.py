#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = [
#   "requests>=2.32,<3",
#   "urllib3>=2.3,<3",
# ]
# ///
"""Create a Neo4j Aura database instance and hand over its one-time credentials.

    export AURA_CLIENT_ID=... AURA_CLIENT_SECRET=...
    python create_instance.py --tenant "My project" --name my-instance --wait

Edit the settings below to change what is created; a flag or an AURA_ variable
(environment or .env) overrides them for one run. A run resolves the settings
once, gets a token, finds the tenant, checks that the name is free, creates the
instance, delivers the one-time password (file, GITHUB_OUTPUT, mask lines,
stdout), with --wait waits until the database answers a query, and with
-- COMMAND runs the command, then deletes the instance: after a signal, within
SIGNAL_EXIT_TIMEOUT, or names it. --list and --sweep show and remove what a
killed job left. One transport sends every request, with one deadline per
attempt; its urllib3 Retry never resends a create call Aura may have acted on.
Everything shown passes one step that redacts secrets and escapes control
characters and CI runners' workflow commands. README.md tells the rest.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Settings: edit these to target your own tenant. AURA_ + a name (AURA_REGION,
# say) in the environment or .env, or a flag, overrides one for a run. An
# empty string means "not chosen": for free-db the tenant's free configuration
# then decides; for the other types, DEFAULTS below does.
# ---------------------------------------------------------------------------
TENANT = ""  # tenant (project) name or id; empty: the account's only tenant
INSTANCE_NAME = "my-instance"  # 1 to 30 characters, no leading/trailing space
INSTANCE_TYPE = "enterprise-db"  # enterprise-db is Virtual Dedicated Cloud; or free-db, ...
CLOUD_PROVIDER = ""  # gcp, aws or azure
REGION = ""  # such as "us-central1"
MEMORY = ""  # such as "4GB"
NEO4J_VERSION = ""  # such as "5"
STORAGE = ""  # such as "8GB"; empty: not sent, and Aura applies its own default
VECTOR_OPTIMIZED = False
GRAPH_ANALYTICS_PLUGIN = False  # professional-db only
CUSTOMER_MANAGED_KEY_ID = ""  # enterprise-db and enterprise-ds only
API_URL = "https://api.neo4j.io"
DEFAULTS = {"cloud_provider": "gcp", "region": "europe-west1", "memory": "2GB", "version": "5"}

# ---------------------------------------------------------------------------
# Limits and timings, for a maintainer to tune; seconds unless said otherwise.
# ---------------------------------------------------------------------------
CONNECT_TIMEOUT = 10  # seconds to open a connection
READ_TIMEOUT = 30  # seconds an attempt may take, connection to last byte; --timeout
RETRIES = 4  # resends of one request after a safe-to-retry failure
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_BUDGET = 60  # seconds one request may spend waiting to be resent
BACKOFF_BASE = 0.5  # seconds; the ceiling of the nth wait is BACKOFF_BASE * 2**n
BACKOFF_MAX = 8
MIN_REQUEST_INTERVAL = 60 / 125  # the API allows 125 requests a minute
MAX_ANSWER_BYTES = 10_000_000  # the API's answers are kilobytes; more is refused, unread
READ_CHUNK = 16_384  # bytes of an answer read, and decompressed, at a time
MAX_JSON_DEPTH = 100  # levels of nesting an answer may have; the API's have 4 or 5
MAX_DOTENV_BYTES = 1 << 20  # a larger .env is refused unread
MAX_REDIRECTS = 3  # redirects followed within the API's own scheme, host and port
WAIT_INTERVAL = 3  # seconds between status polls with --wait: 20 a minute
WAIT_TIMEOUT = 900  # creation "can occasionally take up to 10 minutes"
WAIT_REMINDER_INTERVAL = 60  # seconds between reminders that the API still does not answer
QUERY_TIMEOUT = 120  # seconds after running to wait for the database to answer
QUERY_PROBE_INTERVAL = 1  # seconds between RETURN 1 probes of the new database
QUERY_CONNECT_TIMEOUT = 3
QUERY_READ_TIMEOUT = 5
DELETE_BUSY_TIMEOUT = 300  # seconds to keep asking while Aura is busy with the instance (409)
DELETE_BUSY_INTERVAL = 2
COMMAND_GRACE = 5  # seconds a signalled command has to stop before its processes are killed
# -- COMMAND after a signal: the run is over within SIGNAL_EXIT_TIMEOUT seconds of the first
# (GitHub kills a cancelled step 10 s after its SIGINT) and SECOND_SIGNAL_TIMEOUT of a second,
# with the instance deleted or named. The same signal again within SIGNAL_REPEAT_WINDOW is
# the same signal: a closed terminal sends SIGHUP twice.
SIGNAL_EXIT_TIMEOUT = 9
SECOND_SIGNAL_TIMEOUT = 1
SIGNAL_REPEAT_WINDOW = 0.5
MAX_OLDER_THAN = 365 * 86400  # --older-than: at most a year
# ---------------------------------------------------------------------------

import argparse
import base64
import contextlib
import datetime
import difflib
import errno
import functools
import html
import ipaddress
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypeVar
from urllib.parse import quote, quote_plus, urljoin, urlsplit

if TYPE_CHECKING:
    import subprocess

    import requests

__all__ = [
    "AuraClient",
    "AuraError",
    "Settings",
    "call_endpoint",
    "create_instance",
    "delete_instance",
    "get_configurations",
    "get_instance",
    "get_oauth_token",
    "get_tenant_id",
    "list_instances",
    "main",
    "read_dotenv",
    "resolve_settings",
]
__version__ = "1.1.0"

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
        "deleting",
    }
)
HOPELESS_STATUSES = frozenset(  # from creating, these never lead to running by themselves
    # "deleting" is not in the spec, but Neo4j's own clients' tests see it for destroying.
    {"destroying", "deleting", "pausing", "paused", "suspending", "suspended", "loading failed"}
)

EXIT_OK = 0
EXIT_FAILED = 1  # the API or the network failed
EXIT_USAGE = 2  # usage or configuration error, found before or by the API
EXIT_AUTH = 3  # authentication or permission refused
EXIT_NOT_READY = 4  # --wait: the instance did not become ready
EXIT_NOT_DELETED = 5  # -- COMMAND succeeded but its instance, or --sweep a match, was not deleted
EXIT_CANNOT_RUN = 127  # -- COMMAND: the command was not found or could not be started

USER_AGENT = f"create_instance.py/{__version__}"  # requests adds its own to it

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
        resent: bool = False,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.detail = detail
        self.reasons = reasons
        self.request_id = request_id
        self.unsent = unsent  # the request provably never reached the API
        self.resent = resent  # the answer came to a resend, after a failed attempt

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.args[0]} (X-Request-Id {self.request_id})"
        return str(self.args[0])


class Secrets:
    """The secrets of a run; whatever is added here is never shown or logged.

    The client secret and its Basic-auth forms, every access token and the new
    password are added as they appear, each also in the forms a server may
    echo it in (see _forms). Shorter than 8 characters is no Aura credential,
    and replacing it would mangle ordinary text.
    """

    def __init__(self) -> None:
        self._known: set[str] = set()

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if len(secret) >= 8:
                self._known |= _forms(secret)

    def redact(self, text: str, keep: str = "") -> str:
        """`text` with every secret but `keep` (in any of its forms) replaced by [redacted]."""
        for secret in sorted(self._known - _forms(keep), key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text


# cp1252 as browsers and .NET read it: its five undefined bytes stay C1 controls.
_CP1252 = {
    byte: bytes([byte]).decode("cp1252")
    for byte in range(0x80, 0xA0)
    if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def _forms(secret: str) -> set[str]:
    """`secret` as itself, as its UTF-8 bytes read as Latin-1 and as cp1252 (a
    server that took the wrong charset), and percent-, JSON- and HTML-escaped."""
    latin1 = secret.encode("utf-8").decode("latin-1")
    escaped = {
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        html.escape(secret).encode("ascii", "xmlcharrefreplace").decode(),
    }
    return {secret, latin1, latin1.translate(_CP1252), *escaped}


# C0 and C1 controls (U+0085 and \v, \f, \x1c-\x1e among them, which some readers
# take as line breaks), the line and paragraph separators, and the bidi controls
# that reorder what a terminal shows.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    r"""`text` with every control character escaped (\n, \x1b, \u202e), so it stays one
    line and cannot steer the terminal."""
    return _CONTROLS.sub(lambda match: match[0].encode("unicode_escape").decode(), text)


# What makes a GitHub runner act on a line (ActionCommand.cs): "::" after leading
# white space (C#'s TrimStart, which also removes Unicode spaces; zero-width ones
# added to be safe), or the older "##[" anywhere.
_COMMAND_START = re.compile(r"^((?:[^\S\r\n]|[\u180e\u200b\ufeff])*):(?=:)", re.M)
_OLD_COMMAND = re.compile(r"#(?=#\[)")


def _inert(text: str, starts_line: bool = True) -> str:
    r"""`text` (lines of it, or the rest of a line if not `starts_line`) with what a
    GitHub runner would act on escaped: `::` as `\u003a:`, `##[` as `\u0023#[`.

    The escapes are JSON's too, so JSON stays valid and decodes to the same
    value. Only the mask lines, which never pass here, are commands.
    """
    text = _OLD_COMMAND.sub(r"\\u0023", text)
    return _COMMAND_START.sub(r"\1\\u003a", text) if starts_line else text


_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class AuraClient:
    """The Aura API as one run uses it: one transport, one base URL, one token.

    Every request goes through the transport (see _Transport), so a run has
    one connection (keep-alive) and one set of rules for what is resent and
    how long anything may take. The client id and secret are kept, in
    memory only, to renew an expired token. The module's functions of the
    same names are those of a default client for API_URL, for programs that
    import this file.
    """

    def __init__(
        self, base_url: str = API_URL, timeout: float = READ_TIMEOUT, secrets: Secrets | None = None
    ) -> None:
        self.base_url = base_url
        self.secrets = secrets or Secrets()  # what it sends and receives, to keep out of output
        self.transport = _Transport(timeout)
        self.token = ""  # the newest token of the run, once get_oauth_token has one
        self._credentials: tuple[str, str] | None = None
        self._superseded: set[str] = set()  # tokens replaced by a renewal

    @property
    def session(self) -> requests.Session:
        """The requests Session under the transport (made on first use)."""
        return self.transport.session

    def get_oauth_token(self, client_id: str, client_secret: str) -> str:
        """Return an access token for the Aura API (valid for about an hour).

        The token stays in memory; it is never written anywhere. The credentials
        are kept in memory too, so that call_endpoint can renew an expired token.
        """
        basic = f"{client_id}:{client_secret}"
        self.secrets.add(client_secret, basic, base64.b64encode(basic.encode()).decode())
        answer = self.transport.send(
            "POST",
            f"{self.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=_utf8(client_id, client_secret),
        )
        if not answer.ok:
            raise _token_refusal(answer, self.secrets.redact)
        token = _json_of(answer, "the token request", self.secrets.redact).get("access_token")
        if not isinstance(token, str) or not token:
            raise AuraError("the token request succeeded but its answer has no access_token")
        self.secrets.add(token)
        if not re.fullmatch(r"[\x21-\x7e]+", token):  # what a header can carry as it is
            raise AuraError("the token request succeeded but its access_token is not plain ASCII")
        self._credentials = (client_id, client_secret)
        self.token = token
        return token

    def call_endpoint(
        self, path: str, method: str, token: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call the Aura API at {base}/v1{path} and return the decoded JSON answer.

        `body`, if given, is sent as JSON. A token that Aura refuses (it answers
        403 once a token expires) is renewed once and the call sent again; a
        refused call was not carried out, so this is safe even for a POST. A
        token an earlier call has renewed is swapped for the newest, so a caller
        that still holds the old one is not refused again. Any failure raises
        AuraError with the API's messages and X-Request-Id.
        """
        if token in self._superseded and self.token:
            token = self.token
        what = f"{method} /v1{path}"
        answer = self._request(method, path, token, body)
        if answer.status_code in (401, 403) and self._credentials:
            log.info(
                "%s: HTTP %s, the token may have expired; getting a new one",
                what,
                answer.status_code,
            )
            self._superseded.add(token)
            answer = self._request(method, path, self.get_oauth_token(*self._credentials), body)
            if answer.status_code in (401, 403):
                raise _error_from(
                    answer,
                    what,
                    self.secrets.redact,
                    " (also with a new token: the API credentials may lack permission for this)",
                )
        if not answer.ok:
            raise _error_from(answer, what, self.secrets.redact)
        return _json_of(answer, what, self.secrets.redact)

    def _request(self, method: str, path: str, token: str, body: dict[str, Any] | None) -> _Answer:
        return self.transport.send(
            method,
            f"{self.base_url}/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            json=body,
        )

    def get_tenant_id(self, tenant: str, token: str) -> str:
        """Return the id of the tenant (project) named or identified by `tenant`.

        A value shaped like a tenant id (a UUID) is used as is, with no request:
        the API rejects an id that does not exist when it is used. Otherwise the
        value may be an id or an exact name from GET /tenants. An empty value
        means the account's only tenant.
        """
        if _TENANT_ID.fullmatch(tenant):
            return tenant
        return _pick_tenant(tenant, self.list_tenants(token))

    def list_tenants(self, token: str) -> list[dict[str, Any]]:
        """The tenants (projects) the credentials can see: id and name."""
        return _data_list(self.call_endpoint("/tenants", "GET", token), "GET /v1/tenants")

    def create_instance(self, token: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create an instance from `spec` (the POST /instances body); return its `data`.

        The answer holds the one-time password: it cannot be fetched again.
        """
        data = self.call_endpoint("/instances", "POST", token, spec).get("data")
        if not isinstance(data, dict) or not data:
            raise AuraError(
                "POST /v1/instances was accepted but its answer has no instance data; "
                "check the Aura console before trying again"
            )
        return data

    def list_instances(self, token: str, tenant_id: str) -> list[dict[str, Any]]:
        """The instances of one tenant: id, name and so on, but no status."""
        path = f"/instances?tenantId={quote(tenant_id, safe='')}"
        return _data_list(self.call_endpoint(path, "GET", token), f"GET /v1{path}")

    def get_instance(self, token: str, instance_id: str) -> dict[str, Any]:
        """One instance's details, with its status (never its password)."""
        path = _instance_path(instance_id)
        return _data_object(self.call_endpoint(path, "GET", token), f"GET /v1{path}")

    def delete_instance(self, token: str, instance_id: str) -> None:
        """Ask Aura to delete an instance; AuraError if it does not accept.

        Safe to resend: Aura answers 202 at most once, and 404 after that.
        """
        self.call_endpoint(_instance_path(instance_id), "DELETE", token)

    def get_configurations(self, token: str, tenant_id: str) -> list[dict[str, Any]]:
        """The instance configurations (type, cloud, region, memory, storage, version)
        that a tenant may create."""
        path = f"/tenants/{quote(tenant_id, safe='')}"
        tenant = _data_object(self.call_endpoint(path, "GET", token), f"GET /v1{path}")
        configurations = tenant.get("instance_configurations")
        if not isinstance(configurations, list):
            raise AuraError(f"GET /v1{path} answered without instance_configurations")
        return [c for c in configurations if isinstance(c, dict)]


_PLAIN_ID = re.compile(r"[A-Za-z0-9-]+")


def _instance_path(instance_id: str) -> str:
    """/instances/{id}; an AuraError for an id that is not letters, digits and dashes
    (`..` would make it another path)."""
    if not isinstance(instance_id, str) or not _PLAIN_ID.fullmatch(instance_id):
        raise AuraError(f"{instance_id!r} is not an instance id (letters, digits and dashes)")
    return f"/instances/{instance_id}"


def _pick_tenant(wanted: str, tenants: list[dict[str, Any]], where: str = "") -> str:
    """Choose from GET /tenants: an exact id, else an exact name, else the only one.
    `where` says where a wanted tenant came from, as " (from ...)", for messages."""
    if not wanted:
        if len(tenants) == 1:
            return str(tenants[0]["id"])
        if not tenants:
            raise AuraError("the account has no tenants (projects)", exit_code=EXIT_USAGE)
        raise AuraError(
            f"the account has {len(tenants)} tenants; choose one with --tenant or "
            f"AURA_TENANT: {_tenant_listing(tenants)}",
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
            f"{len(ids)} tenants are named {wanted!r}{where}; give the id instead: "
            f"{', '.join(ids)}",
            exit_code=EXIT_USAGE,
        )
    near = [t.get("name") for t in tenants if str(t.get("name")).casefold() == wanted.casefold()]
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise _no_such_tenant(f"no tenant is named {wanted!r}{where}.{hint}", tenants)


def _no_such_tenant(what: str, tenants: list[dict[str, Any]] | None) -> AuraError:
    """The unknown-tenant error, the same for a name and an id."""
    listing = "(the list could not be fetched)" if tenants is None else _tenant_listing(tenants)
    return AuraError(f"{what} The account has: {listing or 'none'}.", exit_code=EXIT_USAGE)


def _tenant_listing(tenants: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t.get('name')!r} ({t.get('id')})" for t in tenants)


def _token_refusal(answer: _Answer, redact: Callable[[str], str]) -> AuraError:
    """A refused token request. Only a 401 means the credentials are wrong; 400, 403 and
    404 mean the request was malformed, which better credentials would not fix."""
    error = _error_from(answer, "the token request", redact)
    status = answer.status_code
    if not 400 <= status < 500 or status == 429:
        return error
    advice = "; check AURA_CLIENT_ID and AURA_CLIENT_SECRET" if status == 401 else ""
    return AuraError(
        f"authentication failed (HTTP {status}: {error.detail}){advice}",
        exit_code=EXIT_AUTH,
        status=status,
        detail=error.detail,
        reasons=error.reasons,
        request_id=error.request_id,
    )


def _json_of(response: _Answer, what: str, redact: Callable[[str], str]) -> dict[str, Any]:
    """Decode a successful answer, which the API always makes a JSON object.

    A create answer nested too deep is read all the same, with what lies
    deeper than MAX_JSON_DEPTH left out: it may hold the one-time password.
    """
    payload, cut = _parsed(response.content)
    if cut and not _may_create(response.method, response.url or ""):
        payload = None
    if not isinstance(payload, dict):
        raise AuraError(
            f"{what} answered HTTP {response.status_code} with {_describe_body(response, redact)}, "
            "not the JSON object the API sends",
            request_id=response.headers.get("X-Request-Id"),
        )
    return payload


def _decoded(response: _Answer) -> Any:
    """The answer's JSON, or None if it is not JSON or nests deeper than MAX_JSON_DEPTH."""
    payload, cut = _parsed(response.content)
    return None if cut else payload


# A JSON string, or a bracket outside one.
_JSON_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_LEFT_OUT = "[left out: nested deeper than the API ever sends]"


def _parsed(body: bytes) -> tuple[Any, bool]:
    """A body's JSON (UTF-8, whatever charset it claims; None if it is not JSON),
    and whether containers deeper than MAX_JSON_DEPTH were cut: each is _LEFT_OUT.

    The depth is found before parsing, by one pass over brackets and strings:
    Python's parser, and any code that walks what it returns, would fail near
    1,000 levels with a RecursionError.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, False
    cut = False
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        kept: list[str] = []
        depth = start = end = 0
        for token in _JSON_NESTING.finditer(text):
            if token[0] in "[{":
                depth += 1
                if depth == MAX_JSON_DEPTH + 1:
                    start = token.start()
            elif token[0] in "]}":
                depth -= 1
                if depth == MAX_JSON_DEPTH:
                    kept += [text[end:start], json.dumps(_LEFT_OUT)]
                    end = token.end()
        cut = bool(kept) or depth > MAX_JSON_DEPTH
        text = "".join(kept) + text[end:]
    try:
        return json.loads(text), cut
    except (ValueError, RecursionError):
        return None, cut


def _data_list(answer: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The `data` array of a list answer, each entry with a text id and name.

    Anything else is an AuraError: a tenant without an id must not become
    tenant "None".
    """
    data = answer.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise AuraError(f"{what} answered without the expected data list")
    for item in data:
        for key in ("id", "name"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise AuraError(f"{what} answered an entry without a text {key}")
    return data


def _data_object(answer: dict[str, Any], what: str) -> dict[str, Any]:
    """The `data` object of an answer, or an AuraError if it has none."""
    data = answer.get("data")
    if not isinstance(data, dict):
        raise AuraError(f"{what} answered without the expected data object")
    return data


def _error_from(
    response: _Answer, what: str, redact: Callable[[str], str], suffix: str = ""
) -> AuraError:
    """Turn a failed answer into an AuraError with the API's messages.

    The API answers errors in two shapes, {"errors": [{"message", "reason",
    "field"}]} and the middleware's {"error": "..."}; proxies answer HTML.
    """
    messages: list[str] = []
    reasons: list[str] = []
    payload = _decoded(response)
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
        messages.append(_describe_body(response, redact))
    status = response.status_code
    detail = "; ".join(messages)
    return AuraError(
        f"{what} failed with HTTP {status}: {detail}{suffix}",
        exit_code=EXIT_AUTH if status in (401, 403) else EXIT_FAILED,
        status=status,
        detail=detail,
        reasons=tuple(reasons),
        request_id=response.headers.get("X-Request-Id"),
        resent=response.resent,
    )


def _describe_body(response: _Answer, redact: Callable[[str], str]) -> str:
    """A short, safe description of a body that is not the API's JSON.

    It is read as UTF-8, whatever charset it claims: a secret in it then
    reads as itself and is redacted (Secrets also knows its mojibake). Secrets
    are redacted before the text is cut short, so no cut can leave part of
    one. Only its start is looked at: the title search grows with the square
    of the text it is given. Nothing of a successful token or create answer
    is quoted: it holds a token or the password, in whatever form.
    """
    text = redact(response.content[:4096].decode("utf-8", errors="replace").strip())
    if not text:
        return "an empty body"
    kind = redact(response.headers.get("Content-Type", "unknown type").split(";")[0])
    url = response.url or ""
    if response.ok and (_is_token_url(url) or _may_create(response.method, url)):
        return f"a {kind} body"
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title:
        return f"an HTML page titled {title.group(1).strip()[:80]!r}"
    if _is_token_url(url):  # whatever it is, it may carry a token
        return f"a {kind} body"
    return f"a {kind} body starting {text[:80]!r}"


def _utf8(username: str, password: str) -> tuple[bytes, bytes]:
    """Credentials for HTTP Basic auth, encoded as UTF-8 (requests would use latin-1)."""
    return username.encode(), password.encode()


# ---------------------------------------------------------------------------
# The transport: the only code that touches requests and urllib3
# ---------------------------------------------------------------------------


class _Answer(NamedTuple):
    """An answer read whole: all the rest of the script sees of HTTP."""

    method: str
    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    url: str
    resent: bool  # it came to a resend, after a failed attempt

    @property
    def ok(self) -> bool:
        return self.status_code < 400


class _Transport:
    """Every request of a client, sent and read within bounds.

    It owns one requests Session (one connection, kept alive), the urllib3
    Retry that decides what is resent, redirects (followed only within the
    origin), answers read whole up to MAX_ANSWER_BYTES, and the time limits:
    one deadline per attempt, from its connection to the last byte of its
    body, headers included (urllib3's own timeouts bound each socket read,
    not the whole), the caller's (deadline(), --wait-timeout) and, after a
    signal, the time to stop (stop_by()). A watcher thread enforces them by
    shutting the attempt's connection down, which wakes a blocked read; it
    never sends anything. The Session and the thread are made on first use,
    so a run that needs no network never imports requests.
    """

    def __init__(self, timeout: float = READ_TIMEOUT) -> None:
        self.timeout = timeout
        self.pace = 0.0  # seconds between requests at least (a sweep sends many)
        self.stop_at: float | None = None  # see stop_by()
        self.stoppable = False  # whether a signal may set stop_at (-- COMMAND)
        self._until: float | None = None  # see deadline()
        self._session: requests.Session | None = None
        self._probe_adapter: Any = None
        self._watcher: threading.Thread | None = None
        self.quieted = False  # see quiet()
        self._sockets: set[socket.socket] = set()  # one duplicate per open connection
        self._lock = threading.Lock()  # between a request and the watcher
        self._attempt_ends: float | None = None  # while an attempt is under way
        self._timed_out = False  # the watcher cut the attempt under way off
        self._last_answered = 0.0  # pace counts from here: the API saw the request before

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session, self._probe_adapter = _http().new_session(self)
        return self._session

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        auth: tuple[bytes, bytes] | None = None,
    ) -> _Answer:
        """Send one request and read its whole answer; any failure becomes an AuraError.

        A redirect is followed only within the same scheme, host and port, at
        most MAX_REDIRECTS times, and never for the create call: Aura may have
        acted on it, so the caller looks instead (see _create_without_duplicates).
        """
        what = f"{method} {_path_of(url)}"
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._exchange(
                method, url, what, headers=headers, json=json, data=data, auth=auth
            )
            if not 300 <= answer.status_code < 400 or "Location" not in answer.headers:
                return answer
            url = _redirect_target(answer, what, _may_create(method, url))
        raise AuraError(f"{what} was redirected more than {MAX_REDIRECTS} times")

    def probe(self, url: str, auth: tuple[bytes, bytes], timeout: float) -> int:
        """POST RETURN 1 to a database's Query API; the status of its answer.

        Not resent (the caller's next probe is the resend), redirects not
        followed, and the body left unread: only the status counts, and a body
        of any size must not be read into memory.
        """
        scheme, host, port = _origin(url)
        self.session.mount(f"{scheme}://{host}:{port}/", self._probe_adapter)
        return self._exchange(
            "POST",
            url,
            f"POST {_path_of(url)}",
            json={"statement": "RETURN 1"},
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=timeout,
            connect_timeout=QUERY_CONNECT_TIMEOUT,
            read_body=False,
        ).status_code

    @contextlib.contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Within the block no request outlives `at` (a monotonic time): neither
        an attempt's answer nor its resends. --wait-timeout is a hard limit."""
        self._until = at
        try:
            yield
        finally:
            self._until = None

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Within the block, resends are logged only with --verbose: a caller that
        polls reports failures its own way."""
        self.quieted = True
        try:
            yield
        finally:
            self.quieted = False

    def until(self) -> float | None:
        """The moment no request may outlive now, if there is one."""
        limits = [at for at in (self._until, self.stop_at) if at is not None]
        return min(limits) if limits else None

    def stop_by(self, at: float) -> None:
        """After a signal: nothing sent outlives `at` (a monotonic time); a request
        under way then is cut off. Only a time is set: a signal handler calls this."""
        if self.stop_at is None or at < self.stop_at:
            self.stop_at = at

    def stopping(self) -> bool:
        """Whether the time to stop (see stop_by) has come."""
        return self.stop_at is not None and time.monotonic() >= self.stop_at

    def pause(self, seconds: float) -> None:
        """Sleep, but not past the time to stop."""
        _nap(seconds, lambda: self.stop_at)

    def _exchange(
        self,
        method: str,
        url: str,
        what: str,
        *,
        timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_body: bool = True,
        **kwargs: Any,
    ) -> _Answer:
        """One request and its answer (its resends included), each attempt within its
        deadline: the transport's timeout (or `timeout`), capped by until()."""
        session = self.session
        http = _http()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="deadlines", daemon=True)
            self._watcher.start()
        if self.pace:
            self.pause(self._last_answered + self.pace - time.monotonic())
        started = time.monotonic()
        until = self.until()
        if until is not None and until <= started:
            reason = "the run is stopping" if self.stopping() else "the time to wait is up"
            raise AuraError(f"{what} was not sent: {reason}", unsent=True)
        attempt = min(timeout or self.timeout, (until or math.inf) - started)
        self._begin_attempt(attempt)
        try:
            response = session.request(
                method,
                url,
                timeout=(min(connect_timeout, attempt), attempt),
                allow_redirects=False,
                stream=True,
                **kwargs,
            )
            with response:
                body = _read_body(response, what) if read_body else b""
            retries = getattr(response.raw, "retries", None)
            answer = _Answer(
                method,
                response.status_code,
                response.headers,
                body,
                response.url or url,
                bool(getattr(retries, "history", ())),
            )
        except (http.requests.RequestException, http.urllib3.exceptions.HTTPError) as exc:
            raise self._failure(exc, url, what) from None
        finally:
            self._last_answered = time.monotonic()
            with self._lock:
                self._attempt_ends = None
        _log_answer(method, answer, time.monotonic() - started)
        return answer

    def _failure(self, exc: Exception, url: str, what: str) -> AuraError:
        if self.stopping():
            return AuraError(f"{what} got no answer before the run had to stop")
        if self._timed_out:
            return AuraError(f"{what} failed: no answer in time (read timeout)")
        problem, unsent = _network_problem(exc, _host_of(url))
        return AuraError(f"{what} failed: {problem}", unsent=unsent)

    def _begin_attempt(self, seconds: float) -> None:
        """An attempt starts (or is resent): it must be answered within `seconds`."""
        with self._lock:
            self._attempt_ends = time.monotonic() + seconds
            self._timed_out = False

    @property
    def timed_out(self) -> bool:
        """Whether the attempt under way was cut off at its deadline."""
        return self._timed_out

    def resend_begins(self) -> None:
        """Called by the Retry as it resends: the new attempt gets a deadline of its own."""
        until = self.until()
        self._begin_attempt(min(self.timeout, (until or math.inf) - time.monotonic()))

    def _watch(self) -> None:
        """Cut off an attempt whose time is up: shut its connection down."""
        tick = threading.Event()  # its wait, not time.sleep: tests may stub that out
        while True:
            tick.wait(0.05)
            with self._lock:
                ends = self._attempt_ends
                if ends is None or self._timed_out:
                    continue
                if time.monotonic() < min(ends, self.stop_at or ends):
                    continue
                self._timed_out = True
                for twin in list(self._sockets):
                    with contextlib.suppress(OSError):
                        twin.shutdown(socket.SHUT_RDWR)


def _nap(seconds: float, limit: Callable[[], float | None]) -> bool:
    """Sleep `seconds`, but not past limit(), which a signal may bring forward
    meanwhile; whether the whole time was slept."""
    end = time.monotonic() + seconds
    while True:
        stop = min(end, limit() or end)
        left = stop - time.monotonic()
        if left <= 0:
            return stop == end
        time.sleep(min(left, 0.1))


def _log_answer(method: str, answer: _Answer, seconds: float) -> None:
    """--verbose: one line per request. Headers and bodies are never logged."""
    if log.isEnabledFor(logging.DEBUG):
        parts = urlsplit(answer.url)
        request_id = answer.headers.get("X-Request-Id")
        log.debug(
            "%s %s%s -> %s in %.0f ms%s",
            method,
            parts.path,
            f"?{parts.query}" if parts.query else "",
            answer.status_code,
            seconds * 1000,
            f", X-Request-Id {request_id}" if request_id else "",
        )


def _is_token_url(url: str) -> bool:
    return urlsplit(url).path.endswith("/oauth/token")


def _may_create(method: str, url: str) -> bool:
    """A POST other than the token request: Aura may act on it though its answer is lost."""
    return method == "POST" and not _is_token_url(url)


_E = TypeVar("_E", bound=BaseException)


def _cause(error: BaseException | None, kind: type[_E]) -> _E | None:
    """The first exception of `kind` among `error` and those it wraps.

    requests and urllib3 keep the original failure in args, in .reason, or as
    __cause__ or __context__; a few levels down at most.
    """
    for _ in range(8):
        if error is None or isinstance(error, kind):
            return error
        wrapped = (getattr(error, "reason", None), *error.args, error.__cause__, error.__context__)
        error = next((e for e in wrapped if isinstance(e, BaseException)), None)
    return None


def _is_permanent(error: Exception) -> bool:
    """A failure that resending cannot cure: a certificate that fails verification,
    or a host name that does not exist (a DNS server that did not answer may recover)."""
    if _cause(error, ssl.SSLCertVerificationError):
        return True
    name_error = _cause(error, socket.gaierror)
    return name_error is not None and name_error.errno != socket.EAI_AGAIN


def _network_problem(exc: Exception, host: str) -> tuple[str, bool]:
    """One line for a network failure, and whether the request was never sent.

    `exc` comes from requests, or from urllib3 while the body was read.
    """
    http = _http()
    requests, errors = http.requests, http.urllib3.exceptions
    if isinstance(exc, requests.ConnectTimeout):
        return "no connection in time (connect timeout)", True
    if isinstance(exc, requests.Timeout) or _cause(exc, errors.ReadTimeoutError):
        return "no answer in time (read timeout)", False
    certificate = _cause(exc, ssl.SSLCertVerificationError)
    if certificate:
        return (
            f"the TLS certificate of {host} failed verification "
            f"({certificate.verify_message or certificate.reason}); if a proxy or a private "
            "CA signs it, set REQUESTS_CA_BUNDLE to that CA's certificate file",
            True,
        )
    name_error = _cause(exc, socket.gaierror)
    if name_error:
        return f"the host name {host} could not be resolved ({name_error.strerror})", True
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate check failed", False
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused or dropped the connection", False
    if _cause(exc, errors.DecodeError):
        return "the answer's compressed body could not be decoded", False
    if isinstance(exc, requests.exceptions.InvalidHeader) or _cause(exc, errors.InvalidHeader):
        return "the answer's headers were invalid", False
    if isinstance(exc, requests.ConnectionError) and _cause(exc, errors.NewConnectionError):
        return "the connection could not be opened (refused or unreachable)", True
    if isinstance(exc, (requests.ConnectionError, errors.ProtocolError)):
        return "the connection was dropped before an answer came", False
    if isinstance(exc, requests.exceptions.RetryError):  # SafeRetry.sleep: past the limit
        return "no answer in time (no time was left to resend it)", False
    return type(exc).__name__, False


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def _too_large(what: str) -> AuraError:
    return AuraError(
        f"{what} answered with more than {MAX_ANSWER_BYTES / 1e6:g} MB, far more than the "
        "API ever sends; the rest was not read"
    )


# What no URL this script follows or probes may hold: parsers disagree on a backslash
# (urllib3 and urllib.parse split `http://a:1\@b:2/` differently), and user info,
# white space or a control character has no business in an API's or database's URL.
_AMBIGUOUS_URL = re.compile(r"[\\@\s\x00-\x1f\x7f-\x9f]")


def _redirect_target(answer: _Answer, what: str, create_call: bool) -> str:
    """Where a redirect leads, if it may be followed; else an AuraError saying why not.

    Only within the API's scheme, host and port: the request carries the
    token or the client secret. Origins are compared as urllib3, which
    connects, reads them, and a Location that parsers may read differently
    (a backslash, user info, white space, a control character) is refused.
    Never for the create call, which must not be sent twice: its AuraError
    has no status, so the caller checks what exists.
    """
    if create_call:
        raise AuraError(
            f"{what} answered HTTP {answer.status_code}, a redirect, which the create call "
            "never follows"
        )
    location = answer.headers["Location"]
    try:
        if _AMBIGUOUS_URL.search(location):
            raise ValueError(location)
        target = urljoin(answer.url, location)
        source, destination = _origin(answer.url), _origin(target)
    except ValueError:
        raise AuraError(f"{what} was redirected to an invalid URL; not followed") from None
    if destination == source:
        return target
    if (source[0], destination[0]) == ("http", "https") and source[1] == destination[1]:
        raise AuraError(f"{what} was redirected to https; use an https:// API URL")
    scheme, host, port = destination
    raise AuraError(
        f"{what} was redirected to {f'{scheme}://{host}:{port}'!r}, not the API's scheme, "
        "host and port; not followed"
    )


def _origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a URL as urllib3 reads it to connect; ValueError if it
    has none that make sense."""
    if _AMBIGUOUS_URL.search(url):
        raise ValueError(url)
    parts = _http().parse_url(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme)
    if not parts.host or port is None:
        raise ValueError(url)
    return scheme, parts.host.lower(), port


@functools.cache
def _http() -> SimpleNamespace:
    """requests and urllib3, imported on first use, and what this script builds on them.

    Importing requests takes about 0.2 s, most of a run that needs no
    network (--help, a usage error), so nothing outside the transport names
    them. What this script relies on beyond their public API is here too:
    urllib3's Retry methods it overrides, the connection classes' _new_conn,
    and the raw response's read1 (urllib3 2.3+).
    """
    try:
        import requests
        import urllib3
    except ImportError as missing:
        raise AuraError(
            f"this script needs the {missing.name} package, which this Python "
            f"({sys.executable}) lacks: pip install -r requirements.txt, or run the "
            "script with uv run create_instance.py",
            exit_code=EXIT_USAGE,
        ) from None
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
    from urllib3.util import parse_url
    from urllib3.util.retry import Retry

    class SafeRetry(Retry):
        """urllib3's Retry, made safe for a call that creates billed instances.

        A POST other than the token request is resent only when Aura provably did
        not act on it: a 429, or a connection that never opened. After a read
        timeout, a connection dropped once the request was sent, or a 5xx, Aura may
        have created the instance, and a second POST could create a second one;
        the caller finds out instead (see _create_without_duplicates).

        Waits follow Retry-After when Aura sends it, otherwise exponential backoff
        with full jitter; either way never shorter than the API's rate limit of
        125 requests a minute allows, never past RETRY_BUDGET seconds in all,
        and never past the transport's limits. A certificate that fails
        verification, or a host name that does not exist, is not resent at
        all: waiting cannot cure it.
        """

        deadline: float | None = None  # RETRY_BUDGET after the first retry of a request
        transport: _Transport | None = None  # whose limits apply, and whose attempts these are
        wait = 0.0  # seconds before the next attempt: chosen, and logged, by increment()

        def new(self, **kwargs: Any) -> SafeRetry:
            retry = super().new(**kwargs)
            retry.deadline = self.deadline or time.monotonic() + RETRY_BUDGET
            retry.transport = self.transport
            return retry

        def limit(self) -> float | None:
            return self.transport.until() if self.transport else None

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
            # urllib3 would draw a new random backoff here; wait what was logged. Where
            # a signal may bring the limit forward meanwhile, in short naps: past it,
            # nothing may be sent (a resent create call could create an instance).
            if self.transport is not None and (self.transport.stoppable or self.limit()):
                _nap(self.wait, self.limit)
            else:
                time.sleep(self.wait)
            limit = self.limit()
            if limit is not None and time.monotonic() >= limit:
                raise MaxRetryError(None, "", ResponseError("out of time"))  # type: ignore[arg-type]
            if self.transport:
                self.transport.resend_begins()

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> SafeRetry:
            if error is not None and _is_permanent(error):
                raise MaxRetryError(_pool, url or "", error)  # type: ignore[arg-type]
            not_acted_on = (response is not None and response.status == 429) or (
                error is not None and self._is_connection_error(error)
            )
            if _may_create(method or "", url or "") and not not_acted_on:
                if error is not None:
                    raise error.with_traceback(_stacktrace)
                raise MaxRetryError(_pool, url or "", ResponseError("not resent"))  # type: ignore[arg-type]
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
            wait = retry.get_retry_after(response) if response is not None else None
            wait = wait if wait is not None else retry.get_backoff_time()
            assert retry.deadline is not None
            if time.monotonic() + wait > min(retry.deadline, self.limit() or retry.deadline):
                spent = error or ResponseError("retry budget spent")
                raise MaxRetryError(_pool, url or "", spent)  # type: ignore[arg-type]
            problem = f"HTTP {response.status}" if response is not None else type(error).__name__
            if self.transport is not None and self.transport.timed_out:
                problem = "no answer in time"  # the watcher shut the attempt down
            quiet = self.transport is not None and self.transport.quieted
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s: %s; retrying in %.1f s",
                method,
                _path_of(url or ""),
                problem,
                wait,
            )
            retry.wait = wait
            if response is not None:
                # urllib3 would read this answer to its end before resending, however
                # large or slow it is; closing its connection bounds memory and time.
                response.close()
            return retry

    class Session(requests.Session):
        """A Session that leaves redirects to its caller.

        Even with allow_redirects=False, requests reads a redirect's whole body,
        however large, and parses its Location, crashing on a malformed one, to
        offer response.next. Here it sees no redirect, so it does neither.
        """

        def get_redirect_target(self, resp: requests.Response) -> None:
            return None

    class CuttableConnection:
        """Mixed into urllib3's connections: each keeps a duplicate of its socket, so
        that the watcher thread can shut the connection down (shutdown() wakes a read
        blocked in another thread; close() would not). A duplicate, because the TLS
        handshake detaches the plain socket it wraps; made before that handshake, so
        a handshake that stalls is cut off too.
        """

        sockets: set[socket.socket]  # the duplicates of one transport's connections
        _twin: socket.socket | None = None

        def _new_conn(self) -> socket.socket:
            self._forget_twin()
            sock: socket.socket = super()._new_conn()  # type: ignore[misc]
            self._twin = sock.dup()
            self.sockets.add(self._twin)
            return sock

        def close(self) -> None:
            try:
                super().close()  # type: ignore[misc]
            finally:
                self._forget_twin()

        def _forget_twin(self) -> None:
            if self._twin is not None:
                self.sockets.discard(self._twin)
                self._twin.close()
                self._twin = None

    def new_session(transport: _Transport) -> tuple[requests.Session, HTTPAdapter]:
        """One Session, with one connection pool and one SafeRetry, for every API
        request of `transport`; and an adapter that resends nothing, for the
        database probe (mounted for its origin: its next probe is its resend)."""
        pools: dict[str, type[HTTPConnectionPool]] = {}
        for scheme, pool in (("http", HTTPConnectionPool), ("https", HTTPSConnectionPool)):
            base = pool.ConnectionCls
            attributes = {"sockets": transport._sockets}
            connection = type(base.__name__, (CuttableConnection, base), attributes)
            pools[scheme] = type(pool.__name__, (pool,), {"ConnectionCls": connection})

        class Adapter(HTTPAdapter):
            """An adapter whose connections, direct or through an HTTP(S) proxy, can be
            cut off (a SOCKS proxy's have classes of their own, and are left as they are)."""

            def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
                manager = super().proxy_manager_for(proxy, **kwargs)
                if not proxy.lower().startswith("socks"):
                    manager.pool_classes_by_scheme = pools
                return manager

        def adapter(retry: Retry | int) -> HTTPAdapter:
            adapter = Adapter(max_retries=retry)
            adapter.poolmanager.pool_classes_by_scheme = pools
            return adapter

        retry = SafeRetry(
            total=RETRIES,
            allowed_methods=frozenset({"GET", "POST", "DELETE"}),  # DELETE is idempotent
            status_forcelist=RETRY_STATUSES,
            raise_on_status=False,
        )
        retry.transport = transport
        session = Session()
        session.headers["User-Agent"] = f"{USER_AGENT} {requests.utils.default_user_agent()}"
        for prefix in ("https://", "http://"):
            session.mount(prefix, adapter(retry))
        return session, adapter(0)

    return SimpleNamespace(
        requests=requests,
        urllib3=urllib3,
        parse_url=parse_url,
        new_session=new_session,
    )


def _read_body(response: requests.Response, what: str) -> bytes:
    """The whole body of a streamed answer, decompressed, within MAX_ANSWER_BYTES.

    More than that, as sent or decompressed (a gzip bomb), is refused. The
    time is the transport's: its watcher cuts the attempt off. A failed
    answer's connection is closed: it is mid-answer, never to be reused.
    """
    raw = response.raw
    read = getattr(raw, "read1", raw.read)  # read1 (urllib3 2.3+): at most one socket read
    body = bytearray()
    try:
        if (getattr(raw, "length_remaining", None) or 0) > MAX_ANSWER_BYTES:
            raise _too_large(what)
        while chunk := read(READ_CHUNK, decode_content=True):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES or raw.tell() > MAX_ANSWER_BYTES:
                raise _too_large(what)
    except BaseException:
        response.close()
        raise
    return bytes(body)


def _host_of(url: str) -> str:
    """The host of a URL as urllib3 reads it to connect; "" if it has none."""
    try:
        return _http().parse_url(url).host or ""
    except ValueError:
        return ""


# The blog post's functions, for programs that import this file: the methods
# of one client for API_URL. main() makes a client of its own for each run.
_default_client = AuraClient()
get_oauth_token = _default_client.get_oauth_token
call_endpoint = _default_client.call_endpoint
get_tenant_id = _default_client.get_tenant_id
create_instance = _default_client.create_instance
list_instances = _default_client.list_instances
get_instance = _default_client.get_instance
get_configurations = _default_client.get_configurations
delete_instance = _default_client.delete_instance


# ---------------------------------------------------------------------------
# Settings: flags, environment, .env and constants, resolved once
# ---------------------------------------------------------------------------


class Settings(NamedTuple):
    """Everything a run needs, resolved once from flags, environment, .env and constants.

    Immutable. A NamedTuple, not a frozen dataclass: importing dataclasses
    (and the inspect module it needs) would cost every run about 5 ms.

    `spec` is the POST /instances body less tenant_id; for free-db it lacks
    what the user left to the tenant. `sources` says where each spec value
    came from ("--region", "AURA_REGION in .env line 3", "REGION in
    create_instance.py", "default"), for error messages.
    """

    client_id: str
    client_secret: str
    api_url: str = API_URL
    tenant: str = ""
    spec: Mapping[str, Any] = MappingProxyType({})
    sources: Mapping[str, str] = MappingProxyType({})
    mode: str = "create"  # or "dry-run", "list-configurations", "delete", "list", "sweep"
    command: tuple[str, ...] = ()  # -- COMMAND: run it against the new instance, then delete
    keep: bool = False  # -- COMMAND: keep the instance afterwards
    delete_id: str = ""  # --delete ID
    sweep: str = ""  # --sweep PATTERN
    older_than: float | None = None  # --sweep: only instances created longer ago (seconds)
    dry_run: bool = False  # --sweep: say what would be deleted
    repeated_flags: tuple[str, ...] = ()  # --tenant and --api-url as given, for advice
    tenant_source: str = ""  # where `tenant` came from, as in `sources`
    timeout: float = READ_TIMEOUT
    wait_for: str | None = None  # "query", "running", or None: no waiting
    wait_timeout: float = WAIT_TIMEOUT
    query_timeout: float = QUERY_TIMEOUT
    output: str = "text"  # or "json"
    save_credentials: bool = True
    credentials_file: str | None = None  # None: the Aura console's file name
    allow_duplicate_name: bool = False
    quiet: bool = False
    github_actions: bool = False
    github_output: str | None = None


class _Setting(NamedTuple):
    """A setting a user may set anywhere: its constant (whose variable is AURA_ + its
    name), its flag, its POST /instances field, and what --help says of it."""

    name: str
    flag: str  # argparse's name: --cloud-provider is "cloud_provider"
    field: str | None
    help: str
    when_empty: str  # what --help calls the value of an empty constant
    spec: bool = True  # in --help's "instance spec" group
    choices: tuple[str, ...] | None = None
    metavar: str | None = None


_CONSTANTS = (
    _Setting(
        "TENANT", "tenant", None, "tenant (project) name or id", "the only tenant", spec=False
    ),
    _Setting("INSTANCE_NAME", "name", "name", "instance name", "none", spec=False),
    _Setting("API_URL", "api_url", None, "Aura API base URL", API_URL, spec=False),
    _Setting("INSTANCE_TYPE", "type", "type", "instance type", "none", choices=INSTANCE_TYPES),
    _Setting(
        "CLOUD_PROVIDER",
        "cloud_provider",
        "cloud_provider",
        "cloud provider",
        DEFAULTS["cloud_provider"],
        choices=CLOUD_PROVIDERS,
    ),
    _Setting("REGION", "region", "region", "cloud region", DEFAULTS["region"]),
    _Setting("MEMORY", "memory", "memory", "memory size such as 2GB", DEFAULTS["memory"]),
    _Setting("NEO4J_VERSION", "neo4j_version", "version", "Neo4j version", DEFAULTS["version"]),
    _Setting(
        "STORAGE", "storage", "storage", "storage size such as 4GB", "none sent: Aura decides"
    ),
    _Setting(
        "VECTOR_OPTIMIZED",
        "vector_optimized",
        "vector_optimized",
        "optimize the instance for vector search",
        "",
    ),
    _Setting(
        "GRAPH_ANALYTICS_PLUGIN",
        "graph_analytics_plugin",
        "graph_analytics_plugin",
        "install the Graph Analytics plugin; professional-db only",
        "",
    ),
    _Setting(
        "CUSTOMER_MANAGED_KEY_ID",
        "customer_managed_key_id",
        "customer_managed_key_id",
        "encrypt with this customer managed key; enterprise-db and enterprise-ds only",
        "none",
        metavar="ID",
    ),
)
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_SPEC_ORDER = (
    "version",
    "region",
    "memory",
    "name",
    "type",
    "cloud_provider",
    "storage",
    "vector_optimized",
    "graph_analytics_plugin",
    "source_instance_id",
    "source_snapshot_id",
    "customer_managed_key_id",
)


def resolve_settings(
    args: argparse.Namespace, environ: Mapping[str, str], dotenv_path: str = ".env"
) -> Settings:
    """Turn flags, environment, .env and the constants into one Settings.

    Each value is taken from the first of: flag, AURA_ variable in the
    environment, the same in .env, the constant (when not empty). Every
    local check runs here, before any request, and all problems of a kind
    are reported together, in one AuraError with exit code 2.
    """
    lookup = _Lookup(args, environ, _read_dotenv_lines(dotenv_path))
    found = {setting.name: lookup.setting(setting.name, setting.flag) for setting in _CONSTANTS}
    values = {name: hit[0] for name, hit in found.items() if hit}
    sources = {name: hit[1] for name, hit in found.items() if hit}
    client_id, client_secret = lookup.credentials()
    _refuse(lookup.problems + _usage_problems(args))

    mode = "dry-run" if args.dry_run else "create"
    mode = "list-configurations" if args.list_configurations else mode
    mode = "list" if args.list else mode
    mode = "sweep" if args.sweep else mode
    mode = "delete" if args.delete else mode
    spec, spec_sources = _spec_from(values, sources, args)
    api_url, url_problem = _checked_api_url(str(values.get("API_URL", API_URL)))
    problems = [url_problem] if url_problem else []
    if mode in ("create", "dry-run"):  # the others use neither the spec nor the file
        problems += _spec_problems(spec, spec_sources, in_file=not args.no_credentials_file)
        # A dry run checks the file too: it is to find whatever would stop the real run.
        if not args.no_credentials_file:
            problems += _credentials_path_problems(args.credentials_file)
    if args.delete and not _PLAIN_ID.fullmatch(args.delete):
        problems.append(
            f"--delete {args.delete!r} is not an instance id (letters, digits and dashes, such "
            "as 745ac096); --list shows the tenant's instances"
        )
    if args.sweep:
        problems += _pattern_problems(args.sweep)
    _refuse(problems)
    # Checked before anything is created (and paid for): the shell's rule, PATH or a path.
    if args.command and not shutil.which(args.command[0]):
        raise AuraError(
            f"cannot run {args.command[0]!r}: no executable file by that path or name on PATH; "
            "nothing was created",
            exit_code=EXIT_CANNOT_RUN,
        )

    return Settings(
        client_id=client_id,
        client_secret=client_secret,
        api_url=api_url,
        tenant=str(values.get("TENANT", "")).strip(),
        tenant_source=sources.get("TENANT", ""),
        spec=MappingProxyType(spec),
        sources=MappingProxyType(spec_sources),
        mode=mode,
        timeout=args.timeout,
        wait_for=args.wait_for or ("query" if args.wait or args.command else None),
        wait_timeout=args.wait_timeout,
        query_timeout=args.query_timeout,
        output=args.output,
        save_credentials=not args.no_credentials_file,
        credentials_file=args.credentials_file,
        allow_duplicate_name=args.allow_duplicate_name,
        quiet=args.quiet,
        github_actions=environ.get("GITHUB_ACTIONS") == "true",
        # The instance of -- COMMAND does not outlive the step: no outputs for later ones.
        github_output=None if args.command else environ.get("GITHUB_OUTPUT") or None,
        command=tuple(args.command or ()),
        keep=args.keep,
        delete_id=args.delete or "",
        sweep=args.sweep or "",
        older_than=args.older_than,
        dry_run=args.dry_run,
        repeated_flags=tuple(
            word
            for flag, value in (("--tenant", args.tenant), ("--api-url", args.api_url))
            if value is not None
            for word in (flag, value)
        ),
    )


def _pattern_problems(pattern: str) -> list[str]:
    """A --sweep pattern with wildcards must start with three characters that are not,
    so that no typo (`*`, `ci*`) can delete every instance of a tenant."""
    wildcard = next((i for i, char in enumerate(pattern) if char in "*?["), None)
    if wildcard is None or wildcard >= 3:
        return []
    return [
        f"--sweep {pattern!r} must start with at least three characters that are not "
        "wildcards (* ? [), such as ci-*; a name without wildcards may be of any length"
    ]


def _usage_problems(args: argparse.Namespace) -> list[str]:
    """Flags that contradict each other, or mean nothing together."""
    waits = args.wait or args.wait_for
    others = args.list or args.sweep
    clashes = [
        (
            waits and (args.dry_run or args.list_configurations),
            "--wait has nothing to wait for with --dry-run or --list-configurations",
        ),
        (
            args.command and args.output == "json",
            "-- COMMAND leaves stdout to the command: no --output json",
        ),
        (
            args.command and (args.dry_run or args.list_configurations),
            "-- COMMAND needs an instance: not with --dry-run or --list-configurations",
        ),
        (args.keep and not args.command, "--keep is for -- COMMAND"),
        (
            args.delete
            and (args.command or args.dry_run or args.list_configurations or waits or others),
            "--delete ID deletes one instance and does nothing else",
        ),
        (
            args.list and (args.command or args.dry_run or args.list_configurations or waits),
            "--list lists the tenant's instances and does nothing else",
        ),
        (
            args.sweep and (args.command or args.list or args.list_configurations or waits),
            "--sweep PATTERN deletes the matching instances and does nothing else "
            "(--older-than, --dry-run and --wait-timeout go with it)",
        ),
        (args.older_than is not None and not args.sweep, "--older-than is for --sweep"),
        (args.command == [], "-- needs a command after it"),
    ]
    return [message for clash, message in clashes if clash]


def _encodable(text: str) -> bool:
    """Whether `text` can be sent as UTF-8 (os.environ keeps undecodable bytes as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse(problems: list[str]) -> None:
    if problems:
        raise AuraError("; ".join(problems), exit_code=EXIT_USAGE)


class _Lookup:
    """Finds a setting in the first of: flag, environment, .env, constant.

    Problems met on the way (blank flags and variables, booleans that are
    not) are collected in `problems`, to be reported all at once.
    """

    def __init__(
        self,
        args: argparse.Namespace,
        environ: Mapping[str, str],
        dotenv: dict[str, tuple[str, int]],
    ) -> None:
        self.args = args
        self.environ = environ
        self.dotenv = dotenv
        self.blank: dict[str, list[str]] = {}  # "environment" or ".env": blank variables
        self.refused: set[str] = set()  # variables that are set, but not to usable text
        self.problems: list[str] = []
        for option, value in vars(args).items():
            if isinstance(value, str):
                self._check_text(value, f"--{option.replace('_', '-')}")

    def _check_text(self, value: str, where: str) -> bool:
        """Whether `value` is usable text; if not, say so (never echoing it: it may be a secret)."""
        if not value.strip():
            # In a pipeline, --region "$REGION" with REGION unset must not mean the default.
            self.problems.append(f"{where} is blank; give it a value or leave it out")
        elif _CONTROLS.search(value):
            self.problems.append(f"{where} contains a control character (a line break, say)")
        elif not _encodable(value):
            self.problems.append(f"{where} is not valid UTF-8 text")
        else:
            return True
        return False

    def setting(self, name: str, flag: str) -> tuple[Any, str] | None:
        """The value of the setting behind constant `name`, and where it came from."""
        given = getattr(self.args, flag)
        if given is not None:
            return given, f"--{flag.replace('_', '-')}"
        found = self.variable(name)
        if found and isinstance(globals()[name], bool):
            text, where = found
            if text.strip().lower() not in _BOOLEANS:
                self.problems.append(f"{where} is {text!r}: use true or false")
            return _BOOLEANS.get(text.strip().lower(), False), where
        if found:
            return found
        constant = globals()[name]
        if constant != "":
            where = f"{name} in create_instance.py"
            if isinstance(constant, str):
                self._check_text(constant, where)
            return constant, where
        return None

    def variable(self, name: str) -> tuple[str, str] | None:
        """AURA_<name> from the environment, else from .env: the value and where it was."""
        key = f"AURA_{name}"
        if key in self.environ:
            value, where, group = self.environ[key], f"{key} in the environment", "environment"
        elif key in self.dotenv:
            value, line = self.dotenv[key]
            where, group = f"{key} in .env line {line}", ".env"
        else:
            return None
        if not value.strip():
            # In CI a blank variable is usually a secret that did not expand.
            self.blank.setdefault(group, []).append(key)
            self.refused.add(key)
            return None
        # The client id and secret have always been stripped: a secret file's last newline.
        value = value.strip() if name.startswith("CLIENT_") else value
        if not self._check_text(value, where):
            self.refused.add(key)
            return None
        return value, where

    def credentials(self) -> tuple[str, str]:
        """The client id and secret, from the environment or .env only.

        Called last, it also reports every blank variable met so far, by where.
        """
        found = [self.variable("CLIENT_ID"), self.variable("CLIENT_SECRET")]
        for group, keys in self.blank.items():
            one = len(keys) == 1
            self.problems.append(
                f"{' and '.join(keys)} {'is' if one else 'are'} set but blank in the {group}; "
                f"give {'it' if one else 'them'} a value or unset {'it' if one else 'them'}"
            )
        missing = [
            key
            for key, hit in zip(("AURA_CLIENT_ID", "AURA_CLIENT_SECRET"), found)
            if hit is None and key not in self.refused
        ]
        if missing:
            self.problems.append(
                f"{' and '.join(missing)} not set: create API credentials in the Aura console, "
                "then export them or put them in .env"
            )
        return (found[0] or ("", ""))[0], (found[1] or ("", ""))[0]


def _spec_from(
    values: dict[str, Any], sources: dict[str, str], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, str]]:
    """The POST /instances body (less tenant_id) and where each field came from.

    Optional fields are present only when they are wanted: the API's defaults
    stay the API's business. For free-db, what the user left unset stays
    out, for the tenant's free configuration to fill in.
    """
    spec: dict[str, Any] = {}
    spec_sources: dict[str, str] = {}
    for setting in _CONSTANTS:
        name, field = setting.name, setting.field
        if field and name in values and values[name] is not False:
            spec[field], spec_sources[field] = values[name], sources[name]
    if spec.get("type") != "free-db":
        for field, value in DEFAULTS.items():
            if field not in spec:
                spec[field], spec_sources[field] = value, "default"
    for field in ("source_instance_id", "source_snapshot_id"):
        if getattr(args, field) is not None:
            spec[field] = getattr(args, field)
            spec_sources[field] = f"--{field.replace('_', '-')}"
    ordered = {field: spec[field] for field in _SPEC_ORDER if field in spec}
    return ordered, spec_sources


def _spec_problems(
    spec: Mapping[str, Any], sources: Mapping[str, str], *, in_file: bool
) -> list[str]:
    """The checks of the body that need no network, each a sentence naming the source.

    `in_file`: the name goes into a credentials file, so it must be one it can hold.
    """

    def given(field: str) -> str:
        return _given(sources.get(field, ""))

    problems = []
    name = spec.get("name", "")
    if not name.strip():
        problems.append("the instance name is empty")
    elif name != name.strip():
        problems.append(
            f"the instance name {name!r}{given('name')} has leading or trailing whitespace"
        )
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(
            f"the instance name is {len(name)} characters long{given('name')}; Aura allows at "
            f"most {MAX_NAME_LENGTH}"
        )
    elif in_file and _dotenv_value(name) is None:
        problems.append(
            f"the instance name {name!r}{given('name')} cannot be written in the credentials "
            "file so that python-dotenv and a shell both read it back exactly; choose another "
            "--name, or --no-credentials-file"
        )
    kind = spec.get("type")
    if kind not in INSTANCE_TYPES:
        problems.append(
            f"instance type {kind!r}{given('type')} is not one of {', '.join(INSTANCE_TYPES)}"
        )
    cloud = spec.get("cloud_provider")
    if cloud is not None and cloud not in CLOUD_PROVIDERS:
        problems.append(
            f"cloud provider {cloud!r}{given('cloud_provider')} is not one of "
            f"{', '.join(CLOUD_PROVIDERS)}"
        )
    for field, example in (("memory", "2GB"), ("storage", "4GB")):
        if field in spec and not _SIZE.fullmatch(spec[field]):
            fixed = spec[field].upper()
            hint = f"; did you mean {fixed!r}?" if _SIZE.fullmatch(fixed) else ""
            problems.append(
                f"{field} {spec[field]!r}{given(field)} is not a size such as {example}{hint}"
            )
    if "storage" in spec and kind == "free-db":
        problems.append(
            f"free-db instances have no storage setting; leave storage{given('storage')} out"
        )
    if spec.get("graph_analytics_plugin") and kind != "professional-db":
        problems.append(
            f"the Graph Analytics plugin{given('graph_analytics_plugin')} is only for "
            "professional-db instances"
        )
    if spec.get("customer_managed_key_id") and kind not in ("enterprise-db", "enterprise-ds"):
        problems.append(
            f"a customer managed key{given('customer_managed_key_id')} is only for "
            "enterprise-db and enterprise-ds instances"
        )
    if "source_snapshot_id" in spec and "source_instance_id" not in spec:
        problems.append("--source-snapshot-id needs --source-instance-id (the snapshot's instance)")
    return problems


def _given(where: str) -> str:
    """Where a value came from, for a message: " (from AURA_REGION in .env line 3)";
    nothing for a flag, which the user just typed, or a default."""
    return "" if not where or where.startswith("--") or where == "default" else f" (from {where})"


_SIZE = re.compile(r"[0-9]+(\.[0-9]+)?GB")


def _checked_api_url(url: str) -> tuple[str, str | None]:
    """The base URL without a trailing slash, and what is wrong with it, if anything.

    https is required, except for a loopback host (the tests' fake API). A URL that
    parsers may read differently (see _AMBIGUOUS_URL) is refused by its characters, so
    that urllib3, which connects, cannot take another host or port than the one checked.
    """
    if _AMBIGUOUS_URL.search(url.strip()):
        return url, (
            f"API URL {url!r} holds a backslash, user info (@), white space or a control "
            f"character; give the base URL alone, such as {API_URL}"
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return url, f"API URL {url!r} is not an http(s) URL"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return url, f"API URL {url!r} must use https (plain http only for localhost)"
    if parts.path.rstrip("/") or parts.query or parts.fragment:
        return url, f"API URL {url!r} must be the base URL without a path, such as {API_URL}"
    return f"{parts.scheme}://{parts.netloc}", None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credentials_path_problems(path: str | None) -> list[str]:
    """Refuse, before anything is created, a credentials file that cannot be written."""
    directory = os.path.dirname(path or "") or "."
    if path and os.path.lexists(path):
        return [f"credentials file {path} already exists; it is never overwritten"]
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        return [
            f"cannot write the credentials file in {directory}; choose another place with "
            "--credentials-file PATH, or --no-credentials-file"
        ]
    return []


# The .env grammar of python-dotenv 1.2.4 (its src/dotenv/parser.py), rebuilt here so that the
# script needs only `requests`. Line ends have already been turned into "\n". One regex reads
# a statement (a quoted value is then found by its closing quote), so that reading takes time
# and memory in proportion to the file, whatever it holds; the file is at most 1 MiB.
_DOTENV_BLANK = re.compile(r"\s*")
# Blank lines, `export ` (never given back: `export =x` is an error, not the key "export"),
# then a comment, or a key ('any key' or one without = # space) with either `=` and its value
# (quoted without a backslash up to the end of the line, which is then all of it as written,
# or else the rest of the line) or only a comment after it. Each part stops where the next
# must start, so a match goes over its statement about once, whatever the statement holds.
_DOTENV_STATEMENT = re.compile(
    r"\s*(?P<start>)(?:export[^\S\n]+|(?!export[^\S\n]))"
    r"(?:#[^\n]*|(?:'(?P<quoted_key>[^']+)'|(?P<key>[^'=#\s][^=#\s]*))[^\S\n]*"
    r"(?:=(?P<space>[^\S\n]*)"
    r"(?:(?P<plain>'[^'\\]*'|\"[^\"\\]*\")(?=\n|\Z)|(?P<rest>[^\n]*))"
    r"|(?:#[^\n]*)?))"
    r"(?:\n|\Z)"
)
# Per quote: a quote with the run of backslashes before it (it ends the value if the run is
# even, as a backslash always takes the next character along), and the only escapes
# python-dotenv decodes inside; other backslashes stay.
_DOTENV_QUOTES = {
    "'": (re.compile(r"(?<!\\)\\*'"), re.compile(r"\\([\\'])")),
    '"': (re.compile(r'(?<!\\)\\*"'), re.compile(r"\\([\\'\"abfnrtv])")),
}
_DOTENV_CONTROLS = dict(zip("abfnrtv", "\a\b\f\n\r\t\v"))
_DOTENV_INLINE_COMMENT = re.compile(r"\s#")  # an unquoted value ends at a space before `#`
_DOTENV_END = re.compile(r"[^\S\n]*(?:#[^\n]*)?(?:\n|\Z)")


def read_dotenv(path: str = ".env") -> dict[str, str]:
    """Read a .env file as python-dotenv's dotenv_values(path, interpolate=False) does.

    A missing file is an empty one. `${VAR}` is kept as written, so a secret containing `$`
    arrives intact. A key alone on a line (no `=`) has no value and is left out, as is an
    earlier value of that key. A statement python-dotenv cannot parse (an unclosed quote, text
    after a closing quote) is an error where python-dotenv would skip it with a warning: it is
    reported by python-dotenv's line number and never echoed, as it may hold a secret. A file
    over 1 MiB is an error too.
    """
    return {key: value for key, (value, _line) in _read_dotenv_lines(path).items()}


def _read_dotenv_lines(path: str) -> dict[str, tuple[str, int]]:
    """read_dotenv, with the line each value was set on (for messages)."""
    text = _dotenv_text(path)
    values: dict[str, tuple[str, int]] = {}
    position, line, counted = 0, 1, 0  # `line` is the line `counted` is on
    while True:
        statement = _dotenv_statement(text, position)
        if statement is None:
            start = _DOTENV_BLANK.match(text, position).end()
            if start == len(text):
                return values
            line += text.count("\n", counted, start)
            raise AuraError(
                f"{path} line {line} cannot be parsed (an unclosed quote?)", exit_code=EXIT_USAGE
            )
        start, key, value, position = statement
        if key is not None and value is not None:
            line += text.count("\n", counted, start)
            counted = start
            values[key] = (value, line)
        elif key is not None:
            values.pop(key, None)


def _dotenv_text(path: str) -> str:
    """The text of the regular file at `path`, with "\n" line ends and without its BOM; ""
    if nothing is there.

    Anything else at `path` (a dangling link, a directory, a FIFO that would block) is
    refused before it is opened, a file over 1 MiB before it is read.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise AuraError(f"{path} is not a regular file", exit_code=EXIT_USAGE)
        size, data, more = info.st_size, b"", ""
        if size <= MAX_DOTENV_BYTES:
            with open(path, "rb") as file:
                data = file.read(MAX_DOTENV_BYTES + 1)
            if len(data) > MAX_DOTENV_BYTES:  # grown since, or of a size not told (/proc)
                size, more = len(data), " or more"
        if size > MAX_DOTENV_BYTES:
            raise AuraError(
                f"{path} is {size:,} bytes{more}; a .env file may have at most 1 MiB "
                f"({MAX_DOTENV_BYTES:,} bytes)",
                exit_code=EXIT_USAGE,
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        if os.path.lexists(path):
            raise AuraError(f"{path} is a link to a missing file", exit_code=EXIT_USAGE) from None
        return ""
    except UnicodeDecodeError:
        raise AuraError(f"{path} is not UTF-8 text", exit_code=EXIT_USAGE) from None
    except OSError as exc:
        raise AuraError(f"cannot read {path}: {exc.strerror}", exit_code=EXIT_USAGE) from None
    # As open() in text mode, which python-dotenv uses, reads them.
    return text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")


def _dotenv_statement(text: str, position: int) -> tuple[int, str | None, str | None, int] | None:
    """The statement after the blank lines at `position`, as (where it starts, key, value,
    where it ends); None at the end of the text, or if python-dotenv could not parse it.

    The key is None for a comment, the value None for a key alone.
    """
    found = _DOTENV_STATEMENT.match(text, position)
    if not found:
        return None
    start, key = found.start("start"), found["quoted_key"] or found["key"]
    plain, rest = found.group("plain", "rest")
    if plain is not None:
        value: str | None = plain[1:-1]
    elif rest is None:  # a comment, or a key alone
        value = None
    elif rest[:1] in _DOTENV_QUOTES:  # with a backslash, over lines, or never closed
        return _dotenv_quoted(text, start, key, found.start("rest"))
    elif found["space"] and rest.startswith("#"):  # `KEY= # note` is empty, `KEY=#x` is "#x"
        value = ""
    else:
        value = _DOTENV_INLINE_COMMENT.split(rest, maxsplit=1)[0].rstrip()
    return start, key, value, found.end()


def _dotenv_quoted(
    text: str, start: int, key: str, opening: int
) -> tuple[int, str, str, int] | None:
    """The statement from `start` whose value is quoted from `opening`, as _dotenv_statement."""
    closing, escape = _DOTENV_QUOTES[text[opening]]
    for candidate in closing.finditer(text, opening + 1):
        if (candidate.end() - candidate.start()) % 2:  # an even run of backslashes before it
            end = _DOTENV_END.match(text, candidate.end())
            if not end:
                return None
            parts = escape.split(text[opening + 1 : candidate.end() - 1])
            parts[1::2] = [_DOTENV_CONTROLS.get(char, char) for char in parts[1::2]]
            return start, key, "".join(parts), end.end()
    return None


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line and the documented exit code."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_USAGE, _inert(_printable(f"{self.prog}: error: {message} (see --help)")) + "\n"
        )


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


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    """An argparse type: 90s, 30m, 2h, 1d or a bare number of seconds, up to a year."""
    match = _DURATION.fullmatch(text.strip())
    seconds = float(match[1]) * _DURATION_UNITS[match[2]] if match else 0.0
    if not (0 < seconds <= MAX_OLDER_THAN):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration such as 90s, 30m, 2h or 1d (at most 365d)"
        )
    return seconds


def _from(name: str, when_empty: str) -> str:
    """How --help names a setting's variable and default: the constant as it is now."""
    value = globals()[name]
    shown = when_empty if value == "" else repr(value)
    return f"env AURA_{name}; default {shown}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The flags, and in `command` what follows `--` (None if there is no `--`)."""
    split = argv.index("--") if "--" in argv else len(argv)
    args = build_parser().parse_args(argv[:split])
    args.command = argv[split + 1 :] if split < len(argv) else None
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="create_instance.py",
        usage="%(prog)s [options] [-- COMMAND [ARG ...]]",
        description="Create a Neo4j Aura instance and print its one-time credentials. "
        "AURA_CLIENT_ID and AURA_CLIENT_SECRET must be set in the environment or "
        "in a .env file in the current directory. Every setting below that names a "
        "variable can also be set there, or in the constants at the top of the script. "
        "With -- COMMAND, the instance lives only as long as the command: it is created, "
        "waited for, handed to COMMAND in NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD and "
        "NEO4J_DATABASE, then deleted.",
        epilog="Exit codes: 0 created (or listed, or dry run passed, or deleted); 1 the API "
        "or the network failed; 2 usage or configuration error; 3 authentication or "
        "permission refused; 4 --wait: the instance did not become ready; 5 -- COMMAND "
        "succeeded but the instance could not be deleted, or --sweep left an instance; "
        "127 COMMAND could not be found or started (checked before anything is created); "
        "129 hung up (SIGHUP); 130 interrupted; 143 terminated. With -- COMMAND, otherwise "
        "the command's own.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    spec = parser.add_argument_group(
        "instance spec",
        "For free-db, what is not set comes from the tenant's free configuration. "
        "--list-configurations shows what the tenant offers.",
    )
    for setting in _CONSTANTS:
        boolean = isinstance(globals()[setting.name], bool)
        (spec if setting.spec else parser).add_argument(
            f"--{setting.flag.replace('_', '-')}",
            action=argparse.BooleanOptionalAction if boolean else "store",
            choices=setting.choices,
            metavar=setting.metavar,
            help=f"{setting.help} ({_from(setting.name, setting.when_empty)})",
        )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=READ_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds to wait for each answer from the API (default {READ_TIMEOUT})",
    )
    spec.add_argument(
        "--source-instance-id", metavar="ID", help="clone the new instance from this instance"
    )
    spec.add_argument(
        "--source-snapshot-id",
        metavar="ID",
        help="clone from this (exportable) snapshot of --source-instance-id",
    )

    run = parser.add_argument_group("what to do")
    run.add_argument(
        "--keep",
        action="store_true",
        help="with -- COMMAND: keep the instance and its credentials file afterwards",
    )
    run.add_argument(
        "--delete",
        metavar="ID",
        help="delete the instance with this id (never a name: a name can match the wrong "
        "instance), confirm, and exit",
    )
    run.add_argument(
        "--list",
        action="store_true",
        help="list the tenant's instances (id, name, created, cloud provider), then exit",
    )
    run.add_argument(
        "--sweep",
        metavar="PATTERN",
        help="delete every instance of the tenant whose name matches PATTERN (shell-style, "
        "such as 'ci-*', at least three characters before a wildcard; without wildcards, "
        "one exact name), confirm each, and print their ids; with --dry-run, only print "
        "them. Instances still being created are waited for up to --wait-timeout",
    )
    run.add_argument(
        "--older-than",
        type=_duration,
        metavar="DURATION",
        help="with --sweep: only instances created longer ago than this (90s, 30m, 2h, 1d; "
        "a bare number is seconds; at most 365d)",
    )
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
        help="only the result on stdout (in text mode, the credentials file's name instead "
        "of the password when the file has it) and only warnings and errors on stderr",
    )
    verbosity.add_argument(
        "--verbose",
        action="store_true",
        help="log each request (method, path, status, duration, X-Request-Id) to stderr",
    )
    return parser


# ---------------------------------------------------------------------------
# The run, phase by phase
# ---------------------------------------------------------------------------


def _run(settings: Settings, output: Output, signals: _Signals) -> int:
    """One run of the command line, after its settings are resolved and checked."""
    client = AuraClient(settings.api_url, settings.timeout, output.secrets)
    if settings.mode == "sweep":  # it can send many requests: keep to the rate limit
        client.transport.pace = MIN_REQUEST_INTERVAL
    client.get_oauth_token(settings.client_id, settings.client_secret)
    if settings.mode == "delete":
        _delete(client, settings.delete_id, unknown_is_error=True)
        return EXIT_OK
    tenant_id = _tenant_id(client, settings)
    if settings.mode == "list":
        output.show_instances(_listed_instances(client, tenant_id))
        return EXIT_OK
    if settings.mode == "sweep":
        return _sweep(client, tenant_id, settings, output)
    if settings.mode == "list-configurations":
        output.show_configurations(_tenant_configurations(client, tenant_id, settings))
        return EXIT_OK
    spec = _complete_spec(client, tenant_id, settings)
    existing = _check_name_is_free(client, spec, settings)
    if settings.mode == "dry-run":
        output.show_body(spec)
        return EXIT_OK
    if settings.command:
        signals.bound(client)  # from its first signal, the run has SIGNAL_EXIT_TIMEOUT s
    with output.delivering(), _Disposal(client, settings, output, signals) as disposal:
        with signals.held(
            "the create call is under way and its password comes only once",
            "stopped during the create call; an instance may have been created whose "
            "password is lost: look for it in the Aura console",
        ):
            created_at = time.monotonic()
            instance = _create(client, spec, existing, settings)
            output.deliver(instance)
            disposal.instance_id = _instance_id(client, instance, spec, existing, settings)
            output.credentials["id"] = disposal.instance_id  # the command's AURA_INSTANCEID
        if settings.wait_for:
            _wait(client, disposal.instance_id, instance, settings, output, created_at)
        if settings.command:
            environment = _command_environment(output.credentials)
            disposal.command_code = _run_command(settings.command, environment, signals)
            return disposal.command_code
    return output.exit_code


def _instance_id(
    client: AuraClient,
    instance: dict[str, Any],
    spec: dict[str, Any],
    existing: list[dict[str, Any]],
    settings: Settings,
) -> str:
    """The new instance's id, to wait for it and delete it. If the create answer has
    none that can be part of a path, the one new instance of that name, if the
    tenant's listing shows exactly one; else an AuraError naming the way to remove it."""
    instance_id = _field(instance, "id")
    if _PLAIN_ID.fullmatch(instance_id) or not (settings.wait_for or settings.command):
        return instance_id
    instance_id = _found_by_name(client, spec, existing)
    if instance_id:
        log.warning(
            "warning: the create answer had no usable instance id; instance %s is the one "
            "new instance named %r",
            instance_id,
            spec["name"],
        )
        return instance_id
    raise AuraError(
        f"the create answer had no usable instance id, and no one new instance named "
        f"{spec['name']!r} is listed; {'the command was not run; ' if settings.command else ''}"
        f"delete it with: {_command_line(settings, '--sweep', spec['name'])}"
    )


def _tenant_id(client: AuraClient, settings: Settings) -> str:
    """get_tenant_id, with errors that say where the tenant setting came from."""
    if _TENANT_ID.fullmatch(settings.tenant):
        return settings.tenant
    tenants = client.list_tenants(client.token)
    return _pick_tenant(settings.tenant, tenants, _given(settings.tenant_source))


def _complete_spec(client: AuraClient, tenant_id: str, settings: Settings) -> dict[str, Any]:
    """The create body for this tenant: tenant_id added, free-db filled in.

    A dry run (and free-db, which needs them anyway) checks the body against
    the tenant's configurations. A normal run does not fetch them: Aura
    checks the combination itself and creates nothing when it refuses.
    """
    spec = {**settings.spec, "tenant_id": tenant_id}
    if spec["type"] == "free-db" or settings.mode == "dry-run":
        offered = _tenant_configurations(client, tenant_id, settings)
        if spec["type"] == "free-db":
            _fill_free_spec(spec, offered)
        problem = _configuration_problem(spec, offered)
        if problem:
            raise AuraError(problem, exit_code=EXIT_USAGE)
        if spec["type"] == "free-db":
            log.info(
                "free-db: %s %s with %s; what no setting chose comes from the tenant's "
                "free configuration.",
                spec["cloud_provider"],
                spec["region"],
                spec["memory"],
            )
    return spec


def _check_name_is_free(
    client: AuraClient, spec: dict[str, Any], settings: Settings
) -> list[dict[str, Any]]:
    """Stop if the tenant has an instance of this name; return the tenant's instances."""
    existing = client.list_instances(client.token, spec["tenant_id"])
    same_name = [str(i.get("id")) for i in existing if i.get("name") == spec["name"]]
    if same_name and not settings.allow_duplicate_name:
        raise AuraError(
            f"an instance named {spec['name']!r} already exists in this tenant "
            f"({', '.join(same_name)}); choose another --name, or pass --allow-duplicate-name",
            exit_code=EXIT_USAGE,
        )
    return existing


def _create(
    client: AuraClient, spec: dict[str, Any], existing: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    """The create call, with a rejection explained and an ambiguous failure checked."""
    where = _given(settings.tenant_source)
    try:
        instance = _create_without_duplicates(client, spec, existing)
    except AuraError as failure:
        # Not a refused token renewal (EXIT_AUTH): only the create call's own 400.
        if failure.status == 400 and failure.exit_code != EXIT_AUTH:
            raise _explain_rejection(client, spec, failure, where) from None
        raise
    client.secrets.add(_field(instance, "password"))  # before anything of the answer is shown
    log.info(
        "Created %s instance %r (%s) in tenant %s; Aura takes a few minutes to start it.",
        spec["type"],
        spec["name"],
        instance.get("id"),
        spec["tenant_id"],
    )
    return instance


def _create_without_duplicates(
    client: AuraClient, spec: dict[str, Any], existing: list[dict[str, Any]]
) -> dict[str, Any]:
    """create_instance, and after a failure that may have created it, find out.

    A read timeout, a dropped connection or a 5xx after the POST was sent
    leaves it unknown whether Aura created the instance. Sending the POST
    again could create a second, billed one; instead, look for an instance
    with the name that was not there before.
    """
    try:
        return client.create_instance(client.token, spec)
    except AuraError as failure:
        if client.transport.stopping():  # a signal's deadline cut it off: no time to look
            raise _CreateUnanswered(str(failure), stopped=True) from None
        if failure.unsent or (failure.status is not None and failure.status < 500):
            raise
        log.warning(
            "warning: %s; the instance may or may not exist now. Not resending the create "
            "call (that could create a second instance); checking the tenant's instances.",
            failure,
        )
        known_ids = {str(i.get("id")) for i in existing}
        try:
            appeared = [
                instance
                for instance in client.list_instances(client.token, spec["tenant_id"])
                if instance.get("name") == spec["name"] and instance.get("id") not in known_ids
            ]
        except AuraError as check:
            raise _CreateUnanswered(
                f"the create call failed ({failure}) and the check failed too ({check}); "
                f"look for an instance named {spec['name']!r} in the Aura console before "
                "running again"
            ) from None
        if appeared:
            ids = tuple(str(i.get("id")) for i in appeared)
            raise _CreateUnanswered(
                f"instance {', '.join(ids)} named {spec['name']!r} was created, but its "
                "password was lost with the failed answer; delete it or reset its password "
                "in the Aura console",
                ids=ids,
            ) from None
        raise AuraError(
            f"the create call failed ({failure}) and no instance named {spec['name']!r} "
            "appeared: nothing was created, and it is safe to run again"
        ) from None


def _explain_rejection(
    client: AuraClient, spec: dict[str, Any], rejection: AuraError, where: str
) -> AuraError:
    """A 400 from the create call: Aura's own message and reason, then, if the
    tenant's configurations disagree with the request, what it offers instead.

    The configurations are fetched only now, after Aura said no: a check
    before every create would cost each successful run a round trip, and
    Aura checks the combination itself anyway, creating nothing when it
    rejects it. Either way a 400 created nothing, and the fix is the user's.
    """
    refused = rejection.args[0]
    refused += f" (reason: {', '.join(rejection.reasons)})" if rejection.reasons else ""
    refused += f" (X-Request-Id {rejection.request_id})" if rejection.request_id else ""
    if "tenant-not-found" in rejection.reasons:
        unknown = _unknown_tenant(client, spec["tenant_id"], where)
        return AuraError(f"{refused}; {unknown}", exit_code=EXIT_USAGE)
    try:
        problem = _configuration_problem(
            spec, client.get_configurations(client.token, spec["tenant_id"])
        )
    except AuraError:
        problem = None
    return AuraError(
        f"{refused}; {problem + ' ' if problem else ''}(nothing was created)",
        exit_code=EXIT_USAGE,
    )


def _tenant_configurations(
    client: AuraClient, tenant_id: str, settings: Settings
) -> list[dict[str, Any]]:
    """get_configurations, with an unknown tenant id reported as such."""
    try:
        return client.get_configurations(client.token, tenant_id)
    except AuraError as exc:
        if exc.status == 404:
            raise _unknown_tenant(client, tenant_id, _given(settings.tenant_source)) from None
        raise


def _unknown_tenant(client: AuraClient, tenant_id: str, where: str) -> AuraError:
    try:
        tenants: list[dict[str, Any]] | None = client.list_tenants(client.token)
    except AuraError:
        tenants = None
    return _no_such_tenant(f"no tenant has the id {tenant_id}{where}.", tenants)


_CONFIGURATION_KEYS = ("type", "cloud_provider", "region", "version", "memory", "storage")


def _fill_free_spec(spec: dict[str, Any], offered: list[dict[str, Any]]) -> None:
    """free-db comes in one configuration: take it, except for what the user set."""
    free = [c for c in offered if c.get("type") == "free-db"]
    if not free:
        return  # _configuration_problem explains
    fillable = ("cloud_provider", "region", "memory", "version")
    given = {key: spec[key] for key in fillable if key in spec}
    # The free configuration that fits what the user set, if there is one.
    chosen = next(
        (c for c in free if all(c.get(key) == value for key, value in given.items())), free[0]
    )
    for key in fillable:
        if key not in given and chosen.get(key):
            spec[key] = chosen[key]


def _configuration_problem(spec: dict[str, Any], offered: list[dict[str, Any]]) -> str | None:
    """None if the tenant offers what `spec` asks for; else what it offers nearest to it.

    Narrows down as Aura's choices do: type, then cloud and region, then
    version, then memory and storage; the first step that fails is explained.
    """
    keys = [key for key in _CONFIGURATION_KEYS if key in spec]
    if any(all(c.get(key) == spec[key] for key in keys) for c in offered):
        return None
    wanted = (
        f"{spec['type']} with {spec.get('memory')} in {spec.get('cloud_provider')} "
        f"{spec.get('region')}"
    )
    of_type = [c for c in offered if c.get("type") == spec["type"]]
    if not of_type:
        types = sorted({str(c.get("type")) for c in offered})
        offers = ", ".join(types) if types else "nothing at all"
        return f"the tenant offers no {spec['type']} instances; it offers: {offers}"
    here = [
        c
        for c in of_type
        if (c.get("cloud_provider"), c.get("region"))
        == (spec.get("cloud_provider"), spec.get("region"))
    ]
    if not here:
        clouds: dict[str, set[str]] = {}
        for c in of_type:
            clouds.setdefault(str(c.get("cloud_provider")), set()).add(str(c.get("region")))
        elsewhere = sorted(
            cloud for cloud, regions in clouds.items() if spec.get("region") in regions
        )
        if elsewhere:
            hint = f" {spec.get('region')} is a region of {' and '.join(elsewhere)}."
        else:
            every_region = sorted(set().union(*clouds.values()))
            near = difflib.get_close_matches(str(spec.get("region")), every_region, 1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
        where = "; ".join(f"{cloud}: {', '.join(sorted(r))}" for cloud, r in sorted(clouds.items()))
        return f"{wanted} is not offered.{hint} {spec['type']} is offered in {where}"
    versions = sorted({str(c.get("version")) for c in here})
    if spec.get("version") not in versions:
        return f"Neo4j version {spec.get('version')!r} is not offered for {wanted}; offered: " + (
            ", ".join(versions)
        )
    sizes = [c for c in here if c.get("version") == spec.get("version")]
    memories = sorted({str(c.get("memory")) for c in sizes}, key=_gigabytes)
    if spec.get("memory") not in memories:
        return (
            f"{spec['type']} in {spec.get('cloud_provider')} {spec.get('region')} comes with "
            f"memory {', '.join(memories)}, not {spec.get('memory')}"
        )
    storages = sorted(
        {str(c.get("storage")) for c in sizes if c.get("memory") == spec.get("memory")}
    )
    return f"with {spec['memory']} memory, storage is {', '.join(storages)}, not {spec['storage']}"


def _gigabytes(size: Any) -> float:
    match = _SIZE.fullmatch(str(size))
    return float(match.group(0)[:-2]) if match else float("inf")


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


def _table(header: tuple[str, ...], items: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Items of an answer, in the order given, as an aligned text table, every value escaped."""
    rows = [header] + [tuple(_printable(str(i.get(key, ""))) for key in columns) for i in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n"
        for row in rows
    )


# ---------------------------------------------------------------------------
# Delivery: everything the user receives leaves through Output
# ---------------------------------------------------------------------------


class _SafeFormatter(logging.Formatter):
    """The gate of stderr: every message leaves redacted, escaped and one line long."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__("%(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return _inert(_printable(self.secrets.redact(super().format(record))))


class Output:
    """Everything the run hands to the user: the credentials, results, stdout.

    The new credentials leave in one order, the safest first: the credentials
    file, GITHUB_OUTPUT, the GitHub mask lines, then stdout (text at once;
    JSON when the run ends, however it ends, so that the one-time password
    reaches stdout even when the wait fails or the run is interrupted).
    Messages for people go to stderr through the `log` logger, whose handler
    main() gives a _SafeFormatter with the same Secrets. Whatever came from
    the network is redacted and, where a person reads it, escaped.
    """

    def __init__(self, settings: Settings, secrets: Secrets | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or Secrets()
        self.result: dict[str, Any] = {}  # the create answer, plus what the run learnt
        self.credentials: dict[str, str] = {}  # id, name, username, password, connection_url
        self.exit_code = EXIT_OK

    def show_configurations(self, offered: list[dict[str, Any]]) -> None:
        offered = _sorted_configurations(offered)
        if self.settings.output == "json":
            self._show(json.dumps(offered, indent=2) + "\n")
        else:
            columns = ("type", "cloud_provider", "region", "region_name", "memory", "storage")
            header = ("TYPE", "CLOUD", "REGION", "REGION NAME", "MEMORY", "STORAGE", "VERSION")
            self._show(_table(header, offered, (*columns, "version")))

    def show_instances(self, instances: list[dict[str, Any]]) -> None:
        """--list: the API's objects as JSON, or a line each: id, name, created, cloud."""
        if self.settings.output == "json":
            self._show(json.dumps(instances, indent=2) + "\n")
        else:
            columns = ("id", "name", "created_at", "cloud_provider")
            self._show(_table(("ID", "NAME", "CREATED", "CLOUD"), instances, columns))

    def show_ids(self, ids: list[str]) -> None:
        """--sweep: the ids deleted (with --dry-run, to delete), as a JSON array or a line each."""
        if self.settings.output == "json":
            self._show(json.dumps(ids) + "\n")
        elif ids:
            self._show("".join(f"{instance_id}\n" for instance_id in ids))

    def show_body(self, spec: dict[str, Any]) -> None:
        log.info("Dry run: every check passed; this is the body that would be sent.")
        self._show(json.dumps(spec, indent=2) + "\n")

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        """The block in which the credentials are delivered: JSON goes out as it ends."""
        try:
            yield
        finally:
            if self.result and self.settings.output == "json":
                self._stdout(_inert(json.dumps(self.result)) + "\n")

    def deliver(self, instance: dict[str, Any]) -> None:
        """Save and show a new instance's credentials (file, CI, masks, then text)."""
        settings = self.settings
        password = _field(instance, "password")
        self.secrets.add(password)
        self.result = {
            self.secrets.redact(key, password): value
            if key == "password"
            else self._redacted(value, keep=password)
            for key, value in instance.items()
        }
        values = self.credentials = {key: _field(self.result, key) for key in _CREDENTIAL_FIELDS}
        problems = _credential_problems(instance)
        if settings.save_credentials:
            self._save_file(values)
        elif not settings.command:
            log.info("No credentials file (--no-credentials-file): stdout is the only copy.")
        if settings.github_output:
            self._write_github_outputs(settings.github_output, values)
        masks = [f"::add-mask::{value}" for value in _mask_values(password)]
        if settings.github_actions:
            # The runner reads workflow commands from stderr as well as stdout, and
            # stderr is the stream a calling script does not capture.
            _write_stderr("".join(f"{mask}\n" for mask in masks))
        if settings.output == "text" and not settings.command:  # stdout is the command's
            self._stdout("".join(f"{line}\n" for line in self._text_lines(values, masks)))
        if problems:
            log.error(
                "error: instance %s was created, but the API's answer %s; find it in the Aura "
                "console (a lost password can be reset there)",
                values["id"],
                " and ".join(problems),
            )
            self.exit_code = EXIT_FAILED

    def _text_lines(self, values: dict[str, str], masks: list[str]) -> list[str]:
        """The labelled lines of text mode: one line each, whatever the values hold."""
        settings = self.settings
        lines = [f"Instance ID {values['id']}", f"Username {values['username']}"]
        if settings.quiet and "credentials_file" in self.result:
            lines.append(f"Credentials file {self.result['credentials_file']}")
        else:
            if settings.github_actions:  # also on stdout, for whatever replays stdout
                lines += masks
            lines.append(f"Password {values['password']}")
        lines.append(f"Connection URI {values['connection_url']}")
        # A missing value prints as nothing, never as "None", which reads like a password.
        return [line if line in masks else _inert(_printable(line).rstrip()) for line in lines]

    def remove_credentials_file(self) -> None:
        """After a confirmed delete: the file's instance no longer exists."""
        path = self.result.pop("credentials_file", None)
        if path and os.path.lexists(path):  # the delete may have removed it already
            _remove_credentials_file(path)

    def _save_file(self, values: dict[str, str]) -> None:
        path = self.settings.credentials_file or _default_credentials_path(values["id"])
        content = _credentials_file_text(values)
        try:
            if content is None:
                raise OSError("the API's answer has a value that no .env file can hold exactly")
            _save_credentials(content, path)
        except OSError as exc:
            log.warning(
                "warning: could not save the credentials to %s (%s); stdout has the only "
                "copy of the password: keep it now",
                path,
                exc.strerror or exc,
            )
            self.exit_code = EXIT_FAILED
            return
        self.result["credentials_file"] = path
        log.info("Credentials saved to %s (readable only by you).", path)

    def _write_github_outputs(self, path: str, values: dict[str, str]) -> None:
        """Append the step outputs in GitHub's format; multi-line values as heredocs."""
        outputs = {
            "instance_id": values["id"],
            "instance_name": values["name"],
            "connection_uri": values["connection_url"],
            "username": values["username"],
            "password": values["password"],
            "credentials_file": self.result.get("credentials_file", ""),
        }
        text = ""
        for name, value in outputs.items():
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
                "warning: could not write the step outputs to GITHUB_OUTPUT (%s)",
                exc.strerror or exc,
            )
            self.exit_code = EXIT_FAILED

    def _redacted(self, value: Any, keep: str) -> Any:
        """A value from the API with every secret but `keep` redacted."""
        if isinstance(value, str):
            return self.secrets.redact(value, keep)
        if isinstance(value, list):
            return [self._redacted(item, keep) for item in value]
        if isinstance(value, dict):
            return {
                self.secrets.redact(key, keep): self._redacted(item, keep)
                for key, item in value.items()
            }
        return value

    def _show(self, text: str) -> None:
        """Write a result that is the whole point of the run; a closed stdout is an error."""
        if not _write_stdout(_inert(self.secrets.redact(text))):
            raise AuraError("stdout was closed before the result could be written")

    def _stdout(self, text: str) -> None:
        """Write credentials to stdout; if it is closed, say where they are instead."""
        if _write_stdout(text):
            return
        if "credentials_file" in self.result:
            log.warning(
                "warning: stdout was closed; the credentials are in %s",
                self.result["credentials_file"],
            )
            return
        log.error(
            "error: stdout was closed and no credentials file was written: the password "
            "is lost; reset it in the Aura console"
        )
        self.exit_code = EXIT_FAILED


_CREDENTIAL_FIELDS = ("id", "name", "username", "password", "connection_url")


def _field(instance: dict[str, Any], key: str) -> str:
    """A text field of the create answer; anything but text counts as missing."""
    value = instance.get(key)
    return value if isinstance(value, str) else ""


def _credential_problems(instance: dict[str, Any]) -> list[str]:
    """What is wrong with the credentials in a create answer, as phrases."""
    problems = []
    if not _PLAIN_ID.fullmatch(_field(instance, "id")):
        # It would have named the credentials file: the file got a name without it.
        problems.append("had an instance id that is not a plain id (letters, digits, dashes)")
    for key in ("password", "connection_url", "username"):
        value = instance.get(key)
        if value is None or value == "":
            if key != "username":
                problems.append(f"had no {key}")
        elif not isinstance(value, str):
            problems.append(f"had a {type(value).__name__} as {key}, not text")
    if _left_out(instance):
        problems.append(f"nested deeper than {MAX_JSON_DEPTH} levels, which was left out")
    return problems


def _left_out(value: Any) -> bool:
    """Whether part of a decoded answer was nested too deep to read (see _parsed)."""
    if isinstance(value, dict):
        return any(_left_out(item) for item in value.values())
    if isinstance(value, list):
        return any(_left_out(item) for item in value)
    return value == _LEFT_OUT


def _mask_values(password: str) -> list[str]:
    """The data of the mask lines for a GitHub log: the password, each of its lines,
    and every form in which a line shows it (escaped in text, in JSON), each
    escaped as the runner un-escapes a command's data."""
    lines = re.split(r"\r\n|\r|\n", password)
    shown = (_printable(password), json.dumps(password)[1:-1])
    forms = [password, *lines, *shown, *(_inert(form, starts_line=False) for form in shown)]
    return [
        form.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        for form in dict.fromkeys(forms)
        if form.strip()
    ]


def _default_credentials_path(instance_id: str) -> str:
    """The Aura console's file name, if the id is a plain id; else one without it."""
    if not _PLAIN_ID.fullmatch(instance_id):
        instance_id = f"instance-{os.urandom(4).hex()}"
    return f"Neo4j-{instance_id}-Created-{datetime.date.today().isoformat()}.txt"


def _credentials_file_text(values: dict[str, str]) -> str | None:
    """The credentials in the Aura console's format, which also works as a .env file.

    Every value reads back exactly as Aura sent it, one key a line, with python-dotenv
    (interpolation on), read_dotenv and `set -a; . FILE` in bash, which runs nothing;
    None if a value cannot be written so (see _dotenv_value).
    """
    lines = [
        "# Wait 60 seconds before connecting using these details, or login to "
        "https://console.neo4j.io to validate the Aura Instance is available"
    ]
    for key, field in _CREDENTIALS_FILE_KEYS:
        value = _dotenv_value(values[field] if field else "neo4j")
        if value is None:
            return None
        lines.append(f"{key}={value}")
    return "".join(f"{line}\n" for line in lines)


_CREDENTIALS_FILE_KEYS = (
    ("NEO4J_URI", "connection_url"),
    ("NEO4J_USERNAME", "username"),
    ("NEO4J_PASSWORD", "password"),
    ("NEO4J_DATABASE", None),
    ("AURA_INSTANCEID", "id"),
    ("AURA_INSTANCENAME", "name"),
)
# Characters that mean nothing to python-dotenv or to bash unquoted (Aura's passwords; `!`
# expands only in what is typed at a terminal, never in a sourced file).
_DOTENV_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./!-]*")
# What no quotes make both readers agree on: `${` (python-dotenv expands it in all of them),
# a raw CR (python-dotenv reads it as LF), escapes for controls (bash decodes none), raw
# controls but tab (a terminal would act on them; a raw newline would also let a line-based
# reader take the rest for a key of its own), and lone surrogates (not UTF-8).
_DOTENV_UNWRITABLE = re.compile(r"\$\{|[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
# In single quotes, python-dotenv decodes `\\` and `\'`, bash nothing; in double quotes
# both decode `\\` and `\"`, and bash expands `$` and backticks.
_DOTENV_NOT_IN_SINGLE_QUOTES = re.compile(r"['\\]")
_DOTENV_NOT_IN_DOUBLE_QUOTES = re.compile(r"[$`]")


def _dotenv_value(value: str) -> str | None:
    """`value` as .env text that python-dotenv and bash both read back exactly, on one
    line, with nothing expanded or run; None if there is none."""
    if _DOTENV_BARE.fullmatch(value):
        return value
    if _DOTENV_UNWRITABLE.search(value):
        return None
    if not _DOTENV_NOT_IN_SINGLE_QUOTES.search(value):
        return f"'{value}'"
    if not _DOTENV_NOT_IN_DOUBLE_QUOTES.search(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _save_credentials(content: str, path: str) -> None:
    """Write the credentials file: mode 0600, never replacing a file, on disk at return.

    The mode is set as the file is created, so it is never readable by
    others, not even for a moment.
    """
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
    except (BrokenPipeError, ValueError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EPIPE, errno.EIO):
            raise
        # EIO: the terminal hung up. Point stdout at /dev/null so that the
        # interpreter's final flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def _write_stderr(text: str) -> None:
    """Write to stderr if it is there: a closed stderr must not stop the password."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # None when closed (`2>&-`)
        sys.stderr.write(text)
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# Waiting until the new instance is ready
# ---------------------------------------------------------------------------


def _wait(
    client: AuraClient,
    instance_id: str,
    instance: dict[str, Any],
    settings: Settings,
    output: Output,
    created_at: float,
) -> None:
    """--wait: until running, then (--wait-for query) until the database answers."""
    result = output.result
    _wait_until_running(client, instance_id, settings.wait_timeout, result)
    result["running_after_s"] = round(time.monotonic() - created_at, 1)
    if settings.wait_for == "running":
        log.info(
            "Instance %s is running. Aura advises waiting about 60 s before the first connection.",
            instance_id,
        )
    else:
        _wait_until_queryable(
            instance_id, instance, client, settings.query_timeout, result, created_at
        )


class _Progress:
    """Status on stderr: one line rewritten in place on a terminal, else a line per change."""

    def __init__(self) -> None:
        self.on_terminal = (
            sys.stderr is not None and sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
        )
        self.last: str | None = None

    def show(self, status: str, elapsed: float) -> None:
        note = "" if status in KNOWN_STATUSES else " (a status this script does not know)"
        status = _inert(_printable(status), starts_line=False)  # it came from the network
        if self.on_terminal:
            _write_stderr(f"\r\x1b[KInstance status: {status}{note}, {elapsed:.0f} s")
        elif status != self.last:
            log.info("Instance status: %s%s, after %.0f s", status, note, elapsed)
        self.last = status

    def close(self) -> None:
        if self.on_terminal and self.last is not None:
            _write_stderr("\n")


def _wait_until_running(
    client: AuraClient, instance_id: str, timeout: float, result: dict[str, Any]
) -> None:
    """Poll the instance until it runs; keep result["status"] current.

    One poll every WAIT_INTERVAL seconds notices the change within that time
    while staying far below the API's rate limit. Transient failures do not
    end the wait (the instance is being created regardless); a status that
    cannot lead to running, or a 404, does, with exit code 4. An API that
    cannot be reached is reported as an outage (see _Outage), not a line a poll.
    """
    started = time.monotonic()
    deadline = started + timeout
    progress = _Progress()
    outage = _Outage()

    def running() -> bool | None:
        polled_at = time.monotonic()
        try:
            with client.transport.deadline(deadline), client.transport.quiet():
                status = client.get_instance(client.token, instance_id).get("status")
        except AuraError as exc:
            if exc.status == 404:
                raise AuraError(
                    f"instance {instance_id} is gone (HTTP 404) while waiting for it",
                    exit_code=EXIT_NOT_READY,
                ) from None
            if exc.exit_code == EXIT_AUTH:
                raise
            outage.failed(exc.args[0], since=polled_at, answered=exc.status is not None)
            return None
        outage.ended()
        if not isinstance(status, str):
            raise AuraError(f"GET /v1/instances/{instance_id} answered without a text status")
        result["status"] = status
        progress.show(status, polled_at - started)
        if status in HOPELESS_STATUSES:
            raise AuraError(
                f"instance {instance_id} is {status!r}, so it will not become running",
                exit_code=EXIT_NOT_READY,
            )
        return True if status == "running" else None

    try:
        if not _poll(running, WAIT_INTERVAL, lambda: deadline):
            status = result.get("status", "unknown")
            failing = f"{time.monotonic() - (outage.since or 0):.0f} s"
            if outage.since is not None and not outage.answered:
                raise AuraError(
                    f"the API could not be reached for the last {failing} of the {timeout:g} s "
                    f"wait for instance {instance_id} (last: {outage.problem}); it was last "
                    f"seen {status!r} (see the Aura console)",
                    exit_code=EXIT_NOT_READY,
                )
            errors = f" (the API failed the status checks of the last {failing}: {outage.problem})"
            raise AuraError(
                f"instance {instance_id} is still {status!r} after {timeout:g} s of waiting"
                f"{errors if outage.since is not None else ''}; it may still become ready (see "
                "the Aura console)",
                exit_code=EXIT_NOT_READY,
            )
    except KeyboardInterrupt:
        log.warning("Stopped waiting for instance %s.", instance_id)
        raise
    finally:
        progress.close()


class _Outage:
    """An API that stops answering during a wait, told in few lines: one when it
    starts, one when the problem changes or clears, a reminder a minute at most."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.problem = ""
        self.answered = False  # an HTTP error came during the outage: the API is there
        self._said_at = 0.0

    def failed(self, problem: str, since: float, answered: bool) -> None:
        """A poll that began at `since` failed with `problem`; `answered`: with an HTTP
        error, not a network failure (one such answer in an outage: the API is there)."""
        self.answered = answered or (self.since is not None and self.answered)
        now = time.monotonic()
        if self.since is None or problem != self.problem:
            self.since = self.since if self.since is not None else since
            log.warning("warning: %s; still waiting", problem)
        elif now - self._said_at >= WAIT_REMINDER_INTERVAL:
            log.warning(
                "warning: the API has not answered for %.0f s (%s); still waiting",
                now - self.since,
                problem,
            )
        else:
            return
        self.problem, self._said_at = problem, now

    def ended(self) -> None:
        if self.since is not None:
            log.info("The API answers again, after %.0f s.", time.monotonic() - self.since)
        self.since = None


_T = TypeVar("_T")


def _poll(
    check: Callable[[], _T | None],
    every: float,
    until: Callable[[], float] = lambda: math.inf,
    pause: Callable[[float], Any] = time.sleep,
    *,
    last_at_until: bool = False,
) -> _T | None:
    """Call check() every `every` seconds, start to start, until it returns something
    other than None, and return that; None once the time is up.

    Each caller's check() says what it polls for, what counts as transient
    (it returns None) and what ends the polling (it raises), and shows its
    own progress. until() is read again after every pause, as a signal can
    bring it forward. When the next call would start after it, polling ends
    at until(), not earlier, with one last call there if `last_at_until`
    (a server with no rate limit), else none (that would break the spacing).
    """
    while True:
        started = time.monotonic()
        found = check()
        if found is not None:
            return found
        next_at = started + every
        if next_at > until():
            pause(max(0.0, until() - time.monotonic()))
            return check() if last_at_until else None
        pause(max(0.0, next_at - time.monotonic()))
        if time.monotonic() >= until():
            return None


def _query_api_url(connection_url: str) -> str | None:
    """The new database's Query API endpoint, on the host of its connection URL.

    Aura serves it over HTTPS on port 443 of that host. Plain http (and the
    URL's port) only for a loopback host, which is what the tests use. The
    URL is rebuilt from the host and port alone, as urllib3 reads them to
    connect. None if the URL names no host, or holds what parsers may read
    differently (a backslash, user info, white space, a control character).
    """
    if _AMBIGUOUS_URL.search(connection_url):
        return None
    try:
        parts = _http().parse_url(connection_url)
    except ValueError:
        return None
    if not parts.scheme or not parts.host:  # "YOUR_CONNECTION_URL" has neither
        return None
    if _is_loopback(parts.host.strip("[]")):
        return f"http://{parts.host}:{parts.port or 80}/db/neo4j/query/v2"
    return f"https://{parts.host}:443/db/neo4j/query/v2"


def _wait_until_queryable(
    instance_id: str,
    instance: dict[str, Any],
    client: AuraClient,
    timeout: float,
    result: dict[str, Any],
    created_at: float,
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
    auth = _utf8(str(instance.get("username")), str(instance.get("password")))
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"

    def answered() -> bool | None:
        nonlocal last_problem
        try:
            status = client.transport.probe(
                url, auth, max(0.1, min(QUERY_READ_TIMEOUT, deadline - time.monotonic()))
            )
        except AuraError as exc:
            last_problem = str(exc).rpartition(" failed: ")[2]
            return None
        last_problem = f"HTTP {status}"
        return True if 200 <= status < 300 else None  # not < 400: a 3xx is no answer

    if _poll(answered, QUERY_PROBE_INTERVAL, lambda: deadline, last_at_until=True):
        result["queryable_after_s"] = round(time.monotonic() - created_at, 1)
        log.info(
            "Instance %s answered a query %.1f s after the create call (it "
            "reported running after %.1f s): ready to use.",
            instance_id,
            result["queryable_after_s"],
            result["running_after_s"],
        )
        return
    log.warning(
        "warning: instance %s is running but did not answer a query from here "
        "within %g s (last: %s); a proxy or an IP filter may be in the way",
        instance_id,
        timeout,
        last_problem,
    )


# ---------------------------------------------------------------------------
# -- COMMAND, --delete, --list and --sweep: what an instance's life ends with
# ---------------------------------------------------------------------------


class _Disposal:
    """-- COMMAND's promise: the instance is deleted on every way out of the run.

    Used around the create call, the wait and the command. Without a
    command it does nothing; with --keep it names the instance and how to
    delete it. After a create call that failed in a way that may have
    created the instance, it deletes what the check found, or names the
    --sweep that removes what it could not see. What cannot be deleted is
    named in one error line, with the exact command that deletes it. That
    changes the exit code only where the command had succeeded
    (EXIT_NOT_DELETED); otherwise the first failure, the command's code or
    the signal's stands.
    """

    def __init__(
        self, client: AuraClient, settings: Settings, output: Output, signals: _Signals
    ) -> None:
        self.client = client
        self.settings = settings
        self.output = output
        self.signals = signals
        self.instance_id = ""  # set once the create call has answered
        self.command_code: int | None = None

    def __enter__(self) -> _Disposal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if not self.settings.command:
            return
        # Held as a whole: a signal must not cut off the delete, nor the line naming the
        # instance when it cannot be deleted.
        with self.signals.held("the instance is being deleted"):
            if isinstance(error, _CreateUnanswered):
                self._after_unanswered_create(error)
            elif self.instance_id:
                self._dispose(self.instance_id, kind)

    def _after_unanswered_create(self, error: _CreateUnanswered) -> None:
        """The create call failed in a way that may have created the instance: delete
        what the check found, or name the way to remove what it could not see."""
        settings, name = self.settings, self.settings.spec["name"]
        if not error.ids:
            what = "stopped before the create call answered" if error.stopped else str(error)
            log.error(
                "error: %s: an instance named %r may exist; delete it with: %s",
                what,
                name,
                _command_line(settings, "--sweep", name),
            )
        deleted = [i for i in error.ids if self._dispose(i, type(error)) and not settings.keep]
        if error.stopped:
            raise _Stopped(self.signals.first) from None
        if deleted and len(deleted) == len(error.ids):
            raise AuraError(
                f"the create call failed, but instance {', '.join(deleted)} named {name!r} was "
                "created all the same; it is deleted again, and the command was not run"
            ) from None

    def _dispose(self, instance_id: str, kind: type[BaseException] | None) -> bool:
        """Delete the instance (or keep it, with --keep); whether that went as asked."""
        settings = self.settings
        if settings.keep:
            log.info(
                "Kept instance %s (--keep); delete it with: %s",
                instance_id,
                _command_line(settings, "--delete", instance_id),
            )
            return True
        try:
            _delete(self.client, instance_id)
            self.output.remove_credentials_file()
        except AuraError as failure:
            unconfirmed = isinstance(failure, _Unconfirmed)
            message = (
                f"instance {instance_id} "
                f"{'may not be deleted' if unconfirmed else 'was not deleted'} ({failure}); "
                f"delete it with: {_command_line(settings, '--delete', instance_id)}"
            )
            if kind is None and not self.signals.received and self.command_code == 0:
                raise AuraError(message, exit_code=EXIT_NOT_DELETED) from None
            log.error("error: %s", message)
            if kind is None and self.signals.received:
                raise _Stopped(self.signals.first) from None
            return False
        return True


class _CreateUnanswered(AuraError):
    """The create call failed in a way that may have created the instance: `ids`
    are those the check found; `stopped`, a signal's deadline cut the call off."""

    def __init__(self, message: str, *, ids: tuple[str, ...] = (), stopped: bool = False) -> None:
        super().__init__(message)
        self.ids = ids
        self.stopped = stopped


def _command_line(settings: Settings, *action: str) -> str:
    """The shell command that runs this script again with `action`, such as
    ("--delete", ID): --tenant and --api-url as this run got them as flags
    (variables and .env are still there for it), every word quoted for the shell."""
    import shlex

    script = os.path.abspath(__file__)
    with contextlib.suppress(ValueError):  # on another drive (Windows)
        relative = os.path.relpath(script)
        script = script if relative.startswith(os.pardir) else relative
    return shlex.join(["python", script, *settings.repeated_flags, *action])


def _delete(client: AuraClient, instance_id: str, *, unknown_is_error: bool = False) -> None:
    """Delete an instance and confirm it, asking again while Aura is busy with it.

    A 409 means Aura is still busy with the instance (creating it, say):
    the DELETE is sent again every DELETE_BUSY_INTERVAL seconds, for up to
    DELETE_BUSY_TIMEOUT seconds, or until the run must stop after a signal.
    One line says when that starts, one when it ends.
    """
    transport = client.transport
    busy: list[AuraError] = []  # the first 409, once there is one
    busy_until = time.monotonic() + DELETE_BUSY_TIMEOUT

    def deleted() -> bool | None:
        try:
            _delete_once(client, instance_id, unknown_is_error=unknown_is_error)
        except AuraError as refusal:
            if refusal.status != 409:
                raise
            if not busy:
                busy.append(refusal)
                log.warning(
                    "Aura is still busy with instance %s (HTTP 409: %s); asking again every "
                    "%g s %s",
                    instance_id,
                    refusal.detail,
                    DELETE_BUSY_INTERVAL,
                    "until the run must stop"
                    if transport.stop_at
                    else f"for up to {DELETE_BUSY_TIMEOUT:g} s",
                )
            return None
        return True

    def until() -> float:
        return min(busy_until, transport.stop_at or math.inf)

    started = time.monotonic()
    if not _poll(deleted, DELETE_BUSY_INTERVAL, until, transport.pause):
        raise AuraError(
            f"Aura was still busy with it after {time.monotonic() - started:.0f} s: "
            f"HTTP 409, {busy[0].detail}",
            status=409,
        )
    if busy:
        log.info(
            "Aura took the DELETE of instance %s after %.0f s of HTTP 409.",
            instance_id,
            time.monotonic() - started,
        )


def _delete_once(
    client: AuraClient,
    instance_id: str,
    *,
    unknown_is_error: bool = False,
    name: str | None = None,
) -> None:
    """One DELETE, then a GET confirming that Aura is destroying the instance or
    that it is gone; then its credentials files here go too. AuraError if not.

    A 404 to a resent DELETE means the first one worked; to the first, that
    there is no such instance (exit 2 if `unknown_is_error`, else it is gone
    already).
    """
    try:
        client.delete_instance(client.token, instance_id)
    except AuraError as refusal:
        unknown = refusal.status == 404 and unknown_is_error and not refusal.resent
        if unknown and not _credentials_files_of(instance_id):
            raise _no_such_id(client, instance_id) from None
        # With a credentials file of its own here, it existed: an earlier delete was
        # accepted but not confirmed, and this one finds it gone.
        # 404: deleted already, or by a first DELETE whose answer was lost. 409 to an
        # instance that is being deleted (by an earlier run, say): Aura may refuse a
        # second DELETE, and the instance goes all the same.
        deleting = refusal.status == 409 and _status_of(client, instance_id) in _DELETING
        if refusal.status != 404 and not deleting:
            raise
    instance = instance_id + (f" ({name!r})" if name is not None else "")
    try:
        status = client.get_instance(client.token, instance_id).get("status")
    except AuraError as check:
        if check.status != 404:
            raise _Unconfirmed(
                f"Aura accepted the DELETE, but no GET confirmed it: {check}",
                exit_code=check.exit_code,
            ) from None
        log.info("Instance %s is deleted.", instance)
    else:
        if status not in _DELETING:
            raise AuraError(f"Aura accepted the DELETE, but instance {instance} is {status!r}")
        log.info("Instance %s is being deleted.", instance)
    _forget_credentials(instance_id)


def _no_such_id(client: AuraClient, value: str) -> AuraError:
    """--delete VALUE, and Aura knows no such id: what VALUE may be instead."""
    try:
        listed = _listed_instances(client, None)  # any tenant's: --delete names none
    except AuraError:
        listed = []
    named = [str(instance.get("id")) for instance in listed if instance.get("name") == value]
    if named:
        return AuraError(
            f"{value!r} is the name of instance {', '.join(named)}, not an id; --delete takes "
            "the id, as a name can match the wrong instance (--list shows both)",
            exit_code=EXIT_USAGE,
        )
    looks = "" if _AURA_ID.fullmatch(value) else " (Aura's ids are 8 hex digits, such as 745ac096)"
    return AuraError(
        f"no instance has the id {value}{looks}; --list shows the tenant's instances",
        exit_code=EXIT_USAGE,
    )


_AURA_ID = re.compile(r"[0-9a-f]{8}")
_DELETING = ("destroying", "deleting")  # "deleting": what Neo4j's own clients' tests see


def _status_of(client: AuraClient, instance_id: str) -> Any:
    """The instance's status, or None if it cannot be had."""
    try:
        return client.get_instance(client.token, instance_id).get("status")
    except AuraError:
        return None


class _Unconfirmed(AuraError):
    """Aura accepted a DELETE, but no answer confirmed that the instance is going."""


def _forget_credentials(instance_id: str) -> None:
    """After a confirmed delete: remove the credentials files of that instance here."""
    for name in _credentials_files_of(instance_id):
        _remove_credentials_file(name)


def _credentials_files_of(instance_id: str) -> list[str]:
    """The credentials files of an instance in the current directory: by the Aura
    console's name, and only those whose AURA_INSTANCEID says so."""
    prefix = f"Neo4j-{instance_id}-Created-"
    try:
        names = sorted(os.listdir("."))
    except OSError:
        return []
    found = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".txt")):
            continue
        try:
            saved_for = _read_dotenv_lines(name).get("AURA_INSTANCEID", ("", 0))[0]
        except AuraError:
            continue
        if saved_for == instance_id:
            found.append(name)
    return found


def _remove_credentials_file(path: str) -> None:
    """Remove a credentials file whose instance is gone; a warning if it cannot be."""
    try:
        os.remove(path)
    except OSError as exc:
        log.warning("warning: could not remove %s (%s)", path, exc.strerror or exc)
        return
    log.info("Removed %s: its instance no longer exists.", path)


def _found_by_name(client: AuraClient, spec: dict[str, Any], existing: list[dict[str, Any]]) -> str:
    """The id of the instance just created, for a create answer without a usable one:
    the only instance of that name that was not there before the create call; ""
    if there is not exactly one (or the tenant cannot be listed)."""
    known = {instance.get("id") for instance in existing}
    try:
        listed = _listed_instances(client, spec["tenant_id"])
    except AuraError:
        return ""
    found = [
        instance["id"]
        for instance in listed
        if instance.get("name") == spec["name"]
        and isinstance(instance.get("id"), str)
        and _PLAIN_ID.fullmatch(instance["id"])
        and instance["id"] not in known
    ]
    return found[0] if len(found) == 1 else ""


def _listed_instances(client: AuraClient, tenant_id: str | None) -> list[dict[str, Any]]:
    """The tenant's instances (None: those of every tenant) as listed, every entry that is
    an object, odd ones included: the callers check the fields they use, so one odd
    entry spoils nothing."""
    path = "/instances" if tenant_id is None else f"/instances?tenantId={quote(tenant_id, safe='')}"
    data = client.call_endpoint(path, "GET", client.token).get("data")
    if not isinstance(data, list):
        raise AuraError(f"GET /v1{path} answered without the expected data list")
    return [instance for instance in data if isinstance(instance, dict)]


def _sweep(client: AuraClient, tenant_id: str, settings: Settings, output: Output) -> int:
    """--sweep: delete every instance of the tenant whose name matches, and confirm each.

    For what a killed job left behind. Instances that Aura is still creating
    answer 409: they are asked again, in rounds, until --wait-timeout, one
    budget for the whole sweep. stdout lists the ids deleted (with
    --dry-run, those that would be); each instance left is named.
    """
    import fnmatch

    now = datetime.datetime.now(datetime.timezone.utc)
    chosen: list[dict[str, Any]] = []
    skipped = 0
    for instance in _listed_instances(client, tenant_id):
        name, instance_id = instance.get("name"), instance.get("id")
        if not isinstance(name, str) or not fnmatch.fnmatchcase(name, settings.sweep):
            continue
        if not isinstance(instance_id, str) or not _PLAIN_ID.fullmatch(instance_id):
            log.error("error: skipped instance %r: its id %r is not a plain id", name, instance_id)
            skipped += 1
            continue
        if settings.older_than is not None:
            created = _timestamp(instance.get("created_at"))
            if created is None:
                log.error(
                    "error: skipped instance %s (%r): its created_at %r cannot be read",
                    instance_id,
                    name,
                    instance.get("created_at"),
                )
                skipped += 1
                continue
            if (now - created).total_seconds() < settings.older_than:
                continue
        chosen.append(instance)
    if settings.dry_run:
        for instance in chosen:
            log.info("Would delete instance %s (%r).", instance["id"], instance["name"])
        output.show_ids([instance["id"] for instance in chosen])
        return EXIT_NOT_DELETED if skipped else EXIT_OK
    left = _delete_in_rounds(client, chosen, settings.wait_timeout, output)
    return EXIT_NOT_DELETED if skipped or left else EXIT_OK


def _delete_in_rounds(
    client: AuraClient,
    instances: list[dict[str, Any]],
    timeout: float,
    output: Output,
) -> int:
    """Delete and confirm each instance; those Aura is busy with (409), again every
    DELETE_BUSY_INTERVAL, for `timeout` seconds in all. The ids deleted are printed,
    however this ends; returns how many instances were left."""
    deleted: list[str] = []
    pending, failed = list(instances), 0
    busy_said: set[str] = set()

    def round_over_pending() -> bool | None:
        nonlocal pending, failed
        busy = []
        for number, instance in enumerate(pending):
            instance_id, name = instance["id"], instance["name"]
            if time.monotonic() >= until:  # the rest waits for the next sweep
                busy += pending[number:]
                break
            try:
                _delete_once(client, instance_id, name=name)
            except AuraError as failure:
                if failure.exit_code == EXIT_AUTH:
                    raise
                if failure.unsent and time.monotonic() >= until:
                    busy.append(instance)  # not sent: --wait-timeout ran out
                    continue
                if failure.status != 409:
                    log.error(
                        "error: instance %s (%r) was not deleted: %s", instance_id, name, failure
                    )
                    failed += 1
                elif instance_id not in busy_said:
                    busy_said.add(instance_id)
                    log.warning(
                        "Instance %s (%r) is busy (HTTP 409: %s); asking again every %g s, "
                        "within --wait-timeout",
                        instance_id,
                        name,
                        failure.detail,
                        DELETE_BUSY_INTERVAL,
                    )
                if failure.status == 409:
                    busy.append(instance)
                continue
            deleted.append(instance_id)
        pending = busy
        return None if pending else True

    until = time.monotonic() + timeout
    try:
        with client.transport.deadline(until):  # one budget for the whole sweep
            _poll(round_over_pending, DELETE_BUSY_INTERVAL, lambda: until, client.transport.pause)
    finally:
        output.show_ids(deleted)
    for instance in pending:
        log.error(
            "error: instance %s (%r) was not deleted: --wait-timeout (%g s) ran out%s; sweep "
            "again later",
            instance["id"],
            instance["name"],
            timeout,
            " while Aura was busy with it" if instance["id"] in busy_said else "",
        )
    return failed + len(pending)


def _timestamp(value: Any) -> datetime.datetime | None:
    """An ISO 8601 time from the API, such as created_at, in UTC; None if unreadable.

    Python 3.9 and 3.10's fromisoformat take neither a Z nor a fraction of
    other than 3 or 6 digits, so both are rewritten first.
    """
    if not isinstance(value, str):
        return None
    text = re.sub(r"[Zz]$", "+00:00", value.strip())
    text = re.sub(r"\.([0-9]+)", lambda match: "." + f"{match[1]:0<6}"[:6], text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _command_environment(credentials: dict[str, str]) -> dict[str, str]:
    """The command's environment: the credentials file's names in, the account's out."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AURA_CLIENT_ID", "AURA_CLIENT_SECRET")
    }
    for key, field in _CREDENTIALS_FILE_KEYS:
        environment[key] = credentials[field] if field else "neo4j"
    return environment


def _run_command(command: tuple[str, ...], environment: dict[str, str], signals: _Signals) -> int:
    """Run COMMAND (no shell) and return its exit code, 128 + N if signal N killed it.

    Where it runs is decided once. In a terminal's foreground the terminal
    signals the command itself (Ctrl-C, a hangup), so only SIGTERM is passed
    on, and an interactive command keeps its terminal. Elsewhere (CI) it gets
    a process group of its own: every signal goes to the whole group, and
    what is left of the group when the grace ends is killed, its leader gone
    or not. After a signal the run ends with _Stopped, so that the instance
    is deleted and the exit code is the signal's.
    """
    import subprocess  # here, not at the top: only -- COMMAND needs it, and it costs ~3 ms

    own_group = not _in_terminal_foreground()
    children: list[subprocess.Popen[bytes]] = []

    def pass_on(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError, IndexError):
            if own_group:
                os.killpg(children[0].pid, signum)
            elif signum == signal.SIGTERM:
                children[0].send_signal(signum)

    # Held from before the start: a signal in between must not leave the command
    # running with its credentials while the instance goes.
    before = len(signals.received)
    signals.pass_on = pass_on
    try:
        with signals.held(""):
            try:
                children.append(
                    subprocess.Popen(command, env=environment, start_new_session=own_group)
                )
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise AuraError(
                    f"cannot run {command[0]!r}: {reason}", exit_code=EXIT_CANNOT_RUN
                ) from None
            for signum in signals.received[before:]:  # came while it was starting
                pass_on(signum)
            code = _wait_for_child(children[0], signals, own_group, before)
    finally:
        signals.pass_on = None
    return 128 - code if code < 0 else code


def _wait_for_child(
    child: subprocess.Popen[bytes], signals: _Signals, own_group: bool, before: int
) -> int:
    """The child's return code. Once signalled, it has COMMAND_GRACE seconds (none
    after a second signal); then it is killed, with its whole group if it has one.

    It polls, 20 times a second: a signal's handler returns into a blocking
    wait, which would then never see the grace period end.
    """
    kill_at: float | None = None
    killed = False
    code: int | None = None

    def ended() -> int | None:
        nonlocal code, kill_at, killed
        if code is None:
            code = child.poll()
        received = signals.received[before:]
        if code is not None and (not received or killed or not _group_alive(child, own_group)):
            return code
        if received:
            now = time.monotonic()
            if kill_at is None:
                kill_at = now + COMMAND_GRACE
                log.warning("Stopping the command: it has %g s before it is killed.", COMMAND_GRACE)
            if not killed and (now >= kill_at or len(received) > 1):
                _kill(child, own_group)
                killed = True
        return None

    code = _poll(ended, 0.05)
    assert code is not None  # no time limit: only ended() ends it
    return code


def _group_alive(child: subprocess.Popen[bytes], own_group: bool) -> bool:
    """Whether a process of the command's own group is still there."""
    if not own_group:
        return False
    try:
        os.killpg(child.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(child: subprocess.Popen[bytes], own_group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if own_group:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()


def _in_terminal_foreground() -> bool:
    """Whether this process is in its terminal's foreground process group."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            if os.tcgetpgrp(stream.fileno()) == os.getpgrp():
                return True
    return False


# ---------------------------------------------------------------------------
# Signals and main()
# ---------------------------------------------------------------------------

# SIGHUP: a closed terminal or SSH session. Not on Windows, which has no SIGHUP.
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_SIGNAL_WORDS = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}


class _Stopped(KeyboardInterrupt):
    """A signal that ends the run. It unwinds like Ctrl-C, so that the credentials
    still get out and the instance of -- COMMAND is still deleted."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """What the run does on SIGINT, SIGTERM and SIGHUP, from main() to its end.

    A signal raises _Stopped where the run is, so every `finally` still
    runs. In a block that must not be cut short (`held`: the create call
    and the delivery of its password, a delete, the command) the first
    signal is reported and acted on when the block ends; only a second
    Ctrl-C, a person at the terminal who insists, stops such a block at
    once. With -- COMMAND the run is bound (`bound`) to end within
    SIGNAL_EXIT_TIMEOUT of the first signal and SECOND_SIGNAL_TIMEOUT of a
    second, so its client is told to stop by then; a held block that runs
    out of time ends with the instance named. SIGHUP that the run inherited
    as ignored (nohup) stays ignored.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.pass_on: Callable[[int], None] | None = None  # the command's, while it runs
        self._client: AuraClient | None = None  # set when the run is bounded
        self._held: list[tuple[str, str]] = []  # (doing, if_stopped) of held blocks, innermost last
        self._last: tuple[int, float] = (0, 0.0)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = {
            signum: signal.signal(signum, self._handle)
            for signum in _STOP_SIGNALS
            if signal.getsignal(signum) is not signal.SIG_IGN
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def bound(self, client: AuraClient) -> None:
        self._client = client
        client.transport.stoppable = True

    @property
    def first(self) -> int:
        # Which came first can be a race between handlers; Ctrl-C, a person's, wins.
        return signal.SIGINT if signal.SIGINT in self.received else self.received[0]

    @contextlib.contextmanager
    def held(self, doing: str, if_stopped: str = "") -> Iterator[None]:
        """Hold back signals from the block, which says what it is `doing`, and raise
        the first when it ends. `if_stopped` is said if a second Ctrl-C cuts it short."""
        before = len(self.received)
        self._held.append((doing, if_stopped))
        try:
            yield
        except AuraError as failure:
            if len(self.received) == before or isinstance(failure, _CreateUnanswered):
                raise
            log.error("error: %s", failure)  # said, then the signal decides the exit code
            raise _Stopped(self.first) from None
        finally:
            self._held.pop()
        if len(self.received) > before:
            raise _Stopped(self.first)

    def _handle(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        # Recorded before anything else: another signal's handler can run in the
        # middle of this one, and must see this one as received.
        repeated = self._last[0] == signum and now - self._last[1] < SIGNAL_REPEAT_WINDOW
        if repeated and self._client is not None:  # one event, not a second signal
            return
        self._last = (signum, now)  # the last signal counted: repeats do not extend it
        self.received.append(signum)
        first = len(self.received) == 1
        if self._client is not None:
            limit = SIGNAL_EXIT_TIMEOUT if first else SECOND_SIGNAL_TIMEOUT
            # Half a second, at most, is kept for the way out: one line, a file, exit.
            self._client.transport.stop_by(now + limit - min(0.5, limit / 2))
        if self.pass_on is not None:
            self.pass_on(signum)
        if not self._held:
            raise _Stopped(self.first)
        doing, if_stopped = self._held[-1]
        # A person at the terminal may cut the block short with a second Ctrl-C
        # (not a supervisor's SIGTERM after it), where the run has no deadline.
        may_insist = signum == signal.SIGINT and self._client is None and bool(if_stopped)
        if first and doing:
            log.warning(
                "%s: %s; stopping right after.%s",
                "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name,
                doing,
                " Press it again to stop at once." if may_insist else "",
            )
        elif may_insist and self.received.count(signal.SIGINT) > 1:
            log.error("error: %s", if_stopped)
            raise _Stopped(signum)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr for the log. A line that cannot be written (a closed pipe, a terminal
    that hung up) is dropped: there is nowhere left to report it, and the
    credentials file is the record."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    secrets = Secrets()
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter(secrets))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    signals = _Signals()
    try:
        with signals.installed():
            settings = resolve_settings(args, os.environ)
            return _run(settings, Output(settings, secrets), signals)
    except AuraError as exc:
        log.error("error: %s", exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
        log.error(_SIGNAL_WORDS.get(signal.Signals(signum).name, "stopped"))
        return 128 + signum
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
