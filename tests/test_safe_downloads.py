"""Formula-safe cells, and the CSV rewriter fed a body in awkward pieces."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from harvest.config import parse_config
from harvest.errors import ConfigError
from harvest.publish.safe_downloads import CsvRewriter, safe_document, safe_text


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-3", "-3"),
        ("-3.5", "-3.5"),
        ("+44", "+44"),
        ("-2.5e3", "-2.5e3"),
        ("a=b", "a=b"),
        ("'=already", "'=already"),
        ("", ""),
    ],
)
def test_safe_text(text: str, safe: str) -> None:
    assert safe_text(text) == safe


def test_csv_rewriter_handles_any_split() -> None:
    rows = [["name", "note"], ["=1+1", 'line one\nline "two"'], ["Zoë", "-3"], ["-x", "@y"]]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    body = out.getvalue().encode("utf-8")
    expected = [["name", "note"], ["'=1+1", 'line one\nline "two"'], ["Zoë", "-3"], ["'-x", "'@y"]]
    for size in (1, 2, 3, 7, len(body)):  # splits inside quotes, records and a UTF-8 letter
        rewriter = CsvRewriter()
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        written = b"".join(rewriter.feed(c) for c in chunks) + rewriter.feed(b"", final=True)
        assert list(csv.reader(io.StringIO(written.decode("utf-8"), newline=""))) == expected


def test_json_documents_keep_numbers_and_keys() -> None:
    doc = {"database": "harvest", "rows": [{"=k": "=v", "n": -3, "t": "-3"}], "sql": "-- x"}
    assert safe_document(doc, None) == {**doc, "rows": [{"=k": "'=v", "n": -3, "t": "-3"}]}
    assert safe_document([["@a", 1]], "array") == [["'@a", 1]]
    assert safe_document({"1": {"a": "=b"}}, "object") == {"1": {"a": "'=b"}}
    assert safe_document({"a": "=b"}, "array") == {"a": "'=b"}  # one row, _nl=on


def test_logins_settings_are_checked(tmp_path: Path) -> None:
    raw = {"organisation": "T", "logins": {"idle_minutes": 120, "absolute_hours": 1}}
    with pytest.raises(ConfigError, match="idle_minutes .* must not be longer"):
        parse_config(raw, tmp_path / "harvest.yaml")
    raw["logins"] = {"idle_minutes": 0, "max_failures": 0, "lockout": 3}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, tmp_path / "harvest.yaml")
    assert "logins.idle_minutes" in str(err.value) and "logins.max_failures" in str(err.value)
    assert "logins.lockout: is not a setting" in str(err.value)
    config = parse_config({"organisation": "T"}, tmp_path / "harvest.yaml")
    assert (config.logins.idle_minutes, config.logins.absolute_hours) == (30, 12)


def test_csv_without_formulas_passes_through_unchanged() -> None:
    body = b'name,when,count\r\nLunch club,2024-03,12\r\n"Bob, ""Jr""",2024-04,-3\r\n'
    rewriter = CsvRewriter()
    assert rewriter.feed(body[:20]) + rewriter.feed(body[20:], final=True) == body
