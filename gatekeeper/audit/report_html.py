"""The period report as one self-contained HTML page: inline CSS and SVG, no external resource.

Labels are bilingual (Dutch / French, with English in small type) because inspectors and
compliance officers may read either language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from gatekeeper.audit.bypass_view import bypass_sentence, is_told
from gatekeeper.audit.event_view import outcome_text
from gatekeeper.audit.export import evidence_text
from gatekeeper.audit.period import local_text
from gatekeeper.audit.report_data import DayFigures, ReportData, sync_succeeded
from gatekeeper.audit.store import EventRow
from gatekeeper.common import BRUSSELS

CHART_WIDTH = 1000
CHART_HEIGHT = 260
CHART_MARGIN = 40
ALLOW_COLOUR = "#2e7d32"
BLOCK_COLOUR = "#c62828"

LABELS: dict[str, tuple[str, str, str]] = {
    "title": ("Beslissingsrapport", "Rapport des décisions", "Decision report"),
    "period": ("Periode", "Période", "Period"),
    "generated": ("Opgemaakt op", "Établi le", "Generated"),
    "totals": ("Totalen", "Totaux", "Totals"),
    "decisions": ("Beslissingen", "Décisions", "Decisions"),
    "allow": ("Toegestaan", "Autorisé", "Allowed"),
    "block": ("Geblokkeerd", "Bloqué", "Blocked"),
    "campaign": ("Campagne", "Campagne", "Campaign"),
    "reason": ("Reden", "Motif", "Reason"),
    "verdict": ("Beslissing", "Décision", "Verdict"),
    "count": ("Aantal", "Nombre", "Count"),
    "per_day": ("Beslissingen per dag", "Décisions par jour", "Decisions per day"),
    "freshness": ("Actualiteit van de lijst", "Fraîcheur de la liste", "List freshness"),
    "day": ("Dag", "Jour", "Day"),
    "lists_used": ("Gebruikte lijst(en)", "Liste(s) utilisée(s)", "List(s) used"),
    "age": ("Ouderdom (dagen)", "Âge (jours)", "Age (days)"),
    "age_in_force": ("Ouderdom laatste lijst", "Âge dernière liste", "Newest list age"),
    "max_age": ("Maximale ouderdom", "Âge maximal", "Maximum age"),
    "in_force": (
        "Laatste gesynchroniseerde lijst",
        "Dernière liste synchronisée",
        "Newest list synced",
    ),
    "syncs": ("Synchronisaties van de lijst", "Synchronisations de la liste", "List syncs"),
    "sync_before": ("Van kracht bij het begin", "En vigueur au début", "In force at the start"),
    "time": ("Tijdstip", "Moment", "Time"),
    "status": ("Status", "Statut", "Status"),
    "list_date": ("Lijstdatum", "Date de la liste", "List date"),
    "rows": ("Nummers", "Numéros", "Numbers"),
    "fingerprint": ("Vingerafdruk (sha256)", "Empreinte (sha256)", "Fingerprint (sha256)"),
    "details": ("Details", "Détails", "Details"),
    "config": (
        "Configuratiewijzigingen",
        "Modifications de configuration",
        "Configuration reloads",
    ),
    "events": ("Andere gebeurtenissen", "Autres événements", "Other events"),
    "access": (
        "Inzage van persoonsgegevens en akten in de console",
        "Consultation de données personnelles et actes dans la console",
        "Personal data read and acts recorded in the console",
    ),
    "account": ("Account", "Compte", "Account"),
    "action": ("Handeling", "Action", "Action"),
    "kind": ("Soort", "Type", "Kind"),
    "evidence": ("Bewijs voor nummer", "Preuve pour le numéro", "Evidence for number"),
    "rule": ("Toegepaste regel", "Règle appliquée", "Rule applied"),
    "acts": ("Toestemming / bezwaar", "Consentement / opposition", "Consent / objection"),
    "outcome": ("Gespreksresultaat", "Résultat de l'appel", "Call outcome"),
    "chain": ("Integriteit van het register", "Intégrité du registre", "Log integrity"),
    "chain_ok": ("Keten geverifieerd", "Chaîne vérifiée", "Chain verified"),
    "chain_bad": ("KETEN GEBROKEN", "CHAÎNE ROMPUE", "CHAIN BROKEN"),
    "none": ("Geen", "Aucun", "None"),
    "id": ("Beslissings-id", "Id de décision", "Decision id"),
    "bypasses": ("Omzeilingen van de controle", "Contournements du contrôle", "Check bypasses"),
    "provider_reached": ("Provider bereikt", "Opérateur atteint", "Provider reached"),
}

_CSS = """
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1a1a1a;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #ddd}
.en{color:#777;font-size:.85em}.meta{color:#444}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.n{text-align:right}
.allow{color:#2e7d32;font-weight:bold}.block{color:#c62828;font-weight:bold}
.stale{background:#fdecea}.ok{background:#e8f5e9}.bad{background:#fdecea;padding:8px}
.cards{display:flex;gap:16px}.card{border:1px solid #ccc;padding:10px 16px;border-radius:6px}
.card b{font-size:24px;display:block}code{font-size:12px;word-break:break-all}
"""


def label(key: str) -> str:
    """A bilingual label (Dutch / French, English small)."""
    nl, fr, en = LABELS[key]
    return (
        f'<span lang="nl">{escape(nl)}</span> / <span lang="fr">{escape(fr)}</span> '
        f'<span class="en" lang="en">({escape(en)})</span>'
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "") -> str:
    head = "".join(f"<th>{label(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(headers)}">{empty or label("none")}</td></tr>'
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(value: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{escape(str(value))}</td>"


def render(data: ReportData, *, max_age_days: int) -> str:
    """The whole report page."""
    since = data.since.astimezone(BRUSSELS).isoformat(sep=" ", timespec="minutes")
    until = data.until.astimezone(BRUSSELS).isoformat(sep=" ", timespec="minutes")
    parts = [
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">',
        f"<title>{escape(LABELS['title'][0])} / {escape(LABELS['title'][1])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{label('title')}</h1>",
        (
            f'<p class="meta">{label("period")}: '
            f'<b id="period">{escape(since)} → {escape(until)}</b>'
            f" (Europe/Brussels)<br>{label('generated')}: "
            f"{escape(local_text(data.generated_at.isoformat()))}</p>"
        ),
        _chain_section(data),
        _totals_section(data),
        _chart_section(data.days),
        _freshness_section(data, max_age_days),
        _syncs_section(data),
        _events_section(data),
        _access_section(data),
    ]
    if data.number is not None:
        parts.append(_number_section(data))
    parts.append("</body></html>")
    return "\n".join(parts)


def _chain_section(data: ReportData) -> str:
    chain = data.chain
    if chain.ok:
        text = (
            f"{label('chain_ok')}: {chain.records} records, "
            f"seq {chain.first_seq or 0}..{chain.last_seq or 0}; head sha256 "
            f"<code>{escape(chain.last_hash)}</code>"
        )
        return f'<h2>{label("chain")}</h2><p class="ok" id="chain">{text}</p>'
    text = (
        f"{label('chain_bad')}: record {chain.bad_seq}"
        f"{f' ({escape(chain.bad_id)})' if chain.bad_id else ''}: "
        f"{escape(chain.problem)}"
    )
    return f'<h2>{label("chain")}</h2><p class="bad" id="chain">{text}</p>'


def _totals_section(data: ReportData) -> str:
    cards = (
        f'<div class="cards"><div class="card" id="total-decisions">{label("decisions")}'
        f"<b>{data.total}</b></div>"
        f'<div class="card" id="total-allow">{label("allow")}<b class="allow">'
        f"{data.verdict_total('allow')}</b></div>"
        f'<div class="card" id="total-block">{label("block")}<b class="block">'
        f"{data.verdict_total('block')}</b></div>"
        f'<div class="card" id="total-bypass">{label("bypasses")}<b class="block">'
        f"{len(data.bypasses)}</b>{label('provider_reached')}: {data.provider_reached}</div>"
        "</div>"
    )
    campaigns = _table(
        ("campaign", "allow", "block", "decisions"),
        (
            (
                _td(name),
                _td(counts["allow"], "n"),
                _td(counts["block"], "n"),
                _td(sum(counts.values()), "n"),
            )
            for name, counts in sorted(data.by_campaign.items())
        ),
    )
    reasons = _table(
        ("reason", "verdict", "count"),
        (
            (_td(reason), _td(verdict, verdict), _td(count, "n"))
            for (reason, verdict), count in sorted(
                data.by_reason.items(), key=lambda item: (-item[1], item[0])
            )
        ),
    )
    return f"<h2>{label('totals')}</h2>{cards}{campaigns}{reasons}"


def _chart_section(days: Sequence[DayFigures]) -> str:
    return f"<h2>{label('per_day')}</h2>{day_chart(days)}"


def day_chart(days: Sequence[DayFigures]) -> str:
    """A stacked bar per day (allowed below, blocked above) as inline SVG."""
    width, height, margin = CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN
    plot_w, plot_h = width - 2 * margin, height - 2 * margin
    peak = max((d.allow + d.block for d in days), default=0) or 1
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    label_every = max(1, len(days) // 15)
    shapes = [
        (
            f'<line x1="{margin}" y1="{height - margin}" x2="{width - margin}" '
            f'y2="{height - margin}" stroke="#333"/>'
        ),
        f'<text x="{margin - 6}" y="{margin + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{margin - 6}" y="{height - margin}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, day in enumerate(days):
        x = margin + index * slot + (slot - bar) / 2
        allow_h = plot_h * day.allow / peak
        block_h = plot_h * day.block / peak
        base = height - margin
        title = f"{day.day.isoformat()}: allow {day.allow}, block {day.block}"
        shapes.append(
            f"<g><title>{escape(title)}</title>"
            f'<rect class="bar-allow" x="{x:.1f}" y="{base - allow_h:.1f}" width="{bar:.1f}" '
            f'height="{allow_h:.1f}" fill="{ALLOW_COLOUR}"/>'
            f'<rect class="bar-block" x="{x:.1f}" y="{base - allow_h - block_h:.1f}" '
            f'width="{bar:.1f}" height="{block_h:.1f}" fill="{BLOCK_COLOUR}"/></g>'
        )
        if index % label_every == 0:
            shapes.append(
                f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle" '
                f'font-size="10">{day.day.strftime("%d/%m")}</text>'
            )
    legend = (
        f'<rect x="{width - 230}" y="6" width="12" height="12" fill="{ALLOW_COLOUR}"/>'
        f'<text x="{width - 214}" y="16" font-size="11">toegestaan / autorisé</text>'
        f'<rect x="{width - 230}" y="22" width="12" height="12" fill="{BLOCK_COLOUR}"/>'
        f'<text x="{width - 214}" y="32" font-size="11">geblokkeerd / bloqué</text>'
    )
    return (
        f'<svg id="day-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="decisions per day">{"".join(shapes)}{legend}</svg>'
    )


def _freshness_section(data: ReportData, max_age_days: int) -> str:
    rows = []
    for day in data.days:
        age = day.oldest_list_age
        in_force_age = day.age_in_force
        stale = (age is not None and age > max_age_days) or (
            in_force_age is not None and in_force_age > max_age_days
        )
        rows.append(
            (
                _td(day.day.isoformat(), "stale" if stale else ""),
                _td(day.allow + day.block, "n"),
                _td(", ".join(d.isoformat() for d in day.lists_used) or "—"),
                _td("—" if age is None else age, "n"),
                _td(day.list_in_force.isoformat() if day.list_in_force else "—"),
                _td("—" if in_force_age is None else in_force_age, "n"),
            )
        )
    note = f"<p>{label('max_age')}: <b>{max_age_days}</b> {label('age')}</p>"
    return f"<h2>{label('freshness')}</h2>{note}" + _table(
        ("day", "decisions", "lists_used", "age", "in_force", "age_in_force"), rows
    )


def _sync_row(event: EventRow) -> tuple[str, ...]:
    details = event.details
    status = str(details.get("status", "imported"))
    digest = str(details.get("sha256", ""))
    extra = {
        k: v
        for k, v in details.items()
        if k not in {"status", "list_date", "rows", "sha256", "snapshot_id"}
    }
    return (
        _td(local_text(event.at)),
        _td(status, "" if sync_succeeded(event) else "stale"),
        _td(details.get("list_date") or "—"),
        _td(details.get("rows") or "—", "n"),
        f"<td><code>{escape(digest)}</code></td>",
        _td(json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else ""),
    )


def _syncs_section(data: ReportData) -> str:
    headers = ("time", "status", "list_date", "rows", "fingerprint", "details")
    before = ""
    if data.sync_before is not None:
        before = f"<p>{label('sync_before')}:</p>" + _table(headers, [_sync_row(data.sync_before)])
    return f"<h2>{label('syncs')}</h2>{before}" + _table(
        headers, (_sync_row(e) for e in data.syncs)
    )


def _event_rows(events: Iterable[EventRow]) -> Iterable[tuple[str, ...]]:
    for event in events:
        details = (
            bypass_sentence(event.details)
            if is_told(event.kind, event.details)
            else json.dumps(event.details, ensure_ascii=False, sort_keys=True)
        )
        yield (_td(local_text(event.at)), _td(event.kind), _td(details))


def _events_section(data: ReportData) -> str:
    headers = ("time", "kind", "details")
    return (
        f'<h2 id="config">{label("config")}</h2>'
        + _table(headers, _event_rows(data.config_events))
        + f'<h2 id="events">{label("events")}</h2>'
        + _table(headers, _event_rows(data.other_events))
    )


def _access_rows(events: Iterable[EventRow]) -> Iterable[tuple[str, ...]]:
    for event in events:
        details = dict(event.details)
        account = details.pop("account", "")
        action = details.pop("action", "") or event.kind
        yield (
            _td(local_text(event.at)),
            _td(account),
            _td(action),
            _td(json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""),
        )


def _access_section(data: ReportData) -> str:
    headers = ("time", "account", "action", "details")
    return f'<h2 id="access">{label("access")}</h2>' + _table(
        headers, _access_rows(data.access_events)
    )


def _number_section(data: ReportData) -> str:
    rows = []
    for row in data.number_decisions:
        snapshot: dict[str, Any] = row.get("snapshot") or {}
        verdict = str(row.get("verdict"))
        rows.append(
            (
                _td(local_text(row.at)),
                _td(row.id),
                _td(row.get("campaign")),
                _td(verdict, verdict),
                _td(row.get("reason")),
                _td(row.get("rule")),
                _td(f"{snapshot.get('list_date', '—')} {str(snapshot.get('sha256', ''))[:16]}"),
                _td(evidence_text(row.get("evidence") or []) or "—"),
                _td(outcome_text(row.outcome) if row.outcome else "—"),
            )
        )
    headers = (
        "time",
        "id",
        "campaign",
        "verdict",
        "reason",
        "rule",
        "list_date",
        "acts",
        "outcome",
    )
    number = escape(data.number or "")
    found = _table(
        ("time", "id", "details"),
        (
            (_td(local_text(e.at)), _td(e.id), _td(bypass_sentence(e.details)))
            for e in data.number_bypasses
        ),
    )
    return (
        f'<h2 id="evidence">{label("evidence")} {number}</h2>'
        + _table(headers, rows)
        + f'<h3 id="evidence-bypasses">{label("bypasses")}</h3>'
        + found
    )
