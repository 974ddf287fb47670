"""Column mapping: config beats HXL beats header similarity; one column per field."""

from __future__ import annotations

import pytest

from harvest.normalise.mapping import map_columns, score_header
from harvest.normalise.standard import load_standard


@pytest.mark.parametrize(
    "header, field",
    [
        ("First Name", "given_name"),
        ("Surname", "family_name"),
        ("Post Code", "postcode"),
        ("What is your postcode?", "postcode"),
        ("Tel", "phone"),
        ("Mobile number", "phone"),
        ("D.O.B.", "date_of_birth"),
        ("Date of birth", "date_of_birth"),
        ("E-mail", "email"),
        ("How would you describe your ethnic group?", "ethnicity"),
        ("Attendee #", "source_record_id"),
        ("Event Name", "activity"),
        ("Timestamp", "activity_date"),
        ("Referred by", "referral_source"),
        ("Postocde", "postcode"),
        ("Name", "full_name"),
        ("Gender", "gender"),
        ("Age", "age"),
    ],
)
def test_headers_map_to_fields(header: str, field: str) -> None:
    name, confidence = score_header(header)
    assert name == field
    assert confidence >= 82


@pytest.mark.parametrize("header", ["Notes", "Column 7", "Quantity", "Total Paid", "Barcode #"])
def test_unrelated_headers_stay_unmapped(header: str) -> None:
    [m] = map_columns([header])
    assert m.field is None and m.method == "unmapped"


def test_config_beats_hxl_beats_auto_and_clashes_are_kept() -> None:
    maps = map_columns(
        ["Tel", "Phone", "Notes", "Where"],
        hxl=["", "", "", "#adm+postcode+home"],
        config_mapping={"Tel": None, "notes": "address"},
    )
    by = {m.header: m for m in maps}
    assert by["Tel"].method == "ignored" and by["Tel"].field is None
    assert by["Phone"].field == "phone"
    assert by["Notes"].field == "address" and by["Notes"].method == "config"
    assert by["Where"].field == "postcode" and by["Where"].method == "hxl"

    clash = map_columns(["Post Code", "Home postcode"])
    assert clash[0].field == "postcode"
    assert (
        clash[1].field is None and clash[1].method == "clash" and clash[1].candidate == "postcode"
    )


def test_hashtags_match_with_attributes_in_any_order() -> None:
    std = load_standard()
    assert std.match_hashtag("#person +given+name").name == "given_name"
    assert std.match_hashtag("#person+name").name == "full_name"
    assert std.match_hashtag("#contact+phone+mobile").name == "phone"
    assert std.match_hashtag("#nonsense") is None
    assert std.match_hashtag("postcode") is None
