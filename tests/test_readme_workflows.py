"""The README's GitHub Actions examples, checked as the workflows a reader pastes.

Issue 15, item 9: three layers of cleanup, (a) the wrapper step that `exec`s the
script, (b) an `if: always()` sweep of this run's exact name, (c) a scheduled sweep
of `ci-*`. The structure is asserted here, without network; then actionlint (with
shellcheck on the `run:` lines) and zizmor check every workflow.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## In CI: GitHub Actions"
SCRIPT = "create_instance.py"
# Aura's longest instance name, and GitHub's limits that the cleanup must fit.
MAX_NAME = 30
JOB_LIMIT_S = 6 * 3600
CANCEL_GRACE_S = 5 * 60


def section() -> str:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else len(text)]


def yaml_blocks() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", section(), re.S | re.M)


def workflow_files() -> dict[str, str]:
    """Each block as a workflow file, name -> text.

    A complete workflow names its file in a first comment line. A block of steps
    (indented as in a job) is the README's replacement for step (a) of the workflow
    before it: it is put there, as a reader would paste it.
    """
    files: dict[str, str] = {}
    last = ""
    for block in yaml_blocks():
        first = block.splitlines()[0]
        if block.startswith("#"):
            match = re.fullmatch(r"# \.github/workflows/([\w.-]+\.yml)", first)
            assert match, f"a workflow block starts with its file name, not {first!r}"
            last = match.group(1)
            files[last] = block
        else:
            assert last and re.match(r" +- ", first), f"steps without a workflow: {first}"
            files[last.replace(".yml", "-steps.yml")] = replace_wrapper_step(files[last], block)
    return files


def replace_wrapper_step(workflow: str, steps: str) -> str:
    lines = workflow.splitlines(keepends=True)
    indent = re.match(r" *- ", steps).group()
    starts = [i for i, line in enumerate(lines) if line.startswith(indent)]
    bounds = list(zip(starts, [*starts[1:], len(lines)]))
    wrapper = [b for b in bounds if re.search(rf"{SCRIPT} .*-- ", "".join(lines[b[0] : b[1]]))]
    assert len(wrapper) == 1, "the workflow before a block of steps has one step (a)"
    start, end = wrapper[0]
    return "".join(lines[:start]) + steps + "".join(lines[end:])


def load(text: str) -> dict:
    workflow = yaml.safe_load(text)
    if True in workflow:  # YAML 1.1 reads the key `on` as true
        workflow["on"] = workflow.pop(True)
    return workflow


def jobs() -> list[tuple[str, dict]]:
    return [
        (f"{name}: {job_id}", job)
        for name, text in workflow_files().items()
        for job_id, job in load(text)["jobs"].items()
    ]


def runs(job: dict) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def script_args(run: str) -> list[str] | None:
    """The arguments of `python create_instance.py ...` in a run line, else None."""
    words = shlex.split(run, comments=True)
    if words[:1] == ["exec"]:
        words = words[1:]
    if words[:2] != ["python", SCRIPT]:
        return None
    return words[2:]


def is_create(run: str) -> bool:
    args = script_args(run)
    return args is not None and not {"--sweep", "--delete", "--list"} & set(args)


def test_the_section_has_the_three_layers_as_workflows():
    files = workflow_files()
    assert len(yaml_blocks()) == 3
    assert set(files) == {"integration.yml", "integration-steps.yml", "aura-sweep.yml"}
    for name, text in files.items():
        workflow = load(text)
        assert {"name", "on", "jobs"} <= set(workflow), name
        assert workflow["permissions"] == {"contents": "read"}, name


def test_no_expression_inside_a_run_line():
    """${{ }} in a shell line expands API or user text into code: env: carries it."""
    for where, job in jobs():
        for run in runs(job):
            assert "${{" not in run, f"{where}: {run}"


def test_the_script_is_the_steps_own_process_when_it_creates():
    """GitHub signals the step's process, not its group: only `exec` lets the script hear it."""
    wrappers = 0
    for where, job in jobs():
        for run in runs(job):
            if is_create(run):
                assert run.startswith(f"exec python {SCRIPT}"), f"{where}: {run}"
                wrappers += " -- " in run
    assert wrappers >= 1, "no wrapper step `exec python create_instance.py ... -- COMMAND`"


def test_names_are_unique_per_run_attempt_and_matrix_job_and_short_enough():
    sweep_patterns = [
        args[args.index("--sweep") + 1]
        for _, job in jobs()
        for run in runs(job)
        if (args := script_args(run)) and "--sweep" in args and "--older-than" in args
    ]
    for where, job in jobs():
        if not any(is_create(run) for run in runs(job)):
            continue
        name = job["env"]["AURA_INSTANCE_NAME"]
        for part in ("github.run_id", "github.run_attempt", "strategy.job-index"):
            assert "${{ " + part + " }}" in name, f"{where}: {name}"
        for run in runs(job):
            assert "--name" not in run, f"{where}: the name comes from AURA_INSTANCE_NAME"
        # A run id has 11 digits today; allow 12, 2-digit attempts, 256 matrix jobs.
        longest = (
            name.replace("${{ github.run_id }}", "9" * 12)
            .replace("${{ github.run_attempt }}", "99")
            .replace("${{ strategy.job-index }}", "255")
        )
        assert len(longest) <= MAX_NAME, f"{where}: {longest!r} is longer than Aura allows"
        assert any(fnmatch.fnmatchcase(longest, pattern) for pattern in sweep_patterns), (
            f"{where}: the scheduled sweep {sweep_patterns} does not match {longest!r}"
        )


def test_python_is_set_up_before_pip_and_pytest_is_installed_where_used():
    for where, job in jobs():
        uses = [step.get("uses", "") for step in job["steps"]]
        setup = [i for i, action in enumerate(uses) if action.startswith("actions/setup-python@")]
        pips = [i for i, run in enumerate(runs(job)) if "pip install" in run]
        assert setup and pips and setup[0] < pips[0], f"{where}: setup-python before pip install"
        installed: set[str] = set()
        for run in runs(job):
            words = shlex.split(run, comments=True)
            if words[:2] == ["pip", "install"]:
                installed.update(words[2:])
            elif "pytest" in words:
                assert "pytest" in installed, f"{where}: {run!r} before pytest is installed"


def test_the_secrets_go_only_to_the_steps_that_run_the_script():
    for where, job in jobs():
        assert "secrets." not in json.dumps(job.get("env", {})), f"{where}: job-level secret"
        for step in job["steps"]:
            if "secrets." in json.dumps(step.get("env", {})):
                assert script_args(step.get("run", "")) is not None, f"{where}: {step}"


def test_every_job_that_creates_sweeps_its_own_name_whatever_happened():
    """(b): if: always(), the exact name, quoted, within GitHub's grace for a cancelled job."""
    for where, job in jobs():
        run_lines = runs(job)
        creates = [i for i, run in enumerate(run_lines) if is_create(run)]
        if not creates:
            continue
        sweeps = [
            i
            for i, step in enumerate(job["steps"])
            if "always()" in str(step.get("if", ""))
            and '--sweep "$AURA_INSTANCE_NAME"' in step.get("run", "")
        ]
        assert sweeps and sweeps[-1] > creates[-1], f"{where}: no always() sweep after the create"
        args = script_args(run_lines[sweeps[-1]])
        wait = float(args[args.index("--wait-timeout") + 1])
        assert 0 < wait <= CANCEL_GRACE_S - 30, f"{where}: --wait-timeout {wait} s"


def test_a_scheduled_workflow_sweeps_what_no_job_can_still_be_using():
    """(c): on a schedule, ci-* older than the longest job."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    found = []
    for name, text in workflow_files().items():
        workflow = load(text)
        if "schedule" not in workflow["on"]:
            continue
        assert all("cron" in entry for entry in workflow["on"]["schedule"]), name
        for job in workflow["jobs"].values():
            for run in runs(job):
                args = script_args(run)
                if args and "--sweep" in args:
                    pattern = args[args.index("--sweep") + 1]
                    age = args[args.index("--older-than") + 1]
                    found.append((pattern, int(age[:-1]) * units[age[-1]]))
    assert found, "no scheduled workflow runs --sweep"
    for pattern, age in found:
        assert re.match(r"[^*?\[]{3,}[*?\[]", pattern), pattern
        assert age > JOB_LIMIT_S, f"--older-than {age} s: a job may still use the instance"


def tool(name: str) -> str:
    """The tool from tests/requirements.txt: on PATH, or beside this interpreter (a venv)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip(f"{name} is not installed (pip install -r tests/requirements.txt installs it)")
    return found


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    directory = tmp_path / ".github" / "workflows"
    directory.mkdir(parents=True)
    for name, text in workflow_files().items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [tool("actionlint"), "-no-color", f"-shellcheck={tool('shellcheck')}"]
    return subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=60, check=False
    )


def zizmor(path: Path, persona: str = "regular") -> list[dict]:
    options = ["--offline", "--no-config", "--no-progress", "--color=never", "--format=json"]
    done = subprocess.run(
        [tool("zizmor"), *options, f"--persona={persona}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # 0: no finding; 10 and above: findings, by their highest severity; else zizmor failed.
    assert done.returncode == 0 or done.returncode >= 10, done.stderr
    return json.loads(done.stdout)


def test_actionlint_reports_nothing(workflow_dir: Path):
    done = actionlint(*sorted(workflow_dir.iterdir()))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_zizmor_reports_nothing(workflow_dir: Path):
    findings = zizmor(workflow_dir)
    assert [(f["ident"], f["locations"][0]["concrete"]["feature"]) for f in findings] == []
    # Not even the audits that accept false positives see a template injection.
    audited = zizmor(workflow_dir, persona="auditor")
    assert [f for f in audited if f["ident"] == "template-injection"] == []


OLD_EXAMPLE = """\
name: old
on: push
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - id: aura
        run: python create_instance.py --name "ci-${{ github.run_id }}" --wait --quiet
      - if: always() && steps.aura.outputs.instance_id
        run: python create_instance.py --delete ${{ steps.aura.outputs.instance_id }}
      - run: echo ${{ strategy.job-index }} $AURA_INSTANCE_NAM
"""


def test_the_checkers_do_see_what_the_readme_used_to_show(tmp_path: Path):
    """A control: the same checkers, on the README's old example, find its faults."""
    path = tmp_path / "old.yml"
    path.write_text(OLD_EXAMPLE, encoding="utf-8")
    assert "template-injection" in {f["ident"] for f in zizmor(path)}
    done = actionlint(path)
    assert done.returncode == 1 and "SC2086" in done.stdout, done.stdout + done.stderr
