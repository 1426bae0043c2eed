"""Request counts, the deterministic half of performance: every request is a round trip.

Timings live in tests/benchmark.py; these tests only count what the fake saw. The
three requests of a run with the tenant given by id are in test_core.py; the --wait
poll count (at most N/3 + 2 in N seconds) is in test_features.py, which runs its
slow waits in the background.
"""

from __future__ import annotations

from fake_aura import TENANT_ID
from helpers import calls


def test_happy_path_is_four_requests_on_one_connection_each_answer_used(fake, run):
    result = run("--tenant", "Production", "--name", "graph-1")

    assert result.returncode == 0, result.stderr
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("GET", "/v1/tenants"),
        ("GET", "/v1/instances"),
        ("POST", "/v1/instances"),
    ]
    assert fake.connections == 1
    assert {r.connection for r in fake.requests} == {1}
    # Each answer feeds what comes after it: the token every later request,
    # the tenant list the tenant id, the create answer the printed credentials.
    _, tenants, listing, create = fake.requests
    [token] = fake._tokens
    assert {r.headers["Authorization"] for r in (tenants, listing, create)} == {f"Bearer {token}"}
    assert listing.query == {"tenantId": [TENANT_ID]}
    assert create.json["tenant_id"] == TENANT_ID
    [instance] = fake.instances.values()
    assert f"Password {instance.data['password']}" in result.stdout.splitlines()


def test_instance_list_answer_is_used_by_the_duplicate_name_guard(fake, run):
    fake.add_instance("graph-1")

    result = run("--tenant", "Production", "--name", "graph-1")

    assert result.returncode == 2
    assert calls(fake) == [
        ("POST", "/oauth/token"),
        ("GET", "/v1/tenants"),
        ("GET", "/v1/instances"),
    ]
