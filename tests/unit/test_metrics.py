"""The Prometheus exposition of the service's metrics."""

from __future__ import annotations

from gatekeeper.agi.peers import Refusal
from gatekeeper.serve.metrics import Metrics
from prometheus_client.parser import text_string_to_metric_families


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_decisions_are_counted_by_verdict_reason_and_campaign() -> None:
    """Each decision adds one to its (verdict, reason, campaign) series."""
    metrics = Metrics()
    metrics.observe_decision("allow", "not_listed", "spring", 0.0004)
    metrics.observe_decision("allow", "not_listed", "spring", 0.0006)
    metrics.observe_decision("block", "listed", "spring", 0.0005)
    samples = _samples(metrics)
    key = (("campaign", "spring"), ("reason", "not_listed"), ("verdict", "allow"))
    blocked = (("campaign", "spring"), ("reason", "listed"), ("verdict", "block"))
    assert (
        samples[("gatekeeper_decisions_total", key)],
        samples[("gatekeeper_decisions_total", blocked)],
    ) == (2.0, 1.0)


def test_unknown_campaign_names_share_one_label() -> None:
    """Campaign names the config does not know cannot grow the series without bound."""
    metrics = Metrics()
    for name in ("x1", "x2", "x3"):
        metrics.observe_decision("block", "unknown_campaign", name, 0.001)
    key = (("campaign", "unknown"), ("reason", "unknown_campaign"), ("verdict", "block"))
    assert _samples(metrics)[("gatekeeper_decisions_total", key)] == 3.0


def test_check_latency_lands_in_its_histogram_bucket() -> None:
    """A 0.4 ms check is counted in the 0.5 ms bucket and not in the 0.25 ms one."""
    metrics = Metrics()
    metrics.observe_decision("allow", "not_listed", "spring", 0.0004)
    samples = _samples(metrics)
    below = samples[("gatekeeper_check_seconds_bucket", (("le", "0.00025"),))]
    within = samples[("gatekeeper_check_seconds_bucket", (("le", "0.0005"),))]
    assert (below, within) == (0.0, 1.0)


def test_gauges_and_counters_report_what_they_were_told() -> None:
    """List age, sync results, AMI state and bypasses appear as set."""
    metrics = Metrics()
    metrics.set_list_age(1.5)
    metrics.count_sync(ok=True)
    metrics.count_sync(ok=False)
    metrics.count_sync(ok=False)
    metrics.set_ami_connected(True)
    metrics.count_bypass()
    samples = _samples(metrics)
    assert (
        samples[("gatekeeper_list_age_days", ())],
        samples[("gatekeeper_list_syncs_total", (("result", "ok"),))],
        samples[("gatekeeper_list_syncs_total", (("result", "failed"),))],
        samples[("gatekeeper_ami_connected", ())],
        samples[("gatekeeper_bypasses_total", ())],
    ) == (1.5, 1.0, 2.0, 1.0, 1.0)


def test_a_fresh_registry_says_no_list_and_no_ami() -> None:
    """Before anything is reported the list age is -1 and AMI is down."""
    samples = _samples(Metrics())
    assert (
        samples[("gatekeeper_list_age_days", ())],
        samples[("gatekeeper_ami_connected", ())],
    ) == (
        -1.0,
        0.0,
    )


def test_agi_refusals_are_counted_by_reason_from_zero() -> None:
    """Every refusal reason has a series from the start; a refusal adds one to its own."""
    metrics = Metrics()
    metrics.count_agi_refusal(Refusal.PEER_CAP)
    samples = _samples(metrics)
    counted = {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "gatekeeper_agi_refusals_total"
    }
    assert counted == {reason.value: float(reason is Refusal.PEER_CAP) for reason in Refusal}


def test_shared_stores_report_currency_and_lag() -> None:
    """The acts replica's currency and age, and the central log's lag, are exposed."""
    metrics = Metrics()
    assert _samples(metrics)[("gatekeeper_acts_replica_age_seconds", ())] == -1
    metrics.set_acts_replica(current=False, age_s=2.5)
    metrics.set_central_log_lag(42, 3.0, ok=False)
    samples = _samples(metrics)
    assert (
        samples[("gatekeeper_acts_replica_current", ())],
        samples[("gatekeeper_acts_replica_age_seconds", ())],
        samples[("gatekeeper_central_log_lag_records", ())],
        samples[("gatekeeper_central_log_lag_seconds", ())],
        samples[("gatekeeper_central_log_shipping", ())],
    ) == (0, 2.5, 42, 3.0, 0)


def test_watch_metrics_start_active_and_unprobed() -> None:
    """A node acts until a peer vouches: watch active 1, peer vouching -1, nothing counted yet."""
    samples = _samples(Metrics())
    assert (
        samples[("gatekeeper_ami_watch_active", ())],
        samples[("gatekeeper_ami_peer_vouching", ())],
        samples[("gatekeeper_ami_standby_findings_total", (("when", "standby"),))],
        samples[("gatekeeper_ami_watch_switches_total", (("to", "standby"),))],
    ) == (1.0, -1.0, 0.0, 0.0)
