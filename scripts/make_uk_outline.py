"""Make harvest/publish/uk_outline.json: the UK's outline (with the Isle of Man and the
Channel Islands) for the funder dashboard's map, from Natural Earth's 1:50m countries
(public domain) as redistributed in TopoJSON by the npm package world-atlas (ISC).

    npm install --prefix /tmp/wa world-atlas@2
    python scripts/make_uk_outline.py /tmp/wa/node_modules/world-atlas/countries-50m.json

The outline is kept as longitude/latitude rings rounded to 0.01 degree (about 1 km),
with points closer than that to the previous one dropped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

IDS = {"826": "United Kingdom", "833": "Isle of Man", "832": "Jersey", "831": "Guernsey"}
OUT = Path(__file__).resolve().parent.parent / "harvest" / "publish" / "uk_outline.json"
STEP = 0.01


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        points.extend(arc[1:] if points else arc)
    return points


def simplify(points: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for lon, lat in points:
        p = [round(lon / STEP) * STEP, round(lat / STEP) * STEP]
        p = [round(p[0], 2), round(p[1], 2)]
        if not out or abs(p[0] - out[-1][0]) + abs(p[1] - out[-1][1]) >= 2 * STEP:
            out.append(p)
    return out


def main(path: str) -> None:
    topology = json.loads(Path(path).read_text("utf-8"))
    arcs = decode_arcs(topology)
    rings = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        if geometry.get("id") not in IDS:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            outer = simplify(ring(polygon[0], arcs))  # holes: none that matter at this scale
            if len(outer) >= 4:
                rings.append(outer)
    OUT.write_text(
        json.dumps(
            {
                "source": "Natural Earth 1:50m countries (public domain), via world-atlas 2 (ISC)",
                "rings": rings,
            },
            separators=(",", ":"),
        )
        + "\n",
        "utf-8",
    )
    print(f"{OUT}: {len(rings)} rings, {sum(map(len, rings))} points")


if __name__ == "__main__":
    main(sys.argv[1])
