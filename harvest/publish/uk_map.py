"""The dashboard's map, as inline SVG that needs no internet: the UK's outline shipped with
harvest (``uk_outline.json``, Natural Earth, public domain; made by
``scripts/make_uk_outline.py``) with a circle per postcode district whose area shows the
published count of people living there, as the legend says. A hidden count is an open
circle, never a guess."""

from __future__ import annotations

import json
import math
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from markupsafe import Markup

from harvest.publish.dashboard import Figure, shown_value

WEST, EAST, SOUTH, NORTH = -8.7, 1.9, 49.1, 60.95
SCALE = 40.0  # SVG units per degree of latitude
SHRINK = math.cos(math.radians(54.5))  # degrees of longitude are shorter this far north
LARGEST = 16.0  # the radius of the largest circle
LEGEND_WIDTH = 150


@cache
def outline() -> list[list[list[float]]]:
    text = resources.files("harvest.publish").joinpath("uk_outline.json").read_text("utf-8")
    return list(json.loads(text)["rings"])


def project(lon: float, lat: float) -> tuple[float, float]:
    return (lon - WEST) * SHRINK * SCALE, (NORTH - lat) * SCALE


@cache
def _path() -> str:
    parts = []
    for ring in outline():
        points = [project(lon, lat) for lon, lat in ring]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
    return "".join(parts)


def _circle(x: float, y: float, r: float, title: str, hidden: bool = False) -> str:
    fill = 'fill="none" stroke-dasharray="2,2"' if hidden else 'fill="#1d70b8" fill-opacity="0.6"'
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {fill} stroke="#0b0c0c" '
        f'stroke-width="1"><title>{escape(title)}</title></circle>'
    )


def _legend(top: float, x: float) -> str:
    """Two example circles, for the largest count and half of it, and the open circle."""
    half = max(5 * round(top / 10), 1)  # about half the largest, a round number
    sizes = [top, half] if half < top else [top]
    parts = [f'<text x="{x}" y="20" font-size="13" fill="#0b0c0c">People reached</text>']
    y = 40.0
    for n in sizes:
        r = LARGEST * math.sqrt(n / top)
        parts.append(_circle(x + LARGEST, y + LARGEST, r, f"{shown_value(n)} people"))
        parts.append(
            f'<text x="{x + 2 * LARGEST + 8}" y="{y + LARGEST + 5}" font-size="13" '
            f'fill="#0b0c0c">{escape(shown_value(n))}</text>'
        )
        y += 2 * LARGEST + 10
    parts.append(_circle(x + LARGEST, y + 8, 6, "too few to show", hidden=True))
    parts.append(
        f'<text x="{x + 2 * LARGEST + 8}" y="{y + 13}" font-size="13" fill="#0b0c0c">'
        "too few to show</text>"
    )
    return "".join(parts)


def uk_map(figure: Figure) -> Markup:
    """The map of ``figure``'s rows: (district, place, people, latitude, longitude)."""
    rows = [r for r in figure.rows if r[3] is not None and r[4] is not None]
    if figure.too_few or not rows:
        return Markup("")
    numbers = [r[2] for r in rows if isinstance(r[2], int | float)]
    top = max(numbers, default=1) or 1
    width, height = project(EAST, SOUTH)
    circles = []
    for district, place, people, lat, lon in sorted(rows, key=_size, reverse=True):
        x, y = project(lon, lat)
        where = f"{district}{f' ({place})' if place else ''}"
        if isinstance(people, int | float):
            r = max(LARGEST * math.sqrt(people / top), 2.0)
            circles.append(_circle(x, y, r, f"{where}: {shown_value(people)} people"))
        else:
            circles.append(_circle(x, y, 6, f"{where}: {shown_value(people)}", hidden=True))
    label = escape(
        "Map of the UK: people reached by postcode district. "
        + "; ".join(f"{r[0]} {shown_value(r[2])}" for r in rows)
    )
    return Markup(
        f'<svg class="map" viewBox="0 0 {width + LEGEND_WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        f'<path d="{_path()}" fill="#f3f2f1" stroke="#505a5f" stroke-width="0.8"/>'
        f"{''.join(circles)}{_legend(top, width + 10)}</svg>"
    )


def _size(row: tuple[Any, ...]) -> float:
    """Draw the big circles first, so that the small ones stay on top."""
    return float(row[2]) if isinstance(row[2], int | float) else 0.0
