"""`gatekeeper doctor` reads a real Asterisk's dialplan: unguarded routes and unknown campaigns."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools.asterisk_sandbox import DEFAULT_ROOT, READY_MARK, AsteriskSandbox, free_port
from tools.gatekeeper_run import gatekeeper, write_run_config

from dialler_support import DIALLER_MODULES, DIALPLANS, INTEGRATIONS, dialplan

pytestmark = pytest.mark.asterisk

GATED = ["gatekeeper-example-trunk", "gk-fpbx-trunk-down", "gk-fpbx-trunk-up", "gk-carrier"]
GUARDED = dialplan(
    INTEGRATIONS / "freepbx17-predial-hook.conf",
    DIALPLANS / "freepbx17.conf",
    DIALPLANS / "vicidial.conf",
    INTEGRATIONS / "vicidial-carrier-dialplan.conf",
    replace={"gatekeeper-carrier-CARRIER": "gk-carrier"},
)
PLANTED = """
[from-internal-shortcut]
exten => _0X.,1,NoOp(a route someone added by hand)
 same => n,Dial(Local/${EXTEN}@gk-fpbx-trunk-up,30)

[outrt-summer]
exten => _7X.,1,Gosub(gatekeeper-check,s,1(${EXTEN},summer-sale))
 same => n,GotoIf($["${GK_DECISION}" != "ALLOW"]?refused)
 same => n,Dial(Local/${EXTEN:1}@gk-carrier)
 same => n(refused),Hangup(21)
"""


def _sandbox(name: str, extra_dialplan: str) -> Iterator[AsteriskSandbox]:
    if not (DEFAULT_ROOT / READY_MARK).exists():
        pytest.fail("the Asterisk sandbox is not installed: run `make asterisk`")
    with AsteriskSandbox(
        agi_port=free_port(),
        name=f"gk{os.getpid()}{name}",
        extra_dialplan=extra_dialplan,
        extra_modules=DIALLER_MODULES,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def guarded() -> Iterator[AsteriskSandbox]:
    """Asterisk with FreePBX's and VICIdial's paths, every route checked."""
    yield from _sandbox("guarded", GUARDED)


@pytest.fixture(scope="module")
def planted() -> Iterator[AsteriskSandbox]:
    """The same, plus a hand-made route straight to a trunk and an unknown campaign."""
    yield from _sandbox("planted", GUARDED + PLANTED)


def _doctor(
    tmp_path: Path, sandbox: AsteriskSandbox, *, admin: bool = True
) -> subprocess.CompletedProcess[str]:
    def customise(config: dict[str, Any]) -> None:
        config["ami"]["gated_contexts"] = GATED
        campaigns = config["campaigns"]
        campaigns["spring-promo"]["aliases"] = [
            "route:Outbound-Promo",
            "route:Internal-Misc",
            "route:Prefixed-Promo",
        ]

    path = write_run_config(
        tmp_path,
        agi_port=sandbox.agi_port,
        ami_port=sandbox.ami_port,
        ami_secret=sandbox.service_secret,
        ami_username=sandbox.service_username,
        customise=customise,
    )
    if not admin:
        return gatekeeper(path, "doctor", check=False)
    secret = tmp_path / "admin.secret"
    secret.write_text(sandbox.ami_secret + "\n", encoding="utf-8")
    return gatekeeper(
        path,
        "doctor",
        "--ami-user",
        sandbox.ami_username,
        "--ami-secret-file",
        str(secret),
        check=False,
    )


def test_guarded_dialplan_has_nothing_to_report(tmp_path: Path, guarded: AsteriskSandbox) -> None:
    """FreePBX's and VICIdial's paths with the shipped snippets: exit 0, no problem line."""
    done = _doctor(tmp_path, guarded)
    assert (done.returncode, done.stdout.startswith("doctor: "), done.stdout.count("\n")) == (
        0,
        True,
        1,
    )


def test_route_straight_to_a_trunk_is_reported(tmp_path: Path, planted: AsteriskSandbox) -> None:
    """A route that dials a gated trunk context without gatekeeper-check is named, exit 1."""
    done = _doctor(tmp_path, planted)
    unguarded = [line for line in done.stdout.splitlines() if line.startswith("unguarded:")]
    assert done.returncode == 1
    assert unguarded == [
        (
            "unguarded: from-internal-shortcut,_0X.,2 Dial(Local/${EXTEN}@gk-fpbx-trunk-up,30) "
            "reaches gated context 'gk-fpbx-trunk-up' without calling gatekeeper-check first"
        )
    ]


def test_campaign_the_config_does_not_know_is_reported(
    tmp_path: Path, planted: AsteriskSandbox
) -> None:
    """A literal campaign in a gatekeeper-check call that the config does not know is named."""
    done = _doctor(tmp_path, planted)
    unknown = [line for line in done.stdout.splitlines() if line.startswith("unknown_campaign:")]
    assert len(unknown) == 1
    assert "outrt-summer,_7X.,1" in unknown[0]
    assert "'summer-sale'" in unknown[0]


def test_service_user_lacks_the_right_and_is_told(tmp_path: Path, guarded: AsteriskSandbox) -> None:
    """The shipped AMI user may not run ShowDialPlan: the doctor names the right, exit 1."""
    done = _doctor(tmp_path, guarded, admin=False)
    assert done.returncode == 1
    assert "needs the write right 'reporting'" in done.stderr
