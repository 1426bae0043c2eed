"""Unit tests of the public functions, with HTTP mocked by `responses`."""

from __future__ import annotations

import socket

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from urllib3.response import HTTPResponse

import create_instance as ci

BASE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def api():
    with responses.RequestsMock() as mocked:
        yield mocked


@pytest.fixture
def client():
    return ci.AuraClient(BASE)


def test_module_functions_need_no_set_up_and_use_the_default_api_url(api):
    api.post(f"{ci.API_URL}/oauth/token", json={"access_token": "tok"})
    api.get(f"{ci.API_URL}/v1/tenants", json={"data": [{"id": "t-1", "name": "Only"}]})

    token = ci.get_oauth_token("id", "secret")

    assert ci.get_tenant_id("", token) == "t-1"
    assert [call.request.url for call in api.calls] == [
        f"{ci.API_URL}/oauth/token",
        f"{ci.API_URL}/v1/tenants",
    ]


def test_get_oauth_token_posts_client_credentials_with_basic_auth(api, client):
    api.post(
        f"{BASE}/oauth/token",
        json={"access_token": "tok", "expires_in": 3600, "token_type": "bearer"},
        match=[
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
            matchers.header_matcher({"Authorization": "Basic aWQ6c2VjcmV0"}),
        ],
    )

    assert client.get_oauth_token("id", "secret") == "tok"


def test_get_oauth_token_refused_is_an_auth_error_without_the_secret(api, client):
    api.post(
        f"{BASE}/oauth/token",
        status=401,
        json={"error": "invalid_client", "error_description": "bad credentials"},
    )

    with pytest.raises(ci.AuraError) as raised:
        client.get_oauth_token("id", "s3cret")

    assert raised.value.exit_code == ci.EXIT_AUTH
    assert raised.value.status == 401
    assert "invalid_client: bad credentials" in str(raised.value)
    assert "check AURA_CLIENT_ID and AURA_CLIENT_SECRET" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_token_refusal_other_than_401_does_not_blame_the_credentials(api, client):
    api.post(f"{BASE}/oauth/token", status=403, json={"error": "The request body is invalid."})

    with pytest.raises(ci.AuraError) as raised:
        client.get_oauth_token("id", "s3cret")

    assert raised.value.exit_code == ci.EXIT_AUTH
    assert "HTTP 403: The request body is invalid." in str(raised.value)
    assert "check AURA_CLIENT_ID" not in str(raised.value)


@pytest.mark.parametrize("status", [200, 400])
def test_token_answer_that_is_not_json_is_never_quoted(api, status, client):
    """A token endpoint answering in a form encoding must not get its token into an error."""
    api.post(
        f"{BASE}/oauth/token",
        status=status,
        body="access_token=eyJ-a-real-token&token_type=bearer",
        content_type="application/x-www-form-urlencoded",
    )

    with pytest.raises(ci.AuraError) as raised:
        client.get_oauth_token("id", "s3cret")

    assert "application/x-www-form-urlencoded body" in str(raised.value)
    assert "eyJ" not in str(raised.value)


def test_call_endpoint_sends_json_and_bearer_and_returns_the_answer(api, client):
    api.post(
        f"{BASE}/v1/instances",
        status=202,
        json={"data": {"id": "db1d1234"}},
        match=[
            matchers.json_params_matcher({"name": "x"}),
            matchers.header_matcher(
                {"Authorization": "Bearer tok", "Content-Type": "application/json"}
            ),
        ],
    )

    assert client.call_endpoint("/instances", "POST", "tok", {"name": "x"}) == {
        "data": {"id": "db1d1234"}
    }


def test_call_endpoint_error_shape_with_errors_list(api, client):
    api.get(
        f"{BASE}/v1/tenants/nope",
        status=404,
        json={
            "errors": [
                {
                    "message": "The tenant you specified could not be found",
                    "reason": "tenant-not-found",
                }
            ]
        },
        headers={"X-Request-Id": "req-42"},
    )

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants/nope", "GET", "tok")

    error = raised.value
    assert (error.status, error.reasons, error.request_id) == (404, ("tenant-not-found",), "req-42")
    assert "The tenant you specified could not be found" in str(error)
    assert "req-42" in str(error)


def test_call_endpoint_error_names_the_field(api, client):
    api.post(
        f"{BASE}/v1/instances",
        status=400,
        json={
            "errors": [
                {"message": "Invalid memory", "reason": "invalid-request", "field": "memory"}
            ]
        },
    )

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/instances", "POST", "tok", {})

    assert "memory: Invalid memory" in str(raised.value)


def test_call_endpoint_middleware_error_shape(api, client):
    api.get(f"{BASE}/v1/tenants", status=403, json={"error": "Access denied"})

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants", "GET", "tok")

    assert raised.value.exit_code == ci.EXIT_AUTH
    assert "HTTP 403: Access denied" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            "<html><title>502 Bad Gateway</title></html>",
            "text/html",
            "HTML page titled '502 Bad Gateway'",
        ),
        ("", "text/plain", "an empty body"),
    ],
)
def test_call_endpoint_non_json_error_bodies(api, body, content_type, expected, client):
    api.get(f"{BASE}/v1/tenants", status=502, body=body, content_type=content_type)

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants", "GET", "tok")

    assert raised.value.status == 502
    assert expected in str(raised.value)


@pytest.mark.parametrize("body", ['{"data": [', "[1, 2]", "<html>hi</html>"])
def test_call_endpoint_success_that_is_not_a_json_object(api, body, client):
    api.get(f"{BASE}/v1/tenants", status=200, body=body)

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants", "GET", "tok")

    assert "not the JSON object" in str(raised.value)


def test_call_endpoint_refused_connection_is_an_unsent_aura_error(api, monkeypatch):
    monkeypatch.setattr(ci, "RETRIES", 0)  # before the client's Retry is made
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = ci.AuraClient(f"http://127.0.0.1:{closed_port}")
    api.add_passthru(client.base_url)

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants", "GET", "tok")

    assert "could not be opened" in str(raised.value)
    assert raised.value.unsent


def test_call_endpoint_read_timeout_is_not_unsent(api, client):
    api.get(f"{BASE}/v1/tenants", body=requests.ReadTimeout("slow"))

    with pytest.raises(ci.AuraError) as raised:
        client.call_endpoint("/tenants", "GET", "tok")

    assert "read timeout" in str(raised.value)
    assert not raised.value.unsent


TENANTS = [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "First"},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "Middle"},
    {"id": "33333333-3333-4333-8333-333333333333", "name": "Last"},
]


def test_get_tenant_id_finds_a_name_in_the_middle(api, client):
    api.get(f"{BASE}/v1/tenants", json={"data": TENANTS})

    assert client.get_tenant_id("Middle", "tok") == "22222222-2222-4222-8222-222222222222"


def test_get_tenant_id_accepts_a_non_uuid_id_from_the_list(api, client):
    api.get(f"{BASE}/v1/tenants", json={"data": [{"id": "YOUR_PROJECT_ID", "name": "Staging"}]})

    assert client.get_tenant_id("YOUR_PROJECT_ID", "tok") == "YOUR_PROJECT_ID"


def test_get_tenant_id_uses_a_uuid_without_a_request(api, client):
    assert client.get_tenant_id(TENANTS[2]["id"], "tok") == TENANTS[2]["id"]
    assert len(api.calls) == 0


def test_get_tenant_id_empty_means_the_only_tenant(api, client):
    api.get(f"{BASE}/v1/tenants", json={"data": TENANTS[:1]})

    assert client.get_tenant_id("", "tok") == TENANTS[0]["id"]


def test_get_tenant_id_without_data_is_an_error(api, client):
    api.get(f"{BASE}/v1/tenants", json={"tenants": TENANTS})

    with pytest.raises(ci.AuraError, match="without the expected data list"):
        client.get_tenant_id("First", "tok")


def test_create_instance_returns_the_data_object(api, client):
    data = {"id": "db1d1234", "password": "letMeIn123!", "username": "neo4j"}
    api.post(f"{BASE}/v1/instances", status=202, json={"data": data})

    assert client.create_instance("tok", {"name": "x"}) == data


def test_create_instance_without_data_is_an_error(api, client):
    api.post(f"{BASE}/v1/instances", status=202, json={"id": "db1d1234"})

    with pytest.raises(ci.AuraError, match="no instance data"):
        client.create_instance("tok", {"name": "x"})


def test_read_dotenv_understands_the_usual_forms(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n\nexport A=1\nB='two words'\nC=\"3\"\nD=four # note\nE=a#b\n"
        'F="from the console" # a "quoted" note\n'
    )

    assert ci.read_dotenv(str(path)) == {
        "A": "1",
        "B": "two words",
        "C": "3",
        "D": "four",
        "E": "a#b",
        "F": "from the console",
    }


def test_read_dotenv_rejects_an_unclosed_quote_without_echoing_it(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\nB='my-secret-value\n")

    with pytest.raises(ci.AuraError) as raised:
        ci.read_dotenv(str(path))

    assert str(raised.value) == f"{path} line 2 cannot be parsed (an unclosed quote?)"


def test_read_dotenv_rejects_non_utf8(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"AURA_TENANT=caf\xe9\n")

    with pytest.raises(ci.AuraError, match="not UTF-8"):
        ci.read_dotenv(str(path))


def test_main_reports_errors_in_one_line_with_the_exit_code(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AURA_CLIENT_ID", raising=False)
    monkeypatch.delenv("AURA_CLIENT_SECRET", raising=False)

    assert ci.main([]) == ci.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1


def _answer(status, **headers):
    return HTTPResponse(status=status, headers=headers, preload_content=False)


def test_retry_sleeps_exactly_the_wait_it_logged(monkeypatch, caplog, client):
    """The logged wait is the one slept, not a second random draw of the backoff."""
    slept = []
    monkeypatch.setattr(ci.time, "sleep", slept.append)
    caplog.set_level("INFO", logger=ci.log.name)
    retry = client.session.get_adapter(BASE).max_retries

    for _ in range(3):
        retry = retry.increment("GET", f"{BASE}/v1/tenants", response=_answer(503))
        retry.sleep(_answer(503))

    logged = [float(m.split("retrying in ")[1].split(" s")[0]) for m in caplog.messages]
    assert [round(s, 1) for s in slept] == logged
    assert all(s >= ci.MIN_REQUEST_INTERVAL for s in slept)


def test_retry_after_that_is_not_seconds_or_a_date_falls_back_to_backoff(client):
    retry = client.session.get_adapter(BASE).max_retries

    assert retry.get_retry_after(_answer(429, **{"Retry-After": "0.5"})) is None
    assert retry.get_retry_after(_answer(429, **{"Retry-After": "2"})) == 2


CREATE_URL = f"{BASE}/v1/instances"


def test_retry_resends_a_create_only_when_aura_did_not_act_on_it(client):
    retry = client.session.get_adapter(BASE).max_retries

    # Refused before it was sent, or refused with 429: safe to send again.
    refused = NewConnectionError(None, "Connection refused")
    assert retry.increment("POST", CREATE_URL, error=refused).wait > 0
    assert retry.increment("POST", CREATE_URL, response=_answer(429)).wait > 0
    # Sent, then no clear answer: Aura may have created it, so never resend.
    with pytest.raises(MaxRetryError):
        retry.increment("POST", CREATE_URL, response=_answer(503))
    dropped = ProtocolError("Connection aborted.", ConnectionResetError())
    with pytest.raises(ProtocolError):
        retry.increment("POST", CREATE_URL, error=dropped)
    # The token request creates nothing: a 503 there is retried like a GET.
    assert retry.increment("POST", f"{BASE}/oauth/token", response=_answer(503)).wait > 0
