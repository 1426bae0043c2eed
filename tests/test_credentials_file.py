"""The credentials file reads back exactly what Aura sent in both of its readers:
python-dotenv (dotenv_values, with its ${VAR} expansion on) and bash (`set -a; . FILE`),
and sourcing it runs nothing. Where no quoting satisfies both, no file is written, the
credentials are printed and the exit code is 1; an --name that could not be written is
refused before anything is created.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import dotenv
import pytest

import create_instance as ci
from fake_aura import Fault

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")

KEYS = [key for key, _field in ci._CREDENTIALS_FILE_KEYS]
CANARY = "pwned"

# Each value is tried in every field of the file, with the canary command wherever a
# shell could be talked into running something.
HOSTILE = [
    "",
    "plain",
    "abcDEF123_@%+=:,./-",
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"a;touch {CANARY}",
    f"a && touch {CANARY}",
    f"a|touch {CANARY}",
    f"a&touch {CANARY}",
    f"a\ntouch {CANARY}",
    f"a'; touch {CANARY}; '",
    f'a"; touch {CANARY}; "',
    f'a"$(touch {CANARY})"',
    f"\\$(touch {CANARY})",
    f"\\`touch {CANARY}`",
    f"$'\\x41'; touch {CANARY}",
    f">{CANARY}",
    f"<(touch {CANARY})",
    "{a,b}",
    "a|b",
    "a&b",
    "(a)",
    "<a>",
    "~root",
    "~",
    "a:~/b",
    "*",
    "?",
    "[a]",
    "a b",
    " leading",
    "trailing ",
    "'",
    '"',
    "\\",
    "\\\\",
    "a\\",
    "\\'",
    '\\"',
    "\\n",
    "$HOME",
    "${HOME}",
    "${HOME:-x}",
    "${",
    "$",
    "$$",
    "$1",
    "$@",
    "!!",
    "!$",
    "a!b",
    "#not-a-comment",
    "a #not-a-comment",
    "a#b",
    "=",
    "==a",
    "%25",
    "%0A",
    "ünïcödé",
    "日本語",
    "emoji 🎉",
    "\u2028",
    "\u00a0nbsp",
    "tab\there",
    "\t",
    "new\nline",
    "cr\rhere",
    "esc\x1b[31m",
    "nul\x00",
    "del\x7f",
    "c1\x85",
    "bell\a",
    "lone \ud800",
    "it's $HOME",
    "it's `x`",
    'say "hi"',
    "C:\\path\\to\\n",
    "a\\b$c",
    "pa$$w0rd",
    "x${HOME}`x`",
]


def random_values(count: int, seed: int = 16) -> list[str]:
    """Random mixes of what quoting, expansion and the .env grammar care about."""
    alphabet = "aZ09 _-=#'\"\\$`{}()[]<>|&;*?~!%@:,./\t\n\r\x1b\u00e9\u2028"
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(count)]


def read_by_bash(paths: list[Path], cwd: Path) -> list[dict[str, str]]:
    """What `set -a; . FILE` exports, per file: each file sourced in a subshell of one bash,
    its environment read back by `env -0` (NUL-separated, so any value survives)."""
    script = 'for f; do (set -a; . "$f"; env -0); printf "\\0END\\0"; done'
    result = subprocess.run(
        ["bash", "-c", script, "_", *map(str, paths)],
        cwd=cwd,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/home/nobody", "LC_ALL": "C.UTF-8"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    readings = []
    for block in result.stdout.split(b"\0END\0")[:-1]:
        entries = (entry.split(b"=", 1) for entry in block.split(b"\0") if entry)
        environment = {
            key.decode(): value.decode("utf-8", "surrogateescape") for key, value in entries
        }
        readings.append({key: environment.get(key) for key in KEYS})
    return readings


def read_by_python_dotenv(path: Path) -> dict[str, str | None]:
    values = dotenv.dotenv_values(path)  # interpolation on, its default
    return {key: values.get(key) for key in KEYS}


def test_every_written_value_reads_back_exactly_in_both_readers_and_runs_nothing(tmp_path):
    values = HOSTILE + random_values(400)
    files: dict[str, Path] = {}
    for number, value in enumerate(values):
        fields = dict.fromkeys(ci._CREDENTIAL_FIELDS, value)
        text = ci._credentials_file_text(fields)
        if text is not None:
            files[value] = tmp_path / f"{number}.txt"
            files[value].write_text(text, encoding="utf-8")
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    by_bash = read_by_bash(list(files.values()), cwd)

    assert list(cwd.iterdir()) == []  # no canary: nothing ran
    for (value, path), from_bash in zip(files.items(), by_bash):
        expected = {key: "neo4j" if key == "NEO4J_DATABASE" else value for key in KEYS}
        assert read_by_python_dotenv(path) == expected, repr(value)
        assert ci.read_dotenv(str(path)) == expected, repr(value)
        assert from_bash == expected, repr(value)
        assert len(path.read_text(encoding="utf-8").split("\n")) == 8  # one key a line
    # The rule writes what Aura sends, and all that is safe, not only that.
    assert {"", "abcDEF123_@%+=:,./-", "ünïcödé", "$HOME", "'", '"', "\\", "tab\there"} <= set(
        files
    )
    assert f"$(touch {CANARY})" in files and f"`touch {CANARY}`" in files
    assert len(files) > len(values) / 2


@pytest.mark.parametrize(
    ("value", "writable"),
    [
        ("abcDEF123_@%+=:,./-", "bare"),
        ("a b;c|d&e(f)<g>{h}*~i", "single"),
        ("$(touch x) `touch x` $HOME", "single"),
        ('it\'s \\ "quoted" !', "double"),
        ("it's $HOME", None),  # ' rules out single quotes, $ double quotes
        ("a\\b`c`", None),
        ("${HOME}", None),  # python-dotenv expands it in any quotes
        ("a\nb", None),  # bash reads "\n" in double quotes as two characters
        ("a\rb", None),  # python-dotenv reads a raw CR as LF
    ],
)
def test_the_quoting_rule(value, writable):
    written = ci._dotenv_value(value)

    if writable is None:
        assert written is None
    else:
        quote = {"bare": "", "single": "'", "double": '"'}[writable]
        assert written.startswith(quote) and written.endswith(quote)
        assert (written == value) == (writable == "bare")


def the_instance(fake) -> dict:
    [instance] = fake.instances.values()
    return instance.data


@pytest.mark.parametrize(
    "password",
    [
        f"$(touch {CANARY})",
        f"`touch {CANARY}`",
        f"a;touch {CANARY}",
        "{a,b}|a&b(a)<a>~root*",
        "a b",
        "'",
        '"\\',
        "$HOME",
        "%25ünïcödé",
        "it's `x`",  # no quoting is safe for both: printed, exit 1
        "${HOME}",
        "line\nbreak",
    ],
)
def test_a_run_writes_a_file_both_readers_read_exactly_or_prints_with_exit_1(
    fake, run, tmp_path, password
):
    fake.on("POST", "/v1/instances", Fault(apply=True, patch={"password": password}))

    result = run()

    assert "Traceback" not in result.stderr
    sent = the_instance(fake)
    files = list(tmp_path.glob("Neo4j-*-Created-*.txt"))
    if ci._dotenv_value(password) is None:
        assert result.returncode == 1, result.stderr
        assert files == []
        assert "no .env file can hold exactly" in result.stderr
        assert f"Password {ci._printable(password)}" in result.stdout.splitlines()
        return
    assert result.returncode == 0, result.stderr
    [path] = files
    expected = {
        "NEO4J_URI": sent["connection_url"],
        "NEO4J_USERNAME": sent["username"],
        "NEO4J_PASSWORD": password,
        "NEO4J_DATABASE": "neo4j",
        "AURA_INSTANCEID": sent["id"],
        "AURA_INSTANCENAME": sent["name"],
    }
    assert read_by_python_dotenv(path) == expected
    [from_bash] = read_by_bash([path], tmp_path)
    assert from_bash == expected
    assert not (tmp_path / CANARY).exists()


@pytest.mark.parametrize("name", ["it's $HOME", "db ${HOME}", "a\\b`c`"])
def test_a_name_no_file_could_hold_is_exit_2_before_any_request(fake, run, tmp_path, name):
    result = run("--name", name)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "credentials file" in result.stderr and "--name" in result.stderr
    assert fake.connections == 0
    assert list(tmp_path.iterdir()) == []


def test_such_a_name_is_fine_without_a_credentials_file(fake, run, tmp_path):
    result = run("--name", "it's $HOME", "--no-credentials-file")

    assert result.returncode == 0, result.stderr
    assert the_instance(fake)["name"] == "it's $HOME"
