"""The service's two public pages: where to point a CDS Hooks client, and the demo requests screened.

Plain server-rendered HTML (escaped), no scripts: the home page lists the services, their prefetch
templates and the API documentation; the demo page screens every request in the demo folder and shows
the cards the service would return.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from rxguard.adapters.cds_hooks.cards import to_response
from rxguard.adapters.fhir.request import parse_request
from rxguard.adapters.http.settings import ServiceSettings
from rxguard.errors import InputError
from rxguard.screen import Screener

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1b1b}
code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}
pre{padding:.6rem;overflow-x:auto}
.warn{background:#8b0000;color:#fff;padding:.8rem;border-radius:4px;font-weight:600}
.card{border-left:6px solid #777;padding:.4rem .8rem;margin:.6rem 0;background:#fafafa}
.critical{border-color:#b00020}.warning{border-color:#b26a00}.info{border-color:#1f5fa8}
.tag{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;font-weight:700}
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _warning(settings: ServiceSettings, variable: str) -> str:
    if not settings.auth_disabled_for_development:
        return ""
    return (
        f'<p class="warn">Authentication is OFF ({escape(variable)} is set): development only. '
        "Anyone who can reach this port can call it. Never use it with real patient data.</p>"
    )


def home(settings: ServiceSettings, discovery: dict[str, Any], variable: str) -> str:
    base = escape(settings.base_url)
    rows = "".join(
        f"<tr><td><code>{escape(s['hook'])}</code></td><td><code>{base}/cds-services/{escape(s['id'])}</code></td>"
        f"<td>{escape(s['title'])}</td></tr>"
        for s in discovery["services"]
    )
    prefetch = escape(json.dumps(discovery["services"][0]["prefetch"], indent=2))
    demo = (
        '<li><a href="/demo">The demo requests, screened</a> (what the services answer for <code>examples/</code>)</li>'
        if settings.demo_dir
        else ""
    )
    body = f"""
<h1>rxguard medication screening service</h1>
{_warning(settings, variable)}
<p>Decision support, not a medical device: the knowledge base has not been reviewed by a clinician.</p>
<h2>For a CDS Hooks client</h2>
<p>Discovery: <a href="/cds-services"><code>{base}/cds-services</code></a></p>
<table><tr><th>hook</th><th>service URL</th><th>title</th></tr>{rows}</table>
<p>Prefetch templates (every service):</p><pre>{prefetch}</pre>
<h2>For people and programs</h2>
<ul>{demo}
<li><a href="/docs">REST API documentation</a> (OpenAPI: <a href="/openapi.json"><code>/openapi.json</code></a>)</li>
<li><a href="/health"><code>/health</code></a></li></ul>
"""
    return _page("rxguard service", body)


def _card_html(card: dict[str, Any]) -> str:
    indicator = escape(card["indicator"])
    code = escape(card["source"]["topic"]["code"])
    detail = escape(card.get("detail", "")).replace("\n", "<br>")
    suggestions = "".join(f"<li>{escape(s['label'])}</li>" for s in card.get("suggestions", []))
    extra = f"<p>Suggestions:</p><ul>{suggestions}</ul>" if suggestions else ""
    return (
        f'<div class="card {indicator}"><span class="tag">{indicator} · {code}</span>'
        f"<p><strong>{escape(card['summary'])}</strong></p><details><summary>Why, what to do, sources</summary>"
        f"<p>{detail}</p></details>{extra}</div>"
    )


def demo(settings: ServiceSettings, screener: Screener) -> str:
    folder = Path(settings.demo_dir or "examples")
    sections = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            result = screener.screen(parse_request(data))
        except (OSError, ValueError, InputError) as exc:
            sections.append(f"<h2>{escape(path.name)}</h2><p>Not screened: {escape(str(exc))}</p>")
            continue
        cards = to_response(result)["cards"]
        inner = "".join(_card_html(c) for c in cards) or "<p>Screened: nothing to report.</p>"
        orders = ", ".join(escape(o.name) for o in result.request.orders)
        sections.append(f"<h2>{escape(path.name)}</h2><p>Order: {orders}</p>{inner}")
    body = (
        f"<h1>Demo requests, screened</h1><p><a href='/'>Back</a></p>"
        f"<p>{len(sections)} request(s) from <code>{escape(str(folder))}/</code>, knowledge base "
        f"{escape(screener.kb.version)}.</p>" + "".join(sections)
    )
    return _page("rxguard demo", body)
