"""Issue #16, items 5 to 7: nothing the script prints makes a CI runner act, whatever
the API sent; JSON of any depth ends in one line; secrets are redacted in any
encoding; successful token and create answers are never quoted.

End to end against the fake's hostile answers. A GitHub runner's rules are
copied from actions/runner (src/Runner.Common/ActionCommand.cs,
src/Runner.Worker/ActionCommandManager.cs): a line is a command if, once
leading white space is trimmed (C#'s char.IsWhiteSpace), it starts with
`::NAME` and has a second `::`; or if it holds `##[NAME` and a `]` anywhere.
The data of a `::` command is un-escaped %0D, %0A, then %25; add-mask also
registers each trimmed line of its data.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from pathlib import Path

import pytest
from conftest import run_forked, script_env
from test_leaks import check, the_instance

import create_instance as ci
from fake_aura import CLIENT_ID, CLIENT_SECRET, FakeAura, Fault

CREATE = ("POST", "/v1/instances")
GITHUB = {"GITHUB_ACTIONS": "true"}
INJECTIONS = [
    "::error::x",
    " ::stop-commands::tok",
    "\u00a0::set-output name=x::y",
    "\u2003\u3000::warning::z",
    "abcd1234 ##[stop-commands]tok",
    "##[set-output name=x;]y",
]
BIDI_AND_BREAKS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\x85"


def _dotnet_space(char: str) -> bool:
    return char in "\t\n\v\f\r\x85" or unicodedata.category(char) in ("Zs", "Zl", "Zp")


def _unescape(data: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for escaped, char in mappings:
        data = data.replace(escaped, char)
    return data


def runner_commands(output: str) -> list[tuple[str, str]]:
    """(name, data) of every command a GitHub runner finds in `output`, whatever its
    name (a stop-commands token can register any): the old syntax is looked for
    too, as the runner does when the new one names no command it knows, unless
    the new one named add-mask, which it always knows."""
    commands = []
    for line in re.split(r"\r\n|\r|\n", output):
        trimmed = line[next((i for i, c in enumerate(line) if not _dotnet_space(c)), len(line)) :]
        end = trimmed.find("::", 2)
        if trimmed.startswith("::") and end >= 0:
            data = _unescape(trimmed[end + 2 :], (("%0D", "\r"), ("%0A", "\n"), ("%25", "%")))
            commands.append((trimmed[2:end].split(" ")[0], data))
            if commands[-1][0] == "add-mask":
                continue
        start = line.find("##[")
        close = line.find("]", start) if start >= 0 else -1
        if close >= 0:
            old = (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%"))
            commands.append(
                (line[start + 3 : close].split(" ")[0], _unescape(line[close + 1 :], old))
            )
    return commands


def masked(output: str) -> str:
    """`output` as the runner shows it: every registered mask (and each trimmed line
    of one) replaced by ***, the longest first; the command lines themselves left out."""
    masks: set[str] = set()
    shown = []
    for line in re.split(r"\r\n|\r|\n", output):
        commands = runner_commands(line)
        if commands:
            for _, data in commands:
                masks |= {data, *(part.strip() for part in re.split(r"[\r\n]", data))}
        else:
            shown.append(line)
    text = "\n".join(shown)
    for mask in sorted(filter(None, masks), key=len, reverse=True):
        text = text.replace(mask, "***")
    return text


def displayed_forms(password: str) -> set[str]:
    """The password, its lines, and how text and JSON show it (escaped)."""
    forms = {password, ci._printable(password), json.dumps(password)[1:-1]}
    forms |= {form.replace("##[", "\\u0023#[") for form in forms}
    return forms | set(re.split(r"\r\n|\r|\n", password))


def assert_only_masks(result, password: str) -> None:
    """The runner finds no command in stdout or stderr but add-mask lines for the password."""
    for stream in (result.stdout, result.stderr):
        for name, data in runner_commands(stream):
            assert name == "add-mask", (name, data)
            assert data in displayed_forms(password), data


# -- item 5: no runner-actionable line ---------------------------------------------------


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("output", ["text", "json"])
def test_a_create_answer_injecting_commands_makes_the_runner_act_on_nothing(
    fake, run, tmp_path, injection, output
):
    fields = ("id", "name", "connection_url", "region", "username")
    fake.on(*CREATE, Fault(patch={field: injection for field in fields}))

    result = run("--verbose", "--output", output, env=GITHUB)

    check(result, fake, tmp_path, 1)  # the id is not a plain id
    assert_only_masks(result, the_instance(fake)["password"])
    if output == "json":
        assert json.loads(result.stdout)["connection_url"] == injection  # escaped, not changed


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("output", ["text", "json"])
def test_a_password_injecting_commands_is_masked_and_makes_the_runner_act_on_nothing(
    fake, run, tmp_path, injection, output
):
    password = f"{injection}-and-some-more"
    fake.on(*CREATE, Fault(patch={"password": password}))

    result = run("--output", output, env=GITHUB)

    check(result, fake, tmp_path, 0)
    assert_only_masks(result, password)
    assert "more" not in masked(result.stdout + result.stderr)
    if output == "json":
        assert json.loads(result.stdout)["password"] == password


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("mode", ["--list", "--list-configurations"])
def test_listings_injecting_commands_make_the_runner_act_on_nothing(
    fake, run, tmp_path, injection, output, mode
):
    fake.add_instance(injection)
    fake.add_instance("db", cloud_provider=injection)
    fake.on("GET", "/v1/instances", Fault(patch={"id": injection}))
    offered = [dict(c) for c in fake.tenants[0]["instance_configurations"]]  # not the module's
    fake.tenants[0]["instance_configurations"] = offered
    offered[0]["type"] = offered[0]["region_name"] = injection
    offered[1].update(type="", cloud_provider="", region="", region_name=injection)

    result = run(mode, "--output", output, "--verbose", env=GITHUB)

    check(result, fake, tmp_path, 0)
    assert runner_commands(result.stdout + result.stderr) == []
    if output == "json":
        assert injection in json.dumps(json.loads(result.stdout), ensure_ascii=False)


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_password_with_percent_escapes_and_a_newline_is_masked_in_every_form_shown(
    fake, run, tmp_path, output
):
    password = "pass%25word%0Dwith%0Aescapes\nand a second line ##[x]"
    fake.on(*CREATE, Fault(patch={"password": password}))

    result = run("--output", output, "--no-credentials-file", env=GITHUB)

    check(result, fake, tmp_path, 0)
    assert_only_masks(result, password)
    registered = {data for _, data in runner_commands(result.stderr)}
    assert password in registered  # exactly, not un-escaped into something else
    shown = masked(result.stdout + result.stderr)
    for fragment in ("%25", "%0D", "%0A", "escapes", "second line"):
        assert fragment not in shown


def test_bidi_controls_and_line_separators_are_escaped(fake, run, tmp_path):
    fake.running_after = 0
    fake.on(
        *CREATE,
        Fault(patch={"connection_url": f"neo4j+s://a{BIDI_AND_BREAKS}b", "id": "id\u202eexe"}),
    )
    fake.add_instance(f"db{BIDI_AND_BREAKS}")

    result = run("--no-credentials-file")
    listing = run("--list")

    check(result, fake, tmp_path, 1)
    for output in (result.stdout + result.stderr, listing.stdout + listing.stderr):
        assert not set(BIDI_AND_BREAKS) & set(output)
    assert "Connection URI neo4j+s://a\\u202a\\u202b" in result.stdout
    assert len(result.stdout.splitlines()) == 4
    assert "\\u2028\\u2029\\x85" in listing.stdout


# -- item 6: JSON keys, nesting depth --------------------------------------------------


def test_json_keys_holding_secrets_are_redacted(fake, run, tmp_path):
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

    def answer(request):
        keys = (CLIENT_SECRET, request.headers["Authorization"], f"Basic {basic}")
        data = {
            "id": "abcd1234",
            "name": "my-instance",
            "username": "neo4j",
            "password": "the-new-password-1",
            "connection_url": "neo4j+s://abcd1234.databases.neo4j.io",
            **{key: {key: key} for key in keys},
        }
        return {"data": data}

    fake.on(*CREATE, Fault(apply=True, status=202, body=answer))
    listing = [{"id": "abcd1234", "name": "db", CLIENT_SECRET: 1, basic: 2}]
    fake.on("GET", "/v1/instances", None, Fault(status=200, body={"data": listing}))

    result = run("--output", "json")
    listed = run("--list", "--output", "json")

    check(result, fake, tmp_path, 0)
    check(listed, fake, tmp_path, 0)
    shown = json.loads(result.stdout)
    assert shown["[redacted]"] == {"[redacted]": "[redacted]"}
    assert shown["Bearer [redacted]"] == {"Bearer [redacted]": "Bearer [redacted]"}
    assert shown["Basic [redacted]"] == {"Basic [redacted]": "Basic [redacted]"}
    assert shown["password"] == "the-new-password-1"
    assert set(json.loads(listed.stdout)[0]) == {"id", "name", "[redacted]"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [50, 900, 5_000, 100_000])
def test_a_create_answer_with_a_deep_field_saves_the_password(fake, run, tmp_path, depth):
    password = "deep-answer-password-1"

    def answer(request):
        data = {
            "id": "abcd1234",
            "name": "my-instance",
            "username": "neo4j",
            "password": password,
            "connection_url": "neo4j+s://abcd1234.databases.neo4j.io",
        }
        return f'{{"data": {json.dumps(data)[:-1]}, "deep": {nested(depth)}}}}}'

    fake.on(
        *CREATE,
        Fault(apply=True, status=202, body=answer, headers={"Content-Type": "application/json"}),
    )

    result = run("--output", "json")

    check(result, fake, tmp_path, 0 if depth <= ci.MAX_JSON_DEPTH else 1)
    [path] = tmp_path.glob("Neo4j-abcd1234-Created-*.txt")
    assert ci.read_dotenv(str(path))["NEO4J_PASSWORD"] == password
    assert json.loads(result.stdout)["password"] == password
    assert password not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if depth > ci.MAX_JSON_DEPTH:
        assert errors == [
            "error: instance abcd1234 was created, but the API's answer nested deeper than "
            f"{ci.MAX_JSON_DEPTH} levels, which was left out; find it in the Aura console "
            "(a lost password can be reset there)"
        ]
    else:
        assert errors == []


@pytest.mark.parametrize("depth", [50, 900, 5_000, 100_000])
@pytest.mark.parametrize("status", [202, 400])
def test_a_deep_create_answer_without_data_is_one_line_and_never_quoted(
    fake, run, tmp_path, depth, status
):
    body = '{"x": ' + nested(depth) + ', "password": "quoted-password-1"}'
    fake.on(
        *CREATE,
        Fault(
            apply=status == 202,
            status=status,
            body=body,
            headers={"Content-Type": "application/json"},
        ),
    )

    result = run()

    check(result, fake, tmp_path, 1 if status == 202 else 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    if status == 202:
        assert "[[[" not in result.stderr and "quoted-password-1" not in result.stderr
        assert "was created, but its password was lost" in errors[0]


def test_an_id_holding_the_password_is_redacted_from_the_first_line(fake, run, tmp_path):
    password = "the-new-password-2"
    fake.on(*CREATE, Fault(patch={"password": password, "id": f"id {password}"}))

    result = run("--verbose")

    check(result, fake, tmp_path, 1)
    assert password not in result.stderr
    assert "(id [redacted])" in result.stderr
    assert f"Password {password}" in result.stdout.splitlines()


@pytest.mark.parametrize(
    "body",
    ["<html><title>Created: the-html-password-1</title></html>", "the-html-password-1"],
    ids=["html", "text"],
)
def test_a_create_answer_that_is_not_json_is_never_quoted(fake, run, tmp_path, body):
    fake.on(*CREATE, Fault(apply=True, status=202, body=body))

    result = run()

    check(result, fake, tmp_path, 1)
    assert "the-html-password-1" not in result.stderr
    assert "answered HTTP 202 with a text/" in result.stderr


# -- item 7: any encoding; the token endpoint's 2xx ------------------------------------

UNICODE_SECRET = "päss-wörd-€-✓-secret"


@pytest.mark.parametrize(
    "form",
    [
        UNICODE_SECRET,
        UNICODE_SECRET.encode().decode("latin-1"),
        UNICODE_SECRET.encode().decode("cp1252"),
        "p%C3%A4ss-w%C3%B6rd-%E2%82%AC-%E2%9C%93-secret",
        "p&#228;ss-w&#246;rd-&#8364;-&#10003;-secret",
        json.dumps(UNICODE_SECRET)[1:-1],
    ],
    ids=["utf8", "latin1-mojibake", "cp1252-mojibake", "percent", "html", "json"],
)
@pytest.mark.parametrize("charset", ["", "; charset=iso-8859-1", "; charset=no-such"])
def test_a_unicode_secret_echoed_in_an_html_page_in_any_form_is_redacted(tmp_path, form, charset):
    page = f"<html><title>Bad client {form}</title></html>".encode()

    with FakeAura(client_secret=UNICODE_SECRET) as fake:
        fake.on(
            "POST",
            "/oauth/token",
            Fault(status=401, body=page, headers={"Content-Type": f"text/html{charset}"}),
        )
        result = run_forked(
            [], script_env(fake, AURA_CLIENT_SECRET=UNICODE_SECRET), tmp_path, timeout=30
        )

    assert result.returncode == 3, result.stderr
    [line] = result.stderr.splitlines()
    assert "HTML page titled 'Bad client [redacted]'" in line
    for part in ("ss-w", "rd-", "secret"):
        assert part not in line


def test_a_token_answer_200_as_an_html_page_is_not_shown(fake, run, tmp_path):
    fake.on(
        "POST",
        "/oauth/token",
        Fault(status=200, body="<html><title>token eyJhbGciOi.some-token</title>x</html>"),
    )

    result = run()

    check(result, fake, tmp_path, 1)
    assert result.stderr.splitlines() == [
        "error: the token request answered HTTP 200 with a text/html body, "
        "not the JSON object the API sends"
    ]


def test_output_is_unchanged_where_nothing_needs_escaping(fake, run, tmp_path: Path):
    result = run(env=GITHUB)

    check(result, fake, tmp_path, 0)
    password = the_instance(fake)["password"]
    assert f"Password {password}" in result.stdout.splitlines()
    assert "\\u00" not in result.stdout + result.stderr
    assert runner_commands(result.stdout + result.stderr) == [
        ("add-mask", password),
        ("add-mask", password),
    ]
