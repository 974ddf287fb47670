"""`harvest map`: propose a column mapping for a source, show it, save it into harvest.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table as RichTable
from ruamel.yaml import YAML

from harvest.config import HarvestConfig
from harvest.connectors.base import Activity, Problem
from harvest.errors import ConfigError
from harvest.normalise.mapping import ColumnMap, map_table


@dataclass
class Proposal:
    location: str
    maps: list[ColumnMap]


def propose_mapping(cfg: HarvestConfig, source: str) -> list[Proposal]:
    """Read the headers of every table of a source (not its rows) and map them."""
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
        proposals.append(Proposal(item.location, map_table(item, src.mapping)))
        close = getattr(item.rows, "close", None)
        if close:
            close()
    if not proposals:
        detail = "; ".join(problems) or "no tables found"
        raise ConfigError(f"Source {source!r} has nothing to map ({detail}).")
    return proposals


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
    assert cfg.path is not None
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(cfg.path.read_text(encoding="utf-8"))
    entry = next(s for s in data["sources"] if s.get("name") == source)
    mapping = entry.get("mapping") or {}
    added = 0
    for p in proposals:
        for m in p.maps:
            if m.method in ("auto", "hxl") and m.header not in mapping:
                mapping[m.header] = m.field
                added += 1
    entry["mapping"] = mapping
    with cfg.path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return added
