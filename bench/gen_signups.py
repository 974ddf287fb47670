"""Write a large, messy, fictional sign-up CSV for benchmarks.

    python bench/gen_signups.py N OUT.csv

Twelve columns (First name, Surname, Date of birth, Gender, Postcode, Phone, Email,
Activity, Session date, Attended, Referral source, Notes), N rows, written in chunks
so memory stays flat however large N is. Values are realistic UK mess: dates in
several formats, phones with and without +44 or spaces, postcodes in any case and
spacing, the same people signing up again and again under the same details. Every
value is fictional (phones in Ofcom's drama ranges, emails @example.org/.com), and
a fixed seed makes the output identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

SEED = 1066
CHUNK = 20_000
PEOPLE = 25_000  # distinct people; rows reuse them, as real sign-up sheets do
SESSIONS = 20_000  # distinct (activity, date, status, referral, notes) combinations

HEADER = [
    "First name",
    "Surname",
    "Date of birth",
    "Gender",
    "Postcode",
    "Phone",
    "Email",
    "Activity",
    "Session date",
    "Attended",
    "Referral source",
    "Notes",
]
GIVEN = (
    "Olivia Amelia Isla Ava Mia Grace Zoë Renée Aisha Fatima Priya Gurpreet Chloe Ellie "
    "Margaret Patricia Dorothy Kathleen Yvonne Hannah Sarah Oliver George Noah Leo Jack "
    "Robert Bob William Bill José Mohammed Abdul Kwame Winston Tomasz Daniel Michael Jayden "
    "Kai Lee Jamal Stanisław Siobhan Ewan Rhys Dylan Aaliyah Yusuf"
).split()
FAMILY = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Roberts Johnson Walker "
    "Wright Robinson Thompson White Hughes Edwards Green Hall Wood Harris Martin Jackson "
    "Clarke O'Brien Doyle Byrne Okafor Mensah Asante Adebayo Patel Khan Begum Rahman Ali "
    "Hussain Sandhu Chen Nowak Kowalski Fernandes Hassan Ibrahim McDonald Campbell "
    "Fischer Bennett Palmer Morris"
).split()
DISTRICTS = "NW1 NW5 N7 N19 E8 E5 SE15 SE5 SW9 M14 M13 M16 M21 M8 M40".split()
ACTIVITIES = [
    "Lunch club",
    "Youth club",
    "Food bank",
    "Coffee morning",
    "ESOL class",
    "Walking group",
    "Homework club",
    "Chair yoga",
    "Digital drop-in",
    "Men's shed",
]
GENDERS = [
    "F",
    "M",
    "Female",
    "Male",
    "female",
    "male",
    "Woman",
    "Man",
    "Non-binary",
    "Prefer not to say",
    "",
    "f",
    "m",
]
ATTENDED = ["Y", "Yes", "yes", "y", "x", "✓", "No", "N", "DNA", "", "1", "0", "TRUE"]
REFERRALS = [
    "",
    "",
    "Self",
    "Self-referral",
    "GP",
    "GP – social prescriber",
    "Friend",
    "Citizens Advice",
    "Jobcentre Plus",
    "Housing officer",
    "School",
    "Poster",
]
NOTES = [
    "",
    "",
    "",
    "",
    "",
    "Needs lift home",
    "Diabetic, no sugar",
    "Brought a friend",
    "Paid £2.50",
    "Café voucher",
    "Wheelchair user; ground floor please",
    'Said "see you next week"',
    "Interpreter: Polish",
    "Allergic to nuts, eggs",
]


def typed_date(day: date, rng: random.Random) -> str:
    style = rng.randrange(6)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.day}/{day.month}/{day.year}"
    if style == 2:
        return f"{day.day}/{day.month}/{day.year % 100:02d}"
    if style == 3:
        return day.strftime("%d %b %Y")
    if style == 4:
        return day.strftime("%d.%m.%Y")
    return day.strftime("%d/%m/%Y")


def typed_phone(rng: random.Random) -> str:
    if rng.random() < 0.25:
        n = f"{rng.randrange(1000):04d}"
        return rng.choice([f"020 7946 {n}", f"(020) 7946 {n}", f"0207946{n}", f"+44 20 7946 {n}"])
    n = f"{rng.randrange(1000):03d}"
    return rng.choice(
        [
            f"07700 900{n}",
            f"07700900{n}",
            f"+44 7700 900{n}",
            f"+447700900{n}",
            f"7700900{n}",
            f"07700-900-{n}",
            "",
        ]
    )


def typed_postcode(rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    code = f"{rng.choice(DISTRICTS)} {rng.randrange(10)}{rng.choice(letters)}{rng.choice(letters)}"
    return rng.choice([code, code, code.lower(), code.replace(" ", ""), f" {code}", code.title()])


def person(rng: random.Random) -> tuple[str, ...]:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    born = date(1935, 1, 1) + timedelta(days=rng.randrange(80 * 365))
    local = f"{given}.{family}{rng.randrange(100)}".lower().replace("'", "")
    local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    email = rng.choice(
        [f"{local}@example.org", f"{local}@example.com", "", local.upper() + "@EXAMPLE.ORG"]
    )
    if rng.random() < 0.1:
        given, family = given.upper(), family.upper()
    return (
        given,
        family,
        typed_date(born, rng),
        rng.choice(GENDERS),
        typed_postcode(rng),
        typed_phone(rng),
        email,
    )


def session(rng: random.Random) -> tuple[str, ...]:
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(820))  # to March 2026
    return (
        rng.choice(ACTIVITIES),
        typed_date(day, rng),
        rng.choice(ATTENDED),
        rng.choice(REFERRALS),
        rng.choice(NOTES),
    )


def rows(n: int, seed: int = SEED) -> Iterator[list[tuple[str, ...]]]:
    """Yield chunks of rows; pools of people and sessions are built once, then sampled."""
    rng = random.Random(seed)
    people = [person(rng) for _ in range(PEOPLE)]
    sessions = [session(rng) for _ in range(SESSIONS)]
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        who, what = rng.choices(people, k=k), rng.choices(sessions, k=k)
        yield [p + s for p, s in zip(who, what, strict=True)]
        done += k


def write(n: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(HEADER)
        for chunk in rows(n):
            writer.writerows(chunk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write N rows of fictional sign-ups as CSV.")
    parser.add_argument("n", type=int, help="number of data rows")
    parser.add_argument("out", type=Path, help="CSV file to write")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be 0 or more")
    write(args.n, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
