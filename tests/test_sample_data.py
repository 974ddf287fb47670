"""The demo data written by scripts/make_sample_data.py: deterministic, messy as promised."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import sys
from pathlib import Path

import openpyxl
import pytest

from harvest.normalise.standard import load_standard

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_sample_data.py"
FILES = [
    "eventbrite-attendees.csv",
    "food-bank-referrals.csv",
    "lunch-club-2026-03.csv",
    "volunteer-register.csv",
    "volunteer-sign-in.csv",
    "wellbeing-form.csv",
    "youth-club.xlsx",
]


def _load_script():
    spec = importlib.util.spec_from_file_location("make_sample_data", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    _load_script().main(["--out", str(out)])
    return out


def _rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def _text(path: Path) -> str:
    """Every cell of a file as one string, for looking people up."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path)
        return "\n".join(
            str(v)
            for ws in wb
            for row in ws.iter_rows(values_only=True)
            for v in row
            if v is not None
        )
    encoding = "cp1252" if path.name.startswith("lunch") else "utf-8"
    return path.read_bytes().decode(encoding)


def test_every_file_is_written(demo: Path) -> None:
    assert sorted(p.name for p in demo.iterdir()) == FILES


def test_running_twice_gives_identical_bytes(demo: Path, tmp_path: Path) -> None:
    _load_script().main(["--out", str(tmp_path)])
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (demo / name).read_bytes(), name


def test_lunch_club_is_windows_1252_with_a_title_row(demo: Path) -> None:
    raw = (demo / "lunch-club-2026-03.csv").read_bytes()
    assert "£".encode("cp1252") in raw and "é".encode("cp1252") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = _rows(demo / "lunch-club-2026-03.csv", "cp1252")
    assert rows[0][0].startswith("Riverside Lunch Club")
    assert not any(rows[1])
    assert rows[2][:6] == ["First Name", "Surname", "Post Code", "Tel", "Date of birth", "Date"]
    assert all(r[3].startswith(("0", "(0")) for r in rows[3:]), "phones keep their leading zero"


def test_food_bank_has_a_hxl_row_the_standard_knows(demo: Path) -> None:
    rows = _rows(demo / "food-bank-referrals.csv")
    tags = rows[1]
    assert all(t.startswith("#") for t in tags)
    standard = load_standard()
    assert all(standard.match_hashtag(t) for t in tags), tags
    assert {"#person+ethnicity", "#referral+source", "#date+activity"} <= set(tags)


def test_the_version_2_questions_are_tagged_with_the_standards_hashtags(demo: Path) -> None:
    standard = load_standard()
    found = set()
    for name in ("food-bank-referrals.csv", "volunteer-register.csv"):
        found |= {standard.match_hashtag(t).name for t in _rows(demo / name)[1]}  # type: ignore[union-attr]
    assert {"religion", "food_needs", "household_size", "volunteer_household_size"} <= found
    assert {"dbs_date", "languages_spoken", "support_needs", "income_band"} <= found


def test_volunteers_sign_in_with_their_hours_as_typed(demo: Path) -> None:
    rows = _rows(demo / "volunteer-sign-in.csv")
    assert rows[0] == ["Date", "Volunteer name", "Mobile", "Activity", "Task", "Hours"]
    hours = {r[5] for r in rows[1:]}
    assert len(rows) > 20 and {"2h30", "90 mins"} & hours and len(hours) >= 4
    register = _rows(demo / "volunteer-register.csv")
    families = {r[0].split()[-1] for r in register[2:]}
    assert len(families) == 8
    others = _text(demo / "wellbeing-form.csv") + _text(demo / "food-bank-referrals.csv")
    assert all(f in others or f.upper() in others for f in families), "volunteers are residents too"


def test_youth_club_has_two_differently_headed_sheets(demo: Path) -> None:
    wb = openpyxl.load_workbook(demo / "youth-club.xlsx")
    assert wb.sheetnames == ["March", "April"]
    march, april = ([c.value for c in ws[1]] for ws in wb)
    assert march != april and "Session date" in march
    values = [v for ws in wb for row in ws.iter_rows(min_row=2, values_only=True) for v in row]
    assert any(hasattr(v, "year") for v in values), "a real Excel date column"
    assert any(isinstance(v, str) and v.startswith("07700") for v in values)
    assert any(all(v is None for v in row) for row in wb["March"].iter_rows(values_only=True))


def test_exports_have_their_vendors_shape(demo: Path) -> None:
    eventbrite = _rows(demo / "eventbrite-attendees.csv")[0]
    assert eventbrite[:3] == ["Order #", "Order Date", "First Name"]
    assert {"Attendee #", "Attendee Status", "Home Postcode", "Cell Phone"} <= set(eventbrite)
    form = _rows(demo / "wellbeing-form.csv")
    assert form[0][:2] == ["Timestamp", "Email address"]
    assert all(re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (GMT|BST)", r[0]) for r in form[1:])


def test_the_same_person_appears_in_several_files(demo: Path) -> None:
    texts = [_text(demo / name) for name in FILES]
    assert sum("Okafor" in t or "OKAFOR" in t for t in texts) >= 3
    assert sum(bool(re.search(r"7700[ -]?900[ -]?123", t)) for t in texts) >= 3


def test_contact_details_are_fictional(demo: Path) -> None:
    text = "\n".join(_text(demo / name) for name in FILES)
    emails = re.findall(r"[\w.+-]+@[\w.-]+", text)
    assert emails and all(e.lower().endswith(("@example.org", "@example.com")) for e in emails)
    for person in _load_script().load_people():
        assert person.phone.startswith(("07700900", "02079460")), person
        assert person.email == "" or person.email.endswith(("@example.org", "@example.com"))
