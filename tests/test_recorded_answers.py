"""End to end against answers recorded in the unit tests of Neo4j's own Aura API clients.

Our fake answers as Neo4j's OpenAPI file says the API does. The clients Neo4j
maintains record, in their unit tests, what they have seen the API send:
fields left out, ids that are not UUIDs, statuses outside the spec's enum,
error bodies in either shape. Those answers are copied below as data (only
the JSON, none of the clients' code), each naming the file it came from,
and served through the fake while create_instance.py runs as a user runs it.

Sources, at the commits of the snapshots read:
  neo4j/aura-cli @133b8b1b4ee1380faa6cbc4986b33e84c841f6a3
  neo4j/graph-data-science-client @aafe07f527a439ee4371601718a8aeffbda156f7 ("GDS" below)
"""

from __future__ import annotations

import json
import time

import pytest

from fake_aura import CLIENT_SECRET, DEFAULT_CONFIGURATIONS, REMOVE, TENANT_ID, Fault
from helpers import printed

# ---------------------------------------------------------------------------
# The recorded answers
# ---------------------------------------------------------------------------

# POST /oauth/token
# neo4j/aura-cli neo4j-cli/aura/internal/test/testutils/auratesthelper.go (every command's test)
AURA_CLI_TOKEN = {"access_token": "<token>", "expires_in": 3600, "token_type": "bearer"}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, mock_auth_token()
GDS_TOKEN = {"access_token": "very_short_token", "expires_in": 500, "token_type": "Bearer"}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_auth_token()
GDS_TOKEN_EXPIRES_AT_ONCE = {
    "access_token": "very_short_token",
    "expires_in": 0,
    "token_type": "Bearer",
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, _expired_token_gateway():
# two token answers in a row, and the gateway's refusal of the first token
GDS_STALE_TOKEN = {"access_token": "stale_token", "expires_in": 3600, "token_type": "Bearer"}
GDS_FRESH_TOKEN = {"access_token": "fresh_token", "expires_in": 3600, "token_type": "Bearer"}
GDS_TOKEN_EXPIRED_401 = {"error": "Key not authorized: token has expired"}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/get_test.go,
# TestUnauthorizedAccessTokenRefresh (served with 401 and with 403)
AURA_CLI_UNAUTHORIZED = {"errors": [{"message": "string", "reason": "string", "field": "string"}]}

# GET /v1/tenants
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/tenant/list_test.go, TestListTenants
AURA_CLI_TENANTS = {
    "data": [
        {"id": "6981ace7-efe8-4f5c-b7c5-267b5162ce91", "name": "Production"},
        {"id": "YOUR_TENANT_ID", "name": "Staging"},
        {"id": "da045ab3-3b89-4f45-8b96-528f2e47cd13", "name": "Development"},
    ]
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_derive_tenant
GDS_ONE_TENANT = {"data": [{"id": "6981ace7-efe8-4f5c-b7c5-267b5162ce91", "name": "Production"}]}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_multiple_tenants
GDS_TWO_TENANTS = {
    "data": [{"id": "tenant1", "name": "Production"}, {"id": "tenant2", "name": "Development"}]
}

# GET /v1/tenants/{id}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/tenant/get_test.go,
# TestGetTenantWithoutIntegrationEndpoint: a tenant that offers nothing
AURA_CLI_TENANT = {
    "data": {
        "id": "6981ace7-efe8-4f5c-b7c5-267b5162ce91",
        "name": "Production",
        "instance_configurations": [],
    }
}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/tenant/get_test.go, TestGetTenantNotFoundError
AURA_CLI_TENANT_NOT_FOUND = {
    "errors": [
        {"message": "The tenant you specified could not be found", "reason": "tenant-not-found"}
    ]
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_create_instance:
# no name, and configurations with three of the seven fields the spec requires
GDS_TENANT = {
    "data": {
        "id": "some_tenant",
        "instance_configurations": [
            {"type": "enterprise-ds", "region": "leipzig-1", "cloud_provider": "aws"}
        ],
    }
}

# GET /v1/instances
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/list_test.go, TestListInstances:
# no created_at, which the spec requires
AURA_CLI_INSTANCES = {
    "data": [
        {
            "id": "2f49c2b3",
            "name": "Production",
            "tenant_id": "YOUR_TENANT_ID",
            "cloud_provider": "gcp",
        },
        {
            "id": "b51dc964",
            "name": "Instance01",
            "tenant_id": "YOUR_TENANT_ID",
            "cloud_provider": "aws",
        },
        {
            "id": "432392ae",
            "name": "Recommendations",
            "tenant_id": "YOUR_TENANT_ID",
            "cloud_provider": "azure",
        },
        {
            "id": "524b7d8d",
            "name": "Northwind",
            "tenant_id": "YOUR_TENANT_ID",
            "cloud_provider": "gcp",
        },
    ]
}

# POST /v1/instances, 202
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/create_test.go,
# TestCreateFreeInstance: no created_at
AURA_CLI_CREATED_FREE = {
    "data": {
        "id": "db1d1234",
        "connection_url": "YOUR_CONNECTION_URL",
        "username": "neo4j",
        "password": "letMeIn123!",
        "tenant_id": "YOUR_TENANT_ID",
        "cloud_provider": "gcp",
        "region": "europe-west1",
        "type": "free-db",
        "name": "Instance01",
    }
}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/create_test.go,
# TestCreateProfessionalInstance
AURA_CLI_CREATED_PROFESSIONAL = {
    "data": {
        "id": "db1d1234",
        "connection_url": "YOUR_CONNECTION_URL",
        "username": "neo4j",
        "password": "letMeIn123!",
        "tenant_id": "YOUR_TENANT_ID",
        "cloud_provider": "gcp",
        "region": "europe-west1",
        "type": "professional-db",
        "name": "Instance01",
        "vector_optimized": False,
    }
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_create_instance:
# no name, no created_at, an empty type
GDS_CREATED = {
    "data": {
        "id": "id0",
        "tenant_id": "some-tenant",
        "cloud_provider": "aws",
        "password": "foo",
        "username": "neo4j",
        "connection_url": "fake-url",
        "type": "",
        "region": "leipzig-1",
    }
}

# POST /v1/instances, errors
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/create_test.go,
# TestCreateInstanceError (400 and 405)
AURA_CLI_MISSING_BILLING_400 = {
    "errors": [
        {
            "message": "You must provide billing details in the Aura Console before creating an "
            "instance",
            "reason": "missing-billing-details",
        }
    ]
}
AURA_CLI_NOT_PERMITTED_405 = {
    "errors": [{"message": "string", "reason": "string", "field": "string"}]
}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/delete_test.go,
# TestDeleteInstanceError
AURA_CLI_ONGOING_OPERATION_409 = {
    "errors": [
        {
            "message": "The database is current undergoing an operation: resuming",
            "reason": "ongoing-database-operation",
        }
    ]
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_delete_that_fails
GDS_FAILURE_500 = {
    "errors": [{"message": "some failure happened", "reason": "unknown", "field": "string"}]
}

# GET /v1/instances/{id}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/get_test.go, TestGetInstance
AURA_CLI_INSTANCE_RUNNING = {
    "data": {
        "id": "2f49c2b3",
        "name": "Production",
        "status": "running",
        "tenant_id": "YOUR_TENANT_ID",
        "cloud_provider": "gcp",
        "connection_url": "YOUR_CONNECTION_URL",
        "metrics_integration_url": "YOUR_METRICS_INTEGRATION_ENDPOINT",
        "region": "europe-west1",
        "type": "enterprise-db",
        "memory": "8GB",
        "storage": "16GB",
    }
}
# ... of which these are the fields beyond those our fake sends
AURA_CLI_INSTANCE_EXTRAS = {
    key: AURA_CLI_INSTANCE_RUNNING["data"][key]
    for key in ("metrics_integration_url", "memory", "storage")
}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/create_test.go,
# TestCreateFreeInstanceWithAwait: the second poll's answer, a status outside the spec's enum
AURA_CLI_AWAIT_READY = {"data": {"id": "db1d1234", "status": "ready"}}
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/get_test.go,
# TestGetInstanceNotFoundError (the same body in GDS's test_list_missing_instance, for id0)
AURA_CLI_DB_NOT_FOUND = {
    "errors": [{"message": "DB not found: 2f49c2b3", "reason": "db-not-found"}]
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_wait_for_instance_running
GDS_INSTANCE_RUNNING = {
    "data": {
        "status": "running",
        "cloud_provider": None,
        "connection_url": "foo.bar",
        "id": None,
        "name": None,
        "region": None,
        "tenant_id": None,
        "type": None,
        "memory": "4Gi",
    }
}
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_list_instance_unknown_error
GDS_UNKNOWN_ERROR_TEXT = "my text"


# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_wait_for_instance_deleting:
# two answers, for id0 and id1, alike but for the status
def gds_instance_being_deleted(status):
    return {
        "data": {
            "status": status,
            "cloud_provider": None,
            "connection_url": None,
            "id": None,
            "name": None,
            "region": None,
            "tenant_id": None,
            "type": None,
            "memory": "4Gi",
        }
    }


# DELETE /v1/instances/{id}, 202
# neo4j/aura-cli neo4j-cli/aura/internal/subcommands/instance/delete_test.go, TestDeleteInstance
# (GDS's test_delete_instance records the same status, "deleting")
AURA_CLI_DELETED = {
    "data": {
        "id": "2f49c2b3",
        "name": "Production",
        "status": "deleting",
        "connection_url": "YOUR_CONNECTION_URL",
        "tenant_id": "YOUR_TENANT_ID",
        "cloud_provider": "gcp",
        "memory": "8GB",
        "region": "europe-west1",
        "type": "enterprise-db",
    }
}

# Any answer: the deprecation header
# neo4j/graph-data-science-client tests/unit/test_aura_api.py, test_warn_about_expirying_endpoint
GDS_EXPIRES_HEADER = {"X-Tyk-Api-Expires": "Mon, 03 Mar 2025 00:00:00 UTC"}


# ---------------------------------------------------------------------------
# What every run must show
# ---------------------------------------------------------------------------

CREATE = ("POST", "/v1/instances")
POLL = ("GET", "/v1/instances/{id}")


def accept(fake, *answers):
    """Make the fake honour the tokens of recorded token answers, as Aura would its own."""
    for answer in answers:
        fake._tokens[answer["access_token"]] = time.monotonic() + 3600


def files_written(tmp_path):
    return {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()}


def check(result, fake, tmp_path, code, *, tokens=()):
    """The README's promises for any run: exit code, no traceback, no secret anywhere,
    and a failure told in exactly one `error:` line. Returns that line, or None."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    secrets = [CLIENT_SECRET, *fake._tokens, *tokens]
    for text in (result.stdout, result.stderr, *files_written(tmp_path).values()):
        for secret in secrets:
            assert secret not in text
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if code == 0:
        assert errors == []
        return None
    [line] = errors
    return line


def check_text_credentials(result, data):
    """stdout is the four labelled lines of the create answer, and nothing else."""
    assert result.stdout.splitlines() == printed(data)


def check_json_credentials(result, data, tmp_path):
    """stdout is one JSON object: the create answer, plus the credentials file's name."""
    [line] = result.stdout.splitlines()
    shown = json.loads(line)
    path = shown.pop("credentials_file")
    assert f"NEO4J_PASSWORD={data['password']}\n" in (tmp_path / path).read_text()
    return shown


def the_instance(fake):
    """The create answer the fake gave for its one instance."""
    [instance] = fake.instances.values()
    return {k: v for k, v in instance.data.items() if k not in ("memory", "storage")}


# ---------------------------------------------------------------------------
# POST /oauth/token
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [AURA_CLI_TOKEN, GDS_TOKEN, GDS_TOKEN_EXPIRES_AT_ONCE],
    ids=["aura-cli", "gds", "gds-expires_in-0"],
)
def test_recorded_token_answers_are_used_and_never_shown(fake, run, tmp_path, answer):
    fake.on("POST", "/oauth/token", Fault(status=200, body=answer))
    accept(fake, answer)

    result = run("--name", "graph-1")

    check(result, fake, tmp_path, 0, tokens=[answer["access_token"]])
    check_text_credentials(result, the_instance(fake))
    bearer = f"Bearer {answer['access_token']}"
    assert [r.headers["Authorization"] for r in fake.requests[1:]] == [bearer] * 3
    assert len(fake.sent("POST", "/oauth/token")) == 1


def test_a_token_the_gateway_calls_expired_is_renewed_once(fake, run, tmp_path):
    fake.on(
        "POST",
        "/oauth/token",
        Fault(status=200, body=GDS_STALE_TOKEN),
        Fault(status=200, body=GDS_FRESH_TOKEN),
    )
    accept(fake, GDS_FRESH_TOKEN)
    fake.on("GET", "/v1/tenants", Fault(status=401, body=GDS_TOKEN_EXPIRED_401))

    result = run("--name", "graph-1", "--output", "json")

    check(result, fake, tmp_path, 0, tokens=["stale_token", "fresh_token"])
    data = the_instance(fake)
    assert check_json_credentials(result, data, tmp_path) == data
    first, second = fake.sent("GET", "/v1/tenants")
    assert first.headers["Authorization"] == "Bearer stale_token"
    assert second.headers["Authorization"] == "Bearer fresh_token"
    assert fake.sent(*CREATE)[0].headers["Authorization"] == "Bearer fresh_token"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, GDS_TOKEN_EXPIRED_401, "Key not authorized: token has expired"),
        (401, AURA_CLI_UNAUTHORIZED, "HTTP 401: string: string"),
        (403, AURA_CLI_UNAUTHORIZED, "HTTP 403: string: string"),
    ],
    ids=["gds-401", "aura-cli-401", "aura-cli-403"],
)
def test_a_refusal_of_the_renewed_token_too_is_exit_3_in_one_line(
    fake, run, tmp_path, status, body, message
):
    refused = Fault(status=status, body=body)
    fake.on("GET", "/v1/tenants", refused, Fault(status=status, body=body))

    result = run("--name", "graph-1")

    line = check(result, fake, tmp_path, 3)
    assert message in line
    assert result.stdout == ""
    assert len(fake.sent("POST", "/oauth/token")) == 2
    assert fake.sent(*CREATE) == []


# ---------------------------------------------------------------------------
# GET /v1/tenants and GET /v1/tenants/{id}
# ---------------------------------------------------------------------------


def serve_tenants(fake, recorded):
    """Answer GET /v1/tenants with the recorded list, and let the fake create in each."""
    fake.on("GET", "/v1/tenants", Fault(status=200, body=recorded))
    fake.tenants = [
        {**tenant, "instance_configurations": DEFAULT_CONFIGURATIONS} for tenant in recorded["data"]
    ]


@pytest.mark.parametrize(
    ("recorded", "args", "tenant_id"),
    [
        (AURA_CLI_TENANTS, ["--tenant", "Staging"], "YOUR_TENANT_ID"),
        (AURA_CLI_TENANTS, ["--tenant", "Development"], "da045ab3-3b89-4f45-8b96-528f2e47cd13"),
        (AURA_CLI_TENANTS, ["--tenant", "YOUR_TENANT_ID"], "YOUR_TENANT_ID"),
        (GDS_ONE_TENANT, [], "6981ace7-efe8-4f5c-b7c5-267b5162ce91"),
        (GDS_TWO_TENANTS, ["--tenant", "Development"], "tenant2"),
    ],
    ids=[
        "aura-cli-name-of-a-non-uuid-id",
        "aura-cli-name",
        "aura-cli-non-uuid-id",
        "gds-the-only-tenant",
        "gds-name",
    ],
)
def test_a_tenant_from_a_recorded_list_is_found_and_used(
    fake, run, tmp_path, recorded, args, tenant_id
):
    serve_tenants(fake, recorded)

    result = run(*args, "--name", "graph-1")

    check(result, fake, tmp_path, 0)
    check_text_credentials(result, the_instance(fake))
    assert fake.sent(*CREATE)[0].json["tenant_id"] == tenant_id
    assert fake.sent("GET", "/v1/instances")[0].query == {"tenantId": [tenant_id]}


@pytest.mark.parametrize(
    ("recorded", "args", "expected"),
    [
        (AURA_CLI_TENANTS, [], "the account has 3 tenants"),
        (GDS_TWO_TENANTS, [], "the account has 2 tenants"),
        (AURA_CLI_TENANTS, ["--tenant", "staging"], "Did you mean 'Staging'?"),
    ],
    ids=["aura-cli-three", "gds-two", "aura-cli-wrong-case"],
)
def test_a_recorded_tenant_list_that_does_not_decide_is_exit_2_naming_every_tenant(
    fake, run, tmp_path, recorded, args, expected
):
    serve_tenants(fake, recorded)

    result = run(*args)

    line = check(result, fake, tmp_path, 2)
    assert expected in line
    for tenant in recorded["data"]:
        assert f"{tenant['name']!r} ({tenant['id']})" in line
    assert result.stdout == ""
    assert fake.sent(*CREATE) == []


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_tenant_that_offers_nothing_lists_no_configurations(fake, run, tmp_path, output):
    fake.on("GET", "/v1/tenants/{id}", Fault(status=200, body=AURA_CLI_TENANT))

    result = run("--list-configurations", "--output", output)

    check(result, fake, tmp_path, 0)
    if output == "json":
        assert json.loads(result.stdout) == []
    else:
        [header] = result.stdout.splitlines()
        assert header.split()[:3] == ["TYPE", "CLOUD", "REGION"]


def test_a_dry_run_in_a_tenant_that_offers_nothing_is_exit_2(fake, run, tmp_path):
    fake.on("GET", "/v1/tenants/{id}", Fault(status=200, body=AURA_CLI_TENANT))

    result = run("--dry-run", "--name", "graph-1")

    line = check(result, fake, tmp_path, 2)
    assert "the tenant offers no enterprise-db instances; it offers: nothing at all" in line
    assert result.stdout == ""
    assert fake.sent(*CREATE) == []


@pytest.mark.parametrize("output", ["text", "json"])
def test_configurations_with_fields_left_out_are_listed_as_they_came(fake, run, tmp_path, output):
    fake.on("GET", "/v1/tenants/{id}", Fault(status=200, body=GDS_TENANT))

    result = run("--list-configurations", "--output", output)

    check(result, fake, tmp_path, 0)
    if output == "json":
        assert json.loads(result.stdout) == GDS_TENANT["data"]["instance_configurations"]
    else:
        header, row = result.stdout.splitlines()
        assert header.split()[:3] == ["TYPE", "CLOUD", "REGION"]
        assert row.split() == ["enterprise-ds", "aws", "leipzig-1"]


def test_an_unknown_tenant_id_answered_404_is_exit_2_naming_the_tenants(fake, run, tmp_path):
    missing = "da045ab3-3b89-4f45-8b96-528f2e47cd13"
    fake.on("GET", "/v1/tenants/{id}", Fault(status=404, body=AURA_CLI_TENANT_NOT_FOUND))

    result = run("--list-configurations", "--tenant", missing)

    line = check(result, fake, tmp_path, 2)
    assert f"no tenant has the id {missing}" in line
    assert f"'Production' ({TENANT_ID})" in line
    assert result.stdout == ""


# ---------------------------------------------------------------------------
# GET /v1/instances
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "instance_id"), [("Instance01", "b51dc964"), ("Northwind", "524b7d8d")]
)
def test_a_name_in_a_recorded_instance_list_is_exit_2_naming_its_id(
    fake, run, tmp_path, name, instance_id
):
    fake.on("GET", "/v1/instances", Fault(status=200, body=AURA_CLI_INSTANCES))

    result = run("--name", name)

    line = check(result, fake, tmp_path, 2)
    assert f"an instance named {name!r} already exists in this tenant ({instance_id})" in line
    assert result.stdout == ""
    assert fake.sent(*CREATE) == []


def test_a_recorded_instance_list_without_created_at_lets_a_new_name_through(fake, run, tmp_path):
    fake.on("GET", "/v1/instances", Fault(status=200, body=AURA_CLI_INSTANCES))

    result = run("--name", "Instance02", "--dry-run")

    check(result, fake, tmp_path, 0)
    assert json.loads(result.stdout)["name"] == "Instance02"
    assert fake.sent(*CREATE) == []


# ---------------------------------------------------------------------------
# POST /v1/instances
# ---------------------------------------------------------------------------

CREATED = {
    "aura-cli-free": (AURA_CLI_CREATED_FREE, ["--type", "free-db", "--name", "Instance01"]),
    "aura-cli-professional": (
        AURA_CLI_CREATED_PROFESSIONAL,
        ["--type", "professional-db", "--memory", "4GB", "--name", "Instance01"],
    ),
    "gds": (GDS_CREATED, ["--type", "enterprise-ds", "--name", "name"]),
}


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("source", list(CREATED))
def test_recorded_create_answers_are_saved_and_shown(fake, run, tmp_path, source, output):
    recorded, args = CREATED[source]
    fake.on(*CREATE, Fault(status=202, body=recorded, headers=GDS_EXPIRES_HEADER))

    result = run(*args, "--output", output)

    check(result, fake, tmp_path, 0)
    data = recorded["data"]
    if output == "json":
        assert check_json_credentials(result, data, tmp_path) == data
    else:
        check_text_credentials(result, data)
    [(name, saved)] = files_written(tmp_path).items()
    assert name.startswith(f"Neo4j-{data['id']}-Created-")
    assert f"NEO4J_URI={data['connection_url']}\n" in saved
    assert f"AURA_INSTANCENAME={data.get('name', '')}\n" in saved


@pytest.mark.parametrize(
    ("status", "body", "args", "code", "expected"),
    [
        (
            400,
            AURA_CLI_MISSING_BILLING_400,
            [],
            2,
            "You must provide billing details in the Aura Console before creating an instance",
        ),
        (405, AURA_CLI_NOT_PERMITTED_405, [], 1, "HTTP 405: string: string"),
        (
            409,
            AURA_CLI_ONGOING_OPERATION_409,
            ["--source-instance-id", "2f49c2b3"],
            1,
            "The database is current undergoing an operation: resuming",
        ),
    ],
    ids=["aura-cli-400-billing", "aura-cli-405", "aura-cli-409-ongoing-operation"],
)
def test_a_recorded_refusal_of_the_create_call_is_one_line_with_aura_s_message(
    fake, run, tmp_path, status, body, args, code, expected
):
    fake.on(*CREATE, Fault(status=status, body=body))

    result = run("--name", "graph-1", *args)

    line = check(result, fake, tmp_path, code)
    assert expected in line
    assert result.stdout == ""
    assert len(fake.sent(*CREATE)) == 1
    assert files_written(tmp_path) == {}


def test_a_create_call_refused_as_the_gateway_refuses_a_stale_token_is_resent_once(
    fake, run, tmp_path
):
    """A refused token means the call was not carried out: the one call it is
    safe to resend, with a new token, even for the create call."""
    fake.on(*CREATE, Fault(status=401, body=GDS_TOKEN_EXPIRED_401))

    result = run("--name", "graph-1")

    check(result, fake, tmp_path, 0)
    check_text_credentials(result, the_instance(fake))
    assert len(fake.sent(*CREATE)) == 2
    assert len(fake.sent("POST", "/oauth/token")) == 2


@pytest.mark.parametrize("created", [False, True], ids=["not-created", "created"])
def test_a_recorded_500_on_the_create_call_is_not_resent_and_is_checked(
    fake, run, tmp_path, created
):
    fake.on(*CREATE, Fault(status=500, body=GDS_FAILURE_500, apply=created))

    result = run("--name", "graph-1")

    line = check(result, fake, tmp_path, 1)
    if created:
        assert f"instance {the_instance(fake)['id']} named 'graph-1' was created" in line
    else:
        assert "nothing was created, and it is safe to run again" in line
    assert result.stdout == ""
    assert len(fake.sent(*CREATE)) == 1


# ---------------------------------------------------------------------------
# GET /v1/instances/{id} while waiting, and the DELETE answer's status
# ---------------------------------------------------------------------------


def test_a_real_create_answer_shaped_as_recorded_is_waited_for(fake, run, tmp_path):
    """aura-cli's create answers have no created_at; its instance answers carry
    metrics_integration_url, memory and storage."""
    fake.running_after = 0
    fake.on(*CREATE, Fault(apply=True, patch={"created_at": REMOVE}))
    fake.on(*POLL, Fault(patch=AURA_CLI_INSTANCE_EXTRAS))

    result = run("--name", "graph-1", "--wait-for", "running", "--output", "json")

    check(result, fake, tmp_path, 0)
    data = {k: v for k, v in the_instance(fake).items() if k != "created_at"}
    shown = check_json_credentials(result, data, tmp_path)
    assert "created_at" not in shown
    assert shown.pop("status") == "running"
    assert isinstance(shown.pop("running_after_s"), float)
    assert shown == data
    assert len(fake.sent(*POLL)) == 1


def test_a_running_answer_with_null_fields_ends_the_wait_and_the_probe_uses_our_url(
    fake, run, tmp_path
):
    """GDS's running answer has a null id and connection_url "foo.bar": the query
    probe must still go to the create answer's host, with the new credentials."""
    fake.running_after = 0
    fake.on(*POLL, Fault(status=200, body=GDS_INSTANCE_RUNNING))

    result = run("--name", "graph-1", "--wait", "--output", "json")

    check(result, fake, tmp_path, 0)
    data = the_instance(fake)
    shown = check_json_credentials(result, data, tmp_path)
    assert shown["status"] == "running"
    assert isinstance(shown["queryable_after_s"], float)
    assert fake.query_requests


def test_a_connection_url_that_is_no_url_is_never_probed(fake, run, tmp_path):
    """aura-cli's answers have "YOUR_CONNECTION_URL" for a connection URL: no host
    to send the credentials to, so the wait ends at running, with a warning."""
    fake.on(*CREATE, Fault(status=202, body=AURA_CLI_CREATED_FREE))
    fake.on(*POLL, Fault(status=200, body=AURA_CLI_INSTANCE_RUNNING))

    result = run("--type", "free-db", "--name", "Instance01", "--wait", "--output", "json")

    check(result, fake, tmp_path, 0)
    data = AURA_CLI_CREATED_FREE["data"]
    shown = check_json_credentials(result, data, tmp_path)
    assert shown.pop("status") == "running"
    assert shown.pop("queryable_after_s") is None
    assert isinstance(shown.pop("running_after_s"), float)
    assert shown == data
    assert "warning: no connection URL to probe" in result.stderr
    assert [p.path for p in fake.sent(*POLL)] == ["/v1/instances/db1d1234"]
    assert fake.query_requests == []


def test_a_recorded_500_in_plain_text_on_a_poll_is_retried(fake, run, tmp_path):
    fake.running_after = 0
    fake.on(*POLL, Fault(status=500, body=GDS_UNKNOWN_ERROR_TEXT))

    result = run("--name", "graph-1", "--wait-for", "running")

    check(result, fake, tmp_path, 0)
    check_text_credentials(result, the_instance(fake))
    assert len(fake.sent(*POLL)) == 2


def test_a_status_outside_the_spec_is_shown_and_waited_through(fake, run, tmp_path):
    """aura-cli's await test answers "ready", which the spec's enum does not have:
    the README says an unknown status is shown and waited through."""
    fake.on(*POLL, Fault(status=200, body=AURA_CLI_AWAIT_READY))

    result = run("--name", "graph-1", "--wait-for", "running", "--wait-timeout", "1")

    line = check(result, fake, tmp_path, 4)
    check_text_credentials(result, the_instance(fake))
    assert "Instance status: ready (a status this script does not know)" in result.stderr
    assert "still 'ready' after 1 s" in line


def test_an_instance_gone_with_a_recorded_404_ends_the_wait_with_exit_4(fake, run, tmp_path):
    fake.on(*POLL, Fault(status=404, body=AURA_CLI_DB_NOT_FOUND))

    result = run("--name", "graph-1", "--wait-for", "running", "--output", "json")

    line = check(result, fake, tmp_path, 4)
    data = the_instance(fake)
    assert f"instance {data['id']} is gone (HTTP 404)" in line
    assert check_json_credentials(result, data, tmp_path) == data
    assert len(fake.sent(*POLL)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        gds_instance_being_deleted("destroying"),
        gds_instance_being_deleted("deleting"),
        AURA_CLI_DELETED,
    ],
    ids=["gds-destroying", "gds-deleting", "aura-cli-delete-answer"],
)
def test_an_instance_being_deleted_ends_the_wait_at_once_with_exit_4(fake, run, tmp_path, answer):
    fake.on(*POLL, Fault(status=200, body=answer))

    result = run("--name", "graph-1", "--wait-for", "running", "--wait-timeout", "1.5")

    line = check(result, fake, tmp_path, 4)
    check_text_credentials(result, the_instance(fake))
    status = answer["data"]["status"]
    assert f"is {status!r}, so it will not become running" in line
    assert "does not know" not in result.stderr
    assert len(fake.sent(*POLL)) == 1
