"""read_dotenv agrees with python-dotenv 1.2.4, dotenv_values(path, interpolate=False).

Each corpus entry is a whole .env file, written byte for byte (BOM, CRLF and lone CR
included). The expected answer is asked of python-dotenv at test time: its values without
the keys it gives None, or, where its parser reports an unparsable statement, an AuraError
(exit 2) naming the file and the line that statement starts on, without any of its text.
(python-dotenv's own line number counts the blank lines before a statement as part of
it; the line of its first character is the one a user can find.)
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
import tracemalloc

import dotenv
import pytest
from dotenv.parser import parse_stream

import create_instance as ci

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----"
)
ONE_MB_SECRET = "s3cr3t$x+y/z=w " * (1_000_000 // 15)
ONE_MB_ESCAPED = ("A" * 62 + "\\n") * (1_000_000 // 64)

CORPUS = {
    # The constructs python-dotenv's own parser and main tests exercise.
    "empty-file": "",
    "no-final-newline": "a=b",
    "single-quoted-key": "'a'=b",
    "bracket-key": "[=b",
    "spaces-around-everything": " a = b ",
    "export": "export a=b",
    "indented-export-quoted-key": " export 'a'=b",
    "commented-out-binding": "# a=b",
    "hash-inside-value": "a=b#c",
    "space-hash-comment": "a=b #c",
    "space-then-comment-is-empty": "a= #c",
    "spaces-then-comment-is-empty": "a=  # comment",
    "value-starting-with-hash": "a=#b",
    "tab-hash-comment": "a=b\t#c",
    "inner-space": "a=b c",
    "inner-tab": "a=b\tc",
    "inner-double-space": "a=b  c",
    "no-break-space": "a=b\u00a0 c",
    "trailing-space": "a=b c ",
    "single-quoted-trailing-space": "a='b c '",
    "double-quoted-trailing-space": 'a="b c "',
    "export-of-a-key-starting-with-export": "export export_a=1",
    "export-port": "export port=8000",
    "double-quoted-newline": 'a="b\nc"',
    "single-quoted-newline": "a='b\nc'",
    "double-quoted-backslash-n": 'a="b\\nc"',
    "single-quoted-backslash-n": "a='b\\nc'",
    "double-quoted-escaped-quote": 'a="b\\"c"',
    "single-quoted-escaped-quote": "a='b\\'c'",
    "non-ascii-value": "a=à",
    "non-ascii-quoted-value": 'a="à"',
    "non-ascii-key": "é=è",
    "key-alone": "no_value_var",
    "colon-instead-of-equals": "a: b",
    "lf": "a=b\nc=d",
    "lone-cr": "a=b\rc=d",
    "crlf": "a=b\r\nc=d",
    "empty-then-next": "a=\nb=c",
    "only-newlines": "\n\n",
    "blank-line-at-end": "a=b\n\n",
    "blank-line-between": "a=b\n\nc=d",
    "unclosed-double-quote-on-line-1": 'a="\nb=c',
    "comment-multiline-value-then-more": '# comment\na="b\nc"\nd=e\n',
    "comment-at-end": "a=b\n# comment 1",
    "two-comments": "# comment 1\n# comment 2",
    "ugly-key-quoted-value-with-hash": 'uglyKey[%$="S3cr3t_P4ssw#rD" #\na=b',
    "bom": "\ufeffa=b",
    "bom-two-lines": "\ufeffa=b\nc=d",
    "set-key-empty": "a=''\n",
    "set-key-escaped-single-quotes": "a='\\'b\\''\n",
    "set-key-double-quotes-inside-single": "a='\"b\"'\n",
    "set-key-apostrophe": "a='b\\'c'\n",
    "set-key-double-quote-inside-single": "a='b\"c'\n",
    "dollar-name": "a=$b",
    "dollar-braces": "a=${b}",
    "dollar-default": "a=${b:-d}",
    "dollar-in-double-quotes": 'a="${b}"',
    "dollar-in-single-quotes": "a='${b}'",
    "dollar-amid-text": "a=x${b}y",
    "self-reference": "a=${a}",
    "self-reference-default": "a=${a:-c}",
    "dollar-twice": "a=${b}${b}",
    "redefined-then-used": "b=d\na=${b}",
    "last-duplicate-wins": "a=b\na=c\nd=${a}",
    "redefined-with-reference": "a=b\nc=${a}\nd=e\nc=${d}",
    "disabled-variable-is-just-a-value": "PYTHON_DOTENV_DISABLED=true",
    # What real .env files hold.
    "aura-with-pem": (
        "# Aura\nAURA_CLIENT_ID=abc123\n"
        f'AURA_PRIVATE_KEY="{PEM}"\n'
        "AURA_CLIENT_SECRET=Zx9$kq${HOME}`x`\nAURA_TENANT=Production\n"
    ),
    "aura-pem-escaped-newlines": f'AURA_KEY="{PEM}"'.replace("\n", "\\n", 3) + "\nB=1\n",
    "windows-bom-crlf": "\ufeff# settings\r\nAURA_TENANT=Production\r\nAURA_REGION = eu-west \r\n",
    "windows-crlf-inside-quotes": 'A="line1\r\nline2"\r\nB=2\r\n',
    "old-mac-cr": "A=1\rB='x\ry'\rC\r",
    "export-and-comments": "export AURA_TENANT=Prod # the main\nexport\tAURA_REGION=eu  # tab\n",
    "dollar-secrets": "AURA_CLIENT_SECRET=pa$$w0rd\nS2='$1$salt$hash'\nS3=\"${NOT_SET}\"\n",
    "empty-values": "AURA_TENANT=\nB=''\nC=\"\"\nD=   \nE= # nothing\n",
    "dotted-and-dashed-keys": "my.key=1\nmy-key=2\nkey:with:colons=3\n$weird@key=4\n",
    "key-alone-amid-others": "A=1\nDEBUG\nB=2\n",
    "key-alone-unsets-earlier-value": "A=1\nA\n",
    "key-alone-with-comment": "FLAG # on\n",
    "trailing-whitespace-and-tabs": "\tA\t=\tvalue with tabs\t \nB=x   \n   \n\t\n",
    "unclosed-quote-mid-file": 'A=1\nAURA_CLIENT_SECRET="hunter2\nC=3\nD=4\n',
    "unclosed-quote-after-blank-lines": "A=1\n\n\nAURA_CLIENT_SECRET='hunter2\nC=3\n",
    "unclosed-quote-after-comment": 'A=1\n# note\nSECRET="hunter2\n',
    "text-after-closing-quote": 'A=1\nSECRET="hunter2"tail\nB=2\n',
    "key-with-space-then-word": "A=1\nhunter2 pasted secret\n",
    "stray-line-is-a-key-alone": "# settings\nAURA_TENANT=Production\nhunter2-pasted-secret\n",
    "every-double-quote-escape": 'A="\\\\ \\\' \\" \\a \\b \\f \\n \\r \\t \\v"\n',
    "undecoded-double-quote-escapes": 'A="\\x41 \\u00e9 \\$ \\0 \\q \\e"\n',
    "single-quotes-decode-two-escapes": "A='\\\\ \\n \\t \\x41 \\$'\n",
    "backslash-before-closing-quote": 'A="ends with \\\\"\nB=2\n',
    "unquoted-backslashes": "A=C:\\path\\to\\n\n",
    "double-quoted-key-keeps-its-quotes": '"A"=x\n',
    "empty-single-quoted-key": "''=x\n",
    "no-key": "=x\n",
    "double-equals": "A==b\nB=c=d\n",
    "export-alone": "export\n",
    "export-with-trailing-space": "A=1\nexport \n",
    "export-then-equals": "export =x\n",
    "export-then-comment": "export # not a key\n",
    "quoted-value-then-comment-without-space": "A='a'#c\nB=\"b\"  # c\n",
    "equals-then-tab-hash": "A=\t#c\n",
    "value-is-only-hash": "A=#\n",
    "quote-inside-unquoted-value": 'A=it\'s\nB=say "hi"\n',
    "multi-line-single-quoted-key": "'a\nb'=c\n",
    "second-bom-stays": "\ufeff\ufeffA=1\n",
    "bom-before-blank-lines": "\ufeff\n\nA=1\n",
    "vertical-tab-and-form-feed": "A=x\x0by\x0c\n\x0cB=2\n",
    "unicode-spaces": "A=x\u2028#c\n\u3000B=\u3000y\u3000\n",
    "nul-in-value": "A=x\x00y\n",
    "one-megabyte-unquoted-line": f"AURA_CLIENT_SECRET={ONE_MB_SECRET}\nB=1\n",
    "one-megabyte-double-quoted-line": f'AURA_PRIVATE_KEY="{ONE_MB_ESCAPED}"\nB=1\n',
}


def python_dotenv(path) -> dict[str, str] | tuple[int, str]:
    """python-dotenv's answer: its values without None, or its first unparsable statement."""
    with open(path, encoding="utf-8") as file:  # as dotenv_values opens it
        errors = [binding.original for binding in parse_stream(file) if binding.error]
    if errors:
        blank_lines_before = errors[0].string[: -len(errors[0].string.lstrip())].count("\n")
        return errors[0].line + blank_lines_before, errors[0].string
    values = dotenv.dotenv_values(path, interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


@pytest.mark.parametrize("text", CORPUS.values(), ids=CORPUS.keys())
def test_read_dotenv_agrees_with_python_dotenv(tmp_path, text):
    path = tmp_path / ".env"
    path.write_bytes(text.encode("utf-8"))

    assert_agrees(path)


def assert_agrees(path) -> None:
    """read_dotenv gives python-dotenv's values for `path`, or an error for its first unparsable
    statement (see the module docstring)."""
    expected = python_dotenv(path)
    if isinstance(expected, dict):
        assert ci.read_dotenv(str(path)) == expected
        return
    line, statement = expected
    with pytest.raises(ci.AuraError) as raised:
        ci.read_dotenv(str(path))
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert message.startswith(f"{path} ")
    assert re.findall(r"\bline (\d+)\b", message) == [str(line)]
    without_path = message.replace(str(path), "")
    for fragment in re.findall(r"\w{3,}", statement):
        assert fragment not in without_path


def test_the_corpus_has_unparsable_files_and_keys_alone(tmp_path):
    """The agreement test covers both of python-dotenv's answers, and None values."""
    unparsable = key_alone = 0
    for number, text in enumerate(CORPUS.values()):
        path = tmp_path / f"{number}.env"
        path.write_bytes(text.encode("utf-8"))
        unparsable += isinstance(python_dotenv(path), tuple)
        with open(path, encoding="utf-8") as file:
            key_alone += any(b.key and b.value is None for b in parse_stream(file))
    assert unparsable >= 10
    assert key_alone >= 5


def test_a_missing_file_is_empty(tmp_path):
    assert ci.read_dotenv(str(tmp_path / ".env")) == {}


def test_a_link_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.env").write_text("A=1\n")
    link = tmp_path / ".env"
    try:
        link.symlink_to(tmp_path / "real.env")
    except OSError:
        pytest.skip("this system cannot make symbolic links")

    assert ci.read_dotenv(str(link)) == {"A": "1"}


def refused(path, monkeypatch) -> str:
    """The error read_dotenv gives for `path`, which it must not even open."""

    def no_open(*args, **kwargs):
        raise AssertionError(f"opened {args[0]}")

    monkeypatch.setattr(ci, "open", no_open, raising=False)  # found before the builtin
    with pytest.raises(ci.AuraError) as raised:
        ci.read_dotenv(str(path))
    assert raised.value.exit_code == 2
    assert str(path) in str(raised.value)
    return str(raised.value)


def test_a_dangling_link_is_refused(tmp_path, monkeypatch):
    link = tmp_path / ".env"
    try:
        link.symlink_to(tmp_path / "gone.env")
    except OSError:
        pytest.skip("this system cannot make symbolic links")

    assert "missing" in refused(link, monkeypatch)


def test_a_directory_is_refused(tmp_path, monkeypatch):
    (tmp_path / ".env").mkdir()

    assert "not a regular file" in refused(tmp_path / ".env", monkeypatch)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_opening_it(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / ".env")

    assert "not a regular file" in refused(tmp_path / ".env", monkeypatch)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"AURA_TENANT=caf\xe9\n")

    with pytest.raises(ci.AuraError, match="not UTF-8") as raised:
        ci.read_dotenv(str(path))
    assert raised.value.exit_code == 2


# -- random files ---------------------------------------------------------------------------

# What the grammar cares about, and a few things around it.
TOKENS = [
    *("a", "Zz9", "=", " ", "\t", "\n", "\r", "\r\n", "#", "'", '"', "\\", "\\n", "\\'"),
    *('\\"', "export", "export ", "${a}", "$", "é", "\x0b", "\u00a0", "\u2028", "\ufeff", "\x00"),
]


def random_statement(rng: random.Random) -> str:
    """A line such as a .env holds (indented, exported, quoted, commented), or nearly."""

    def some(count: int, without: str = "") -> str:
        tokens = [token for token in TOKENS if not set(token) & set(without)]
        return "".join(rng.choices(tokens, k=count))

    space = rng.choice(["", " ", "  ", "\t"])
    key = rng.choice(["a", "Zz9", "é", "'a b'", "a'b", "export", "$k", "a.b-c"])
    single, double = (
        "'" + some(rng.randint(0, 4), "'") + "'",
        '"' + some(rng.randint(0, 4), '"') + '"',
    )
    value = rng.choice(["", some(rng.randint(1, 4), "\n\r#'\""), single, double, some(6)])
    binding = rng.choice([f"{key}{space}={space}{value}", key, f"#{value}"])
    line = rng.choice(["", space, "export "]) + binding + rng.choice(["", space, " # c", "#c"])
    if rng.random() < 0.2:  # a token anywhere
        at = rng.randint(0, len(line))
        line = line[:at] + rng.choice(TOKENS) + line[at:]
    return line + rng.choice(["\n", "\n", "\r\n", "\r", "\n\n"])


@pytest.mark.parametrize("seed", range(4))
def test_random_files_read_as_python_dotenv_reads_them(tmp_path, seed):
    rng = random.Random(seed)
    for number in range(150):
        path = tmp_path / f"{number}.env"
        lines = [random_statement(rng) for _ in range(rng.randint(1, 6))]
        path.write_bytes("".join(lines).encode("utf-8"))

        assert_agrees(path)


def test_random_bytes_are_read_or_refused_without_a_traceback(tmp_path):
    rng = random.Random(16)
    for number in range(300):
        data = bytes(rng.choices(b"aZ= #'\"\\\n\r\t\xc3\xa9\xff\x00", k=rng.randint(1, 60)))
        path = tmp_path / f"{number}.env"
        path.write_bytes(data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            with pytest.raises(ci.AuraError, match="not UTF-8") as raised:
                ci.read_dotenv(str(path))
            assert raised.value.exit_code == 2
        else:
            assert_agrees(path)


# -- size and resources ---------------------------------------------------------------------

MIB = 1 << 20


def test_a_dotenv_over_1_mib_is_exit_2_naming_its_size_before_any_request(fake, run, tmp_path):
    (tmp_path / ".env").write_bytes(b"# note\n" * (MIB // 7) + b"A=12\n")
    size = (tmp_path / ".env").stat().st_size
    assert size == MIB + 1

    result = run()

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f".env is {size:,} bytes; a .env file may have at most 1 MiB" in result.stderr
    assert fake.connections == 0


def test_a_dotenv_of_1_mib_is_read(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"# note\n" * (MIB // 7) + b"A=1\n")
    assert path.stat().st_size == MIB

    assert ci.read_dotenv(str(path)) == {"A": "1"}


def test_a_sparse_4_gb_dotenv_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    with open(tmp_path / ".env", "wb") as file:
        file.truncate(4 << 30)

    assert "is 4,294,967,296 bytes;" in refused(tmp_path / ".env", monkeypatch)


def test_a_dotenv_longer_than_its_size_says_is_read_no_further_than_1_mib(tmp_path, monkeypatch):
    """As files in /proc, whose size is 0, or one that grows as it is read."""
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\n" * MIB)
    real_stat = os.stat
    told = os.stat_result((*real_stat(path)[:6], 0, *real_stat(path)[7:]))
    monkeypatch.setattr(
        ci.os, "stat", lambda name, **kw: told if name == str(path) else real_stat(name, **kw)
    )

    with pytest.raises(
        ci.AuraError, match=r"is 1,048,577 bytes or more; .* at most 1 MiB"
    ) as raised:
        ci.read_dotenv(str(path))
    assert raised.value.exit_code == 2


def fill(unit: str, head: str = "", tail: str = "") -> str:
    """head, unit repeated, tail: just under 1 MiB in UTF-8."""
    room = MIB - len(head.encode()) - len(tail.encode())
    return head + unit * (room // len(unit.encode())) + tail


# The inputs that cost the most to read, each just under 1 MiB, and what they read as.
WORST = {
    "comment lines": (fill("#\n"), {}),
    "blank lines": (fill("\n"), {}),
    "keys alone": (fill("a\n"), {}),
    "empty values": (fill("a=\n"), {"a": ""}),
    "quoted values": (fill("a=''\n"), {"a": ""}),
    "escaped quoted values": (fill('a="\\n"\n'), {"a": "\n"}),
    "export lines": (fill("export a=\n"), {"a": ""}),
    "a long key": (fill("K", tail="=v"), {"K" * (MIB - 2): "v"}),
    "a long value of escapes": (fill("\\n", head='A="', tail='"'), {"A": "\n" * (MIB // 2 - 2)}),
    "a\\ pairs after an unclosed double quote": (fill("a\\", head='A="'), 1),
    "escaped quotes after an unclosed double quote": (fill('\\"', head='A="'), 1),
    "backslashes after an unclosed single quote": (fill("\\", head="A='"), 1),
    "text after an unclosed single quote": (fill("a", head="A='"), 1),
    "an unclosed quoted key": (fill("a", head="'"), 1),
    "export repeated": (fill("export ", tail="A=1"), 1),
    "a key, spaces and a word": (fill(" ", head="a", tail="b"), 1),
    "a quoted value, spaces and a word": (fill(" ", head="a='x'", tail="b"), 1),
}


@pytest.mark.parametrize(("text", "expected"), WORST.values(), ids=WORST.keys())
def test_the_costliest_files_under_1_mib_are_read_in_linear_time(tmp_path, text, expected):
    """A guard against quadratic time, not a measurement: each of these takes about 0.3 s of
    CPU or less (see the issue 16 figures); quadratic behaviour would take minutes."""
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8", newline="")
    started = time.process_time()

    if isinstance(expected, dict):
        assert ci.read_dotenv(str(path)) == expected
    else:
        with pytest.raises(ci.AuraError, match=f"line {expected} cannot be parsed"):
            ci.read_dotenv(str(path))
    assert time.process_time() - started < 5


@pytest.mark.parametrize(
    "text",
    [fill("a\\", head='A="'), fill("\\", head='A="'), fill("\\n", head='A="', tail='"')],
    ids=["a\\ pairs, unclosed", "backslashes, unclosed", "escapes, closed"],
)
def test_a_quoted_value_of_1_mib_is_read_in_bounded_memory(tmp_path, text):
    """A backtracking regex took 75 MB of memory for each MiB of these."""
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8", newline="")
    tracemalloc.start()
    try:
        with contextlib.suppress(ci.AuraError):
            ci.read_dotenv(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 25 * MIB  # the text (twice, as bytes and as str) and its value
