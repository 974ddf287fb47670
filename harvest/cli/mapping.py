"""`harvest map`: propose a column mapping for a source, show it, save it into harvest.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from ruamel.yaml import YAML

from harvest.config import HarvestConfig
from harvest.connectors.base import Activity, Problem
from harvest.errors import ConfigError
from harvest.normalise.mapping import ColumnMap, map_table
from harvest.normalise.record import RowNormaliser

SAMPLE_ROWS = 3  # rows read for a preview of what each column will store


@dataclass
class Proposal:
    location: str
    maps: list[ColumnMap]
    # per column: its first values as they will be stored (cleaned), or the problem
    samples: list[list[str]] = field(default_factory=list)


def propose_mapping(cfg: HarvestConfig, source: str, preview: bool = False) -> list[Proposal]:
    """Read the headers of every table of a source (not its rows) and map them; with
    ``preview``, also the first rows, cleaned as a sync would clean them."""
    src = cfg.source(source)
    connector = cfg.connector(src)
    connector.check()
    proposals, problems = [], []
    for item in connector.fetch({}, full=True):
        if isinstance(item, Activity):
            continue
        if isinstance(item, Problem):
            problems.append(f"{item.location}: {item.message}")
            continue
        maps = map_table(item, src.mapping)
        samples = _samples(item.headers, maps, item.rows, src.constants) if preview else []
        proposals.append(Proposal(item.location, maps, samples))
        close = getattr(item.rows, "close", None)
        if close:
            close()
    if not proposals:
        detail = "; ".join(problems) or "no tables found"
        raise ConfigError(f"Source {source!r} has nothing to map ({detail}).")
    return proposals


def _samples(
    headers: list[str], maps: list[ColumnMap], rows: Any, constants: dict[str, str]
) -> list[list[str]]:
    """Each column's first values as a sync would store them: the cleaned value, the
    value kept as an extra, or the problem found with it."""
    normalise = RowNormaliser(headers, maps, constants)
    out: list[list[str]] = [[] for _ in headers]
    for row in islice(rows, SAMPLE_ROWS):
        done = normalise(row.values)
        problems = {f: (value, problem) for f, value, problem in done.problems}
        for i, (header, m) in enumerate(zip(headers, maps, strict=False)):
            if not row.values[i]:
                continue
            if m.field in problems:
                value, problem = problems[m.field]
                out[i].append(f"{value!r}: {problem}")
            elif m.field:
                out[i].append(str(done.fields.get(m.field, "")))
            else:
                out[i].append(done.extra.get(header, ""))
    return out


def show_mapping(console: Console, proposals: list[Proposal]) -> None:
    for p in proposals:
        table = RichTable(
            "column", "field", "confidence", "how", title=p.location, title_justify="left"
        )
        for m in p.maps:
            how = {
                "config": "set in harvest.yaml",
                "hxl": f"HXL tag {m.hashtag}",
                "auto": "header looks like it",
                "ignored": "set to null in harvest.yaml",
                "clash": f"also looks like {m.candidate}, already taken",
                "values": f"header looks like {m.candidate}, its values do not; kept as an extra",
                "unmapped": "no field fits; kept as an extra",
            }[m.method]
            style = "" if m.field or m.method == "ignored" else "dim"
            conf = f"{m.confidence:.0f}%" if m.field else ""
            table.add_row(m.header, m.field or "—", conf, how, style=style)
        console.print(table)


def write_mapping(cfg: HarvestConfig, source: str, proposals: list[Proposal]) -> int:
    """Add the proposed header → field pairs to the source's `mapping:`; keeps comments."""
    wanted = {m.header: m.field for p in proposals for m in p.maps if m.method in ("auto", "hxl")}
    return _edit_mapping(cfg, source, wanted, replace=False)


def save_mapping(cfg: HarvestConfig, source: str, choices: dict[str, str | None]) -> int:
    """Set each header's field in the source's `mapping:` (None: kept as an extra column,
    not part of the standard); keeps the file's comments. Returns how many changed."""
    from harvest.normalise.standard import load_standard

    known = load_standard().by_name
    for header, target in choices.items():
        if target is not None and target not in known:
            raise ConfigError(f"{target!r} is not a field of the standard (column {header!r}).")
    return _edit_mapping(cfg, source, choices, replace=True)


def _edit_mapping(
    cfg: HarvestConfig, source: str, wanted: dict[str, str | None], replace: bool
) -> int:
    assert cfg.path is not None
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(cfg.path.read_text(encoding="utf-8"))
    entry = next(s for s in data["sources"] if s.get("name") == source)
    mapping = entry.get("mapping") or {}
    changed = 0
    for header, target in wanted.items():
        if header in mapping and (not replace or mapping[header] == target):
            continue
        mapping[header] = target
        changed += 1
    entry["mapping"] = mapping
    with cfg.path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return changed
