"""An erased person's row never lands again, however it is edited (Hypothesis).

The store is real: the lunch club list is synced, Bartholomew is forgotten, and then for
each example the list is edited (columns added and reordered, his cells retyped in
another format, one of his details changed altogether) and synced again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import typer
from conftest import fresh_figures, funders_figures, scalar, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_forget import LUNCH, make_project
from typer.testing import CliRunner

from harvest.cli import privacy as cli_privacy
from harvest.config import load_config
from harvest.sync import sync

HEADERS = LUNCH[0]  # First name, Surname, Phone, Postcode, Date of birth, Email
BART = LUNCH[1]
IDENTIFYING = (0, 1, 2, 4, 5)
RETYPED = {  # the same value, typed another way
    0: ["BARTHOLOMEW", "bartholomew", " Bartholomew "],
    1: ["QUACKENBUSH", "quackenbush ", "Quackenbush"],
    2: ["07700900999", "+44 7700 900999", "+447700900999", "07700 900 999"],
    3: ["SE15 4QF", "se15 4qf", "SE154QF"],
    4: ["1961-03-02", "2/3/1961", "02/03/1961"],
    5: ["BART@EXAMPLE.ORG", " bart@example.org", "Bart@Example.org"],
}
EXTRA_HEADERS = ["Transport", "Dietary needs", "Lift home", "Volunteer notes"]


@st.composite
def edits(draw: st.DrawFn) -> list[list[str]]:
    """The lunch club list with Bartholomew's row edited, and columns added and reordered."""
    rows = [list(r) for r in LUNCH]
    for i, choices in RETYPED.items():
        if draw(st.booleans()):
            rows[1][i] = draw(st.sampled_from(choices))
    changed = draw(st.none() | st.sampled_from(IDENTIFYING))  # one detail changed for good
    if changed is not None:
        rows[1][changed] = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10))
    extra = draw(st.lists(st.sampled_from(EXTRA_HEADERS), unique=True, max_size=3))
    for header in extra:
        rows[0].append(header)
        for row in rows[1:]:
            row.append(draw(st.text("abc xyz", max_size=8)))
    order = draw(st.permutations(range(len(rows[0]))))
    return [[row[i] for i in order] for row in rows]


def test_an_erased_persons_row_never_lands_whatever_the_edit(project: Path) -> None:
    cfg = make_project(project)
    sync(load_config(cfg))
    app = typer.Typer()
    cli_privacy.register(app)
    out = CliRunner().invoke(
        app, ["forget", "--email", "bart@example.org", "--yes", "-c", str(cfg)]
    )
    assert out.exit_code == 0, out.output

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(edited=edits())
    def lands_nothing_of_his(edited: list[list[str]]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(shutil.copytree(project, Path(folder) / "p"))
            write_csv(copy / "lunch.csv", edited)
            os.utime(copy / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
            result = sync(load_config(copy / "harvest.yaml"))
            lunch = next(s for s in result.sources if s.name == "lunch")
            assert lunch.counts.forgotten == 1, edited
            current = "SELECT count(*) FROM records WHERE source = 'lunch' AND is_current = 1"
            assert scalar(copy / "harvest.db", current) == 2  # Alice and Carol only
            assert scalar(copy / "harvest.db", "SELECT count(*) FROM people") == 2
            # funders.db is built from that store: Bartholomew is not counted again
            figures = funders_figures(copy / "funders.db")
            assert figures == fresh_figures(copy / "harvest.yaml", Path(folder) / "fresh")

    lands_nothing_of_his()


def test_marks_come_from_cleaned_values_so_formats_do_not_matter() -> None:
    from harvest.dataprotection.identity import identity_marks, is_erased

    stored = {
        "given_name": "Bob",
        "family_name": "Okafor",
        "date_of_birth": "1961-03-02",
        "email": "bob.okafor@example.org",
        "phone": "+447700900123",
    }
    kept = set(identity_marks(stored, erased=True))

    def known(kind: str, value: str) -> bool:
        return (kind, value) in kept

    assert is_erased({**stored, "email": "BOB.OKAFOR@example.org", "given_name": "BOB"}, known)
    assert is_erased({"given_name": "Bob", "email": "bob.okafor@example.org"}, known)
    assert is_erased({"email": "bob.okafor@example.org"}, known)  # no name to tell apart
    # The household: the same landline and family name, another given name and birthday.
    assert not is_erased(
        {"given_name": "Ann", "family_name": "Okafor", "phone": "+447700900123"}, known
    )
    assert not is_erased({"given_name": "Bob", "family_name": "Okafor"}, known)
