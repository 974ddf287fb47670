"""The report's charts, drawn with fpdf2's lines and shapes so that they print sharp and
read in black and white: bars in grey with black edges and the chosen period in black,
each bar's number written above it; the map as the UK's outline (the one the dashboard
ships, ``uk_map.py``) with a circle per postcode district whose area shows its people,
named beside the map with its number (the largest, north to south, a thin line to each)
so that no two labels overlap. A hidden figure is written as such, never drawn as a guess.
"""

from __future__ import annotations

import math
from typing import Any

from fpdf import FPDF

from harvest.publish.charts import short_label
from harvest.publish.dashboard import Figure, shown_value
from harvest.publish.uk_map import EAST, SOUTH, outline, project

CHART_HEIGHT = 55.0  # mm, the bars' area
LABELS = 12.0  # mm under the bars for the periods
MAP_HEIGHT = 120.0  # mm
LARGEST = 7.0  # mm, the radius of the largest circle
NAMED = 16  # districts named beside the map, the ones with the most people
GREY, BLACK, LIGHT = 190, 0, 240


def circle(pdf: FPDF, x: float, y: float, r: float, style: str) -> None:
    """A circle centred at (x, y), as a polygon: fpdf2's own ``circle`` takes its centre
    from 2.8 and its corner before, and harvest allows both."""
    steps = 48
    points = [
        (x + r * math.cos(2 * math.pi * i / steps), y + r * math.sin(2 * math.pi * i / steps))
        for i in range(steps)
    ]
    pdf.polygon(points, style=style)


def room(pdf: FPDF, height: float) -> float:
    """The y to draw ``height`` mm at: a new page when it would not fit on this one."""
    if pdf.get_y() + height > pdf.h - pdf.b_margin:
        pdf.add_page()
    return float(pdf.get_y())


def bars(pdf: FPDF, figure: Figure, selected: str, text: Any) -> None:
    """People (the figure's second column) per period; the rows' last column is the period."""
    rows = figure.rows
    if not rows:
        return
    top = max((r[1] for r in rows if isinstance(r[1], int | float)), default=0) or 1
    y0 = room(pdf, CHART_HEIGHT + LABELS + 4) + 4
    left, width = pdf.l_margin, pdf.w - pdf.l_margin - pdf.r_margin
    step = width / len(rows)
    bar = min(max(step * 0.7, 0.5), 18.0)
    every = max(1, round(len(rows) / 12))
    base = y0 + CHART_HEIGHT
    pdf.set_draw_color(BLACK)
    pdf.set_line_width(0.2)
    pdf.set_font("Helvetica", size=7)
    for i, row in enumerate(rows):
        x = left + i * step + (step - bar) / 2
        people = row[1]
        if isinstance(people, int | float):
            h = CHART_HEIGHT * people / top
            pdf.set_fill_color(BLACK if row[-1] == selected else GREY)
            pdf.rect(x, base - h, bar, h, style="DF")
            label = shown_value(people)
        else:
            h, label = 0.0, "hidden"
        pdf.text(x + bar / 2 - pdf.get_string_width(label) / 2, base - h - 1.2, label)
        if i % every == 0:
            name = text(short_label(str(row[0])))
            pdf.text(x + bar / 2 - pdf.get_string_width(name) / 2, base + 4, name)
    pdf.line(left, base, left + width, base)
    pdf.set_y(base + LABELS)


def uk_map(pdf: FPDF, figure: Figure, text: Any) -> None:
    """The map of ``figure``'s rows: (district, place, people, latitude, longitude)."""
    rows = [r for r in figure.rows if r[3] is not None and r[4] is not None]
    if figure.too_few or not rows:
        return
    width, height = project(EAST, SOUTH)
    scale = MAP_HEIGHT / height
    x0, y0 = pdf.l_margin, room(pdf, MAP_HEIGHT + 4) + 2
    pdf.set_line_width(0.2)
    pdf.set_draw_color(BLACK)
    pdf.set_fill_color(LIGHT)
    for ring in outline():
        points = [project(lon, lat) for lon, lat in ring]
        pdf.polygon([(x0 + x * scale, y0 + y * scale) for x, y in points], style="DF")
    top = max((r[2] for r in rows if isinstance(r[2], int | float)), default=1) or 1
    at = {}
    for district, _place, people, lat, lon in sorted(rows, key=_size, reverse=True):
        x, y = project(lon, lat)
        at[district] = cx, cy = x0 + x * scale, y0 + y * scale
        if isinstance(people, int | float):
            pdf.set_fill_color(GREY)
            circle(pdf, cx, cy, max(LARGEST * math.sqrt(people / top), 0.8), "DF")
        else:
            pdf.set_dash_pattern(0.6, 0.6)
            circle(pdf, cx, cy, 2.0, "D")
            pdf.set_dash_pattern()
    right = x0 + width * scale + 8
    _legend(pdf, right, y0 + 4, top)
    _names(pdf, rows, at, right, y0 + 2 * LARGEST + 32, text)
    pdf.set_y(y0 + MAP_HEIGHT + 2)


def _size(row: tuple[Any, ...]) -> float:
    """Draw the big circles first, so that the small ones stay on top."""
    return float(row[2]) if isinstance(row[2], int | float) else 0.0


def _names(
    pdf: FPDF,
    rows: list[tuple],
    at: dict[str, tuple[float, float]],
    x: float,
    y: float,
    text: Any,
) -> None:
    """The districts with the most people, north to south, each joined to its circle."""
    biggest = sorted(rows, key=_size)
    named = sorted(biggest[-NAMED:], key=lambda r: -r[3])
    pdf.set_font("Helvetica", size=8)
    pdf.set_line_width(0.1)
    for district, place, people, *_ in named:
        label = text(f"{district}{f' ({place})' if place else ''}: {shown_value(people)}")
        pdf.text(x + 2, y + 1, label)
        pdf.line(x, y, *at[district])
        y += 5
    if len(rows) > NAMED:
        pdf.text(x + 2, y + 1, f"and {len(rows) - NAMED} more districts in the table below")
    pdf.set_line_width(0.2)


def _legend(pdf: FPDF, x: float, y: float, top: float) -> None:
    pdf.set_font("Helvetica", "B", 8)
    pdf.text(x, y, "People reached")
    pdf.set_font("Helvetica", size=8)
    pdf.set_fill_color(GREY)
    circle(pdf, x + LARGEST, y + 4 + LARGEST, LARGEST, "DF")
    pdf.text(x + 2 * LARGEST + 3, y + 5 + LARGEST, f"{shown_value(top)} people")
    pdf.set_dash_pattern(0.6, 0.6)
    circle(pdf, x + LARGEST, y + 2 * LARGEST + 10, 2.0, "D")
    pdf.set_dash_pattern()
    pdf.text(x + 2 * LARGEST + 3, y + 2 * LARGEST + 11, "too few to show")
    pdf.text(x, y + 2 * LARGEST + 20, "A circle's area shows its people.")
