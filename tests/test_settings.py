"""Settings: every setting from a flag, its AURA_ variable (environment or .env)
or its constant, treated the same wherever it came from.

End to end, as in test_core.py. Edited constants are tested on a copy of the
script with the constants changed, the way the README tells users to do it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SCRIPT, script_env

from fake_aura import DEFAULT_CONFIGURATIONS, TENANT_ID

CREATE = ("POST", "/v1/instances")
FREE_DB_IN_IOWA = {
    "type": "free-db",
    "cloud_provider": "gcp",
    "region": "us-central1",
    "region_name": "Iowa (us-central1)",
    "memory": "1GB",
    "storage": "2GB",
    "version": "5",
}
EVERY_SETTING = {
    "AURA_TENANT": "Production",
    "AURA_INSTANCE_NAME": "from-variables",
    "AURA_INSTANCE_TYPE": "professional-db",
    "AURA_CLOUD_PROVIDER": "aws",
    "AURA_REGION": "eu-west-1",
    "AURA_MEMORY": "4GB",
    "AURA_NEO4J_VERSION": "5",
    "AURA_STORAGE": "8GB",
    "AURA_VECTOR_OPTIMIZED": "yes",
    "AURA_GRAPH_ANALYTICS_PLUGIN": "TRUE",
}
EVERY_SETTING_BODY = {
    "name": "from-variables",
    "type": "professional-db",
    "cloud_provider": "aws",
    "region": "eu-west-1",
    "memory": "4GB",
    "version": "5",
    "storage": "8GB",
    "vector_optimized": True,
    "graph_analytics_plugin": True,
    "tenant_id": TENANT_ID,
}


def edited_script(directory: Path, **constants: object) -> Path:
    """A copy of create_instance.py with constants edited at the top, as a user does."""
    text = SCRIPT.read_text(encoding="utf-8")
    for name, value in constants.items():
        text, count = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value!r}", text, count=1)
        assert count == 1, name
    copy = directory / "edited_create_instance.py"
    copy.write_text(text, encoding="utf-8")
    return copy


def run_edited(fake, cwd: Path, script: Path, *args: str, **env: str | None):
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=script_env(fake, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_every_setting_comes_from_its_variable_in_the_environment(fake, run):
    result = run("--dry-run", env=EVERY_SETTING)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EVERY_SETTING_BODY


def test_every_setting_comes_from_its_variable_in_dotenv(fake, run, tmp_path):
    (tmp_path / ".env").write_text(
        "".join(f"{key}={value}\n" for key, value in EVERY_SETTING.items())
    )

    result = run("--dry-run")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EVERY_SETTING_BODY


def test_api_url_and_customer_managed_key_come_from_variables(fake, run):
    result = run("--dry-run", env={"AURA_CUSTOMER_MANAGED_KEY_ID": "cmk-7"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["customer_managed_key_id"] == "cmk-7"
    assert fake.requests  # AURA_API_URL (set by script_env) pointed the run at the fake


def test_flag_beats_environment_beats_dotenv_beats_constant(fake, tmp_path):
    script = edited_script(tmp_path, REGION="us-central1", MEMORY="8GB", NEO4J_VERSION="5")
    (tmp_path / ".env").write_text("AURA_REGION=eu-west-1\nAURA_MEMORY=4GB\n")

    result = run_edited(
        fake, tmp_path, script, "--dry-run", "--cloud-provider", "aws", AURA_REGION="eu-west-1"
    )

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["cloud_provider"], body["region"], body["memory"]) == ("aws", "eu-west-1", "4GB")

    from_constant = run_edited(fake, tmp_path / "..", script, "--dry-run")
    assert from_constant.returncode == 0, from_constant.stderr
    assert json.loads(from_constant.stdout)["memory"] == "8GB"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("1", True),
        ("0", False),
        ("YES", True),
        ("no", False),
    ],
)
def test_boolean_variables_take_the_usual_words(fake, run, text, expected):
    result = run("--dry-run", env={"AURA_VECTOR_OPTIMIZED": text})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout).get("vector_optimized", False) is expected


def test_a_boolean_variable_that_is_no_boolean_is_exit_2_naming_it(fake, run):
    result = run(env={"AURA_VECTOR_OPTIMIZED": "maybe"})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: AURA_VECTOR_OPTIMIZED in the environment is 'maybe': use true or false"
    ]
    assert fake.requests == []


def test_no_vector_optimized_flag_beats_a_true_variable(fake, run):
    result = run("--dry-run", "--no-vector-optimized", env={"AURA_VECTOR_OPTIMIZED": "true"})

    assert result.returncode == 0, result.stderr
    assert "vector_optimized" not in json.loads(result.stdout)


def test_edited_free_db_constants_are_honoured_not_replaced(fake, tmp_path):
    fake.tenants[0]["instance_configurations"] = [*DEFAULT_CONFIGURATIONS, FREE_DB_IN_IOWA]
    script = edited_script(tmp_path, INSTANCE_TYPE="free-db", REGION="us-central1")

    result = run_edited(fake, tmp_path, script, "--dry-run")

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["type"], body["region"], body["memory"]) == ("free-db", "us-central1", "1GB")


def test_edited_free_db_constant_the_tenant_does_not_offer_is_exit_2_naming_it(fake, tmp_path):
    script = edited_script(tmp_path, INSTANCE_TYPE="free-db", REGION="us-central1")

    result = run_edited(fake, tmp_path, script)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: free-db with 1GB in gcp us-central1 is not offered.")
    assert fake.sent(*CREATE) == []


def test_free_db_type_alone_in_a_constant_takes_the_tenants_free_configuration(fake, tmp_path):
    script = edited_script(tmp_path, INSTANCE_TYPE="free-db")

    result = run_edited(fake, tmp_path, script)

    assert result.returncode == 0, result.stderr
    [create] = fake.sent(*CREATE)
    assert (create.json["type"], create.json["memory"]) == ("free-db", "1GB")


def test_a_bad_value_names_where_it_came_from(fake, run, tmp_path):
    (tmp_path / ".env").write_text("# sizes\nAURA_TENANT=Production\nAURA_MEMORY=2 GB\n")

    result = run()

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: memory '2 GB' (from AURA_MEMORY in .env line 3) is not a size such as 2GB"
    ]
    assert fake.requests == []


def test_a_bad_constant_is_named_as_a_constant(fake, tmp_path):
    script = edited_script(tmp_path, INSTANCE_TYPE="enterprise")

    result = run_edited(fake, tmp_path, script)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "instance type 'enterprise' (from INSTANCE_TYPE in create_instance.py)" in line


def test_both_blank_credentials_are_reported_in_one_message(fake, run):
    result = run(env={"AURA_CLIENT_ID": " ", "AURA_CLIENT_SECRET": ""})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: AURA_CLIENT_ID and AURA_CLIENT_SECRET are set but blank in the environment; "
        "give them a value or unset them"
    ]
    assert fake.requests == []


def test_all_problems_of_the_values_are_reported_at_once(fake, run):
    result = run("--memory", "2 GB", "--storage", "lots", "--name", "x" * 31)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "31 characters" in line and "'2 GB'" in line and "'lots'" in line
    assert fake.requests == []


def test_a_refused_configuration_never_claims_a_create(fake, run):
    result = run("--memory", "3GB")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # no "Creating ..." before it
    assert line.endswith("(nothing was created)")


def test_unknown_tenant_by_name_and_by_id_end_the_same_way(fake, run):
    by_name = run("--tenant", "Staging")
    by_id = run("--tenant", "da045ab3-3b89-4f45-8b96-528f2e47cd13")

    assert [by_name.returncode, by_id.returncode] == [2, 2]
    ending = f" The account has: 'Production' ({TENANT_ID})."
    assert by_name.stderr.splitlines() == [f"error: no tenant is named 'Staging'.{ending}"]
    # An id is used as is, so Aura's refusal of the create call comes first.
    [line] = by_id.stderr.splitlines()
    assert line.startswith("error: POST /v1/instances failed with HTTP 400: ")
    assert line.endswith(f"; no tenant has the id da045ab3-3b89-4f45-8b96-528f2e47cd13.{ending}")
