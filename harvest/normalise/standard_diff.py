"""What changed between two versions of the standard, in words (``harvest standard --diff``).

Each version's fields are compared by name: fields added and removed, and for a field in
both, what changed in its hashtag, type, value list, synonyms and flags. Value lists are
compared by their stored values, so a synonym added to a value does not count as a change
of the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harvest.normalise.standard import Field, Standard, load_standard

COMPARED = ("entity", "hashtag", "type", "values", "identifying", "special", "multiple", "open")


@dataclass
class FieldChange:
    name: str
    changes: list[str] = field(default_factory=list)


@dataclass
class StandardDiff:
    old: int
    new: int
    added: list[Field] = field(default_factory=list)
    removed: list[Field] = field(default_factory=list)
    changed: list[FieldChange] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The diff as plain lines, for the terminal and the changelog."""
        out = [f"The standard, version {self.old} → version {self.new}:"]
        if not (self.added or self.removed or self.changed):
            return [*out, "  no changes"]
        out.append(
            f"  {len(self.added)} field(s) added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed"
        )
        out += [f"+ {f.name} ({f.hashtag}, {_kind(f)}){_flags(f)}" for f in self.added]
        out += [f"- {f.name} ({f.hashtag}, {_kind(f)})" for f in self.removed]
        for c in self.changed:
            out.append(f"~ {c.name}: " + "; ".join(c.changes))
        return out


def parse_version(text: str) -> int:
    """'v1', 'V2' or '2' → the number."""
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit():
        raise ValueError(f"{text!r} is not a version of the standard (write v1 or v2)")
    return int(digits)


def diff_standards(old: int, new: int) -> StandardDiff:
    a, b = load_standard(old), load_standard(new)
    result = StandardDiff(a.version, b.version)
    result.added = [f for f in b.fields if f.name not in a.by_name]
    result.removed = [f for f in a.fields if f.name not in b.by_name]
    for f in b.fields:
        if f.name in a.by_name:
            changes = _field_changes(a, b, a.by_name[f.name], f)
            if changes:
                result.changed.append(FieldChange(f.name, changes))
    return result


def _field_changes(a: Standard, b: Standard, old: Field, new: Field) -> list[str]:
    changes = [
        f"{attr} {getattr(old, attr)!r} → {getattr(new, attr)!r}"
        for attr in COMPARED
        if getattr(old, attr) != getattr(new, attr)
    ]
    was = [v.value for v in a.values_of(old.name)]
    now = [v.value for v in b.values_of(new.name)]
    if was != now and was:
        gained, lost = sorted(set(now) - set(was)), sorted(set(was) - set(now))
        if gained:
            changes.append("values added: " + ", ".join(gained))
        if lost:
            changes.append("values removed: " + ", ".join(lost))
    gone = sorted(set(old.synonyms) - set(new.synonyms))
    if gone:
        changes.append("header synonyms no longer used: " + ", ".join(gone))
    return changes


def _kind(f: Field) -> str:
    kind = f"{f.type}: {f.values}" if f.values else f.type
    return f"list of {kind}" if f.multiple else kind


def _flags(f: Field) -> str:
    flags = [name for name in ("special", "identifying") if getattr(f, name)]
    return f" [{', '.join(flags)}]" if flags else ""
