"""Generate UK-style person records with a known truth, for the matching benchmark.

    .venv/bin/python bench/gen_people.py 100000 /tmp/people.csv [--seed 1] [--dup 0.3]

Each row is one mention of a person (``Person`` column: the truth, never given to
the matcher). About ``--dup`` of the rows are extra mentions of someone already
listed, corrupted as staff and forms corrupt them: typos, nicknames (Bob for
Robert), initials, given and family names swapped, surname changes, day and month
swapped, one-digit date typos, blanks, a new email or phone, a house move,
postcode spacing and case. People live in households that share a surname, an
address, a postcode and often a landline and an email; a few are twins.

Round two added the patterns matching missed on data nobody here generated: a
nickname with a typo in it; two typos in a short given name; a date of birth typo
that moves both day and month, or a year typo with day and month swapped; short
forms and variants the `nicknames` list lacks (Sal for Sarah, Paula for Pauline);
a new surname with the names typed the other way round; an abbreviated address with
its flat line dropped. Each row's ``Pattern`` column names the corruptions of that
mention (never given to the matcher: the benchmark reports what is missed by it).
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

GIVEN = {  # formal name → common nicknames (all in the `nicknames` data set)
    "Robert": ["Bob", "Rob", "Bobby"],
    "William": ["Bill", "Will", "Billy"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"],
    "Margaret": ["Maggie", "Peggy", "Meg"],
    "James": ["Jim", "Jimmy", "Jamie"],
    "Richard": ["Rich", "Dick", "Ricky"],
    "Katherine": ["Kate", "Kathy", "Katie"],
    "Michael": ["Mike", "Mick", "Mikey"],
    "Thomas": ["Tom", "Tommy"],
    "Jennifer": ["Jen", "Jenny"],
    "Susan": ["Sue", "Susie"],
    "Patricia": ["Pat", "Trish"],
    "Christopher": ["Chris"],
    "Anthony": ["Tony"],
    "Edward": ["Ed", "Eddie", "Ted"],
    "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"],
    "Alexander": ["Alex"],
    "Samuel": ["Sam"],
    "Joseph": ["Joe"],
    "Benjamin": ["Ben"],
    "Nicholas": ["Nick"],
    "Andrew": ["Andy", "Drew"],
    "Deborah": ["Debbie", "Deb"],
    "Rebecca": ["Becky"],
    "Victoria": ["Vicky"],
    "Jacqueline": ["Jackie"],
    "Catherine": ["Cathy", "Kate"],
    "David": ["Dave"],
    "Stephen": ["Steve"],
    "Peter": ["Pete"],
    "Frederick": ["Fred"],
    "Albert": ["Bert"],
    "Henry": ["Harry"],
    "Charles": ["Charlie"],
    "Dorothy": ["Dot"],
    "Jonathan": ["Jon"],
    "Timothy": ["Tim"],
    "Gregory": ["Greg"],
    "Philip": ["Phil"],
    "Kenneth": ["Ken"],
    "Ronald": ["Ron"],
    "Donald": ["Don"],
    "Barbara": ["Barb"],
    "Kimberly": ["Kim"],
    "Pamela": ["Pam"],
    "Christine": ["Chris"],
    "Abigail": ["Abby"],
    "Samantha": ["Sam"],
    "Alexandra": ["Alex"],
    "Theodore": ["Theo"],
}
PLAIN_GIVEN = """Oliver George Noah Leo Oscar Archie Arthur Muhammad Mohammed Jack Harry Jacob
Freddie Alfie Charlie Isaac Lucas Mason Ethan Logan Adam Ryan Liam Aaron Connor Callum Kieran
Jordan Lewis Scott Mark Paul Gary Ian Kevin Neil Craig Lee Wayne Dean Jason Darren Simon Martin
Graham Keith Colin Brian Derek Trevor Amir Hassan Yusuf Omar Ali Ibrahim Raj Sanjay Arjun Kwame
Olivia Amelia Isla Ava Mia Sophie Grace Lily Emily Ella Freya Poppy Ruby Evie Chloe Jessica
Lauren Hannah Laura Rachel Karen Julie Claire Lisa Joanne Nicola Helen Sarah Emma Amy Gemma
Kelly Louise Michelle Tracey Angela Sharon Wendy Janet Carol Linda Maureen Brenda Jean Joan Irene
Pauline Natasha
Aisha Fatima Priya Zainab Amina Maryam Noor Anjali Sunita Mei Chen Adaeze Chioma Niamh Siobhan
Eilidh Morag Rhiannon Cerys Bethan Megan Alice Anna Zoe Ruth Esther Naomi Holly Ivy Maisie""".split()
SURNAMES = """Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood
Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James
Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter
Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson
Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain
Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher
Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard
Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole
Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells
Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page
Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton
Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson Parry Burgess
Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton Byrne
Sutton McDonald Yates Hodgson Robson Curtis Hopkins O'Connor Harper Coleman Watkins Moss
McCarthy Chambers O'Neill Griffin Sharp Hardy Wheeler Potter Osborne Johnston Gordon Doyle
Wallace George Jordan Hutchinson Rowe Burke May Pritchard Gilbert Willis Higgins Read Miles
Stevenson Hammond Arnold Buckley Walters Hewitt Barber Nelson Slater Austin Sullivan Whitehead
Mann Frost Lambert Stephens Blake Akhtar Lynch Goodwin Barton Woodward Thomson Cunningham Quinn
Barnett Baxter Bibi Clayton Nash Greenwood Jennings Holt Kemp Poole Gallagher Bond Stokes Tucker
Davidson Fowler Heath Norman Middleton Lawson Banks French Stanley Jarvis Gibbs Ferguson Hayward
Carroll Farrell Duncan Nowak Kowalski Okafor Adeyemi Mensah Chowdhury Rahman Islam Uddin Miah
Nguyen Wong Zhang Mahmood Iqbal Sharma Gupta Kumar Osei Boateng Mwangi Hassan Abdi""".split()
PREFIXES = """Ash Brad Brom Cal Cart Col Crom Dal Elm Fair Gold Hal Hart Hey Kings Lang Mar Mid Nor
Oak Pen Rad Red Ross Shel Stan Stock Thorn War Wes Whit Brent Dun Gar Hol Pel Tal Wren Black
Bram Bur Chad Dar Ed Frith Glad Hather Ing Kel Lind Mel Ock Pad Quar Rush Sal Tod Ux Wal""".split()
SUFFIXES = """ley ton worth field shaw ford by wood well more ham stone bridge combe hurst dale
wick land ridge brook ington cott den thorpe stead""".split()
STREETS = """High Church Station Victoria Park Queen's King's Mill Green Manor London York Albert
Grange Meadow Chapel School North South West Orchard Willow Oak Elm Beech Cedar Springfield
Windsor Castle Bridge New""".split()
STREET_KINDS = ["Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Gardens", "Crescent"]
AREAS = """B BS CF E EC G L LS M N NE NG NW S SE SW W WC BN BR CR DA EN HA IG KT RM SM TW UB WD LE
CV DE DN HU LN NN PE PO RG SO SN OX GL BA TA EX PL TQ TR CB CM CO IP NR SS ST SY WV WS DY""".split()
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
VARIANTS = {  # formal name → short forms and variants the `nicknames` list lacks
    "Sarah": ["Sal", "Sadie"],
    "Pauline": ["Paula"],
    "Louise": ["Louisa"],
    "Julie": ["Julia"],
    "Joanne": ["Joanna"],
    "Christine": ["Christina"],
    "Katherine": ["Katie"],
    "Margaret": ["Mags"],
    "Rebecca": ["Bex"],
    "Natasha": ["Tash"],
}
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.org", "post.example.com"]


@dataclass
class Person:
    entity: int
    given: str
    family: str
    dob: date
    postcode: str
    address: str
    email: str
    phone: str
    landline: str
    patterns: tuple[str, ...] = ()  # the corruptions of this mention


def _zipf(items: list[str], s: float = 1.0) -> list[float]:
    return [1 / (i + 1) ** s for i in range(len(items))]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.given = list(GIVEN) + PLAIN_GIVEN
        self.rng.shuffle(self.given)
        self.given_w = _zipf(self.given, 0.7)
        tail = sorted({p + s for p in PREFIXES for s in SUFFIXES})
        self.surnames = SURNAMES + tail
        head = _zipf(SURNAMES, 0.9)
        scale = sum(head) * 0.5 / len(tail)  # the long tail holds about a third of people
        self.surname_w = head + [scale] * len(tail)
        self.emails: set[str] = set()

    def surname(self) -> str:
        return self.rng.choices(self.surnames, self.surname_w)[0]

    def given_name(self) -> str:
        return self.rng.choices(self.given, self.given_w)[0]

    def postcode(self) -> str:
        r = self.rng
        return (
            f"{r.choice(AREAS)}{r.randint(1, 29)} {r.randint(0, 9)}"
            f"{r.choice(INWARD_LETTERS)}{r.choice(INWARD_LETTERS)}"
        )

    def address(self) -> str:
        r = self.rng
        flat = f"Flat {r.randint(1, 12)}, " if r.random() < 0.15 else ""
        return f"{flat}{r.randint(1, 180)} {r.choice(STREETS)} {r.choice(STREET_KINDS)}"

    def mobile(self) -> str:
        return "07" + str(self.rng.randint(4, 9)) + "".join(self.rng.choices(string.digits, k=8))

    def landline(self) -> str:
        r = self.rng
        return r.choice(["020 7", "020 8", "0161 ", "0121 ", "0113 ", "0117 ", "0114 "]) + "".join(
            r.choices(string.digits, k=7)
        )

    def email(self, given: str, family: str) -> str:
        r = self.rng
        local = (
            r.choice(
                [
                    f"{given}.{family}",
                    f"{given[0]}{family}",
                    f"{given}{family[:3]}",
                    f"{family}.{given[0]}",
                ]
            )
            .lower()
            .replace("'", "")
        )
        while True:
            address = f"{local}{r.randint(1, 999) if r.random() < 0.6 else ''}@{r.choice(DOMAINS)}"
            if address not in self.emails:
                self.emails.add(address)
                return address

    def households(self, n_people: int) -> Iterator[Person]:
        entity = 0
        while entity < n_people:
            r = self.rng
            size = r.choices([1, 2, 3, 4, 5, 6], [40, 28, 14, 11, 5, 2])[0]
            family = self.surname()
            postcode, address = self.postcode(), self.address()
            landline = self.landline() if r.random() < 0.5 else ""
            shared_email = self.email(self.given_name(), family) if r.random() < 0.2 else ""
            adult_year = r.randint(1940, 2004)
            twins_at = r.randint(1, size - 1) if size >= 3 and r.random() < 0.05 else -1
            previous: Person | None = None
            for k in range(size):
                if k == twins_at + 1 and previous is not None:
                    dob = previous.dob  # a twin
                else:
                    year = (
                        adult_year + r.randint(-3, 3) if k < 2 else adult_year + r.randint(20, 38)
                    )
                    year = min(year, 2024)
                    dob = date(year, 1, 1) + timedelta(days=r.randint(0, 364))
                given = self.given_name()
                while previous and given == previous.given:
                    given = self.given_name()
                person = Person(
                    entity,
                    given,
                    family if r.random() < 0.85 or k == 0 else self.surname(),
                    dob,
                    postcode,
                    address,
                    shared_email or self.email(given, family),
                    self.mobile(),
                    landline,
                )
                yield person
                previous = person
                entity += 1
                if entity >= n_people:
                    return


# --- corruption --------------------------------------------------------------------------


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 2:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i:]


def nickname(rng: random.Random, given: str) -> str:
    options = GIVEN.get(given)
    return rng.choice(options) if options else given


def corrupt(g: Generator, p: Person) -> Person:
    r = g.rng
    q = replace(p)
    tags: list[str] = []
    _corrupt_given(r, q, tags)
    if r.random() < 0.07:
        q.family, tags = typo(r, q.family), [*tags, "family typo"]
    if r.random() < 0.03:
        q.family, tags = g.surname(), [*tags, "new surname"]  # married, or a second surname
    elif r.random() < 0.01:
        q.family, tags = g.surname(), [*tags, "new surname and names swapped"]
    _corrupt_dob(r, q, tags)
    if r.random() < 0.05:
        q.postcode, q.address = g.postcode(), g.address()  # moved house
        tags.append("moved")
    elif q.address.startswith("Flat") and r.random() < 0.2:
        q.address = _abbreviated(q.address.split(", ", 1)[1])
        tags.append("flat dropped, address abbreviated")
    if r.random() < 0.12:
        q.email, tags = g.email(q.given, q.family), [*tags, "new email"]
    if r.random() < 0.12:
        q.phone, tags = g.mobile(), [*tags, "new phone"]
    q.patterns = tuple(tags)
    return q


def _corrupt_given(r: random.Random, q: Person, tags: list[str]) -> None:
    if r.random() < 0.12:
        q.given = nickname(r, q.given)
        tags.append("nickname")
    if r.random() < 0.07:
        q.given = typo(r, q.given)
        tags.append("given typo")
    if r.random() < 0.03:
        q.given = q.given[0]
        tags.append("initial")
    elif r.random() < 0.02 and q.given in GIVEN:
        q.given = typo(r, nickname(r, q.given))
        tags.append("nickname with a typo")
    elif r.random() < 0.015 and len(q.given) <= 6:
        q.given = typo(r, typo(r, q.given))
        tags.append("two typos in a short given name")
    elif r.random() < 0.3 and q.given in VARIANTS:
        q.given = r.choice(VARIANTS[q.given])
        tags.append("nickname the list lacks")


def _corrupt_dob(r: random.Random, q: Person, tags: list[str]) -> None:
    d = q.dob
    if r.random() < 0.05 and d.day <= 12 and d.day != d.month:
        q.dob = date(d.year, d.day, d.month)
        tags.append("day and month swapped")
    elif r.random() < 0.04:
        q.dob = _dob_typo(r, d)
        tags.append("dob typo")
    elif r.random() < 0.015:
        q.dob = _day_and_month_typo(r, d)
        tags.append("dob typo moving day and month")
    elif r.random() < 0.01 and d.day <= 12 and d.day != d.month:
        q.dob = date(d.year + r.choice([-1, 1, -10, 10]), d.day, d.month)
        tags.append("dob year typo, day and month swapped")


def _day_and_month_typo(r: random.Random, d: date) -> date:
    """One keying slip that moves both: 12/05 typed 21/05 → 2105 → 21/05 read as 2/11…"""
    try:
        return d.replace(month=min(12, max(1, d.month + r.choice([-1, 1]))), day=d.day % 28 + 1)
    except ValueError:
        return d


def _abbreviated(address: str) -> str:
    return address.replace("Road", "Rd").replace("Street", "St").replace("Avenue", "Ave")


def _dob_typo(r: random.Random, d: date) -> date:
    kind = r.randrange(3)
    try:
        if kind == 0:
            return d.replace(year=d.year + r.choice([-1, 1, -10, 10]))
        if kind == 1:
            return d.replace(day=min(28, max(1, d.day + r.choice([-1, 1, 10, -10]))))
        return d.replace(month=min(12, max(1, d.month + r.choice([-1, 1]))))
    except ValueError:
        return d


def as_typed(g: Generator, p: Person, row_id: int) -> dict[str, str]:
    """One row as a person or export would write it: formats, case, spacing, blanks."""
    r = g.rng
    given, family = p.given, p.family
    swapped = r.random() < 0.03 or "new surname and names swapped" in p.patterns
    if swapped:
        given, family = family, given
    style = r.random()
    if style < 0.1:
        given, family = given.upper(), family.upper()
    elif style < 0.2:
        given, family = given.lower(), family.lower()
    dob = ""
    if r.random() > 0.2:
        dob = r.choice(
            [
                p.dob.strftime("%d/%m/%Y"),
                p.dob.isoformat(),
                p.dob.strftime("%-d/%-m/%Y"),
                p.dob.strftime("%d-%m-%Y"),
            ]
        )
    postcode = ""
    if r.random() > 0.1:
        postcode = p.postcode if r.random() < 0.5 else p.postcode.replace(" ", "")
        postcode = postcode.lower() if r.random() < 0.3 else postcode
    phone = ""
    roll = r.random()
    if roll < 0.55:
        phone = p.phone if r.random() < 0.5 else p.phone.replace("07", "+44 7", 1)
    elif roll < 0.75 and p.landline:
        phone = p.landline
    address = p.address if r.random() > 0.4 else ""
    if address and r.random() < 0.3:
        address = _abbreviated(address)
    return {
        "ID": str(row_id),
        "First name": given,
        "Surname": family,
        "Date of birth": dob,
        "Postcode": postcode,
        "Email": p.email if r.random() > 0.35 else "",
        "Phone": phone,
        "Address": address,
        "Pattern": "; ".join(p.patterns),
        "Person": str(p.entity),
    }


def generate(n: int, seed: int = 1, dup: float = 0.3) -> list[dict[str, str]]:
    """n rows: (1 − dup)·n people, the rest extra, corrupted mentions of some of them."""
    g = Generator(seed)
    people = list(g.households(round(n * (1 - dup))))
    rows = [as_typed(g, p, 0) for p in people]
    r = g.rng
    while len(rows) < n:
        base = (
            people[int(r.paretovariate(1.2) * 7919) % len(people)]
            if r.random() < 0.2
            else r.choice(people)
        )
        rows.append(as_typed(g, corrupt(g, base), 0))
    r.shuffle(rows)
    for i, row in enumerate(rows, 1):
        row["ID"] = str(i)
    return rows


def write(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dup", type=float, default=0.3)
    args = parser.parse_args(argv)
    write(generate(args.n, args.seed, args.dup), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
