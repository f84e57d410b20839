"""Dialler campaign ids: aliases and the default campaign in the config, resolved in one place."""

from __future__ import annotations

from pathlib import Path

import pytest
from gatekeeper.check.campaign_ids import Resolved, resolve
from gatekeeper.common.errors import ConfigError
from gatekeeper.config import load_settings

BASE = """\
licensee: {name: Example Contact NV, role: service_provider, licence_valid_until: 2027-06-30}
data_dir: data
advertisers:
  acme: {name: ACME Energy BV}
"""
CAMPAIGNS = """\
campaigns:
  spring-promo:
    purpose: commercial
    advertiser: acme
    strip_prefix: "9"
    aliases: [VICI123, "route:Outbound-Promo"]
  delivery-notice:
    purpose: informational
    advertiser: acme
    aliases: ["route:Deliveries"]
"""


def test_alias_resolves_to_its_campaign(tmp_path: Path) -> None:
    """A listed dialler id answers for its campaign, with the campaign's own prefix rule."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS))
    resolved = resolve(settings, "VICI123")
    assert (resolved.name, resolved.via, resolved.campaign and resolved.campaign.strip_prefix) == (
        "spring-promo",
        "alias",
        "9",
    )


def test_route_name_alias_keeps_its_colon_and_case(tmp_path: Path) -> None:
    """`route:Outbound-Promo` is matched exactly; another case is not the same id."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS))
    assert [
        resolve(settings, i).name for i in ("route:Outbound-Promo", "route:outbound-promo")
    ] == [
        "spring-promo",
        "route:outbound-promo",
    ]


def test_configured_name_resolves_to_itself(tmp_path: Path) -> None:
    """A campaign's own name still names it."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS))
    assert (resolve(settings, "delivery-notice").via, resolve(settings, "spring-promo").via) == (
        "name",
        "name",
    )


def test_no_campaign_takes_the_default(tmp_path: Path) -> None:
    """A call that names no campaign is the default campaign's, when one is configured."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS + "default_campaign: delivery-notice\n"))
    resolved = resolve(settings, "")
    assert (resolved.name, resolved.via, resolved.dialler_id) == ("delivery-notice", "default", "")


def test_no_campaign_without_default_is_unknown(tmp_path: Path) -> None:
    """Without default_campaign, a call that names no campaign resolves to nothing."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS))
    resolved = resolve(settings, "")
    assert (resolved.campaign, resolved.via) == (None, "unknown")


def test_unknown_id_never_takes_the_default(tmp_path: Path) -> None:
    """An id the config does not know is unknown even with a default: a typo is not consent."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS + "default_campaign: delivery-notice\n"))
    assert (resolve(settings, "VICI999").campaign, resolve(settings, "VICI999").via) == (
        None,
        "unknown",
    )


@pytest.mark.parametrize(
    ("dialler_id", "name", "via"),
    [
        ("spring-promo", "spring-promo", "name"),
        ("VICI123", "spring-promo", "alias"),
        ("", "delivery-notice", "default"),
    ],
)
def test_resolved_id_carries_its_configured_campaign(
    tmp_path: Path, dialler_id: str, name: str, via: str
) -> None:
    """Each way of resolving keeps the dialler's id and hands back the configured campaign."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS + "default_campaign: delivery-notice\n"))
    assert resolve(settings, dialler_id) == Resolved(
        dialler_id, name, settings.campaigns[name], via
    )


def test_unknown_id_is_named_by_itself(tmp_path: Path) -> None:
    """An unknown id keeps its own text as the name, so the refusal names what was sent."""
    settings = load_settings(_write(tmp_path, CAMPAIGNS))
    assert resolve(settings, "VICI999") == Resolved("VICI999", "VICI999", None, "unknown")


def test_alias_given_to_two_campaigns_names_both_keys(tmp_path: Path) -> None:
    """One dialler id under two campaigns is refused, naming both dotted keys."""
    text = CAMPAIGNS.replace('aliases: ["route:Deliveries"]', "aliases: [VICI123]")
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, text))
    message = str(raised.value)
    assert "campaigns.delivery-notice.aliases" in message
    assert "campaigns.spring-promo.aliases" in message
    assert ":14:" in message


def test_alias_equal_to_another_campaigns_name_names_both(tmp_path: Path) -> None:
    """An alias that is another campaign's name would send that name to two campaigns."""
    text = CAMPAIGNS.replace('aliases: ["route:Deliveries"]', "aliases: [spring-promo]")
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, text))
    assert "campaigns.delivery-notice.aliases" in str(raised.value)
    assert "already campaigns.spring-promo:" in str(raised.value)


def test_alias_with_a_comma_is_refused(tmp_path: Path) -> None:
    """A comma would split the Gosub arguments: such an id can never arrive, so it is an error."""
    text = CAMPAIGNS.replace('"route:Deliveries"', '"a,b"')
    with pytest.raises(ConfigError, match=r"campaigns\.delivery-notice\.aliases: .*comma"):
        load_settings(_write(tmp_path, text))


def test_default_campaign_must_be_configured(tmp_path: Path) -> None:
    """default_campaign naming no configured campaign is an error at its line."""
    with pytest.raises(ConfigError, match=r":15: default_campaign: unknown campaign 'nope'"):
        load_settings(_write(tmp_path, CAMPAIGNS + "default_campaign: nope\n"))


def _write(tmp_path: Path, campaigns: str) -> Path:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(BASE + campaigns, encoding="utf-8")
    return path
