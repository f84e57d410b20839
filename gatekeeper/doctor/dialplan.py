"""`gatekeeper doctor`: the live dialplan, read over AMI, checked for unguarded routes.

Theory of operation: one AMI session asks Asterisk for its whole dialplan (`ShowDialPlan`, a
list of one event per priority and per include, at most `MAX_DIALPLAN_LINES`). The analysis is
pure. A context *checks* when one of its priorities runs `gatekeeper-check` (Gosub, GosubIf,
Macro) or runs another context that checks, to any depth (FreePBX's trunk macro runs the
predial hook, which runs `gatekeeper-check`). A priority *reaches* a gated context when it
dials a Local channel into it (`Local/…@gated`), jumps or calls into it (Goto, GotoIf, Gosub,
GosubIf, Macro), or when its context includes it. Such a priority is guarded when an earlier
priority of the same extension checks; anything else is reported. Jumps between extensions and
trunks named through variables (FreePBX's `OUT_n` globals) cannot be followed statically: the
AMI watchdog covers those at run time, and for FreePBX the doctor requires instead that its
trunk macro's predial hook checks. Campaigns written literally in the dialplan (a
`gatekeeper-check` argument, a `GK_CAMPAIGN` or `ROUTENAME` value when the hook passes
`route:${ROUTENAME}`) are resolved as the checker resolves them; the unknown ones are reported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.ami import AmiClient, AmiEvent, read_secret
from gatekeeper.check import resolve
from gatekeeper.common import AmiError
from gatekeeper.config import Settings

SUBROUTINE = "gatekeeper-check"
MAX_DIALPLAN_LINES = 500_000
AMI_TIMEOUT_S = 10.0
FREEPBX_TRUNK_MACRO = "macro-dialout-trunk"
FREEPBX_HOOK = "macro-dialout-trunk-predial-hook"
SHOW_DIALPLAN_RIGHT = "reporting"
"""The AMI write class ShowDialPlan needs (or `config`); the shipped service user has neither."""
_CALLS = frozenset({"gosub", "gosubif", "macro"})
_JUMPS = frozenset({"goto", "gotoif", "gotoiftime"})
_LOCAL_INTO = re.compile(r"Local/[^@,&]*@([A-Za-z0-9_.+-]+)", re.IGNORECASE)
_CAMPAIGN_SET = re.compile(r"^_{0,2}(GK_CAMPAIGN|ROUTENAME)=(.*)$")
_ROUTE_CAMPAIGN = "route:${ROUTENAME}"


@dataclass(frozen=True, slots=True)
class Step:
    """One priority of the dialplan."""

    context: str
    exten: str
    priority: int
    app: str
    data: str

    @property
    def place(self) -> str:
        """Where it is, as `dialplan show` would name it."""
        return f"{self.context},{self.exten},{self.priority}"


@dataclass(frozen=True, slots=True)
class Dialplan:
    """The priorities and the includes of a dialplan."""

    steps: tuple[Step, ...]
    includes: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the doctor found."""

    kind: str
    """`unguarded`, `unknown_campaign` or `setup`."""
    detail: str


def parse(events: Iterable[AmiEvent]) -> Dialplan:
    """The dialplan from ShowDialPlan's `ListDialplan` events."""
    steps: list[Step] = []
    includes: dict[str, list[str]] = defaultdict(list)
    for event in events:
        context = event.get("Context")
        if event.get("IncludeContext"):
            includes[context].append(event.get("IncludeContext"))
            continue
        priority = event.get("Priority")
        if not priority.isdigit():
            continue
        steps.append(
            Step(
                context,
                event.get("Extension"),
                int(priority),
                event.get("Application"),
                event.get("AppData"),
            )
        )
    return Dialplan(tuple(steps), {k: tuple(v) for k, v in includes.items()})


def _targets(step: Step) -> Iterator[str]:
    """The contexts a priority runs, jumps into or dials into."""
    app = step.app.lower()
    yield from _LOCAL_INTO.findall(step.data)
    if app in _CALLS or app in _JUMPS:
        body = step.data.split("?", 1)[1] if app.endswith("if") and "?" in step.data else step.data
        for branch in body.split(":"):
            target = branch.split("(", 1)[0].split(",")
            if app == "macro" and target[0]:
                yield f"macro-{target[0].strip()}"
            elif len(target) == 3:
                yield target[0].strip()


def checking_contexts(plan: Dialplan) -> frozenset[str]:
    """Contexts that run gatekeeper-check, directly or through contexts they call."""
    calls: dict[str, set[str]] = defaultdict(set)
    for step in plan.steps:
        if step.app.lower() in _CALLS:
            calls[step.context].update(_targets(step))
    checking = {SUBROUTINE}
    changed = True
    while changed:
        changed = False
        for context, callees in calls.items():
            if context not in checking and callees & checking:
                checking.add(context)
                changed = True
    return frozenset(checking)


def unguarded(plan: Dialplan, gated: Iterable[str]) -> list[Problem]:
    """Every priority and include that reaches a gated context without a check before it."""
    gated_set = frozenset(gated)
    checking = checking_contexts(plan)
    exempt = gated_set | {SUBROUTINE}
    problems: list[Problem] = []
    by_extension: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for step in plan.steps:
        by_extension[(step.context, step.exten)].append(step)
    for (context, _), steps in by_extension.items():
        if context in exempt:
            continue
        checked = False
        for step in sorted(steps, key=lambda s: s.priority):
            targets = set(_targets(step))
            reached = sorted(targets & gated_set)
            if reached and not checked:
                problems.append(
                    Problem(
                        "unguarded",
                        f"{step.place} {step.app}({step.data}) reaches gated context "
                        f"{reached[0]!r} without calling {SUBROUTINE} first",
                    )
                )
            if step.app.lower() in _CALLS and targets & checking:
                checked = True
    for context, included in plan.includes.items():
        if context in exempt:
            continue
        problems.extend(
            Problem(
                "unguarded",
                f"context {context!r} includes gated context {name!r}: its extensions are "
                f"dialled without {SUBROUTINE}",
            )
            for name in included
            if name in gated_set
        )
    return problems


def _literal_campaigns(plan: Dialplan) -> Iterator[tuple[str, Step]]:
    route_hook = any(_ROUTE_CAMPAIGN in step.data for step in plan.steps)
    for step in plan.steps:
        app = step.app.lower()
        if app in {"gosub", "gosubif"} and f"{SUBROUTINE}," in step.data:
            arguments = step.data.split("(", 1)[1].rsplit(")", 1)[0] if "(" in step.data else ""
            words = arguments.split(",")
            if len(words) == 2 and "$" not in words[1]:
                yield words[1].strip(), step
        elif app == "set":
            found = _CAMPAIGN_SET.match(step.data)
            if found is None or "$" in found.group(2) or not found.group(2):
                continue
            if found.group(1) == "GK_CAMPAIGN":
                yield found.group(2), step
            elif route_hook:
                yield f"route:{found.group(2)}", step


def unknown_campaigns(plan: Dialplan, settings: Settings) -> list[Problem]:
    """Campaigns named literally in the dialplan that the configuration does not resolve."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for campaign, step in _literal_campaigns(plan):
        if campaign in seen or resolve(settings, campaign).campaign is not None:
            continue
        seen.add(campaign)
        problems.append(
            Problem(
                "unknown_campaign",
                f"{step.place} {step.app}({step.data}) names campaign {campaign!r}, which the "
                "configuration does not know: add it, or list it under a campaign's aliases "
                "(every such call is refused with unknown_campaign)",
            )
        )
    return problems


def examine(plan: Dialplan, settings: Settings) -> list[Problem]:
    """Everything the doctor reports for this dialplan under these settings."""
    problems: list[Problem] = []
    if not settings.ami.gated_contexts:
        problems.append(
            Problem("setup", "ami.gated_contexts is empty: no trunk context is guarded")
        )
    contexts = {step.context for step in plan.steps}
    if SUBROUTINE not in contexts:
        problems.append(Problem("setup", f"the {SUBROUTINE} subroutine is not in the dialplan"))
    problems.extend(
        Problem("setup", f"ami.gated_contexts: context {name!r} is not in the dialplan")
        for name in settings.ami.gated_contexts
        if name not in contexts
    )
    problems.extend(freepbx_hook(plan))
    problems.extend(unguarded(plan, settings.ami.gated_contexts))
    problems.extend(unknown_campaigns(plan, settings))
    return problems


def freepbx_hook(plan: Dialplan) -> list[Problem]:
    """FreePBX dials its trunks through variables: its predial hook must be the one checking."""
    contexts = {step.context for step in plan.steps}
    if FREEPBX_TRUNK_MACRO not in contexts or FREEPBX_HOOK in checking_contexts(plan):
        return []
    return [
        Problem(
            "unguarded",
            f"FreePBX's {FREEPBX_TRUNK_MACRO} dials every trunk, and its {FREEPBX_HOOK} does not "
            f"call {SUBROUTINE}: paste asterisk/integrations/freepbx17-predial-hook.conf "
            "(docs/integrations/freepbx.md)",
        )
    ]


async def fetch(settings: Settings, username: str, secret: str) -> Dialplan:
    """The live dialplan over AMI; AmiError names the missing right when it is refused."""
    ami = settings.ami
    client = await AmiClient.connect(ami.host, ami.port, username, secret, timeout=AMI_TIMEOUT_S)
    try:
        events = await client.list_action(
            {"Action": "ShowDialPlan"}, complete="ShowDialPlanComplete", limit=MAX_DIALPLAN_LINES
        )
    except AmiError as err:
        if "ermission denied" in str(err):
            raise AmiError(
                f"AMI user {username!r} may not run ShowDialPlan: it needs the write right "
                f"{SHOW_DIALPLAN_RIGHT!r} (or config), which the service's own user does not "
                "have and should not get; run the doctor with an administrator's AMI user "
                "(--ami-user NAME --ami-secret-file FILE)"
            ) from None
        raise
    finally:
        await client.close()
    return parse(events)


def secret_of(settings: Settings, secret_file: str | None) -> str:
    """The AMI secret: from `secret_file` when given, else from ami.secret_file."""
    return read_secret(Path(secret_file) if secret_file else settings.ami.secret_file)
