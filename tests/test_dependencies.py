"""Issue 16 item 11: what create_instance.py relies on in requests and urllib3 is there.

The transport (create_instance._http) overrides or reads hooks beyond their public
API. A release that drops or renames one would break the script in ways the other
tests show only as odd failures; here each hook is named, with what uses it. The
installed versions must also be inside the ranges requirements.txt declares.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import urllib3
from packaging.requirements import Requirement
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

import create_instance

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"

# (owner, attribute, what the script does with it)
HOOKS = [
    (Retry, "increment", "SafeRetry decides what is resent (never an ambiguous create)"),
    (Retry, "sleep", "SafeRetry waits the logged backoff, within the transport's limits"),
    (Retry, "new", "SafeRetry carries its budget and transport to each resend"),
    (Retry, "get_backoff_time", "SafeRetry's jittered backoff"),
    (Retry, "get_retry_after", "SafeRetry reads Retry-After, tolerating a bad one"),
    (Retry, "_is_connection_error", "SafeRetry resends a create call only if never sent"),
    (HTTPConnection, "_new_conn", "CuttableConnection keeps a socket the watcher can cut"),
    (HTTPSConnection, "_new_conn", "CuttableConnection, before the TLS handshake"),
    (HTTPConnectionPool, "ConnectionCls", "the pools make CuttableConnections"),
    (HTTPSConnectionPool, "ConnectionCls", "the pools make CuttableConnections"),
    (HTTPResponse, "read1", "read_body reads at most one socket read at a time"),
    (requests.Session, "get_redirect_target", "Session leaves redirects to the transport"),
]


def where(owner: type, name: str) -> str:
    return f"{owner.__module__}.{owner.__qualname__}.{name}"


@pytest.mark.parametrize(
    ("owner", "name", "use"), HOOKS, ids=[f"{o.__name__}.{n}" for o, n, _ in HOOKS]
)
def test_each_hook_the_transport_relies_on_is_there(owner, name, use):
    installed = f"requests {requests.__version__}, urllib3 {urllib3.__version__}"
    assert hasattr(owner, name), (
        f"{where(owner, name)} is gone in {installed}: create_instance.py needs it ({use}); "
        "adapt _http() or narrow requirements.txt"
    )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        (Retry.increment, ["method", "url", "response", "error", "_pool", "_stacktrace"]),
        (Retry.sleep, ["response"]),
        (Retry.get_retry_after, ["response"]),
        (Retry._is_connection_error, ["err"]),
        (HTTPResponse.read1, ["amt", "decode_content"]),
    ],
    ids=lambda value: getattr(value, "__qualname__", None),
)
def test_the_overridden_and_called_hooks_take_the_arguments_the_script_passes(method, parameters):
    have = list(inspect.signature(method).parameters)[1:]  # without self
    missing = [name for name in parameters if name not in have]
    assert not missing, (
        f"{method.__qualname__} no longer takes {missing} (it takes {have}); "
        "create_instance._http() overrides or calls it with them"
    )


def test_the_adapters_pool_manager_takes_the_scripts_pool_classes():
    """HTTPAdapter.poolmanager and PoolManager.pool_classes_by_scheme: the script's
    connection classes get into the pools through them."""
    adapter = HTTPAdapter()
    assert hasattr(adapter, "poolmanager"), "requests' HTTPAdapter has no poolmanager"
    manager = adapter.poolmanager
    assert isinstance(getattr(manager, "pool_classes_by_scheme", None), dict), (
        "urllib3's PoolManager has no pool_classes_by_scheme dict; create_instance._http() "
        "sets it to install its connection classes"
    )

    class Pool(HTTPConnectionPool):
        pass

    manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "http": Pool}
    assert isinstance(manager.connection_from_url("http://127.0.0.1:9/"), Pool), (
        "PoolManager no longer builds its pools from pool_classes_by_scheme"
    )


def test_the_scripts_session_builds_connections_the_watcher_can_cut():
    """The hooks together, as the script uses them: a connection from its Session's
    pools is a CuttableConnection of the transport."""
    transport = create_instance._Transport()
    session = transport.session
    pool = session.get_adapter("http://127.0.0.1:9/").poolmanager.connection_from_url(
        "http://127.0.0.1:9/"
    )
    connection = pool._new_conn()
    assert connection.sockets is transport._sockets
    assert "CuttableConnection" in [base.__name__ for base in type(connection).__mro__]


@pytest.mark.parametrize("name", ["requests", "urllib3"])
def test_the_installed_versions_are_inside_the_declared_ranges(name):
    declared = {
        Requirement(line).name.lower(): Requirement(line)
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert name in declared, f"requirements.txt does not declare {name}"
    requirement = declared[name]
    assert requirement.specifier, f"requirements.txt gives {name} no range"
    assert any(spec.operator == "<" for spec in requirement.specifier), (
        f"requirements.txt gives {name} no ceiling"
    )
    installed = version(name)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{name} {installed} is installed, outside requirements.txt's {requirement}: the "
        "tests ran on a version the script does not declare"
    )
