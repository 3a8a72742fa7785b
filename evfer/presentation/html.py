"""Small pieces of a self-contained HTML page: escaped text, tables, embedded PNG images.

Images are embedded as ``data:`` URLs, so a page needs no other file and no network."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f;
       background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: #666; margin: 0 0 16px; }
nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .value { font-size: 22px; font-weight: 600; } .card .what { color: #666; font-size: 12px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } th { background: #f0f0f0; }
td.diag { font-weight: 700; }
pre { background: #fff; border: 1px solid #ddd; padding: 10px; overflow: auto; font-size: 12px; max-height: 320px; }
img { max-width: 100%; }
.missing { color: #a33; font-style: italic; }
.thumbs { display: flex; flex-wrap: wrap; gap: 10px; }
.thumb { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px; width: 150px; font-size: 12px; }
.thumb img { width: 138px; height: auto; image-rendering: pixelated; display: block; margin-bottom: 4px; }
"""


def esc(value: object) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value), quote=True)


def png_img(data: bytes, alt: str, css_class: str = "") -> str:
    """An <img> whose PNG bytes are embedded as a data: URL."""
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f'<img{cls} alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def table(head: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A table of escaped cells."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{esc(v)}</td>" for v in row), "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def missing(text: str) -> str:
    """A note that a part of the page is not available (yet), and why."""
    return f'<p class="missing">{esc(text)}</p>'


def cards(items: Sequence[tuple[str, str]]) -> str:
    """Headline numbers: (value, what it is) boxes."""
    boxes = (f'<div class="card"><div class="value">{esc(v)}</div><div class="what">{esc(w)}</div></div>'
             for v, w in items)
    return f'<div class="cards">{"".join(boxes)}</div>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: ``sections`` are (id, heading, body HTML), linked from a contents line."""
    nav = "".join(f'<a href="#{esc(i)}">{esc(h)}</a>' for i, h, _ in sections)
    body = "".join(f'<section id="{esc(i)}"><h2>{esc(h)}</h2>{b}</section>' for i, h, b in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><main><h1>{esc(title)}</h1><p class=sub>{esc(subtitle)}</p>"
            f"<nav>{nav}</nav>{body}</main></body></html>\n")
