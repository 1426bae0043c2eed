"""The README's shell examples, run against the fake and compared with what it shows.

The convention (tests/README.md says it for writers):

- A ```sh block is a script to paste as it is (no prompts). It runs as one bash
  script. A block right after it with no language (```) is its expected output.
- A ```console block is a transcript: each `$ command` line (with any lines a
  trailing `\\` continues) runs on its own; the lines up to the next `$ ` are
  its expected output.
- The exit code must be 0, unless the command (the sh block's last line) ends
  in a comment `# exit N`.
- Output is stdout and stderr together, as a terminal shows them. Ids,
  passwords and other long tokens, UUIDs, dates, loopback ports and durations
  match loosely; a line `...` stands for any lines, none included.
- `<!-- not-run: REASON -->` before a block skips it, and only it.

Every example runs in order, in one temporary directory (credentials files land
there), against one FakeAura whose instances start at once, with the demo's
environment: AURA_API_URL, the fake's client id and secret, and `python` this
interpreter. The fake's port stands in for the demo's 8765. The directory holds
a copy of create_instance.py, requirements.txt, .env.example, and a
.venv/bin/activate that puts this interpreter first on PATH, as the set-up does.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import script_env

from fake_aura import FakeAura

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEMO_PORT = "8765"
NOT_RUN = re.compile(r"<!-- not-run: (?P<reason>\S.*?) -->")
EXIT = re.compile(r"#\s*exit\s+(?P<code>\d+)\s*$")


@dataclass
class Example:
    line: int  # of the command (or the sh block's first line) in README.md
    command: str
    expected: list[str] | None  # None: no output shown, only the exit code checked
    exit_code: int
    skip: str | None  # the not-run reason


def blocks(text: str) -> list[tuple[int, str, list[str], str | None, int]]:
    """Top-level fenced blocks: (first content line, language, lines, not-run reason,
    number of blank lines after the block's closing fence)."""
    found = []
    lines = text.splitlines()
    i = 0
    reason = None
    while i < len(lines):
        line = lines[i]
        marker = NOT_RUN.fullmatch(line.strip())
        if marker:
            reason = marker.group("reason")
        elif line.startswith("```"):
            language = line[3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blank = 0
            while end + 1 + blank < len(lines) and not lines[end + 1 + blank].strip():
                blank += 1
            found.append((i + 2, language, lines[i + 1 : end], reason, blank))
            reason = None
            i = end
        elif line.strip():
            reason = None  # a marker belongs to the block right after it
        i += 1
    return found


def expected_exit(command: str) -> int:
    match = EXIT.search(command.splitlines()[-1])
    return int(match.group("code")) if match else 0


def examples(text: str) -> list[Example]:
    found: list[Example] = []
    all_blocks = blocks(text)
    for index, (line, language, content, reason, blank) in enumerate(all_blocks):
        if language == "sh":
            command = "\n".join(content)
            expected = None
            after = all_blocks[index + 1] if index + 1 < len(all_blocks) else None
            # the next block starts right after the blank lines that follow this one
            if after and after[1] in ("", "text") and after[0] == line + len(content) + blank + 2:
                expected = after[2]
            found.append(Example(line, command, expected, expected_exit(command), reason))
        elif language == "console":
            current: Example | None = None
            continued = False
            for offset, row in enumerate(content):
                if continued and current:
                    current.command += "\n" + row
                    continued = row.endswith("\\")
                    current.exit_code = expected_exit(current.command)
                elif row.startswith("$ "):
                    current = Example(line + offset, row[2:], [], 0, reason)
                    current.exit_code = expected_exit(current.command)
                    continued = row.endswith("\\")
                    found.append(current)
                else:
                    assert current, f"README.md line {line}: a console block starts with `$ `"
                    current.expected.append(row)
    return found


# Loose parts of an output, in the order they are replaced (a UUID before the ids in it).
LOOSE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
        ),
        "<date>",
    ),
    (re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+"), r"\1:<port>"),
    # passwords, request ids, tokens: 20 or more of these characters, with digits and letters,
    # or upper and lower case (a password may lack digits: 1 in 150 of token_urlsafe(32) do)
    (
        re.compile(
            r"(?<![\w-])(?:(?=[\w-]*\d)(?=[\w-]*[A-Za-z])|(?=[\w-]*[A-Z])(?=[\w-]*[a-z]))"
            r"[\w-]{20,}(?![\w-])"
        ),
        "<token>",
    ),
    (re.compile(r"\b[0-9a-f]{8}\b"), "<id>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:s|ms|seconds?)\b"), "<n> s"),
]


def loosen(line: str) -> str:
    line = line.rstrip()
    for pattern, replacement in LOOSE:
        line = pattern.sub(replacement, line)
    return line


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the output's lines match the expected ones, a `...` line any lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(loosen(line) + "\n")
        for line in expected
    )
    text = "".join(loosen(line) + "\n" for line in actual)
    return re.fullmatch(pattern, text) is not None


def trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


@pytest.fixture
def demo(tmp_path: Path):
    """The directory and the environment of the README's demo, with its fake."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):
        (bin_dir / name).symlink_to(sys.executable)
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("create_instance.py", "requirements.txt", ".env.example"):
        shutil.copy(ROOT / name, work / name)
    activate = work / ".venv" / "bin" / "activate"
    activate.parent.mkdir(parents=True)
    activate.write_text(f'PATH="{bin_dir}:$PATH"; export PATH\n', encoding="utf-8")
    with FakeAura() as fake:
        fake.running_after = 0.0
        fake.delete_after = 0.0
        env = script_env(fake)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["HOME"] = str(tmp_path)
        yield fake, work, env


def run_example(example: Example, fake: FakeAura, cwd: Path, env: dict[str, str]):
    host_port = fake.url.split("//", 1)[1]
    command = re.sub(rf"\b(127\.0\.0\.1|localhost):{DEMO_PORT}\b", host_port, example.command)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_readme_example_prints_what_the_readme_shows(demo):
    fake, work, env = demo
    failures = []
    for example in examples(README.read_text(encoding="utf-8")):
        if example.skip:
            continue
        done = run_example(example, fake, work, env)
        actual = trimmed(done.stdout.splitlines())
        problems = []
        if done.returncode != example.exit_code:
            problems.append(f"exit {done.returncode}, the README expects {example.exit_code}")
        if example.expected is not None and not matches(trimmed(example.expected), actual):
            diff = difflib.unified_diff(
                [loosen(line) for line in trimmed(example.expected)],
                [loosen(line) for line in actual],
                "README.md",
                "printed",
                lineterm="",
            )
            problems.append("output differs (loosened):\n" + "\n".join(diff))
        if problems:
            where = f"README.md line {example.line}: {example.command}"
            failures.append(where + "\n" + "\n".join(problems) + "\n--- printed:\n" + done.stdout)
    assert not failures, "\n\n".join(failures)


def test_the_convention_holds_for_every_block():
    """Transcripts are console blocks (so they are run); pasteable blocks have no prompts;
    what is skipped says why, and the demo itself is not skipped."""
    text = README.read_text(encoding="utf-8")
    for line, language, content, _, _ in blocks(text):
        if language != "console":
            prompts = [row for row in content if row.startswith("$ ")]
            assert not prompts, f"README.md line {line}: a ```{language} block with `$ `"
    found = examples(text)
    run = [e for e in found if not e.skip]
    assert len(run) >= 10, [e.command for e in run]
    assert any("--name demo --wait" in e.command and e.expected for e in run)
    assert len(text.splitlines()) <= 330 and len(text.encode()) <= 22 * 1024


def test_every_contents_link_leads_to_a_heading():
    """GitHub's anchors: lower case, punctuation but `-` dropped, each space a `-`."""
    text = README.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    headings = re.findall(r"^#+ (.+)$", prose, re.M)
    anchors = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links and set(links) <= anchors, set(links) - anchors


def test_the_comparison_is_loose_only_where_it_should_be():
    expected = [
        "Instance ID 745ac096",
        "Password RjjRDdIJ9zsoO6OWse92_80z5b2fYTknhRVnlaKFT6U",
        "...",
        "Connection URI neo4j+s://127.0.0.1:8765",
        "Ready after 93.1 s, on 2026-11-27.",
    ]
    actual = [
        "Instance ID 0badc0de",
        "Password x-4" + "A" * 40,
        "Connection URI neo4j+s://127.0.0.1:40013",
        "Ready after 0 s, on 2025-01-02.",
    ]
    assert matches(expected, actual)
    assert matches(expected[:2] + expected[3:], actual)
    assert not matches(expected, ["Instance ID 0badc0de", *actual[1:3], "Ready after 0 s."])
    assert not matches(expected, ["Instance Id 0badc0de", *actual[1:]])
    assert not matches(["exit 2: the name is taken"], ["exit 2: the name is free"])
    assert matches(["Password " + "aB-" * 15], ["Password " + "xY_" * 15])
    assert not matches(["--no-graph-analytics-plugin"], ["--no-vector-optimized-plugin"])
    assert not matches(["a", "b"], ["a", "b", "c"])
    assert matches(["a", "..."], ["a", "b", "c"])


def test_the_parser_reads_the_convention():
    text = "\n".join(
        [
            "```sh",
            "python create_instance.py --memory 3GB  # exit 2",
            "```",
            "",
            "```",
            "error: ...",
            "```",
            "<!-- not-run: needs a real account -->",
            "```console",
            "$ python create_instance.py --tenant Mine \\",
            "    --name x  # exit 3",
            "error: refused",
            "$ true",
            "```",
            "```sh",
            "echo hi",
            "```",
        ]
    )
    first, second, third, fourth = examples(text)
    assert (first.line, first.exit_code, first.expected, first.skip) == (2, 2, ["error: ..."], None)
    assert second.command.endswith("--name x  # exit 3") and second.exit_code == 3
    assert (second.expected, second.skip) == (["error: refused"], "needs a real account")
    assert (third.command, third.expected, third.skip) == ("true", [], "needs a real account")
    assert (fourth.expected, fourth.skip) == (None, None)
