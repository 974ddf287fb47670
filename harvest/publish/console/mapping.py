"""The mapping page: each column of a source, the field it goes to and how sure harvest is,
its first values as they will be stored; change a field from a drop-down and save it into
harvest.yaml, comments kept (as `harvest map --write` does)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from datasette.utils.asgi import Response

from harvest import audit
from harvest.cli.mapping import propose_mapping, save_mapping
from harvest.normalise.mapping import ColumnMap
from harvest.normalise.standard import load_standard
from harvest.publish.console.web import HOME, Staff, back, page, staff_only

EXTRA = "extra"  # the drop-down's "keep as an extra column" (null in harvest.yaml)
HOW = {
    "config": "set in harvest.yaml",
    "hxl": "from its HXL hashtag {hashtag}",
    "auto": "the header looks like it",
    "ignored": "set in harvest.yaml to stay an extra column",
    "clash": "also looks like {candidate}, but another column has that",
    "unmapped": "no field fits",
}


def field_groups() -> list[tuple[str, list[str]]]:
    """The standard's fields for the drop-down, grouped by what they describe."""
    fields = sorted(load_standard().fields, key=lambda f: (f.entity, f.name))
    return [
        (entity, [f.name for f in group]) for entity, group in groupby(fields, lambda f: f.entity)
    ]


def column_row(m: ColumnMap, samples: list[str]) -> dict[str, Any]:
    return {
        "header": m.header,
        "field": m.field or EXTRA,
        "confidence": f"{m.confidence:.0f}%" if m.field else "",
        "how": HOW[m.method].format(hashtag=m.hashtag, candidate=m.candidate),
        "samples": samples,
    }


@staff_only
async def mapping(request: Any, datasette: Any, staff: Staff) -> Response:
    source = staff.config.source(request.url_vars["source"]).name
    if request.method == "POST":
        return await _save(request, datasette, staff, source)
    tables = [
        {
            "location": p.location,
            "columns": [
                column_row(m, p.samples[i] if p.samples else []) for i, m in enumerate(p.maps)
            ],
        }
        for p in propose_mapping(staff.config, source, preview=True)
    ]
    context = {"source": source, "tables": tables, "groups": field_groups(), "extra": EXTRA}
    return await page(datasette, request, "console_mapping.html", context)


async def _save(request: Any, datasette: Any, staff: Staff, source: str) -> Response:
    """POST: write the columns whose field was changed into the source's `mapping:`."""
    form = await request.post_vars()
    current = {m.header: m.field for p in propose_mapping(staff.config, source) for m in p.maps}
    choices: dict[str, str | None] = {}
    for key, value in form.items():
        header = key.removeprefix("map:")
        if key.startswith("map:") and header in current:
            target = None if value == EXTRA else value
            if target != current[header]:
                choices[header] = target
    with staff.acting():
        changed = save_mapping(staff.config, source, choices) if choices else 0
        if changed:
            with staff.store() as db:
                audit.record(db, "mapping", {"columns": changed}, command="console mapping")
    text = (
        f"Saved {changed} column(s) under sources → {source} → mapping in harvest.yaml. "
        f"Press “Sync {source} now” to read it again with the new mapping."
        if changed
        else "Nothing changed: every column already went where you chose."
    )
    return back(datasette, request, f"{HOME}/mapping/{source}", text)
