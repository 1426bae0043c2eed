"""End to end: create_instance.py run as a subprocess against the fake Aura API."""

from __future__ import annotations

import base64

from fake_aura import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from helpers import printed


def test_single_tenant_account_creates_and_prints_the_four_lines(fake, run):
    result = run()

    assert result.returncode == 0, result.stderr
    [instance_id] = fake.instances
    assert result.stdout.splitlines() == printed(fake.instances[instance_id].data)
    assert "few minutes" in result.stderr


def test_requests_are_the_documented_ones(fake, run):
    run("--name", "graph-1")

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
    run()

    assert fake.connections == 1
    assert {r.connection for r in fake.requests} == {1}


def test_wrong_secret_exits_3_with_one_line_and_sends_nothing_else(fake, run):
    result = run(env={"AURA_CLIENT_SECRET": "wrong-secret"})

    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "authentication failed" in line and "AURA_CLIENT_SECRET" in line
    assert "wrong-secret" not in result.stderr
    assert [r.path for r in fake.requests] == ["/oauth/token"]


def test_unknown_tenant_exits_2_and_lists_the_tenants(fake, run):
    fake.tenants.append(
        {
            "id": "da045ab3-3b89-4f45-8b96-528f2e47cd13",
            "name": "Staging",
            "instance_configurations": [],
        }
    )

    result = run("--tenant", "staging-eu")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "'Production'" in line and "'Staging'" in line
    assert fake.sent("POST", "/v1/instances") == []


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
    fake.tenants.append(
        {
            "id": "da045ab3-3b89-4f45-8b96-528f2e47cd13",
            "name": "Staging",
            "instance_configurations": [],
        }
    )

    result = run()

    assert result.returncode == 2
    assert "2 tenants" in result.stderr and "da045ab3-3b89-4f45-8b96-528f2e47cd13" in result.stderr


def test_duplicate_tenant_names_are_an_error_listing_the_ids(fake, run):
    fake.tenants.append({**fake.tenants[0], "id": "da045ab3-3b89-4f45-8b96-528f2e47cd13"})

    result = run("--tenant", "Production")

    assert result.returncode == 2
    assert TENANT_ID in result.stderr and "da045ab3-3b89-4f45-8b96-528f2e47cd13" in result.stderr
    assert fake.sent("POST", "/v1/instances") == []


def test_tenant_given_by_id_needs_no_tenant_list(fake, run):
    result = run("--tenant", TENANT_ID)

    assert result.returncode == 0, result.stderr
    assert fake.sent("GET", "/v1/tenants") == []


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


def test_no_output_ever_contains_the_secret_or_the_token(fake, run):
    results = [run(), run(env={"AURA_CLIENT_SECRET": "wrong"}), run("--tenant", "nope")]

    issued = list(fake._tokens)
    assert issued
    for result in results:
        for secret in [CLIENT_SECRET, *issued]:
            assert secret not in result.stdout + result.stderr
    for line in fake.log:
        assert CLIENT_SECRET not in line and not any(t in line for t in issued)


def test_blank_variables_are_errors_not_silent_defaults(fake, run):
    for variable in ("AURA_CLIENT_SECRET", "AURA_INSTANCE_NAME", "AURA_TENANT"):
        result = run(env={variable: "   "})
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"error: {variable} is set but blank in the environment; give it a value or unset it"
        ]
    assert fake.requests == []
