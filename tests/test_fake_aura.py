"""Tests of the fake itself: the features other tests build on behave as documented."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from fake_aura import CLIENT_ID, CLIENT_SECRET, TENANT_ID, FakeAura, Fault

SPEC = {
    "name": "Test",
    "tenant_id": TENANT_ID,
    "type": "enterprise-db",
    "cloud_provider": "gcp",
    "region": "europe-west1",
    "memory": "2GB",
    "version": "5",
}


def token(fake: FakeAura) -> str:
    answer = requests.post(
        f"{fake.url}/oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def api(fake: FakeAura, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(fake)}"}
    return requests.request(method, f"{fake.url}{path}", headers=headers, timeout=10, **kwargs)


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


# ---------------------------------------------------------------------------
# Hold
# ---------------------------------------------------------------------------


def test_a_held_create_creates_the_instance_then_answers_only_when_released(fake):
    held = Fault(hold=threading.Event())
    fake.on("POST", "/v1/instances", held)

    thread, result = in_background(lambda: api(fake, "POST", "/v1/instances", json=SPEC))

    assert held.arrived.wait(5)
    assert len(fake.instances) == 1  # performed before the hold
    thread.join(0.2)
    assert thread.is_alive() and result == []
    held.hold.set()
    thread.join(5)
    [answer] = result
    assert answer.status_code == 202
    assert answer.json()["data"]["id"] in fake.instances


def test_a_held_error_is_not_performed_and_answers_the_error_when_released(fake):
    held = Fault(status=500, body={"error": "boom"}, hold=threading.Event())
    fake.on("POST", "/v1/instances", held)

    thread, result = in_background(lambda: api(fake, "POST", "/v1/instances", json=SPEC))

    assert held.arrived.wait(5)
    assert fake.instances == {}
    held.hold.set()
    thread.join(5)
    assert result[0].status_code == 500
    assert result[0].json() == {"error": "boom"}


def test_a_held_call_is_answered_when_the_fake_stops():
    held = Fault(hold=threading.Event())
    with FakeAura() as fake:
        fake.on("GET", "/v1/tenants", held)
        thread, result = in_background(lambda: api(fake, "GET", "/v1/tenants"))
        assert held.arrived.wait(5)
    thread.join(5)
    assert not thread.is_alive()
    assert result[0].status_code == 200


@pytest.mark.parametrize("fault", [Fault(), Fault(status=503)])
def test_arrived_is_set_for_any_fault_once_its_call_arrives(fake, fault):
    fake.on("GET", "/v1/tenants", fault)
    assert not fault.arrived.is_set()

    api(fake, "GET", "/v1/tenants")

    assert fault.arrived.is_set()
