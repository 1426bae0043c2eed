"""The inline script metadata (PEP 723) that `uv run` and `pipx run` read.

`uv run create_instance.py` and `pipx run --path create_instance.py` install what
the `# /// script` block declares, so it must say what requirements.txt says.
The block is parsed here as PEP 723 specifies (its regex, then TOML); no network.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "create_instance.py"
REQUIREMENTS = ROOT / "requirements.txt"

# The reference regex from PEP 723 (packaging.python.org, "Inline script metadata").
REGEX = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"


def metadata_blocks(text: str) -> dict[str, str]:
    """Each block's type and TOML content, as PEP 723's reference reader finds them."""
    blocks: dict[str, str] = {}
    for match in re.finditer(REGEX, text):
        kind = match.group("type")
        assert kind not in blocks, f"more than one {kind} block"
        blocks[kind] = "".join(
            line[2:] if line.startswith("# ") else line[1:]
            for line in match.group("content").splitlines(keepends=True)
        )
    return blocks


def parse_toml(content: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(content)
    return _parse_small_toml(content)


def _parse_small_toml(content: str) -> dict:
    """Enough TOML for this block on Python < 3.11: `key = "text"` and arrays of texts."""
    result: dict = {}
    for key, value in re.findall(r'(?ms)^([\w-]+)\s*=\s*(".*?"|\[.*?\])\s*$', content):
        texts = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
        result[key] = texts if value.startswith("[") else texts[0]
    return result


def requirements() -> list[str]:
    lines = REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [re.sub(r"\s+", "", line.split("#")[0]) for line in lines if line.split("#")[0].strip()]


def script_metadata() -> dict:
    blocks = metadata_blocks(SCRIPT.read_text(encoding="utf-8"))
    assert set(blocks) == {"script"}, f"create_instance.py has blocks {sorted(blocks)}"
    return parse_toml(blocks["script"])


def test_the_block_declares_python_and_exactly_the_requirements():
    metadata = script_metadata()
    assert metadata["requires-python"] == ">=3.9"
    declared = [re.sub(r"\s+", "", d) for d in metadata["dependencies"]]
    assert sorted(declared) == sorted(requirements())
    assert set(metadata) == {"requires-python", "dependencies"}


def test_the_block_comes_first_and_the_settings_still_follow_the_docstring():
    """Shebang, metadata, docstring, then the settings a user edits, before any import."""
    text = SCRIPT.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("#!")
    assert lines[1] == "# /// script"
    end = lines.index("# ///")
    assert lines[end + 1].startswith('"""'), "the docstring follows the block directly"
    body = ast.parse(text).body
    assert ast.get_docstring(ast.parse(text)), "the module docstring is still the docstring"
    statements = body[1:]
    if isinstance(statements[0], ast.ImportFrom) and statements[0].module == "__future__":
        statements = statements[1:]
    first = statements[0]
    assert isinstance(first, ast.Assign) and first.targets[0].id == "TENANT", ast.dump(first)
    names = []
    for statement in statements:
        if not isinstance(statement, ast.Assign):
            break
        names.extend(target.id for target in statement.targets)
    assert {"TENANT", "INSTANCE_NAME", "API_URL", "DEFAULTS"} <= set(names)


def test_the_reader_sees_a_block_and_the_small_parser_agrees_with_toml():
    """Controls: the PEP's regex needs the exact markers, and the fallback parser
    (for Python 3.9 and 3.10) reads this block as tomllib does."""
    assert metadata_blocks("# /// script\n# x = 1\n#///\n") == {}
    content = metadata_blocks(SCRIPT.read_text(encoding="utf-8"))["script"]
    expected = {"requires-python": ">=3.9", "dependencies": sorted(requirements())}
    small = _parse_small_toml(content)
    assert {**small, "dependencies": sorted(small["dependencies"])} == expected
