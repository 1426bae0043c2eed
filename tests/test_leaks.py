"""What leaves the script is safe, whatever the network sent: no secret in any
output or file, no raw control character, no line GitHub would run as a
command, and a credentials file that reads back exactly what Aura sent.

End to end against the fake, answering as a hostile or broken server would.
Every test asserts the exit code, that no secret reached stdout, stderr or a
file, and that nothing ended in a traceback.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import dotenv
import pytest

import create_instance as ci
from fake_aura import CLIENT_ID, CLIENT_SECRET, TENANT_ID, Fault, echo_headers

CREATE = ("POST", "/v1/instances")
POLL = ("GET", "/v1/instances/{id}")
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but \t and \n


def written(directory: Path) -> str:
    """Everything the run wrote into its directory (the credentials file, outputs)."""
    return "".join(
        path.read_text(encoding="utf-8") for path in directory.iterdir() if path.is_file()
    )


def check(result, fake, directory: Path, code: int) -> None:
    """The exit code, no traceback, and no secret anywhere the run wrote."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    everything = result.stdout + result.stderr + written(directory)
    for secret in (CLIENT_SECRET, BASIC, f"{CLIENT_ID}:{CLIENT_SECRET}", *fake._tokens):
        assert secret not in everything


def the_instance(fake) -> dict:
    [instance] = fake.instances.values()
    return instance.data


# -- secrets echoed back by the API -------------------------------------------------------


def test_a_token_error_quoting_the_basic_header_shows_no_secret(fake, run, tmp_path):
    fake.on("POST", "/oauth/token", Fault(status=401, body=echo_headers))

    result = run()

    check(result, fake, tmp_path, 3)
    [line] = result.stderr.splitlines()
    assert "rejected: " in line and "Authorization: Basic [redacted]" in line


def test_an_html_error_page_whose_title_holds_the_bearer_token_is_redacted(fake, run, tmp_path):
    def page(request):
        return f"<html><title>Denied {request.headers['Authorization']}</title></html>"

    fake.on("GET", "/v1/tenants", Fault(status=404, body=page))

    result = run("--verbose")

    check(result, fake, tmp_path, 1)
    assert "HTML page titled 'Denied Bearer [redacted]'" in result.stderr


def test_a_400_message_quoting_the_token_is_redacted(fake, run, tmp_path):
    def refusal(request):
        message = f"bad request with {request.headers['Authorization']}"
        return {"errors": [{"message": message, "reason": "invalid-request"}]}

    fake.on(*CREATE, Fault(status=400, body=refusal))

    result = run()

    check(result, fake, tmp_path, 2)
    assert "bad request with Bearer [redacted] (reason: invalid-request)" in result.stderr


def test_a_text_body_cut_short_leaves_no_part_of_a_token(fake, run, tmp_path):
    def body(request):
        return "x" * 70 + " " + request.headers["Authorization"]

    fake.on(
        "GET", "/v1/tenants", Fault(status=404, body=body, headers={"Content-Type": "text/plain"})
    )

    result = run()

    check(result, fake, tmp_path, 1)
    [token] = fake._tokens
    assert token[:4] not in result.stderr
    assert "a text/plain body starting 'xxx" in result.stderr


def test_the_client_secret_in_a_create_answer_reaches_no_output_or_file(fake, run, tmp_path):
    fake.on(*CREATE, Fault(patch={"name": CLIENT_SECRET, "region": f"in {BASIC}"}))
    outputs = tmp_path / "github_output"

    result = run("--output", "json", env={"GITHUB_OUTPUT": str(outputs)})

    check(result, fake, tmp_path, 0)
    assert '"name": "[redacted]"' in result.stdout
    assert the_instance(fake)["password"] in result.stdout  # the password is meant to be there


# -- control characters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--name", "db\nNEO4J_URI=bolt://elsewhere"),
        ("--region", "europe-west1\x1b[2J"),
        ("--tenant", "Production\r"),
    ],
    ids=["newline-in-name", "escape-in-region", "cr-in-tenant"],
)
def test_a_setting_with_a_control_character_is_exit_2_before_any_request(fake, run, tmp_path, args):
    result = run(*args)

    check(result, fake, tmp_path, 2)
    assert result.stderr.splitlines() == [
        f"error: {args[0]} contains a control character (a line break, say)"
    ]
    assert fake.requests == []


def test_a_variable_with_a_control_character_is_named_not_echoed(fake, run, tmp_path):
    (tmp_path / ".env").write_text('AURA_INSTANCE_NAME="db\\nNEO4J_URI=bolt://elsewhere"\n')

    result = run()

    check(result, fake, tmp_path, 2)
    assert result.stderr.splitlines() == [
        "error: AURA_INSTANCE_NAME in .env line 1 contains a control character (a line break, say)"
    ]
    assert fake.requests == []


def test_a_secret_that_is_not_utf8_is_exit_2_naming_the_variable(fake, run, tmp_path):
    result = run(env={"AURA_CLIENT_SECRET": os.fsdecode(b"caf\xe9-secret-value")})

    check(result, fake, tmp_path, 2)
    assert result.stderr.splitlines() == [
        "error: AURA_CLIENT_SECRET in the environment is not valid UTF-8 text"
    ]


def test_a_multi_line_password_is_masked_line_by_line_and_injects_nothing(fake, run, tmp_path):
    password = "first-line-of-it\n::add-mask::x\r\n::set-output name=x::y"
    fake.on(*CREATE, Fault(patch={"password": password}))
    outputs = tmp_path / "github_output"

    result = run(env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs)})

    check(result, fake, tmp_path, 1)  # no credentials file holds a CR for bash and python-dotenv
    masks = {
        "::add-mask::first-line-of-it%0A::add-mask::x%0D%0A::set-output name=x::y",  # all of it
        "::add-mask::first-line-of-it",
        "::add-mask::::add-mask::x",
        "::add-mask::::set-output name=x::y",
        f"::add-mask::{ci._printable(password)}",
    }
    for stream in (result.stdout, result.stderr):
        commands = {line for line in stream.splitlines() if line.startswith("::")}
        assert commands == masks
    printed = r"Password first-line-of-it\n::add-mask::x\r\n::set-output name=x::y"
    assert printed in result.stdout.splitlines()
    # GITHUB_OUTPUT keeps the exact value, in its heredoc form.
    text = outputs.read_bytes().decode()
    delimiter = re.search(r"^password<<(\S+)$", text, re.M)[1]
    assert f"password<<{delimiter}\n{password}\n{delimiter}\n" in text


@pytest.mark.parametrize(
    "changes",
    [
        {"password": 'pa ss"word\\ with\ttab #not-a-comment'},
        {"name": 'it\'s "quoted" \\ !', "password": "$HOME, not $(HOME) or `HOME`"},
        {"connection_url": "neo4j+s://host # comment", "username": "neo 4j"},
        {"name": "ünïcödé\u2028line-separator"},
    ],
    ids=["quotes-escapes-tab", "quotes-and-expansions", "hash-and-space", "unicode"],
)
def test_the_credentials_file_reads_back_exactly_what_aura_sent(fake, run, tmp_path, changes):
    fake.on(*CREATE, Fault(patch=changes))

    result = run()

    check(result, fake, tmp_path, 0)
    [path] = tmp_path.glob("Neo4j-*-Created-*.txt")
    text = path.read_text(encoding="utf-8")
    assert len(text.split("\n")) == 8  # one key per line, whatever the values
    assert not RAW_CONTROL.search(text)
    sent = {**the_instance(fake), **changes}
    expected = {
        "NEO4J_URI": sent["connection_url"],
        "NEO4J_USERNAME": sent["username"],
        "NEO4J_PASSWORD": sent["password"],
        "NEO4J_DATABASE": "neo4j",
        "AURA_INSTANCEID": sent["id"],
        "AURA_INSTANCENAME": sent["name"],
    }
    assert ci.read_dotenv(str(path)) == expected
    assert dotenv.dotenv_values(path) == expected  # with its ${VAR} expansion on
    assert not RAW_CONTROL.search(result.stdout + result.stderr)
    assert len(result.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    "changes",
    [
        {"password": "secret-${HOME}-value"},  # python-dotenv expands it, quoted or not
        {"name": "db\x1b]0;owned\x07"},  # python-dotenv has no escape for ESC
        {"name": "db \a\b\f\v"},  # bash decodes no escape, python-dotenv these
        {"password": "two\nlines"},  # the same for \n; raw, it would start a line
        {"password": "it's $HOME"},  # ' rules out single quotes, $ double ones
    ],
    ids=["interpolation", "escape-sequence", "controls", "newline", "quote-and-dollar"],
)
def test_a_value_no_env_file_can_hold_is_not_written_but_printed_with_exit_1(
    fake, run, tmp_path, changes
):
    fake.on(*CREATE, Fault(patch=changes))

    result = run()

    check(result, fake, tmp_path, 1)
    assert list(tmp_path.glob("Neo4j-*")) == []
    password = changes.get("password", the_instance(fake)["password"])
    assert f"Password {ci._printable(password)}" in result.stdout.splitlines()
    assert not RAW_CONTROL.search(result.stdout + result.stderr)
    assert "no .env file can hold exactly" in result.stderr


def test_escape_sequences_from_the_api_reach_the_terminal_escaped(fake, run, tmp_path):
    fake.running_after = 0
    fake.on(*POLL, Fault(patch={"status": "creat\x1b[2Jing"}))
    fake.on(*CREATE, Fault(patch={"name": "x\x1b]0;title\x07"}))

    result = run("--wait-for", "running", "--verbose", "--no-credentials-file")

    check(result, fake, tmp_path, 0)
    assert "\x1b" not in result.stdout + result.stderr
    assert r"Instance status: creat\x1b[2Jing (a status this script does not know)" in (
        result.stderr
    )


def test_an_error_message_with_escape_sequences_is_one_escaped_line(fake, run, tmp_path):
    message = "no\x1b[2J\nerror: forged second line"
    fake.on(*CREATE, Fault(status=400, body={"errors": [{"message": message, "reason": "x"}]}))

    result = run()

    check(result, fake, tmp_path, 2)
    [line] = result.stderr.splitlines()
    assert r"no\x1b[2J\nerror: forged second line (reason: x)" in line


# -- fields of the wrong type or shape ----------------------------------------------------


def test_a_create_answer_with_a_password_that_is_not_text_still_saves_what_came(
    fake, run, tmp_path
):
    fake.on(*CREATE, Fault(patch={"password": 12345678}))

    result = run()

    check(result, fake, tmp_path, 1)
    [path] = tmp_path.glob("Neo4j-*-Created-*.txt")
    assert "NEO4J_PASSWORD=" in path.read_text().splitlines()
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "had a int as password, not text" in line and "Aura console" in line


@pytest.mark.parametrize(
    ("route", "body", "expected"),
    [
        (
            ("GET", "/v1/tenants"),
            {"data": [{"name": "Production"}]},
            "GET /v1/tenants answered an entry without a text id",
        ),
        (
            ("GET", "/v1/instances"),
            {"data": [{"id": "0a1b2c3d", "name": 42}]},
            "answered an entry without a text name",
        ),
    ],
    ids=["tenant-without-id", "instance-name-a-number"],
)
def test_a_list_entry_of_the_wrong_shape_is_one_line_exit_1(
    fake, run, tmp_path, route, body, expected
):
    fake.on(*route, Fault(status=200, body=body))

    result = run()

    check(result, fake, tmp_path, 1)
    [line] = result.stderr.splitlines()
    assert expected in line
    assert fake.sent(*CREATE) == []


def test_a_status_that_is_not_text_ends_the_wait_with_one_line_exit_1(fake, run, tmp_path):
    fake.on(*POLL, Fault(patch={"status": ["running"]}))

    result = run("--wait")

    check(result, fake, tmp_path, 1)
    assert result.stderr.splitlines()[-1].endswith("answered without a text status")
    assert f"Password {the_instance(fake)['password']}" in result.stdout.splitlines()


# -- .env files that are not files --------------------------------------------------------


@pytest.mark.parametrize("kind", ["dangling-link", "directory", "fifo"])
def test_a_dotenv_that_is_not_a_regular_file_is_exit_2_before_any_request(
    fake, run, tmp_path, kind
):
    path = tmp_path / ".env"
    if kind == "dangling-link":
        path.symlink_to(tmp_path / "missing")
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)

    result = run()

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: .env is ")
    assert fake.requests == []


def test_unknown_tenant_messages_carry_no_raw_controls(fake, run, tmp_path):
    fake.tenants[0]["name"] = "Prod\x1b[31m"

    result = run("--tenant", "Staging")

    check(result, fake, tmp_path, 2)
    assert result.stderr.splitlines() == [
        f"error: no tenant is named 'Staging'. The account has: 'Prod\\x1b[31m' ({TENANT_ID})."
    ]


def test_a_configuration_table_from_the_api_reaches_the_terminal_escaped(fake, run, tmp_path):
    fake.tenants[0]["instance_configurations"][0]["region_name"] = "Belgium\x1b]0;owned\x07"

    result = run("--list-configurations")

    check(result, fake, tmp_path, 0)
    assert not RAW_CONTROL.search(result.stdout)
    assert "Belgium\\x1b]0;owned\\x07" in result.stdout
