"""Tests for harvest.normalise.clean: one table per field type."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import pytest
import yaml

from harvest.normalise.clean import (
    P_AGE,
    P_EMAIL,
    P_INTEGER,
    P_NAME,
    P_NUMBER,
    P_PHONE,
    P_POSTCODE,
    P_POSTCODE_BFPO,
    P_POSTCODE_DUMMY,
    P_POSTCODE_PART,
    age_from_dob,
    clean_value,
    normalise,
)
from harvest.normalise.clean_dates import (
    P_DATE,
    P_DATE_DUMMY,
    P_DATE_FUTURE,
    P_DATE_PART,
    P_DATE_REAL,
    P_DATE_TWO_WAYS,
    P_DATE_YEAR,
)
from harvest.normalise.standard import load_standard


def clean(field_name: str, raw: str) -> tuple[object | None, str | None]:
    return clean_value(load_standard().field(field_name), raw)


def ok(value: object) -> tuple[object, None]:
    return (value, None)


def bad(problem: str) -> tuple[None, str]:
    return (None, problem)


EMPTY = (None, None)


@pytest.mark.parametrize("field_name", [f.name for f in load_standard().fields])
@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "-",
        "n/a",
        "N/A",
        "na",
        "none",
        "null",
        "unknown",
        "not known",
        "?",
        "tbc",
        "nil",
        ".",
        "#N/A",
    ],
)
def test_placeholders_are_empty(field_name: str, raw: str) -> None:
    expected = EMPTY
    if raw == "none" and load_standard().field(field_name).values == "yes_no":
        expected = ok("no")  # "Disability: none" means no disability
    assert clean(field_name, raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("123", ok("123")),
        ("123.0", ok("123")),
        (" A-17 ", ok("A-17")),
        ("12.5", ok("12.5")),
    ],
)
def test_id(raw: str, expected: tuple) -> None:
    assert clean("source_record_id", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  1  High   Street ", ok("1 High Street")),
        ("Flat 2\n10 Main Rd", ok("Flat 2 10 Main Rd")),
        ("KEEP Case", ok("KEEP Case")),
    ],
)
def test_text(raw: str, expected: tuple) -> None:
    assert clean("address", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("JOHN O'BRIEN", ok("John O'Brien")),
        ("mary mcdonald", ok("Mary McDonald")),
        ("ANNA SMITH-JONES", ok("Anna Smith-Jones")),
        ("jan van der berg", ok("Jan van der Berg")),
        ("ludwig van beethoven", ok("Ludwig van Beethoven")),
        ("tran thi le", ok("Tran Thi Le")),
        ("d’angelo rossi", ok("D’Angelo Rossi")),
        ("henry viii", ok("Henry VIII")),
        ("MRS JANE DOE", ok("Mrs Jane Doe")),
        ("Mr JOHN SMITH", ok("Mr John Smith")),
        ("ZOË ÅSTRÖM", ok("Zoë Åström")),
        # mixed case is the person's own: kept
        ("Ann  de Souza ", ok("Ann de Souza")),
        ("John SMITH", ok("John SMITH")),
        ("bell hooks", ok("Bell Hooks")),
        ("DeShawn McKay", ok("DeShawn McKay")),
        ("123", bad(P_NAME)),
        ("  42 / 7 ", bad(P_NAME)),
    ],
)
def test_full_name(raw: str, expected: tuple) -> None:
    assert clean("full_name", raw) == expected


@pytest.mark.parametrize(
    "field_name, raw, expected",
    [
        ("family_name", "VAN DER BERG", ok("Van der Berg")),
        ("family_name", "o'neill-smith", ok("O'Neill-Smith")),
        ("given_name", "JO", ok("Jo")),
    ],
)
def test_name_parts(field_name: str, raw: str, expected: tuple) -> None:
    assert clean(field_name, raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        (" Ann@Example.ORG ", ok("ann@example.org")),
        ("mailto:ann@example.org", ok("ann@example.org")),
        ("ann.lee+club@mail.example.co.uk", ok("ann.lee+club@mail.example.co.uk")),
        ("Ann Smith <ann@example.org>", ok("ann@example.org")),
        ("ann@example.org.", ok("ann@example.org")),
        ("ann@example.org; bob@example.org", ok("ann@example.org")),
        ("ann @example.org", bad(P_EMAIL)),
        ("ann@example", bad(P_EMAIL)),
        ("ann.example.org", bad(P_EMAIL)),
        ("ann..lee@example.org", bad(P_EMAIL)),
        ("ann@@example.org", bad(P_EMAIL)),
        ("@example.org", bad(P_EMAIL)),
    ],
)
def test_email(raw: str, expected: tuple) -> None:
    assert clean("email", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("07700 900123", ok("+447700900123")),
        ("07700-900-123", ok("+447700900123")),
        ("(07700) 900.123", ok("+447700900123")),
        ("7700900123", ok("+447700900123")),
        ("7700900123.0", ok("+447700900123")),
        ("+447700900123", ok("+447700900123")),
        ("+44 7700 900123", ok("+447700900123")),
        ("+44 07700 900123", ok("+447700900123")),
        ("00447700900123", ok("+447700900123")),
        ("447700900123", ok("+447700900123")),
        ("+44 (0)20 7946 0000", ok("+442079460000")),
        ("020 7946 0000", ok("+442079460000")),
        ("2079460000", ok("+442079460000")),
        ("0161 496 0000", ok("+441614960000")),
        ("01632 960000", ok("+441632960000")),
        ("0300 123 4567", ok("+443001234567")),
        ("0800 123 4567", ok("+448001234567")),
        ("07700 900123 ext 4", ok("+447700900123")),
        ("07700900123 x123", ok("+447700900123")),
        ("020 7946 0000 Ext. 12", ok("+442079460000")),
        ("Tel: 07700 900123", ok("+447700900123")),
        ("07700 900123 / 020 7946 0000", ok("+447700900123")),
        ("07700 900123 or 07700 900456", ok("+447700900123")),
        ("+33 1 42 68 53 00", ok("+33142685300")),
        ("0033 1 42 68 53 00", ok("+33142685300")),
        ("+1 202 456 1111", ok("+12024561111")),
        ("123", bad(P_PHONE)),
        ("0770090012", bad(P_PHONE)),
        ("077009001234567", bad(P_PHONE)),
        ("hello", bad(P_PHONE)),
        ("+44 1", bad(P_PHONE)),
    ],
)
def test_phone(raw: str, expected: tuple) -> None:
    assert clean("phone", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("nw12ab", ok("NW1 2AB")),
        ("SW1A1AA", ok("SW1A 1AA")),
        (" sw1a  1aa ", ok("SW1A 1AA")),
        ("M1 1AE", ok("M1 1AE")),
        ("b338th", ok("B33 8TH")),
        ("CR2 6XH", ok("CR2 6XH")),
        ("DN55 1PT", ok("DN55 1PT")),
        ("EC1A 1BB", ok("EC1A 1BB")),
        ("W1A 0AX", ok("W1A 0AX")),
        ("BT1 5GS", ok("BT1 5GS")),
        ("NW1 OAB", ok("NW1 0AB")),
        ("nw1oab", ok("NW1 0AB")),
        ("GIR 0AA", ok("GIR 0AA")),
        ("gir0aa", ok("GIR 0AA")),
        ("10 Downing Street, London SW1A 2AA", ok("SW1A 2AA")),
        ("BFPO 123", bad(P_POSTCODE_BFPO)),
        ("NW1", bad(P_POSTCODE_PART)),
        ("sw1a", bad(P_POSTCODE_PART)),
        ("AA1 1AA", bad(P_POSTCODE_DUMMY)),
        ("ZZ99 3VZ", bad(P_POSTCODE_DUMMY)),
        ("XX1 1XX", bad(P_POSTCODE_DUMMY)),
        ("QQ1 1AA", bad(P_POSTCODE)),  # no such area
        ("NW1 2CB", bad(P_POSTCODE)),  # C never ends a postcode
        ("NW1 2AB 3", bad(P_POSTCODE)),
        ("12345", bad(P_POSTCODE)),
        ("London", bad(P_POSTCODE)),
    ],
)
def test_postcode(raw: str, expected: tuple) -> None:
    assert clean("postcode", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("03/03/2026", ok("2026-03-03")),
        ("3/3/26", ok("2026-03-03")),
        ("03-03-2026", ok("2026-03-03")),
        ("03.03.2026", ok("2026-03-03")),
        ("03/04/2026", ok("2026-04-03")),  # day first
        ("3 March 2026", ok("2026-03-03")),
        ("3rd Mar 2026", ok("2026-03-03")),
        ("3rd of March, 2026", ok("2026-03-03")),
        ("Tuesday 3 March 2026", ok("2026-03-03")),
        ("Tue, 3 Mar 2026 14:05", ok("2026-03-03")),
        ("March 3, 2026", ok("2026-03-03")),
        ("1 Sept 1990", ok("1990-09-01")),
        ("2026-03-03", ok("2026-03-03")),
        ("2026-03-03T14:05:00", ok("2026-03-03")),
        ("2026-03-03 14:05:00", ok("2026-03-03")),
        ("2026/03/03 14:05:00 GMT", ok("2026-03-03")),
        ("03/03/2026 14:05:00", ok("2026-03-03")),
        ("03/03/2026, 2:05 pm", ok("2026-03-03")),
        ("45354", ok("2024-03-03")),  # Excel serial, 1899-12-30 epoch
        ("45292", ok("2024-01-01")),
        ("45292.5", ok("2024-01-01")),
        ("31/02/2026", bad(P_DATE_REAL)),
        ("12/25/2026", bad(P_DATE_REAL)),  # month/day/year is not read
        ("32/01/2026", bad(P_DATE_REAL)),
        ("30 Feb 2024", bad(P_DATE_REAL)),
        ("March 2026", bad(P_DATE_PART)),
        ("3 March", bad(P_DATE_PART)),
        ("2026", bad(P_DATE)),  # a year, not an Excel serial
        ("9999", bad(P_DATE)),
        ("42", bad(P_DATE)),
        ("next tuesday", bad(P_DATE)),
        ("3 Smarch 2026", bad(P_DATE)),
        ("3/3/1700", bad(P_DATE_YEAR)),
        ("01/01/1900", bad(P_DATE_DUMMY)),
        ("1900-01-01", bad(P_DATE_DUMMY)),
    ],
)
def test_activity_date(raw: str, expected: tuple) -> None:
    assert clean("activity_date", raw) == expected


THIS_YEAR = date.today().year


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("3/3/99", ok("1999-03-03")),
        ("3/3/00", ok("2000-03-03")),
        (f"1/1/{THIS_YEAR % 100:02d}", ok(f"{THIS_YEAR}-01-01")),
        (f"1/1/{(THIS_YEAR + 1) % 100:02d}", ok(f"{THIS_YEAR + 1 - 100}-01-01")),
        ("01/01/1900", bad(P_DATE_DUMMY)),
        ((date.today() + timedelta(days=400)).isoformat(), bad(P_DATE_FUTURE)),
    ],
)
def test_date_of_birth_two_digit_years_are_in_the_past(raw: str, expected: tuple) -> None:
    assert clean("date_of_birth", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("19560125", ok("1956-01-25")),  # ISO basic, as databases export (FEBRL)
        ("25011956", ok("1956-01-25")),  # day first
        ("19121912", ok("1912-12-19")),  # never two ways: a year's first figures are no month
        ("19560125.0", ok("1956-01-25")),  # a number cell
        ("250156", ok("1956-01-25")),  # six figures, day first
        ("561231", ok("1956-12-31")),  # six figures, only real year first
        ("010203", bad(P_DATE_TWO_WAYS)),  # 1 February 2003 or 3 February 2001
        ("19561325", bad(P_DATE_REAL)),
        ("99999999", bad(P_DATE_REAL)),
        ("123", bad(P_DATE)),
    ],
)
def test_dates_in_figures_only(raw: str, expected: tuple) -> None:
    assert clean("date_of_birth", raw) == expected


def test_other_dates_take_two_digit_years_up_to_twenty_years_ahead() -> None:
    ahead = (THIS_YEAR + 1) % 100
    assert clean("activity_date", f"1/1/{ahead:02d}") == ok(f"{THIS_YEAR + 1}-01-01")
    assert clean("activity_date", "1/1/99") == ok("1999-01-01")


@pytest.mark.parametrize(
    "dob, on, expected",
    [
        ("2000-03-03", date(2026, 3, 3), 26),
        ("2000-03-04", date(2026, 3, 3), 25),
        ("2000-02-29", date(2025, 2, 28), 24),
        ("2000-02-29", date(2025, 3, 1), 25),
        ("2026-03-03", date(2026, 3, 3), 0),
        ("2027-01-01", date(2026, 3, 3), None),
        ("not a date", date(2026, 3, 3), None),
        ("", date(2026, 3, 3), None),
    ],
)
def test_age_from_dob(dob: str, on: date, expected: int | None) -> None:
    assert age_from_dob(dob, on) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("42", ok(42)),
        ("42.0", ok(42)),
        (" 42 ", ok(42)),
        ("42 years", ok(42)),
        ("42yrs", ok(42)),
        ("42 Years Old", ok(42)),
        ("0", ok(0)),
        ("120", ok(120)),
        ("121", bad(P_AGE)),
        ("-1", bad(P_AGE)),
        ("42.5", bad(P_INTEGER)),
        ("forty", bad(P_INTEGER)),
        ("18-25", bad(P_INTEGER)),
    ],
)
def test_age(raw: str, expected: tuple) -> None:
    assert clean("age", raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("7.5", ok(7.5)),
        ("32", ok(32)),
        ("32.0", ok(32.0)),
        (" -3 ", ok(-3)),
        (".5", ok(0.5)),
        ("1,234", ok(1234)),
        ("32 / 70", bad(P_NUMBER)),
        ("7,5", bad(P_NUMBER)),
        ("high", bad(P_NUMBER)),
    ],
)
def test_number(raw: str, expected: tuple) -> None:
    assert clean("score", raw) == expected


def not_allowed(field_name: str) -> str:
    values = [v.value for v in load_standard().values_of(field_name)]
    shown = values if len(values) <= 8 else [*values[:6], "…"]
    return "not one of the allowed values: " + ", ".join(shown)


@pytest.mark.parametrize(
    "field_name, raw, expected",
    [
        ("gender", "Female", "female"),
        ("gender", "F", "female"),
        ("gender", "MALE", "male"),
        ("gender", "femle", "female"),
        ("gender", "Non-binary", "non_binary"),
        ("gender", "non_binary", "non_binary"),
        ("gender", "Prefer not to say", "prefer_not_to_say"),
        ("gender", "prefer to self-describe", "other"),
        ("disability", "Yes", "yes"),
        ("disability", "Y", "yes"),
        ("disability", "✓", "yes"),
        ("disability", "TRUE", "yes"),
        ("disability", "1", "yes"),
        ("disability", "1.0", "yes"),
        ("disability", "Yes - hearing loss", "yes"),
        ("disability", "No", "no"),
        ("disability", "false", "no"),
        ("disability", "None", "no"),
        ("disability", "Prefer not to say", "prefer_not_to_say"),
        ("consent_to_share", "I agree", "yes"),
        ("consent_to_share", "ticked", "yes"),
        ("consent_to_share", "Not agreed", "no"),
        ("consent_to_share", "Disagree", "no"),
        ("attendance_status", "Checked In", "attended"),
        ("attendance_status", "yes", "attended"),
        ("attendance_status", "no", "no_show"),
        ("attendance_status", "DNA", "no_show"),
        ("attendance_status", "Not Attending", "cancelled"),
        ("attendance_status", "Attending", "registered"),
        ("role", "Service user", "beneficiary"),
        ("role", "Volunteers", "volunteer"),
        ("role", "Parent/Guardian", "carer"),
        ("role", "Youth worker", "staff"),
        ("measure", "PHQ9", "PHQ-9"),
        ("measure", "phq-9", "PHQ-9"),
        ("measure", "Warwick-Edinburgh", "WEMWBS"),
        ("measure", "SWEMWBS", "SWEMWBS"),
        ("measure", "gad 7", "GAD-7"),
        ("ethnicity", "White British", "white_british"),
        ("ethnicity", "White - British", "white_british"),
        (
            "ethnicity",
            "WHITE: English, Welsh, Scottish, Northern Irish or British",
            "white_british",
        ),
        ("ethnicity", "British", "white_british"),
        ("ethnicity", "Northern Irish", "white_british"),
        ("ethnicity", "White Irish", "white_irish"),
        ("ethnicity", "Whte British", "white_british"),
        ("ethnicity", "Any other white background", "white_other"),
        ("ethnicity", "White - any other White background", "white_other"),
        ("ethnicity", "Other - Polish", "white_other"),
        ("ethnicity", "Polish", "white_other"),
        ("ethnicity", "Mixed White/Black Caribbean", "mixed_white_black_caribbean"),
        ("ethnicity", "Mixed - White & Black African", "mixed_white_black_african"),
        ("ethnicity", "Mixed or Multiple: White and Asian", "mixed_white_asian"),
        ("ethnicity", "Asian British - Pakistani", "asian_pakistani"),
        ("ethnicity", "Asian or Asian British: Indian", "asian_indian"),
        ("ethnicity", "British Bangladeshi", "asian_bangladeshi"),
        ("ethnicity", "Chinese", "asian_chinese"),
        ("ethnicity", "Black British", "black_other"),
        ("ethnicity", "Black British - African", "black_african"),
        ("ethnicity", "Black, Black British, Caribbean or African: Caribbean", "black_caribbean"),
        ("ethnicity", "Black Caribbean", "black_caribbean"),
        ("ethnicity", "Other ethnic group: Arab", "other_arab"),
        ("ethnicity", "Any other ethnic group", "other_any"),
        ("ethnicity", "WBRI", "white_british"),
        ("ethnicity", "Prefer not to say", "prefer_not_to_say"),
    ],
)
def test_category(field_name: str, raw: str, expected: str) -> None:
    assert clean(field_name, raw) == ok(expected)


@pytest.mark.parametrize(
    "field_name, raw",
    [
        ("gender", "xyz"),
        ("gender", "mail"),
        ("disability", "maybe"),
        ("disability", "not sure"),
        ("attendance_status", "perhaps"),
        ("role", "alien"),
        ("measure", "CORE-10"),
        ("ethnicity", "White"),  # a group, not a category: left for a person
        ("ethnicity", "Asian British"),
        ("ethnicity", "BAME"),
        ("ethnicity", "Black Irish"),  # group words must fit the value's group
    ],
)
def test_category_problems(field_name: str, raw: str) -> None:
    assert clean(field_name, raw) == bad(not_allowed(field_name))


def test_problem_lists_small_value_sets_in_full() -> None:
    assert clean("gender", "xyz") == bad(
        "not one of the allowed values: female, male, non_binary, other, prefer_not_to_say"
    )


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("White & Black-Caribbean", "white and black caribbean"),
        ("  PREFER_NOT_TO_SAY ", "prefer not to say"),
        ("✓", "✓"),
        ("-", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_value_sets_have_no_clashing_synonyms() -> None:
    for set_name, values in load_standard().value_sets.items():
        seen: dict[str, str] = {}
        for v in values:
            for said in (v.value, v.label, *v.synonyms):
                key = normalise(said)
                assert seen.setdefault(key, v.value) == v.value, (set_name, said)


def test_values_yaml_synonyms_are_all_strings() -> None:
    """Unquoted yes/no/true/false in YAML become booleans and silently stop matching."""
    text = resources.files("harvest.normalise").joinpath("values.yaml").read_text("utf-8")
    for set_name, values in yaml.safe_load(text).items():
        for v in values:
            for said in (v["value"], v.get("label", ""), *v.get("synonyms", [])):
                assert isinstance(said, str), (set_name, v["value"], said)


def test_placeholder_words_are_not_synonyms() -> None:
    """A synonym that is also a placeholder word would never be reached (except 'none' = no)."""
    from harvest.normalise.clean import PLACEHOLDERS

    for set_name, values in load_standard().value_sets.items():
        for v in values:
            clash = {s.lower() for s in v.synonyms} & PLACEHOLDERS - {"none"}
            assert not clash, (set_name, v.value, clash)
