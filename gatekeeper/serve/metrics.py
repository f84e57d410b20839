"""The service's Prometheus metrics, in a registry of its own.

prometheus_client provides the metric types and the text exposition (label escaping, histogram
buckets, `_created` series); the HTTP side is ours (`gatekeeper.serve.health`), on the
service's own asyncio loop. Label values are bounded: verdicts and reasons are the codes of
docs/rules.md, and a campaign name that the configuration does not know (reason
`unknown_campaign`) is reported as `unknown`, so a misbehaving dialplan cannot grow the series
without bound.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gatekeeper.agi import Refusal

CHECK_LATENCY_BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
UNKNOWN_CAMPAIGN_LABEL = "unknown"
STORAGE_GAUGES = {
    "gatekeeper_disk_free_bytes": "Free bytes on the data folder's filesystem.",
    "gatekeeper_disk_low": "Data folder's filesystem: 0 room enough, 1 under a warning limit, "
    "2 under the failing limit.",
    "gatekeeper_audit_wal_bytes": "Size of the decision log's WAL file.",
    "gatekeeper_audit_late_pending": "Decisions answered without a committed record, waiting "
    "to be recorded late.",
    "gatekeeper_audit_late_refused": "Late records refused since start (queue full or log "
    "closed); their content is in the service log.",
}
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """What the checker, the sync and the AMI watchdog report; `exposition()` renders it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._decisions = Counter(
            "gatekeeper_decisions",
            "Decisions taken, by verdict, reason and campaign.",
            ["verdict", "reason", "campaign"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "gatekeeper_check_seconds",
            "Time from a call request to its recorded decision.",
            buckets=CHECK_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._list_age = Gauge(
            "gatekeeper_list_age_days",
            "Age of the DNCM list snapshot in use, in days (-1: no list).",
            registry=self.registry,
        )
        self._list_age.set(-1)
        self._syncs = Counter(
            "gatekeeper_list_syncs",
            "List synchronisations, by result.",
            ["result"],
            registry=self.registry,
        )
        self._ami_connected = Gauge(
            "gatekeeper_ami_connected",
            "1 while the AMI link is logged in, else 0.",
            registry=self.registry,
        )
        self._bypasses = Counter(
            "gatekeeper_bypasses",
            "Calls found in a gated context without an ALLOW.",
            registry=self.registry,
        )
        self._watch_active = Gauge(
            "gatekeeper_ami_watch_active",
            "1 while this node's watchdog acts on bypasses (a primary, or a standby whose peer "
            "does not vouch), 0 while it stands by.",
            registry=self.registry,
        )
        self._watch_active.set(1)
        self._watch_switches = Counter(
            "gatekeeper_ami_watch_switches",
            "Switches of the watch's role, by the role switched to.",
            ["to"],
            registry=self.registry,
        )
        self._peer_vouching = Gauge(
            "gatekeeper_ami_peer_vouching",
            "Standby node: 1 while the peer's /healthz vouched for its watch at the last probe, "
            "0 when it did not, -1 when not probed (or no ami.standby_for).",
            registry=self.registry,
        )
        self._peer_vouching.set(-1)
        self._standby_findings = Counter(
            "gatekeeper_ami_standby_findings",
            "Bypass findings not acted on: while standing by (standby), or about a call in a "
            "gated context before this node took over (in_flight).",
            ["when"],
            registry=self.registry,
        )
        self._agi_refusals = Counter(
            "gatekeeper_agi_refusals",
            "FastAGI connections refused or ended before a check, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._acts_current = Gauge(
            "gatekeeper_acts_replica_current",
            "1 while the replica of the shared acts is within its bound, else 0 (calls block).",
            registry=self.registry,
        )
        self._acts_age = Gauge(
            "gatekeeper_acts_replica_age_seconds",
            "Seconds since the replica of the shared acts was last confirmed (-1: never).",
            registry=self.registry,
        )
        self._acts_age.set(-1)
        self._central_records = Gauge(
            "gatekeeper_central_log_lag_records",
            "Local decision log records not yet in the central copy.",
            registry=self.registry,
        )
        self._central_seconds = Gauge(
            "gatekeeper_central_log_lag_seconds",
            "Age of the oldest local record not yet in the central copy (0: none waiting).",
            registry=self.registry,
        )
        self._central_up = Gauge(
            "gatekeeper_central_log_shipping",
            "1 while the shipper reaches the central decision log, else 0.",
            registry=self.registry,
        )
        for result in ("ok", "failed"):
            self._syncs.labels(result=result)
        for role in ("active", "standby"):
            self._watch_switches.labels(to=role)
        for when in ("standby", "in_flight"):
            self._standby_findings.labels(when=when)
        for reason in Refusal:
            self._agi_refusals.labels(reason=reason.value)
        self._storage = {
            name: Gauge(name, text, registry=self.registry) for name, text in STORAGE_GAUGES.items()
        }

    def observe_decision(self, verdict: str, reason: str, campaign: str, seconds: float) -> None:
        """One decision and how long it took."""
        label = UNKNOWN_CAMPAIGN_LABEL if reason == "unknown_campaign" else campaign
        self._decisions.labels(verdict=verdict, reason=reason, campaign=label).inc()
        self._latency.observe(seconds)

    def set_list_age(self, days: float) -> None:
        """The age of the list in use (days since its list date)."""
        self._list_age.set(days)

    def count_sync(self, ok: bool, count: int = 1) -> None:
        """`count` more list synchronisations, successful or not."""
        self._syncs.labels(result="ok" if ok else "failed").inc(count)

    def set_ami_connected(self, connected: bool) -> None:
        """The AMI link went up or down."""
        self._ami_connected.set(1 if connected else 0)

    def count_bypass(self) -> None:
        """One call found past the gatekeeper."""
        self._bypasses.inc()

    def set_watch_active(self, active: bool) -> None:
        """Whether this node's watchdog acts on bypasses."""
        self._watch_active.set(1 if active else 0)

    def count_watch_switch(self, to: str) -> None:
        """One switch of the watch's role, to `to` (active or standby)."""
        self._watch_switches.labels(to=to).inc()

    def set_peer_vouching(self, vouching: bool | None) -> None:
        """Whether the peer vouched at the last probe (None: not probed, or no peer)."""
        self._peer_vouching.set(-1 if vouching is None else int(vouching))

    def count_standby_finding(self, when: str) -> None:
        """A bypass finding not acted on (`standby` or `in_flight`)."""
        self._standby_findings.labels(when=when).inc()

    def count_agi_refusal(self, reason: Refusal) -> None:
        """One FastAGI connection refused or ended before a check."""
        self._agi_refusals.labels(reason=reason.value).inc()

    def watch_storage(self, readings: dict[str, Callable[[], float]]) -> None:
        """Read the storage gauges (named as in STORAGE_GAUGES) from these callables at scrape."""
        for name, read in readings.items():
            self._storage[name].set_function(read)

    def set_acts_replica(self, *, current: bool, age_s: float | None) -> None:
        """The shared acts' replica: within its bound or not, and its age."""
        self._acts_current.set(1 if current else 0)
        self._acts_age.set(-1 if age_s is None else age_s)

    def set_central_log_lag(self, records: int, seconds: float, *, ok: bool) -> None:
        """How far the central decision log is behind this node's, and whether it ships."""
        self._central_records.set(records)
        self._central_seconds.set(seconds)
        self._central_up.set(1 if ok else 0)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
