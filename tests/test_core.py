"""End to end: create_instance.py run as a subprocess against the fake Aura API."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fake_aura import CLIENT_ID, CLIENT_SECRET, TENANT_ID, Fault
from helpers import VERBOSE_LINE, assert_no_secrets, calls, credentials_files, printed

STAGING = {  # a second tenant, for accounts with more than one
    "id": "da045ab3-3b89-4f45-8b96-528f2e47cd13",
    "name": "Staging",
    "instance_configurations": [],
}


def test_single_tenant_account_creates_and_prints_the_four_lines(fake, run):
    result = run()

    assert result.returncode == 0, result.stderr
    [instance_id] = fake.instances
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)
    assert "few minutes" in result.stderr


def test_requests_are_the_documented_ones(fake, run):
    result = run("--name", "graph-1")

    assert result.returncode == 0, result.stderr
    token, tenants, instances, create = fake.requests
    assert (token.method, token.path) == ("POST", "/oauth/token")
    assert (
        token.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.body == b"grant_type=client_credentials"
    assert (tenants.method, tenants.path) == ("GET", "/v1/tenants")
    assert (instances.method, instances.path) == ("GET", "/v1/instances")
    assert instances.query == {"tenantId": [TENANT_ID]}
    assert (create.method, create.path) == ("POST", "/v1/instances")
    assert create.headers["Content-Type"] == "application/json"
    assert create.headers["Authorization"].startswith("Bearer ")
    assert create.json == {
        "version": "5",
        "region": "europe-west1",
        "memory": "2GB",
        "name": "graph-1",
        "type": "enterprise-db",
        "tenant_id": TENANT_ID,
        "cloud_provider": "gcp",
    }
    assert all(r.headers["User-Agent"].startswith("create_instance.py/") for r in fake.requests)


def test_one_connection_serves_the_whole_run(fake, run):
    result = run()

    assert result.returncode == 0, result.stderr
    assert fake.connections == 1
    assert {r.connection for r in fake.requests} == {1}


def test_wrong_secret_exits_3_with_one_line_and_sends_nothing_else(fake, run):
    result = run(env={"AURA_CLIENT_SECRET": "wrong-secret"})

    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: authentication failed (HTTP 401: invalid_client: The provided credentials are "
        "invalid, expired, or revoked.); check AURA_CLIENT_ID and AURA_CLIENT_SECRET"
    ]
    assert "wrong-secret" not in result.stderr
    assert calls(fake) == [("POST", "/oauth/token")]


def test_unknown_tenant_exits_2_and_lists_the_tenants(fake, run):
    fake.tenants.append(STAGING)

    result = run("--tenant", "staging-eu")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "'Production'" in line and "'Staging'" in line
    assert fake.sent("POST", "/v1/instances") == []


NOT_A_TENANT = "0c3d9f3e-5a1b-4c2d-8e3f-4a5b6c7d8e9f"  # shaped like an id, in no account
NO_SUCH_TENANT = (
    f"no tenant has the id {NOT_A_TENANT}. The account has: "
    f"'Production' ({TENANT_ID}), 'Staging' ({STAGING['id']})."
)


@pytest.mark.parametrize(
    "args", [("--dry-run",), ("--type", "free-db"), ("--list-configurations",)]
)
def test_unknown_tenant_id_found_out_by_its_configurations_lists_the_tenants(fake, run, args):
    """These runs fetch GET /v1/tenants/{id} before anything else: Aura answers 404."""
    fake.tenants.append(STAGING)

    result = run("--tenant", NOT_A_TENANT, *args)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {NO_SUCH_TENANT}"]
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("GET", f"/v1/tenants/{NOT_A_TENANT}"),
        ("GET", "/v1/tenants"),
    ]
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_unknown_tenant_id_refused_by_the_create_call_lists_the_tenants(fake, run, tmp_path):
    """An id is used as is: the create call's 400 tenant-not-found is the first to tell."""
    fake.tenants.append(STAGING)

    result = run("--tenant", NOT_A_TENANT)

    assert result.returncode == 2
    assert result.stdout == ""
    # Aura's own refusal first, then the tenants.
    [line] = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.stderr.splitlines()[-1] == line
    assert line.startswith("error: POST /v1/instances failed with HTTP 400: ")
    assert "(reason: tenant-not-found)" in line
    assert line.endswith(f"; {NO_SUCH_TENANT}")
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("GET", "/v1/instances"),
        ("POST", "/v1/instances"),
        ("GET", "/v1/tenants"),
    ]
    assert fake.instances == {}
    assert credentials_files(tmp_path) == []
    assert_no_secrets(fake, result.stdout, result.stderr)


def test_near_miss_in_case_is_suggested(fake, run):
    result = run("--tenant", "production")

    assert result.returncode == 2
    assert "Did you mean 'Production'?" in result.stderr


def test_tenant_in_the_middle_of_the_list_is_found(fake, run):
    """The blog's loop kept only the last entry's verdict; this one would fail there."""
    fake.tenants[:] = [
        {
            "id": "11111111-1111-4111-8111-111111111111",
            "name": "First",
            "instance_configurations": [],
        },
        {**fake.tenants[0], "name": "Middle"},
        {
            "id": "33333333-3333-4333-8333-333333333333",
            "name": "Last",
            "instance_configurations": [],
        },
    ]

    result = run("--tenant", "Middle")

    assert result.returncode == 0, result.stderr
    assert fake.sent("POST", "/v1/instances")[0].json["tenant_id"] == TENANT_ID


def test_several_tenants_and_none_chosen_lists_them(fake, run):
    fake.tenants.append(STAGING)

    result = run()

    assert result.returncode == 2
    assert "2 tenants" in result.stderr and STAGING["id"] in result.stderr


def test_duplicate_tenant_names_are_an_error_listing_the_ids(fake, run):
    twin = "da045ab3-3b89-4f45-8b96-528f2e47cd13"
    fake.tenants.append({**fake.tenants[0], "id": twin})

    result = run("--tenant", "Production")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: 2 tenants are named 'Production'; give the id instead: {TENANT_ID}, {twin}"
    ]
    assert calls(fake) == [("POST", "/oauth/token"), ("GET", "/v1/tenants")]


def test_tenant_given_by_id_needs_no_tenant_list_three_requests_on_one_connection(fake, run):
    result = run("--tenant", TENANT_ID, "--name", "graph-1")

    assert result.returncode == 0, result.stderr
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("GET", "/v1/instances"),
        ("POST", "/v1/instances"),
    ]
    assert fake.connections == 1
    assert fake.sent("POST", "/v1/instances")[0].json["tenant_id"] == TENANT_ID
    [instance] = fake.instances.values()
    assert result.stdout.splitlines() == printed(instance.data)


def test_flags_override_environment_which_overrides_dotenv(fake, run, tmp_path):
    (tmp_path / ".env").write_text(
        "# my settings\n"
        f"export AURA_CLIENT_ID={CLIENT_ID}\n"
        f"AURA_CLIENT_SECRET='{CLIENT_SECRET}'\n"
        'AURA_INSTANCE_NAME="from-dotenv"  \n'
        "AURA_TENANT=Production # inline comment\n"
    )

    from_dotenv = run(env={"AURA_CLIENT_ID": None, "AURA_CLIENT_SECRET": None})
    from_env = run(env={"AURA_INSTANCE_NAME": "from-env"})
    from_flag = run("--name", "from-flag", env={"AURA_INSTANCE_NAME": "from-env"})

    assert [r.returncode for r in (from_dotenv, from_env, from_flag)] == [0, 0, 0]
    names = [r.json["name"] for r in fake.sent("POST", "/v1/instances")]
    assert names == ["from-dotenv", "from-env", "from-flag"]


def test_spec_flags_reach_the_request_body(fake, run):
    result = run(
        "--type",
        "professional-db",
        "--cloud-provider",
        "aws",
        "--region",
        "eu-west-1",
        "--memory",
        "4GB",
        "--neo4j-version",
        "5",
    )

    assert result.returncode == 0, result.stderr
    body = fake.sent("POST", "/v1/instances")[0].json
    assert (body["type"], body["cloud_provider"], body["region"], body["memory"]) == (
        "professional-db",
        "aws",
        "eu-west-1",
        "4GB",
    )


def test_missing_credentials_name_the_variables_before_any_request(fake, run):
    result = run(env={"AURA_CLIENT_ID": None, "AURA_CLIENT_SECRET": None})

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "AURA_CLIENT_ID and AURA_CLIENT_SECRET" in line
    assert fake.requests == []


def test_local_checks_fail_fast_with_exit_2(fake, run):
    cases = {
        ("--name", ""): "--name is blank",
        ("--region", " "): "--region is blank",
        ("--dry-run", "--wait"): "nothing to wait for",
        ("--credentials-file", "c.txt", "--no-credentials-file"): "not allowed with",
        ("--name", "x" * 31): "31 characters",
        ("--name", " padded"): "whitespace",
        ("--memory", "2 GB"): "memory",
        ("--type", "enterprise"): "invalid choice",
        ("--cloud-provider", "oracle"): "invalid choice",
        ("--api-url", "http://api.neo4j.io"): "https",
        ("--api-url", "https://api.neo4j.io/v1"): "without a path",
    }
    for args, expected in cases.items():
        result = run(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert expected in result.stderr, (args, result.stderr)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--timeout", "0"),
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--timeout", "soon"),
        ("--wait-timeout", "0"),
        ("--wait-timeout", "-1"),
        ("--wait-timeout", "1e300"),
        ("--query-timeout", "nan"),
    ],
)
def test_bad_duration_is_one_usage_line_before_any_request(fake, run, flag, value):
    result = run("--wait", flag, value)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"create_instance.py: error: argument {flag}: {value!r} is not a number of seconds "
        "between 0 and 86400 (see --help)"
    ]
    assert fake.connections == 0


def test_no_output_ever_contains_the_secret_or_a_token(fake, run, tmp_path):
    issued: list[str] = []
    issue = fake._issue_token

    def recording_issue() -> dict[str, Any]:
        answer = issue()
        issued.append(answer["access_token"])
        return answer

    fake._issue_token = recording_issue  # tokens expire_tokens discards are kept too
    wrong = "wrong-secret-0123456789"
    results = {"success": run("--name", "ok")}
    results["wrong secret"] = run(env={"AURA_CLIENT_SECRET": wrong})
    results["unknown tenant"] = run("--tenant", "nope", "--verbose")
    fake.on("GET", "/v1/instances", Fault(expire_tokens=True))
    results["403 renewal"] = run("--name", "renewed", "--verbose")
    results["verbose"] = run("--name", "verbose", "--verbose")
    fake.on("POST", "/v1/instances", Fault(status=500, apply=True))
    results["ambiguous"] = run("--name", "ambiguous", "--verbose")
    denied = Fault(status=403, body={"error": "Access to this API has been disallowed"})
    fake.on("GET", "/v1/tenants", denied, denied)
    results["persistent 403"] = run("--name", "denied", "--verbose")

    assert [r.returncode for r in results.values()] == [0, 3, 2, 0, 0, 1, 3]
    tokens = set(issued) | set(fake._tokens)
    assert len(tokens) == 8  # one per run but the refused one, plus two renewals
    bearers = {r.headers.get("Authorization", "")[len("Bearer ") :] for r in fake.requests}
    assert tokens <= bearers  # every token was used, so it could have leaked
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    forbidden = [CLIENT_SECRET, wrong, basic, *tokens]
    for scenario, result in results.items():
        for secret in forbidden:
            assert secret not in result.stdout, scenario
            assert secret not in result.stderr, scenario
    for line in fake.log:
        assert not any(secret in line for secret in forbidden), line
    for path in credentials_files(tmp_path):
        assert not any(secret in path.read_text() for secret in forbidden), path
    for scenario in ("unknown tenant", "403 renewal", "verbose", "ambiguous", "persistent 403"):
        stderr = results[scenario].stderr
        assert VERBOSE_LINE.search(stderr), scenario
        assert "Bearer" not in stderr and "Basic" not in stderr, scenario
        assert "Authorization" not in stderr, scenario
    for scenario in ("unknown tenant", "403 renewal", "verbose", "ambiguous"):
        assert ", X-Request-Id " in results[scenario].stderr, scenario


@pytest.mark.parametrize(
    ("variable", "value", "source"),
    [
        ("AURA_CLIENT_ID", "", "environment"),
        ("AURA_CLIENT_SECRET", " \t ", "environment"),
        ("AURA_API_URL", "", "environment"),
        ("AURA_TENANT", "", "environment"),
        ("AURA_INSTANCE_NAME", "   ", "environment"),
        ("AURA_TENANT", "", ".env"),
        ("AURA_CLIENT_SECRET", "  ", ".env"),
    ],
)
def test_blank_variables_are_errors_not_silent_defaults(
    fake, run, tmp_path, variable, value, source
):
    if source == ".env":
        (tmp_path / ".env").write_text(f"{variable}={value}\n")
        result = run(env={variable: None})
    else:
        result = run(env={variable: value})

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {variable} is set but blank in the {source}; give it a value or unset it"
    ]
    assert fake.connections == 0
