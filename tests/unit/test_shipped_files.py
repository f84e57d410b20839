"""The files shipped for admins (Asterisk snippets, systemd units) agree with each other."""

from __future__ import annotations

import re

import yaml
from gatekeeper.ami.watchdog import event_filters
from tools.asterisk_sandbox import REPO, SNIPPETS


def test_shipped_event_filter_matches_the_shipped_gated_contexts() -> None:
    """The manager user's eventfilter lines are the watchdog's rules for the shipped config."""
    text = (SNIPPETS / "manager-gatekeeper.conf").read_text(encoding="utf-8")
    lines = tuple(re.findall(r"^(eventfilter\b.*)$", text, flags=re.MULTILINE))
    config = yaml.safe_load((REPO / "config" / "gatekeeper.yaml").read_text(encoding="utf-8"))
    assert lines == event_filters(config["ami"]["gated_contexts"])


def test_shipped_event_filter_uses_name_filters_not_whole_event_regexes() -> None:
    """Every eventfilter line is an Asterisk 22 name filter, never a regex over the whole event."""
    text = (SNIPPETS / "manager-gatekeeper.conf").read_text(encoding="utf-8")
    lines = re.findall(r"^eventfilter\b.*$", text, flags=re.MULTILINE)
    assert lines
    assert [line for line in lines if not line.startswith("eventfilter(name(")] == []
