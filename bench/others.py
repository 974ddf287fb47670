"""Splink and recordlinkage on a benchmark store's cleaned records, run as a child process.

    .venv/bin/python bench/others.py splink|recordlinkage STORE OUT.json

Both read the same records harvest matched (the current ones, cleaned by the sync: a
postcode that is not a UK one as ``postcode_text``) and the truth the benchmark put in
each (``extra.Person``, or FEBRL's record id), and write their pairwise precision,
recall and F1 and the seconds they took (reading and scoring, not starting Python).

Splink (DuckDB): the comparisons its documentation recommends (``NameComparison`` for
each name, ``DateOfBirthComparison``, ``PostcodeComparison``, ``EmailComparison``,
exact phone with term frequencies, for the fields the data has), u by random sampling,
EM on names and on date of birth; clustered at 0.5 and at higher thresholds (its best
F1 is kept, the scan is not timed). recordlinkage: its documented FEBRL recipe, blocks
on each name and on the date of birth, Jaro-Winkler on the names and address (0.85),
exact date of birth, postcode, email and phone, then the unsupervised ECM classifier;
links become people by connected components.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import labels_of, pairwise  # noqa: E402

COLUMNS = (
    "id AS unique_id, lower(given_name) AS first_name, lower(family_name) AS surname,"
    " date_of_birth AS dob, coalesce(postcode, postcode_text) AS postcode,"
    " lower(address) AS address, email, phone,"
    " coalesce(json_extract(extra, '$.Person'), source_record_id) AS truth"
)


def read(store: Path):
    import pandas as pd

    conn = sqlite3.connect(store)
    df = pd.read_sql(f"SELECT {COLUMNS} FROM records WHERE is_current = 1", conn)
    conn.close()
    truth = np.array([_entity(t) for t in df.pop("truth")])
    return df, truth


def _entity(value: object) -> int:
    """The truth: a generated person's number, or FEBRL's rec-123-org / rec-123-dup-0."""
    text = str(value)
    return int(text.split("-")[1]) if text.startswith("rec-") else int(text)


def splink(store: Path) -> dict:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df, truth = read(store)
    started = time.perf_counter()
    has = {c for c in df.columns if df[c].notna().any()}
    comparisons = [cl.NameComparison("first_name"), cl.NameComparison("surname")]
    if "dob" in has:
        comparisons.append(cl.DateOfBirthComparison("dob", input_is_string=True))
    if "postcode" in has:
        comparisons.append(cl.PostcodeComparison("postcode"))
    if "email" in has:
        comparisons.append(cl.EmailComparison("email"))
    if "phone" in has:
        comparisons.append(cl.ExactMatch("phone").configure(term_frequency_adjustments=True))
    rules = [block_on("first_name", "surname")]
    rules += [block_on("surname", "dob"), block_on("first_name", "dob")] if "dob" in has else []
    rules += [block_on("postcode", "first_name")] if "postcode" in has else []
    rules += [block_on(c) for c in ("email", "phone") if c in has]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(df), settings, log_level="WARNING")
    deterministic = [block_on("first_name", "surname", "dob") if "dob" in has else rules[0]]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    if "dob" in has:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    predictions = linker.inference.predict(threshold_match_probability=0.3)
    by_id = dict(zip(df.unique_id.tolist(), truth.tolist(), strict=True))
    results: dict = {}
    for threshold in (0.5, 0.9, 0.99, 0.999, 0.9999):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold
        ).as_pandas_dataframe()
        if threshold == 0.5:
            results["seconds"] = time.perf_counter() - started
        labels = np.array(clusters.cluster_id.astype("category").cat.codes)
        t = np.array([by_id[u] for u in clusters.unique_id])
        results[str(threshold)] = pairwise(t, labels)
    return results


def recordlinkage(store: Path) -> dict:
    import recordlinkage as rl

    df, truth = read(store)
    started = time.perf_counter()
    df = df.set_index("unique_id")
    has = [c for c in df.columns if df[c].notna().any()]
    indexer = rl.Index()
    for column in ("first_name", "surname", "dob"):
        if column in has:
            indexer.block(column)
    pairs = indexer.index(df)
    compare = rl.Compare()
    for column in ("first_name", "surname", "address"):
        if column in has:
            compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
    for column in ("dob", "postcode", "email", "phone"):
        if column in has:
            compare.exact(column, column, label=column)
    features = compare.compute(pairs, df)
    links = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    labels = labels_of(df.index.to_numpy(), links)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "0.5": pairwise(truth, labels), "pairs": len(pairs)}


def main(argv: list[str]) -> int:
    tool, store, out = argv[0], Path(argv[1]), Path(argv[2])
    result = splink(store) if tool == "splink" else recordlinkage(store)
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
