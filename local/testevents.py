"""The local Test Events page (`GET /_dev/`, docs/design.md §8): both channels of every event, side by side.

`render(state)` is a pure function of what the local stack recorded:
  tiktok_requests  what the Events API stand-in received: {"received_at", "headers", "body", "response"}
  pixel_requests   the `ttq` calls the Pixel stand-in reported: {"received_at", "pixel_id", "method", "args"}
  queued           message bodies waiting in the DeliveryQueue (dicts, or strings that were not JSON)
  dead_lettered    message bodies in the DeadLetterQueue
  campaigns        the campaigns as `GET /v1/campaigns` lists them (None: the list could not be read)

An event is identified the way TikTok deduplicates it: pixel + event name + event_id. Each such
event gets one row with its dedup state (paired / pixel only / server only), the match keys its
server copy carried and TikTok's answer; each campaign links to its health page, `render_health`
(`GET /_dev/health/{campaign_id}`, docs/design.md §9). Everything shown is escaped, and any recorded
string renders (a lone surrogate becomes its `\\udfff` escape); the Access-Token header the stand-in
recorded is never shown, nor a raw email address or phone number (the page's `ttq.identify` arguments,
or one that reached a queue message by mistake).
"""

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from zellify_tiktok.url_scrub import scrub_url

from .http_util import mask_contact

MATCH_KEYS = ("email", "phone", "external_id", "ttp", "ttclid", "ip", "user_agent")
# The keys TikTok takes only as SHA-256 (docs/tiktok.md): the page shows a prefix of the hash.
HASHED_KEYS = ("email", "phone", "external_id")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CLOCK = re.compile(r"\d\d:\d\d(:\d\d(\.\d{1,3})?)?")
PAIRED, PIXEL_ONLY, SERVER_ONLY = "paired", "pixel only", "server only"
# TikTok's answer code that means every event of the call was taken (docs/tiktok.md); 20001 (partial) does
# not say which were, so the layer halves such a call until each event has an answer of its own.
ACCEPTED_CODES = (0,)
MAX_JSON_CHARS = 4000


@dataclass
class PixelCopy:
    received_at: str
    properties: dict


@dataclass
class ServerCopy:
    received_at: str
    properties: dict
    match_keys: frozenset
    answer: Any
    test_event_code: str | None
    hash_prefixes: dict = field(default_factory=dict)  # hashed key -> the first characters of its hash
    unhashed: tuple = ()  # hashed keys that arrived as something else: a bug TikTok answers 40062 to
    page_url: str | None = None


@dataclass
class Row:
    pixel_id: str | None
    name: str | None
    event_id: str | None
    pixel: list[PixelCopy] = field(default_factory=list)
    server: list[ServerCopy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.pixel and self.server:
            return PAIRED
        return PIXEL_ONLY if self.pixel else SERVER_ONLY

    @property
    def last_seen(self) -> str:
        return max(c.received_at for c in [*self.pixel, *self.server])


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _key(pixel_id: Any, name: Any, event_id: Any) -> tuple:
    return (_text(pixel_id), _text(name), _text(event_id))


def _present_keys(user: Any) -> frozenset:
    if not isinstance(user, dict):
        return frozenset()
    return frozenset(k for k in MATCH_KEYS if user.get(k) not in (None, "", [], {}))


def _hashes(user: Any) -> tuple[dict, tuple]:
    """Per hashed key, the start of its SHA-256 (of the first one, for a list); and the keys not hashed."""
    prefixes, unhashed = {}, []
    for key in HASHED_KEYS if isinstance(user, dict) else ():
        values = user.get(key) if isinstance(user.get(key), list) else [user.get(key)]
        values = [v for v in values if v not in (None, "")]
        if not values:
            continue
        if all(isinstance(v, str) and _SHA256_HEX.fullmatch(v) for v in values):
            prefixes[key] = values[0][:12]
        else:
            unhashed.append(key)
    return prefixes, tuple(unhashed)


def _collect(state: dict) -> tuple[list[Row], list[dict]]:
    """The event rows, newest first, and the Pixel calls that are not events (load, identify, …)."""
    rows: dict[tuple, Row] = {}

    def row(key: tuple) -> Row:
        return rows.setdefault(key, Row(*key))

    other_calls = []
    for call in _dicts(state.get("pixel_requests")):
        args = call.get("args") if isinstance(call.get("args"), list) else []
        if call.get("method") != "track" or not args:
            other_calls.append(call)
            continue
        options = args[2] if len(args) > 2 and isinstance(args[2], dict) else {}
        properties = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        row(_key(call.get("pixel_id"), args[0], options.get("event_id"))).pixel.append(
            PixelCopy(str(call.get("received_at") or ""), properties))

    for request in _dicts(state.get("tiktok_requests")):
        body = request.get("body") if isinstance(request.get("body"), dict) else {}
        for event in _dicts(body.get("data")):
            prefixes, unhashed = _hashes(event.get("user"))
            row(_key(body.get("event_source_id"), event.get("event"), event.get("event_id"))).server.append(
                ServerCopy(
                    received_at=str(request.get("received_at") or ""),
                    properties=event.get("properties") if isinstance(event.get("properties"), dict) else {},
                    match_keys=_present_keys(event.get("user")),
                    answer=request.get("response"),
                    test_event_code=_text(body.get("test_event_code")),
                    hash_prefixes=prefixes,
                    unhashed=unhashed,
                    page_url=_text((event.get("page") if isinstance(event.get("page"), dict) else {}).get("url")),
                ))

    for section, note in (("queued", "server copy queued"), ("dead_lettered", "server copy dead-lettered")):
        for message in _dicts(state.get(section)):
            for event in _dicts(message.get("events")):
                key = _key(message.get("pixel_id"), event.get("name"), event.get("event_id"))
                if key in rows and note not in rows[key].notes:
                    rows[key].notes.append(note)

    for r in rows.values():
        if r.event_id is None:
            r.notes.append("no event_id: TikTok cannot deduplicate it")
        if len(r.pixel) > 1:
            r.notes.append(f"Pixel sent it {len(r.pixel)} times (TikTok keeps the first)")
        sent = [c for c in r.server if _accepted(c.answer)]
        if len(sent) > 1:
            r.notes.append(f"Events API took it {len(sent)} times (TikTok keeps the first)")
        for key in sorted({k for c in r.server for k in c.unhashed}):
            r.notes.append(f"{key} reached the Events API not hashed (TikTok wants SHA-256)")
    return sorted(rows.values(), key=lambda r: r.last_seen, reverse=True), other_calls


def _accepted(answer: Any) -> bool:
    return (isinstance(answer, dict) and answer.get("http_status") is None
            and not answer.get("connection_reset") and answer.get("code") in ACCEPTED_CODES)


def _e(value: Any) -> str:
    # A recorded string may hold a lone surrogate ("\udfff" in a JSON body), which has no UTF-8 form:
    # shown as its escape, the page still encodes.
    text = str(value).encode("utf-8", errors="backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def _path_segment(text: str) -> str:
    return quote(text, safe="", errors="backslashreplace")


def health_path(campaign_id: str) -> str:
    return f"/_dev/health/{_path_segment(campaign_id)}"


def _time(received_at: Any) -> str:
    """A stand-in's ISO timestamp as its time of day (the full stamp on hover): the column stays narrow."""
    stamp = str(received_at or "")
    _, sep, clock = stamp.partition("T")
    # Milliseconds at most, no zone (the stand-ins' stamps are UTC): "10:08:22.311604+00:00" shows "10:08:22.311".
    day_time = _CLOCK.match(clock) if sep else None
    shown = day_time.group(0) if day_time else stamp
    return f'<time datetime="{_e(stamp)}" title="{_e(stamp)}">{_e(shown)}</time>'


def _day_time(stamp: Any) -> str:
    """An ISO timestamp as a day and time people read ("6 Dec 2026, 19:00 UTC"), the stamp itself on hover."""
    text = str(stamp or "")
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return _time(stamp)
    shown = f"{moment.day} {moment:%b %Y, %H:%M} UTC"
    return f'<time datetime="{_e(text)}" title="{_e(text)}">{_e(shown)}</time>'


def _plural(count: Any, word: str) -> str:
    return f"{_e(count)} {word}{'' if count == 1 else 's'}"


def _json(value: Any, *, compact: bool = False) -> str:
    try:
        text = json.dumps(value, indent=None if compact else 2, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_JSON_CHARS else text[:MAX_JSON_CHARS] + "\n…"


def _properties(properties: dict) -> str:
    parts = []
    if "value" in properties:
        parts.append(f"{properties.get('value')} {properties.get('currency') or ''}".strip())
    if "content_name" in properties:
        parts.append(f"step {properties['content_name']}")
    contents = properties.get("contents")
    if isinstance(contents, list) and contents:
        parts.append(f"{len(contents)} item{'s' if len(contents) != 1 else ''}")
    return _e(" · ".join(parts))


def _answer(answer: Any) -> str:
    if answer is None:
        return '<span class="muted">waiting for an answer</span>'
    if not isinstance(answer, dict):
        return _e(answer)
    if answer.get("connection_reset"):
        return '<span class="bad">connection reset</span>'
    if answer.get("http_status") is not None:
        return f'<span class="bad">HTTP {_e(answer["http_status"])}</span> {_e(answer.get("message") or "")}'
    css = "good" if _accepted(answer) else "bad"
    return (f'<span class="{css}" data-code="{_e(answer.get("code"))}">{_e(answer.get("code"))}</span> '
            f'{_e(answer.get("message") or "")}')


def _match_keys(row: Row) -> str:
    if not row.server:
        return '<span class="muted">no server copy</span>'
    last = row.server[-1]
    present = last.match_keys

    def chip(key: str) -> str:
        # A hashed key shows the start of its hash: enough to compare with the Pixel's, never the value.
        prefix = last.hash_prefixes.get(key)
        title = f' title="sha256 {_e(prefix)}…"' if prefix else ""
        return (f'<span class="key {"on" if key in present else "off"}" data-key="{key}" '
                f'data-present="{"true" if key in present else "false"}"{title}>{key}</span>')

    return "".join(chip(k) for k in MATCH_KEYS)


def _campaigns_by_pixel(campaigns: list[dict]) -> dict[str, list[str]]:
    by_pixel: dict[str, list[str]] = {}
    for campaign in campaigns:
        if isinstance(campaign.get("pixel_id"), str) and isinstance(campaign.get("campaign_id"), str):
            by_pixel.setdefault(campaign["pixel_id"], []).append(campaign["campaign_id"])
    return by_pixel


def _health_link(campaign_id: str, text: str | None = None) -> str:
    return (f'<a href="{_e(health_path(campaign_id))}" data-testid="health-link" data-campaign="{_e(campaign_id)}" '
            f'title="health of campaign {_e(campaign_id)}">{_e(text if text is not None else campaign_id)}</a>')


def _pixel_cell(pixel_id: str | None, by_pixel: dict[str, list[str]]) -> str:
    """The pixel id, a link to its campaign's health; with the campaigns named when several share it."""
    campaigns = by_pixel.get(pixel_id or "", [])
    if len(campaigns) == 1:
        return f'<span class="muted">{_health_link(campaigns[0], pixel_id or "")}</span>'
    links = f' ({", ".join(_health_link(c) for c in campaigns)})' if campaigns else ""
    return f'<span class="muted">{_e(pixel_id or "")}</span>{links}'


def _event_row(row: Row, by_pixel: dict[str, list[str]]) -> str:
    pixel = (f"×{len(row.pixel)} {_properties(row.pixel[-1].properties)}" if row.pixel
             else '<span class="muted">–</span>')
    if row.server:
        last = row.server[-1]
        server = f"×{len(row.server)} {_properties(last.properties)}"
        if last.test_event_code:
            server += f'<br><span class="muted">test code {_e(last.test_event_code)}</span>'
        if last.page_url:
            # Scrubbed again: whatever sent it, the page shows no email or phone of a URL (docs/design.md §5).
            server += f'<br><span class="muted" data-testid="page-url">{_e(scrub_url(last.page_url))}</span>'
        answers = "<br>".join(_answer(c.answer) for c in row.server)
    else:
        server = answers = '<span class="muted">–</span>'
    notes = "".join(f'<div class="note">{_e(n)}</div>' for n in row.notes)
    state_css = {PAIRED: "paired", PIXEL_ONLY: "pixel-only", SERVER_ONLY: "server-only"}[row.state]
    return (
        f'<tr class="event" data-testid="event-row" data-pixel="{_e(row.pixel_id or "")}" '
        f'data-event="{_e(row.name or "")}" data-event-id="{_e(row.event_id or "")}" data-state="{_e(row.state)}">'
        f'<td class="when">{_time(row.last_seen)}</td>'
        f"<td><strong>{_e(row.name or '(no name)')}</strong><br>"
        f"{_pixel_cell(row.pixel_id, by_pixel)}</td>"
        f"<td><code>{_e(row.event_id or '(none)')}</code>{notes}</td>"
        f'<td><span class="state {state_css}">{_e(row.state)}</span></td>'
        f"<td>{pixel}</td><td>{server}</td>"
        f'<td class="keys">{_match_keys(row)}</td>'
        f"<td>{answers}</td></tr>"
    )


def _other_calls(calls: list[dict]) -> str:
    if not calls:
        return '<p class="muted">None yet.</p>'
    rows = "".join(
        f'<tr data-testid="pixel-call" data-method="{_e(c.get("method"))}">'
        f'<td class="when">{_time(c.get("received_at"))}</td>'
        f"<td>{_e(c.get('pixel_id') or '')}</td><td><code>{_e(c.get('method'))}</code></td>"
        f"<td><pre>{_e(_json(mask_contact(c.get('args')), compact=True))}</pre></td></tr>"
        for c in calls)
    return f"<table><tr><th>Received</th><th>Pixel</th><th>Method</th><th>Arguments</th></tr>{rows}</table>"


def _header(headers: Any, name: str) -> Any:
    if not isinstance(headers, dict):
        return None
    return next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name.lower()), None)


def _api_requests(requests: list[dict]) -> str:
    if not requests:
        return '<p class="muted">None yet.</p>'
    rows = []
    for request in reversed(requests):
        body = request.get("body") if isinstance(request.get("body"), dict) else {}
        events = _dicts(body.get("data"))
        token = "yes" if _header(request.get("headers"), "Access-Token") else "no"
        rows.append(
            f'<tr data-testid="api-request"><td class="when">{_time(request.get("received_at"))}</td>'
            f"<td>{_e(body.get('event_source_id') or '')}</td>"
            f"<td>{_e(', '.join(str(e.get('event')) for e in events) or '(no data)')}</td>"
            f"<td>{_e(body.get('test_event_code') or '')}</td><td>{token}</td>"
            f"<td>{_answer(request.get('response'))}</td></tr>")
    return ("<table><tr><th>Received</th><th>Pixel</th><th>Events</th><th>Test code</th>"
            f"<th>Access-Token</th><th>TikTok's answer</th></tr>{''.join(rows)}</table>")


def _queue(messages: Any, testid: str) -> str:
    messages = messages if isinstance(messages, list) else []
    if not messages:
        return '<p class="muted">Empty.</p>'
    items = []
    for message in messages:
        summary = ""
        if isinstance(message, dict):
            events = _dicts(message.get("events"))
            reason = message.get("reason")
            parts = [f"{_e(e.get('event'))} <code>{_e(e.get('event_id'))}</code>" for e in events]
            summary = ", ".join(parts) or _e(message.get("kind") or "message")
            if isinstance(reason, dict):
                summary += f" — {_answer(reason)}"
            elif reason:
                summary += f" — {_e(reason)}"
        else:
            summary = _e(str(message)[:200])
        items.append(f'<li data-testid="{testid}">{summary}<details><summary>message</summary>'
                     f"<pre>{_e(_json(mask_contact(message)))}</pre></details></li>")
    return f"<ul>{''.join(items)}</ul>"


def _campaigns(campaigns: list[dict] | None) -> str:
    if campaigns is None:
        return '<p class="bad">The campaign list could not be read (GET /v1/campaigns): see the stack\'s log.</p>'
    if not campaigns:
        return '<p class="muted">No campaign configured.</p>'
    rows = "".join(
        f'<tr data-testid="campaign" data-campaign="{_e(c.get("campaign_id"))}">'
        f"<td><code>{_e(c.get('campaign_id'))}</code></td><td>{_e(c.get('pixel_id') or '')}</td>"
        f"<td>{'on' if c.get('server_side') is True else 'off'}</td>"
        f"<td>{_health_link(str(c.get('campaign_id')), 'health')}</td></tr>"
        for c in campaigns)
    return f"<table><tr><th>Campaign</th><th>Pixel</th><th>Server-side</th><th>Health</th></tr>{rows}</table>"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #161823; background: #f6f7fb; }
h1 { margin: 0 0 .25rem; } h2 { margin-top: 2rem; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; }
.summary span { margin-right: 1rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid #e6e7ee; }
th { background: #eef0f6; font-weight: 600; white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
pre { margin: 0; max-height: 12rem; overflow: auto; font-size: 12px; white-space: pre-wrap; }
code { font-size: 12px; }
.muted { color: #6b6f80; }
.good { color: #0a7d4f; font-weight: 600; } .bad { color: #c21d3b; font-weight: 600; }
.state { padding: .1rem .5rem; border-radius: 999px; font-weight: 600; white-space: nowrap; }
.state.paired { background: #d8f5e8; color: #0a7d4f; }
.state.pixel-only, .state.server-only { background: #ffe6c7; color: #8a4b00; }
.key { display: inline-block; margin: 0 .2rem .2rem 0; padding: 0 .4rem; border-radius: 4px; font-size: 12px; }
.key.on { background: #d8f5e8; color: #0a7d4f; }
.key.off { background: #eee; color: #9a9cab; text-decoration: line-through; }
.note { color: #8a4b00; font-size: 12px; }
button { font: inherit; padding: .4rem .9rem; border-radius: 8px; border: 1px solid #c9cbd6; background: #fff; }
ul { background: #fff; padding: .75rem 2rem; } li { margin-bottom: .5rem; }
td { overflow-wrap: anywhere; } pre { overflow-wrap: anywhere; }
/* A phone: the page keeps its width; a wide table scrolls sideways inside itself. */
@media (max-width: 48rem) {
  body { margin: .75rem; }
  table { display: block; overflow-x: auto; max-width: 100%; }
  td, th { padding: .35rem .45rem; }
  td.when { white-space: normal; }
  ul { padding: .6rem 1.2rem; }
}
"""

# Auto-refresh stays on across reloads (sessionStorage) until unticked.
SCRIPT = """
(function () {
  var box = document.getElementById('auto-refresh');
  box.checked = sessionStorage.getItem('zt-test-events-auto') === '1';
  box.addEventListener('change', function () {
    sessionStorage.setItem('zt-test-events-auto', box.checked ? '1' : '0');
    if (box.checked) location.reload();
  });
  if (box.checked) setTimeout(function () { location.reload(); }, 3000);
})();
"""


def _campaign_list(value: Any) -> list[dict] | None:
    return None if value is None else _dicts(value)


def render(state: dict) -> str:
    """The Test Events page for one snapshot of the local stack's state."""
    state = state if isinstance(state, dict) else {}
    campaigns = _campaign_list(state.get("campaigns", []))
    by_pixel = _campaigns_by_pixel(campaigns or [])
    rows, other_calls = _collect(state)
    counts = {s: sum(1 for r in rows if r.state == s) for s in (PAIRED, PIXEL_ONLY, SERVER_ONLY)}
    queued = state.get("queued") if isinstance(state.get("queued"), list) else []
    dead = state.get("dead_lettered") if isinstance(state.get("dead_lettered"), list) else []
    summary = "".join(f'<span data-testid="count-{s.replace(" ", "-")}">{n} {_e(s)}</span>'
                      for s, n in counts.items())
    summary += (f'<span data-testid="count-queued">{len(queued)} queued</span>'
                f'<span data-testid="count-dead-lettered">{len(dead)} dead-lettered</span>')
    events = ("<table><tr><th>Last seen</th><th>Event</th><th>event_id</th><th>Dedup</th><th>Pixel</th>"
              "<th>Events API</th><th>Match keys (server)</th><th>TikTok's answer</th></tr>"
              + "".join(_event_row(r, by_pixel) for r in rows) + "</table>") if rows else (
        '<p class="muted">No events yet. Open the <a href="/demo/">demo funnel</a>.</p>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test Events (local)</title><style>{STYLE}</style></head>
<body>
<header><div><h1>Test Events (local)</h1>
<div class="summary">{summary}</div></div>
<div><button id="refresh" data-testid="refresh" onclick="location.reload()">Refresh</button>
<label><input type="checkbox" id="auto-refresh" data-testid="auto-refresh"> auto-refresh every 3 s</label></div>
</header>
<p class="muted">One row per pixel + event name + event_id, the key TikTok deduplicates on. <em>paired</em>: both
the Pixel and the Events API sent it, and TikTok counts it once.</p>
<h2>Campaigns</h2>
{_campaigns(campaigns)}
<h2>Events</h2>
{events}
<h2>Queued ({len(queued)})</h2>
{_queue(queued, "queued")}
<h2>Dead-lettered ({len(dead)})</h2>
{_queue(dead, "dead-lettered")}
<h2>Events API requests</h2>
{_api_requests(_dicts(state.get("tiktok_requests")))}
<h2>Other Pixel calls</h2>
{_other_calls(other_calls)}
<script>{SCRIPT}</script>
</body></html>
"""


HEALTH_HOURS = (1, 24, 168)


def _coverage_bar(key: str, share: Any) -> str:
    share = share if isinstance(share, int | float) and not isinstance(share, bool) else 0
    percent = max(0.0, min(100.0, share * 100))
    return (f'<tr data-testid="coverage" data-key="{_e(key)}" data-share="{_e(share)}"><td>{_e(key)}</td>'
            f'<td class="bar"><span style="width: {percent:.1f}%"></span></td><td>{percent:.0f} %</td></tr>')


def _last_delivery(last: dict) -> str:
    status = last.get("http_status")
    css = "good" if last.get("outcome") == "sent" else "bad"
    http = f" HTTP {_e(status)}" if status not in (None, 200) else ""
    return (f'{_time(last.get("at"))} <span class="{css}" data-testid="last-delivery">{_e(last.get("outcome"))}</span>'
            f'{http} code {_e(last.get("code"))} {_e(last.get("message") or "")}')


def _health_body(health: dict) -> str:
    events = _dicts(health.get("events"))
    event_rows = "".join(
        f'<tr data-testid="health-event" data-event="{_e(e.get("event"))}"><td>{_e(e.get("event"))}</td>'
        + "".join(f'<td data-outcome="{o}">{_e(e.get(o, 0))}</td>' for o in ("sent", "duplicates", "queued",
                                                                            "dead_lettered"))
        + "</tr>" for e in events)
    events_html = ("<table><tr><th>TikTok event</th><th>sent</th><th>duplicates</th><th>queued</th>"
                   f"<th>dead-lettered</th></tr>{event_rows}</table>") if events else (
        '<p class="muted">No server event in this window.</p>')
    match_keys = health.get("match_keys") if isinstance(health.get("match_keys"), dict) else {}
    coverage = match_keys.get("coverage") if isinstance(match_keys.get("coverage"), dict) else {}
    bars = "".join(_coverage_bar(str(k), v) for k, v in coverage.items())
    revenue = _dicts(health.get("revenue"))
    revenue_html = "".join(
        f'<li data-testid="revenue">{_e(r.get("value"))} {_e(r.get("currency"))} '
        f'<span class="muted">({_plural(r.get("payments"), "payment")})</span></li>' for r in revenue) or (
        '<li class="muted">None in this window.</li>')
    last = health.get("last_delivery")
    last_html = _last_delivery(last) if isinstance(last, dict) else '<span class="muted">nothing delivered yet</span>'
    warnings = health.get("warnings") if isinstance(health.get("warnings"), list) else []
    warnings_html = "".join(f'<li data-testid="health-warning">{_e(w)}</li>' for w in warnings) or (
        '<li class="muted">None.</li>')
    return f"""<p data-testid="health-window">From {_day_time(health.get("from"))} to {_day_time(health.get("to"))} ·
server-side {"on" if health.get("server_side") is True else "off"} · last delivery {last_html}</p>
<h2>Warnings</h2><ul>{warnings_html}</ul>
<h2>Events</h2>{events_html}
<h2>Match keys</h2>
<p>Share of the <span data-testid="match-key-events">{_e(match_keys.get("events", 0))}</span> sent events carrying
each key.</p>
<table class="coverage">{bars}</table>
<h2>Revenue</h2><ul>{revenue_html}</ul>"""


def render_health(campaign_id: str, hours: int, status: int, answer: Any) -> str:
    """The health page of one campaign: what `GET /v1/campaigns/{id}/tiktok/health` answered (docs/design.md §9)."""
    if status == 200 and isinstance(answer, dict):
        body = _health_body(answer)
    else:
        error = answer.get("error") if isinstance(answer, dict) else None
        message = (error.get("message") if isinstance(error, dict) else None) or (
            answer.get("message") if isinstance(answer, dict) else None) or answer
        body = (f'<p class="bad" data-testid="health-error">The health route answered {_e(status)}: '
                f"{_e(message)}</p>")
    choices = " · ".join(
        f'<strong>{h} h</strong>' if h == hours else f'<a href="{_e(health_path(campaign_id))}?hours={h}">{h} h</a>'
        for h in HEALTH_HOURS)
    route = f"/v1/campaigns/{_path_segment(campaign_id)}/tiktok/health?hours={hours}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Health of {_e(campaign_id)} (local)</title><style>{STYLE}{HEALTH_STYLE}</style></head>
<body data-testid="health-page" data-status="{_e(status)}">
<header><div><h1>Health of <code>{_e(campaign_id)}</code></h1>
<div class="summary">last {choices} · <a href="/_dev/">Test Events</a></div></div></header>
<p class="muted">What TikTok got from this campaign, as <code>GET {_e(route)}</code> (operator auth) answers it; this
page asks with the local admin token. <code>zellify-tiktok health {_e(campaign_id)}</code> shows the same.</p>
{body}
<details><summary>the route's JSON</summary><pre>{_e(_json(answer))}</pre></details>
</body></html>
"""


HEALTH_STYLE = """
.coverage { width: auto; min-width: min(24rem, 100%); }
td.bar { width: 16rem; } td.bar span { display: block; height: .8rem; background: #25c28a; border-radius: 3px; }
@media (max-width: 48rem) { td.bar { width: 40vw; } }
"""
