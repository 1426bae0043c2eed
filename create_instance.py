#!/usr/bin/env python3
"""Create a Neo4j Aura database instance and hand over its one-time credentials.

    export AURA_CLIENT_ID=... AURA_CLIENT_SECRET=...
    python create_instance.py --tenant "My project" --name my-instance

The Aura API returns the new instance's password once, in the answer to the
create call. Everything here is arranged around not losing it and not creating
an instance the user did not ask for. A run goes like this:

1. Settings: the constants below, overridden by a `.env` file in the current
   directory, then by the environment, then by flags. Credentials come only
   from the environment or `.env`, never from flags (`ps` would show them).
2. Local checks: everything that can be checked without the network is
   checked first, so a typo costs nothing.
3. Token: POST {base}/oauth/token with the client id and secret.
4. Tenant: a tenant (project) name is turned into its id with GET /v1/tenants.
5. Create: POST /v1/instances with the spec.
6. Output: the id, username, password and connection URI, on stdout.

All requests of a run share one `requests.Session`, so one connection serves
them all. Messages for people go to stderr; stdout carries only the result.

Exit codes: 0 created; 1 the API or the network failed; 2 usage or
configuration error; 3 authentication or permission refused.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit

import requests

__all__ = [
    "AuraError",
    "call_endpoint",
    "create_instance",
    "get_oauth_token",
    "get_tenant_id",
    "main",
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
API_URL = "https://api.neo4j.io"
# ---------------------------------------------------------------------------

CONNECT_TIMEOUT = 10  # seconds to open a connection
READ_TIMEOUT = 30  # seconds to wait for an answer; --timeout changes it

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

EXIT_OK = 0
EXIT_FAILED = 1  # the API or the network failed
EXIT_USAGE = 2  # usage or configuration error, found before or by the API
EXIT_AUTH = 3  # authentication or permission refused

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
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.detail = detail
        self.reasons = reasons
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.args[0]} (X-Request-Id {self.request_id})"
        return str(self.args[0])


class _Api:
    """What every request of the run shares: the session, base URL and timeouts."""

    def __init__(self) -> None:
        self.base_url = API_URL
        self.read_timeout: float = READ_TIMEOUT
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = (
                f"create_instance.py/{__version__} {requests.utils.default_user_agent()}"
            )
            self._session = session
        return self._session

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request; a network failure becomes an AuraError."""
        try:
            return self.session.request(
                method, url, timeout=(CONNECT_TIMEOUT, self.read_timeout), **kwargs
            )
        except requests.RequestException as exc:
            raise AuraError(f"{method} {_path_of(url)} failed: {_network_problem(exc)}") from None


_api = _Api()


def get_oauth_token(client_id: str, client_secret: str) -> str:
    """Return an access token for the Aura API (valid for about an hour).

    The token stays in memory; it is never written anywhere.
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
            error.args = (
                f"authentication failed (HTTP {response.status_code}: {error.detail}); "
                "check AURA_CLIENT_ID and AURA_CLIENT_SECRET",
            )
        raise error
    token = _json_of(response, "the token request").get("access_token")
    if not isinstance(token, str) or not token:
        raise AuraError("the token request succeeded but its answer has no access_token")
    return token


def call_endpoint(
    path: str, method: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call the Aura API at {base}/v1{path} and return the decoded JSON answer.

    `body`, if given, is sent as JSON. Any failure, from the network or the
    API, raises AuraError with the API's messages and X-Request-Id.
    """
    response = _api.send(
        method,
        f"{_api.base_url}/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    what = f"{method} /v1{path}"
    if not response.ok:
        raise _error_from(response, what)
    return _json_of(response, what)


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


_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _pick_tenant(wanted: str, tenants: list[dict[str, Any]]) -> str:
    """Choose from GET /tenants: an exact id, else an exact name, else the only one."""
    listing = ", ".join(f"{t.get('name')!r} ({t.get('id')})" for t in tenants)
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
    return f"a {kind} body starting {text[:80]!r}"


def _network_problem(exc: requests.RequestException) -> str:
    """One line for a network failure, without urllib3's nested reprs."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time (timeout)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate check failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused or dropped the connection"
    if isinstance(exc, requests.ConnectionError):
        reason = str(exc)
        if "refused" in reason:
            return "connection refused"
        if "Name or service not known" in reason or "nodename nor servname" in reason:
            return "the host name could not be resolved"
        return "the connection failed or was dropped"
    return type(exc).__name__


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


# ---------------------------------------------------------------------------
# The command line
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
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        values[key] = value
    return values


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line and the documented exit code."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="create_instance.py",
        description="Create a Neo4j Aura instance and print its one-time credentials. "
        "AURA_CLIENT_ID and AURA_CLIENT_SECRET must be set in the environment or "
        "in a .env file in the current directory.",
        epilog="Exit codes: 0 created; 1 the API or the network failed; 2 usage or "
        "configuration error; 3 authentication or permission refused.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--tenant", help=f"tenant (project) name or id (env AURA_TENANT; default {TENANT!r})"
    )
    parser.add_argument(
        "--name", help=f"instance name (env AURA_INSTANCE_NAME; default {INSTANCE_NAME!r})"
    )
    parser.add_argument(
        "--api-url", help=f"Aura API base URL (env AURA_API_URL; default {API_URL})"
    )
    spec = parser.add_argument_group("instance spec (defaults: the constants in the script)")
    spec.add_argument("--neo4j-version", help=f"Neo4j version (default {NEO4J_VERSION!r})")
    spec.add_argument("--region", help=f"cloud region (default {REGION!r})")
    spec.add_argument("--memory", help=f"memory size such as 2GB (default {MEMORY!r})")
    spec.add_argument(
        "--type", choices=INSTANCE_TYPES, help=f"instance type (default {INSTANCE_TYPE!r})"
    )
    spec.add_argument(
        "--cloud-provider",
        choices=CLOUD_PROVIDERS,
        help=f"cloud provider (default {CLOUD_PROVIDER!r})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=READ_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds to wait for each answer from the API (default {READ_TIMEOUT})",
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


def _check_spec(spec: dict[str, Any]) -> None:
    """The checks that need no network: each failure is one line, exit 2."""
    name = spec["name"]
    if not name.strip():
        raise AuraError("the instance name is empty", exit_code=EXIT_USAGE)
    if name != name.strip():
        raise AuraError(
            f"the instance name {name!r} has leading or trailing whitespace",
            exit_code=EXIT_USAGE,
        )
    if len(name) > MAX_NAME_LENGTH:
        raise AuraError(
            f"the instance name is {len(name)} characters long; Aura allows at most "
            f"{MAX_NAME_LENGTH}",
            exit_code=EXIT_USAGE,
        )
    if spec["type"] not in INSTANCE_TYPES:
        raise AuraError(
            f"instance type {spec['type']!r} is not one of {', '.join(INSTANCE_TYPES)}",
            exit_code=EXIT_USAGE,
        )
    if spec["cloud_provider"] not in CLOUD_PROVIDERS:
        raise AuraError(
            f"cloud provider {spec['cloud_provider']!r} is not one of {', '.join(CLOUD_PROVIDERS)}",
            exit_code=EXIT_USAGE,
        )
    if not re.fullmatch(r"[1-9][0-9]*GB", spec["memory"]):
        raise AuraError(
            f"memory {spec['memory']!r} is not a size such as 2GB", exit_code=EXIT_USAGE
        )


def _print_credentials(instance: dict[str, Any]) -> None:
    """The four labelled lines of the blog post, on stdout."""
    print(f"Instance ID {instance.get('id')}")
    print(f"Username {instance.get('username')}")
    print(f"Password {instance.get('password')}")
    print(f"Connection URI {instance.get('connection_url')}")


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
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
    if args.timeout <= 0:
        raise AuraError("--timeout must be a positive number of seconds", exit_code=EXIT_USAGE)
    _api.read_timeout = args.timeout
    tenant = _setting(args.tenant, "AURA_TENANT", dotenv, TENANT).strip()
    spec: dict[str, Any] = {
        "version": args.neo4j_version or NEO4J_VERSION,
        "region": args.region or REGION,
        "memory": args.memory or MEMORY,
        "name": _setting(args.name, "AURA_INSTANCE_NAME", dotenv, INSTANCE_NAME),
        "type": args.type or INSTANCE_TYPE,
        "cloud_provider": args.cloud_provider or CLOUD_PROVIDER,
    }
    _check_spec(spec)

    token = get_oauth_token(client_id, client_secret)
    spec["tenant_id"] = get_tenant_id(tenant, token)
    log.info(
        "Creating %s instance %r in tenant %s; Aura takes a few minutes to start it.",
        spec["type"],
        spec["name"],
        spec["tenant_id"],
    )
    instance = create_instance(token, spec)
    _print_credentials(instance)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return _run(argv)
    except AuraError as exc:
        log.error("error: %s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
