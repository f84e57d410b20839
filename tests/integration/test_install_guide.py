"""The install guide (docs/operations.md) agrees with the shipped files, and its steps run."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import yaml
from tools.asterisk_sandbox import REPO
from tools.constraints import pinned, render, runtime_requirements

GUIDE = REPO / "docs" / "operations.md"
SYSTEMD = REPO / "systemd"
SKIPPED = (
    *("adduser", "apt-get", "python3 -m venv", "/opt/", "ln ", "asterisk ", "systemctl"),
    *("chown", "runuser", "gatekeeper", "for ", "done"),
)
"""Commands that need the real host (users, packages, Asterisk, systemd): not run here."""


def _install_section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text[text.index("## Install") : text.index("## Health and metrics")]


def _blocks(language: str) -> dict[int, list[str]]:
    """The guide's fenced blocks of one language, by install step number."""
    blocks: dict[int, list[str]] = {}
    step = 0
    lines = iter(_install_section().splitlines())
    for line in lines:
        numbered = re.match(r"^(\d+)\. \*\*", line)
        if numbered:
            step = int(numbered.group(1))
        if line.strip() == f"```{language}":
            body = []
            for inner in lines:
                if inner.strip() == "```":
                    break
                body.append(inner[3:])
            blocks.setdefault(step, []).append("\n".join(body))
    return blocks


def _commands() -> list[str]:
    """Every shell command of the guide, continuation lines joined."""
    joined = "\n".join(b for blocks in _blocks("sh").values() for b in blocks)
    return [c.strip() for c in joined.replace("\\\n", " ").splitlines() if c.strip()]


def test_umask_changes_stay_in_a_subshell() -> None:
    """No step changes the shell's umask for the steps after it."""
    loose = [c for c in _commands() if "umask" in c and not c.startswith("(")]
    assert loose == []


def test_files_are_placed_with_install() -> None:
    """No cp or mv: every file gets its owner and mode from `install -o -g -m`."""
    copies = [c for c in _commands() if re.match(r"^(cp|mv)\b", c)]
    installs = [c for c in _commands() if c.startswith("install ") or "| install " in c]
    assert (copies, all(" -m " in c for c in installs)) == ([], True)


def test_guide_config_agrees_with_the_shipped_config() -> None:
    """The guide's gated_contexts and agi.listen are the shipped config's."""
    [guide_yaml] = [b for blocks in _blocks("yaml").values() for b in blocks]
    guide = yaml.safe_load(guide_yaml)
    shipped = yaml.safe_load((REPO / "config" / "gatekeeper.yaml").read_text(encoding="utf-8"))
    assert (guide["ami"]["gated_contexts"], guide["agi"]["listen"]) == (
        shipped["ami"]["gated_contexts"],
        shipped["agi"]["listen"],
    )


def test_guide_sets_gatekeeper_agi_to_agi_listen() -> None:
    """The guide tells the admin to set GATEKEEPER_AGI, to the shipped agi.listen."""
    shipped = yaml.safe_load((REPO / "config" / "gatekeeper.yaml").read_text(encoding="utf-8"))
    assert f"`GATEKEEPER_AGI = {shipped['agi']['listen']}`" in _install_section()


def test_state_folder_mode_agrees_with_the_units() -> None:
    """The guide's /var/lib/gatekeeper mode is each unit's StateDirectoryMode."""
    [created] = [c for c in _commands() if c.startswith("install -d") and "/var/lib/" in c]
    guide_mode = re.search(r"-m (\d+)", created)
    units = {
        unit.name: re.findall(r"^StateDirectoryMode=(\d+)$", unit.read_text(), re.MULTILINE)
        for unit in SYSTEMD.glob("*.service")
    }
    assert guide_mode is not None
    assert units == {name: [guide_mode.group(1)] for name in units}


def test_one_scheduled_import() -> None:
    """The service owns the daily import: no timer is shipped, wanted or enabled."""
    service = (SYSTEMD / "gatekeeper.service").read_text(encoding="utf-8")
    timers = list(SYSTEMD.glob("*.timer"))
    assert ("timer" in service, timers, "timer" in " ".join(_commands())) == (False, [], False)


def test_production_install_is_pinned_without_test_packages() -> None:
    """Production installs use constraints.txt: the tested runtime set, no pyroute2."""
    pip = [c for c in _commands() if "pip install" in c]
    constraints = (REPO / "constraints.txt").read_text(encoding="utf-8")
    assert (pip and all("-c constraints.txt" in c for c in pip), "pyroute2" in constraints) == (
        True,
        False,
    )
    assert constraints == render(pinned(runtime_requirements()))


def test_service_code_never_imports_pyroute2() -> None:
    """pyroute2 is a test dependency: nothing under gatekeeper/ imports it."""
    importers = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "gatekeeper").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else node.module or "").startswith(
                "pyroute2"
            )
            for alias in node.names
        )
    ]
    assert importers == []


def _scratch_script(root: Path, steps: range) -> str:
    """The guide's file steps, with absolute paths moved under `root` and owners dropped."""
    lines = ["set -eu"]
    for step in steps:
        for block in _blocks("sh").get(step, []):
            for command in block.replace("\\\n", " ").splitlines():
                word = command.strip()
                if not word or word.startswith(SKIPPED):
                    continue
                unowned = re.sub(r"-o \S+ -g \S+ ", "", command)
                lines.append(re.sub(r"(?<![\w.])/(etc|var)/", f"{root}/\\1/", unowned))
            lines.append(f"umask > {root}/umask-after-step-{step}")
    return "\n".join(lines) + "\n"


def test_guide_file_steps_run_and_leave_the_umask_alone(tmp_path: Path) -> None:
    """Steps 1 to 5, run in a scratch root: secret installed into the AMI user, modes as said."""
    root = tmp_path / "root"
    (root / "etc" / "asterisk" / "manager.d").mkdir(parents=True)
    script = _scratch_script(root, range(1, 6))
    done = subprocess.run(
        ["bash", "-c", f"umask 022\n{script}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    secret = (root / "etc/gatekeeper/ami.secret").read_text(encoding="utf-8").strip()
    manager = (root / "etc/asterisk/manager.d/gatekeeper.conf").read_text(encoding="utf-8")
    modes = {
        name: f"{(root / name).stat().st_mode & 0o777:04o}"
        for name in (
            "etc/gatekeeper",
            "var/lib/gatekeeper",
            "etc/gatekeeper/gatekeeper.yaml",
            "etc/gatekeeper/ami.secret",
            "etc/asterisk/gatekeeper.conf",
            "etc/asterisk/manager.d/gatekeeper.conf",
        )
    }
    umasks = {(root / f"umask-after-step-{n}").read_text().strip() for n in range(1, 6)}
    assert (f"secret = {secret}\n" in manager, len(secret), umasks) == (True, 48, {"0022"})
    assert modes == {
        "etc/gatekeeper": "0750",
        "var/lib/gatekeeper": "0700",
        "etc/gatekeeper/gatekeeper.yaml": "0640",
        "etc/gatekeeper/ami.secret": "0640",
        "etc/asterisk/gatekeeper.conf": "0640",
        "etc/asterisk/manager.d/gatekeeper.conf": "0640",
    }
