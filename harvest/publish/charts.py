"""Charts for the funder's dashboard as inline SVG: no script, no internet, prints in black
and white. A chart only draws published figures; a hidden one is marked, never guessed."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from harvest.publish.dashboard import Figure, shown_value

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 720, 260, 24, 56, 8


def bars(figure: Figure, selected: str, unit: str = "people") -> Markup:
    """A bar chart of ``unit`` (the figure's second column) per period; the chosen period
    darker. The rows' last column is the period's value."""
    rows = figure.rows
    if not rows:
        return Markup("")
    numbers = [r[1] for r in rows if isinstance(r[1], int | float)]
    top = max(numbers, default=0) or 1
    step = (WIDTH - LEFT * 2) / len(rows)
    width = min(max(step * 0.7, 2), 80)
    label_every = max(1, round(len(rows) / 12))
    parts = []
    for i, row in enumerate(rows):
        label, people, value = row[0], row[1], row[-1]
        x = LEFT + i * step + (step - width) / 2
        fill = "#1d70b8" if value == selected else "#8eb8dc"
        if isinstance(people, int | float):
            h = (HEIGHT - TOP - BOTTOM) * people / top
            y = HEIGHT - BOTTOM - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{fill}" stroke="#0b0c0c" stroke-width="0.5"><title>{escape(label)}: '
                f"{shown_value(people)} {unit}</title></rect>"
            )
            parts.append(_text(x + width / 2, y - 6, shown_value(people)))
        else:
            parts.append(_text(x + width / 2, HEIGHT - BOTTOM - 6, "hidden"))
        if i % label_every == 0:
            parts.append(_text(x + width / 2, HEIGHT - BOTTOM + 18, short_label(label)))
    axis = (
        f'<line x1="{LEFT}" x2="{WIDTH - LEFT}" y1="{HEIGHT - BOTTOM}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#0b0c0c"/>'
    )
    summary = escape(f"{figure.title}: " + "; ".join(f"{r[0]} {shown_value(r[1])}" for r in rows))
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{summary}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}{axis}</svg>'
    )


def short_label(label: str) -> str:
    """ "March 2026" → "Mar 2026"; "2026 quarter 1" → "2026 Q1"."""
    words = label.split()
    if len(words) == 2 and words[1].isdigit() and len(words[0]) > 3:
        return f"{words[0][:3]} {words[1]}"
    return label.replace(" quarter ", " Q").replace("April ", "Apr ").replace(" to March ", "–")


def _text(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="13" '
        f'fill="#0b0c0c">{escape(text)}</text>'
    )
