"""Charts as inline SVG, drawn on the server: no script, no network, nothing to load.

Each mark carries its figure in data-* attributes (data-label, data-value, ...) so that a test, or a
person's browser tools, can read what a chart shows without measuring pixels.
"""

from __future__ import annotations

from datetime import date
from html import escape

COLOURS = {"add": "#2da44e", "change": "#bf8700", "revoke": "#cf222e", "bar": "#0969da"}
LEVEL_COLOURS = ("#eaeef2", "#b6e3ff", "#f5d90a", "#2da44e")  # none, read, review, edit (as the matrix)
LEVEL_NAMES = ("none", "read", "review", "edit")


def _a(text: object) -> str:
    return escape(str(text), quote=True)


def _label(text: str, href: str | None, x: float, y: float, anchor: str = "end", extra: str = "") -> str:
    inner = f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{_a(text)}</text>'
    return f'<a href="{_a(href)}">{inner}</a>' if href else inner


def bars(
    items: list[dict], title: str, hrefs: dict[str, str] | None = None, width: int = 500, label_width: int = 170
) -> str:
    """Horizontal bars, one per {label, value}, longest first as given."""
    if not items:
        return ""
    row, top = 20, 6
    most = max(i["value"] for i in items) or 1
    room = width - label_width - 60
    out = [
        (
            f'<svg class="chart bars" role="img" aria-label="{_a(title)}" width="{width}" '
            f'height="{top + row * len(items) + 4}" viewBox="0 0 {width} {top + row * len(items) + 4}">'
        )
    ]
    for n, item in enumerate(items):
        y = top + n * row
        w = max(1.0, room * item["value"] / most)
        href = (hrefs or {}).get(item["label"])
        out.append(
            f'<g class="bar" data-label="{_a(item["label"])}" data-value="{item["value"]}">'
            + _label(_short(item["label"]), href, label_width - 6, y + 13)
            + f'<rect x="{label_width}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{COLOURS["bar"]}">'
            f"<title>{_a(item['label'])}: {item['value']}</title></rect>"
            f'<text x="{label_width + w + 4:.1f}" y="{y + 13}">{item["value"]}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked_bars(
    items: list[dict],
    parts: tuple[str, ...],
    title: str,
    hrefs: dict[str, str] | None = None,
    width: int = 500,
    label_width: int = 170,
    key: str = "study",
) -> str:
    """Horizontal bars split into parts (add, change, revoke), one per item[key]."""
    if not items:
        return ""
    row, top = 20, 6
    most = max(sum(i[p] for p in parts) for i in items) or 1
    room = width - label_width - 60
    out = [
        (
            f'<svg class="chart stacked" role="img" aria-label="{_a(title)}" width="{width}" '
            f'height="{top + row * len(items) + 4}" viewBox="0 0 {width} {top + row * len(items) + 4}">'
        )
    ]
    for n, item in enumerate(items):
        y, x = top + n * row, float(label_width)
        figures = " ".join(f'data-{p}="{item[p]}"' for p in parts)
        out.append(
            f'<g class="bar" data-label="{_a(item[key])}" {figures}>'
            + _label(_short(item[key]), (hrefs or {}).get(item[key]), label_width - 6, y + 13)
        )
        for part in parts:
            w = room * item[part] / most
            if w:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
                    f'fill="{COLOURS[part]}"><title>{_a(item[key])}: {item[part]} to {part}</title></rect>'
                )
                x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{sum(item[p] for p in parts)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def heatmap(
    people: list[str],
    studies: list[str],
    cells: list[dict],
    hrefs: dict[str, str] | None = None,
    cell: int | None = None,
    label_width: int = 150,
    label_height: int = 90,
) -> str:
    """people (rows) × studies (columns); each cell coloured by the highest form level (0 none … 3 edit)."""
    if not people or not studies:
        return ""
    cell = cell or max(14, min(22, 640 // len(studies)))
    row_of = {u: n for n, u in enumerate(people)}
    col_of = {s: n for n, s in enumerate(studies)}
    # 40 more on the right: room for the last column's slanted label
    width, height = label_width + cell * len(studies) + 40, label_height + cell * len(people) + 4
    out = [
        (
            f'<svg class="chart heatmap" role="img" aria-label="people by studies" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}">'
        )
    ]
    for s, n in col_of.items():
        x = label_width + n * cell + cell - 3
        out.append(
            _label(
                _short(s, 14),
                (hrefs or {}).get(s),
                x,
                label_height - 4,
                "start",
                f' transform="rotate(-75 {x} {label_height - 4})"',
            )
        )
    for u, n in row_of.items():
        out.append(
            f'<text x="{label_width - 4}" y="{label_height + n * cell + cell - 2}" '
            f'text-anchor="end" class="person">{_a(_short(u, 22))}</text>'
        )
    for c in cells:
        x, y = label_width + col_of[c["study"]] * cell, label_height + row_of[c["user"]] * cell
        out.append(
            f'<rect class="cell" x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
            f'fill="{LEVEL_COLOURS[c["level"]]}" data-user="{_a(c["user"])}" data-study="{_a(c["study"])}" '
            f'data-level="{c["level"]}"><title>{_a(c["user"])} in {_a(c["study"])}: '
            f"{LEVEL_NAMES[c['level']]}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)


def timeline(per_day: list[dict], start: str, days: int, width: int = 760) -> str:
    """A day axis from start over days, a bar per day whose height is the number of expiries that day."""
    left, top, plot = 30, 10, 80
    first = date.fromisoformat(start)
    step = (width - left - 30) / max(days, 1)
    most = max((d["count"] for d in per_day), default=1)
    out = [
        (
            f'<svg class="chart timeline" role="img" aria-label="expiries by day" width="{width}" '
            f'height="{top + plot + 30}" viewBox="0 0 {width} {top + plot + 30}">'
        ),
        f'<line x1="{left}" y1="{top + plot}" x2="{width - 30}" y2="{top + plot}" stroke="#8c959f"/>',
    ]
    for tick in range(0, days + 1, 15):
        x = left + tick * step
        out.append(
            f'<line x1="{x:.1f}" y1="{top + plot}" x2="{x:.1f}" y2="{top + plot + 4}" stroke="#8c959f"/>'
            f'<text x="{x:.1f}" y="{top + plot + 16}" text-anchor="middle" class="tick">'
            f"{'today' if tick == 0 else f'+{tick} d'}</text>"
        )
    for d in per_day:
        offset = (date.fromisoformat(d["date"]) - first).days
        h = max(2.0, plot * d["count"] / most)
        x = left + offset * step
        out.append(
            f'<rect class="day" x="{x:.1f}" y="{top + plot - h:.1f}" width="{max(step - 1, 2):.1f}" '
            f'height="{h:.1f}" fill="{COLOURS["revoke"]}" data-date="{d["date"]}" data-count="{d["count"]}">'
            f"<title>{d['date']}: {d['count']} expir{'y' if d['count'] == 1 else 'ies'}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)


def _short(text: str, most: int = 26) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
