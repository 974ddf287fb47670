"""Write the demo data of a fictional charity, Riverside Community Trust.

Seven files, each in the shape a small charity really has, with the same ~40
fictional people appearing across them under slightly different spellings and
formats (Bob/Robert, upper case, postcode spacing, phone formats), so that exact
matching on email, phone or name + date of birth joins some of them:

    lunch-club-2026-03.csv     typed sign-in sheet, Windows-1252, title row above the header
    youth-club.xlsx            two sheets ("March", "April") with different headers
    food-bank-referrals.csv    a council-style list with a HXL hashtag row (and the
                               standard's version 2 questions: religion, food needs…)
    eventbrite-attendees.csv   Eventbrite's "Attendee summary" export
    wellbeing-form.csv         a Google Forms responses export (WEMWBS scores, health,
                               outcomes at the follow-up)
    volunteer-register.csv     volunteers' skills, availability, DBS checks, languages (HXL)
    volunteer-sign-in.csv      the volunteers' sign-in sheet: activity, task and hours

Answers to the version 2 questions are in sample_answers_v2.py, beside this script.

Every value is fictional: phone numbers are in Ofcom's drama ranges (07700 900xxx,
020 7946 0xxx), emails are @example.org / @example.com. Output is deterministic:
running the script twice gives byte-identical files.

    python scripts/make_sample_data.py [--out harvest/demo]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import sys
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sample_answers_v2, beside this file
import sample_answers_v2 as v2  # noqa: E402

SEED = 20260301
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "harvest" / "demo"
FIXED_TIME = datetime(2026, 4, 30, 9, 0, 0)  # workbook properties and zip entry dates

# key | given | nickname | family | born | gender f/m | postcode | phone | email | ethnicity | files
# email: "@org" / "@com" stand for @example.org / @example.com; ethnicity: a key of ETHNICITY
# files: L lunch club, Y youth club, F food bank, E Eventbrite, W wellbeing form, V volunteers
PEOPLE_TABLE = """
bob     |Robert   |Bob   |Okafor   |1961-03-02|m|NW1 2AB |07700900123|bob.okafor@org      |bafr|LFEW
maggie  |Margaret |Maggie|Doyle    |1948-11-17|f|NW1 7QT |02079460412|                    |wiri|LF
jose    |José     |      |Fernandes|1955-06-09|m|NW5 3LP |07700900210|jose.fernandes@com  |woth|LEW
renee   |Renée    |      |Clarke   |1952-01-24|f|NW1 8HD |02079460533|renee.clarke@org    |wbri|LWV
pat     |Patricia |Pat   |Hughes   |1944-07-30|f|N7 8RS  |02079460088|                    |wbri|L
bill    |William  |Bill  |Thompson |1940-12-05|m|N7 6QJ  |02079460171|                    |wbri|L
gurpreet|Gurpreet |      |Sandhu   |1958-04-14|f|NW5 1TL |07700900344|g.sandhu@com        |aind|LF
abdul   |Abdul    |      |Rahman   |1950-09-21|m|E8 3PN  |07700900377|                    |aban|LF
dorothy |Dorothy  |Dot   |Palmer   |1939-02-11|f|NW1 2AB |02079460250|                    |wbri|L
winston |Winston  |      |Campbell |1946-08-19|m|N7 9DF  |07700900401|winston.campbell@org|bcar|LE
betty   |Elizabeth|Betty |Morris   |1947-05-03|f|NW5 2JH |02079460627|                    |wbri|L
stan    |Stanisław|Stan  |Nowak    |1957-10-28|m|M14 5TQ |07700900455|s.nowak@com         |woth|LF
yvonne  |Yvonne   |      |Mensah   |1976-06-15|f|NW1 3EX |07700900488|yvonne.mensah@org   |bafr|LE
kath    |Kathleen |Kath  |O'Brien  |1945-03-08|f|M14 6HR |02079460719|                    |wiri|L
zoe     |Zoë      |      |Bennett  |1964-11-30|f|NW1 7QT |07700900512|zoe.bennett@org     |mwbc|LEW
aisha   |Aisha    |      |Begum    |1988-02-27|f|E8 1DY  |07700900533|aisha.begum@com     |aban|FEW
dan     |Daniel   |Dan   |Walsh    |1979-07-07|m|M14 4PL |07700900566|dan.walsh@org       |wbri|FWV
priya   |Priya    |      |Patel    |1991-09-12|f|M13 9PL |07700900589|priya.patel@com     |aind|EWV
kwame   |Kwame    |      |Asante   |1983-01-19|m|M16 7RA |07700900602|kwame.asante@org    |bafr|FE
sarah   |Sarah    |      |Jones    |1975-12-01|f|M14 5TQ |07700900615|sarah.jones@com     |wwel|FWV
mo      |Mohammed |Mo    |Ali      |1969-04-22|m|M13 0FE |07700900638|                    |apak|LF
chloe   |Chloe    |      |Wright   |1993-08-05|f|SE15 4QN|07700900651|chloe.wright@com    |wbri|E
tomasz  |Tomasz   |      |Kowalski |1986-05-16|m|M21 9SW |07700900674|t.kowalski@org      |woth|FWV
fatima  |Fatima   |      |Hassan   |1980-10-10|f|M14 6LT |07700900697|fatima.hassan@com   |arab|FEWV
lee     |Lee      |      |Roberts  |1972-03-29|m|N7 0EQ  |07700900710|                    |wbri|F
grace   |Grace    |      |Adebayo  |1990-06-23|f|SE15 5DP|07700900733|grace.adebayo@org   |bafr|EWV
mick    |Michael  |Mick  |Byrne    |1966-02-14|m|M16 8EJ |02079460844|                    |wiri|LF
hannah  |Hannah   |      |Fischer  |1998-11-04|f|NW5 4AX |07700900756|hannah.fischer@com  |woth|EWV
jamal   |Jamal    |      |Brown    |1985-09-30|m|E8 2HB  |07700900779|jamal.brown@org     |bcar|FE
zara    |Zara     |      |Khan     |2011-05-09|f|M14 5TQ |07700900802|                    |apak|YE
jayden  |Jayden   |      |Mensah   |2010-08-21|m|NW1 3EX |07700900825|                    |bafr|YE
ellie   |Ellie    |      |Smith    |2012-01-15|f|NW1 8HD |07700900848|                    |wbri|Y
ollie   |Oliver   |Ollie |Green    |2009-04-02|m|NW5 3LP |07700900861|ollie.green@com     |wbri|YEW
amara   |Amara    |      |Okafor   |2010-12-12|f|NW1 2AB |07700900884|                    |bafr|YE
leo     |Leo      |      |Martin   |2013-03-17|m|M14 4PL |07700900897|                    |moth|Y
maya    |Maya     |      |Chen     |2011-07-25|f|M13 9PL |07700900910|                    |achi|Y
kai     |Kai      |      |Thompson |2012-10-03|m|N7 6QJ  |07700900933|                    |wbri|Y
ruby    |Ruby     |      |Evans    |2009-06-28|f|M16 7RA |07700900956|ruby.evans@org      |wbri|YW
noah    |Noah     |      |Ibrahim  |2010-02-08|m|E8 3PN  |07700900979|                    |both|Y
isla    |Isla     |      |McDonald |2011-09-19|f|M21 9SW |07700900992|                    |wsco|Y
"""

# How each ethnic group is written in the food bank list (short) and the form (ONS wording).
WHITE_UK = "White: English, Welsh, Scottish, Northern Irish or British"
BLACK = "Black, Black British, Caribbean or African: "
ETHNICITY = {
    "wbri": ("White British", WHITE_UK),
    "wwel": ("Welsh", WHITE_UK),
    "wsco": ("Scottish", WHITE_UK),
    "wiri": ("Irish", "White: Irish"),
    "woth": ("White other", "White: Any other White background"),
    "mwbc": ("Mixed", "Mixed or Multiple: White and Black Caribbean"),
    "moth": ("Mixed other", "Mixed or Multiple: Any other Mixed or Multiple background"),
    "aind": ("Indian", "Asian or Asian British: Indian"),
    "apak": ("Pakistani", "Asian or Asian British: Pakistani"),
    "aban": ("Bangladeshi", "Asian or Asian British: Bangladeshi"),
    "achi": ("Chinese", "Asian or Asian British: Chinese"),
    "bafr": ("Black African", BLACK + "African"),
    "bcar": ("Black Caribbean", BLACK + "Caribbean"),
    "both": ("Black other", BLACK + "Any other Black background"),
    "arab": ("Arab", "Other ethnic group: Arab"),
}


@dataclass(frozen=True)
class Person:
    key: str
    given: str
    nickname: str
    family: str
    dob: date
    gender: str
    postcode: str
    phone: str
    email: str
    ethnicity: str
    files: str

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"

    def age_on(self, day: date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))


def load_people() -> list[Person]:
    people = []
    for line in PEOPLE_TABLE.strip().splitlines():
        cells = [c.strip() for c in line.split("|")]
        cells[4] = date.fromisoformat(cells[4])  # type: ignore[call-overload]
        cells[5] = {"f": "female", "m": "male"}[cells[5]]
        if cells[8]:
            cells[8] = cells[8].replace("@org", "@example.org").replace("@com", "@example.com")
        people.append(Person(*cells))  # type: ignore[arg-type]
    return people


def in_file(people: Iterable[Person], code: str) -> list[Person]:
    return [p for p in people if code in p.files]


# --- how people type things ---------------------------------------------------------


def phone_as_typed(phone: str, rng: random.Random, international: bool = True) -> str:
    """A UK number in one of the ways people write it (always with its leading zero
    unless ``international`` allows +44)."""
    if phone.startswith("020"):
        styles = [
            f"020 {phone[3:7]} {phone[7:]}",
            f"(020) {phone[3:7]} {phone[7:]}",
            f"0{phone[1:4]} {phone[4:7]} {phone[7:]}",
            phone,
        ]
    else:
        styles = [
            f"{phone[:5]} {phone[5:]}",
            phone,
            f"+44 {phone[1:5]} {phone[5:]}",
            f"{phone[:5]}-{phone[5:8]}-{phone[8:]}",
            f"+44{phone[1:]}",
        ]
    if not international:
        styles = [s for s in styles if s.startswith(("0", "("))]
    return rng.choice(styles)


def postcode_as_typed(postcode: str, rng: random.Random) -> str:
    compact = postcode.replace(" ", "")
    styles = [
        postcode,
        postcode,
        postcode.lower(),
        compact,
        compact.lower(),
        postcode.title(),
        postcode.replace(" ", "  "),
    ]
    return rng.choice(styles)


def name_as_typed(name: str, rng: random.Random) -> str:
    return rng.choice([name, name, name, name.upper(), name.lower(), f" {name}"])


def short_date(day: date) -> str:
    """2/3/1961: day first, no leading zeros, as people type it."""
    return f"{day.day}/{day.month}/{day.year}"


def uk_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


# --- writers -----------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def save_workbook(wb: openpyxl.Workbook, path: Path) -> None:
    """Save with fixed document dates and zip entry times, so the bytes never change."""
    wb.properties.creator = "Riverside Community Trust"
    wb.properties.created = FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)  # openpyxl stamps "modified" with the current time: pin it below
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data)
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    path.write_bytes(out.getvalue())


# --- the five files ----------------------------------------------------------------

LUNCH_DAYS = [date(2026, 3, d) for d in (3, 10, 17, 24, 31)]
LUNCH_NOTES = [
    "",
    "",
    "",
    "",
    "Diabetic – no sugar",
    "Brought a neighbour",
    "Café voucher given",
    "Needs lift home",
    "Paid for friend",
]


def lunch_row(p: Person, day: date, rng: random.Random) -> list[str]:
    first = p.nickname if p.nickname and rng.random() < 0.6 else p.given
    if p.key == "stan":
        first = "Stanislaw"  # "ł" has no Windows-1252 byte: typed without it
    dob = short_date(p.dob) if rng.random() < 0.85 else p.dob.strftime("%d/%m/%y")
    attended = rng.choice(["Y", "Y", "y", "yes", "x", "Yes"]) if rng.random() < 0.9 else "No"
    paid = "£2.50" if attended != "No" and rng.random() < 0.8 else "£0"
    return [
        first,
        name_as_typed(p.family, rng),
        postcode_as_typed(p.postcode, rng),
        phone_as_typed(p.phone, rng, international=False),
        dob,
        uk_date(day),
        attended,
        paid,
        rng.choice(LUNCH_NOTES),
    ]


def make_lunch_club(people: list[Person], out: Path) -> None:
    rng = random.Random(f"{SEED}:lunch")
    header = [
        "First Name",
        "Surname",
        "Post Code",
        "Tel",
        "Date of birth",
        "Date",
        "Attended?",
        "Paid",
        "Notes",
    ]
    blank = [""] * len(header)
    rows: list[list[str]] = [["Riverside Lunch Club – sign-in sheet", *blank[1:]], blank, header]
    for day in LUNCH_DAYS:
        for p in in_file(people, "L"):
            if rng.random() < 0.7:
                rows.append(lunch_row(p, day, rng))
    write_csv(out / "lunch-club-2026-03.csv", rows, encoding="cp1252")


YOUTH_MARCH = ["Name", "Age", "Gender", "Postcode", "Mobile", "Session date"]
YOUTH_APRIL = ["Full Name", "Age", "Gender", "Postocde", "Mobile No.", "Date"]
GENDER_TYPED = {
    "female": ["F", "Female", "female", "Girl", "femal"],
    "male": ["M", "Male", "male", "Boy", "Mle"],
}


def youth_row(p: Person, day: date, rng: random.Random) -> list[object]:
    name = p.full_name if not p.nickname or rng.random() < 0.5 else f"{p.nickname} {p.family}"
    if rng.random() < 0.15:
        name = name.replace(" ", "  ")  # a double space, as typed
    age: object = p.age_on(day) if rng.random() < 0.85 else f"{p.age_on(day)} "
    phone: object = p.phone
    if rng.random() < 0.15:
        phone = int(p.phone)  # Excel ate the leading zero
    elif rng.random() < 0.3:
        phone = f"{p.phone[:5]} {p.phone[5:]}"
    gender = rng.choice(GENDER_TYPED[p.gender])
    return [name, age, gender, postcode_as_typed(p.postcode, rng), phone, day]


def fill_youth_sheet(
    ws: object, header: list[str], days: list[date], youth: list[Person], rng: random.Random
) -> None:
    ws.append(header)  # type: ignore[attr-defined]
    for i, day in enumerate(days):
        if i == 1:
            ws.append([])  # type: ignore[attr-defined]  # an empty row left in the middle
        for p in youth:
            if rng.random() < 0.65:
                ws.append(youth_row(p, day, rng))  # type: ignore[attr-defined]
    for row in ws.iter_rows(min_row=2):  # type: ignore[attr-defined]
        if len(row) == 6:
            row[4].number_format = "@" if isinstance(row[4].value, str) else "0"
            row[5].number_format = "dd/mm/yyyy"


def make_youth_club(people: list[Person], out: Path) -> None:
    rng = random.Random(f"{SEED}:youth")
    youth = in_file(people, "Y")
    wb = openpyxl.Workbook()
    march = wb.active
    march.title = "March"
    fill_youth_sheet(march, YOUTH_MARCH, [date(2026, 3, d) for d in (5, 12, 19, 26)], youth, rng)
    april = wb.create_sheet("April")
    fill_youth_sheet(april, YOUTH_APRIL, [date(2026, 4, d) for d in (2, 9, 16)], youth, rng)
    save_workbook(wb, out / "youth-club.xlsx")


FOOD_BANK_HEADER = [
    "First name",
    "Last name",
    "Postcode",
    "Date of birth",
    "Phone",
    "Referred by",
    "Ethnicity",
    "Date referred",
]
FOOD_BANK_HXL = [
    "#person+name+given",
    "#person+name+family",
    "#adm+postcode",
    "#person+birth+date",
    "#contact+phone",
    "#referral+source",
    "#person+ethnicity",
    "#date+activity",
    *v2.RESIDENT_HXL.values(),
]
FOOD_BANK_HEADER += list(v2.RESIDENT_HXL)
REFERRERS = [
    "Citizens Advice",
    "GP – social prescriber",
    "Jobcentre Plus",
    "Self-referral",
    "Riverside Lunch Club",
    "Housing officer",
    "Health visitor",
]


def food_bank_row(p: Person, day: date, rng: random.Random) -> list[str]:
    family = p.family.upper() if rng.random() < 0.4 else p.family
    dob = p.dob.isoformat() if rng.random() < 0.5 else uk_date(p.dob)
    ethnicity = ETHNICITY[p.ethnicity][0] if rng.random() < 0.85 else "Prefer not to say"
    referred = day.isoformat() if rng.random() < 0.7 else uk_date(day)
    return [
        p.given,
        family,
        postcode_as_typed(p.postcode, rng),
        dob,
        phone_as_typed(p.phone, rng),
        rng.choice(REFERRERS),
        ethnicity,
        referred,
        *v2.resident(p.key, p.ethnicity).values(),
    ]


def make_food_bank(people: list[Person], out: Path) -> None:
    rng = random.Random(f"{SEED}:food-bank")
    rows = [FOOD_BANK_HEADER, FOOD_BANK_HXL]
    start = date(2026, 3, 2)
    for p in in_file(people, "F"):
        for _ in range(rng.choice([1, 1, 2])):
            day = start + timedelta(days=rng.randrange(0, 40))
            rows.append(food_bank_row(p, day, rng))
    write_csv(out / "food-bank-referrals.csv", rows)


EVENTBRITE_HEADER = [
    "Order #",
    "Order Date",
    "First Name",
    "Last Name",
    "Email",
    "Quantity",
    "Ticket Type",
    "Attendee #",
    "Barcode #",
    "Order Type",
    "Total Paid",
    "Eventbrite Fees",
    "Event Name",
    "Event ID",
    "Attendee Status",
    "Home Address 1",
    "Home City",
    "Home Postcode",
    "Cell Phone",
    "Gender",
    "Age",
    "Checked In",
]
EVENT_DAY = date(2026, 3, 21)
STREETS = [
    "Canal Street",
    "Riverside Walk",
    "Mill Lane",
    "Station Road",
    "Church Street",
    "Park View",
    "Wharf Road",
    "Victoria Terrace",
]


def eventbrite_orders(people: list[Person]) -> list[list[Person]]:
    """Orders: a parent books for their child; everyone else books alone."""
    by_key = {p.key: p for p in people}
    together = {"yvonne": ["jayden"], "bob": ["amara"]}
    booked = {k for kids in together.values() for k in kids}
    return [
        [p, *(by_key[k] for k in together.get(p.key, []))]
        for p in in_file(people, "E")
        if p.key not in booked
    ]


@dataclass(frozen=True)
class Order:
    number: str
    placed: datetime
    address: str
    city: str
    people: list[Person]


def eventbrite_order(n: int, people: list[Person], rng: random.Random) -> Order:
    placed = datetime(2026, 3, 1, 9) + timedelta(seconds=rng.randrange(0, 20 * 24 * 3600))
    city = "Manchester" if people[0].postcode.startswith("M") else "London"
    address = f"{rng.randrange(1, 120)} {rng.choice(STREETS)}"
    return Order(str(1400000000 + n * 7919), placed, address, city, people)


def ascii_name(name: str) -> str:
    """Zoë → Zoe: accents dropped, as often happens when booking on a phone."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def eventbrite_row(p: Person, order: Order, rng: random.Random) -> list[str]:
    buyer, child = order.people[0], p.age_on(EVENT_DAY) < 18
    paid = rng.random() < 0.4 and not child
    status = rng.choice(["Checked In", "Checked In", "Checked In", "Attending", "Not Attending"])
    phone = p.phone if p.phone.startswith("07") else ""
    phone = phone[1:] if phone and rng.random() < 0.4 else phone  # lost its leading zero
    attendee = str(int(order.number) * 2 + order.people.index(p))
    return [
        order.number,
        order.placed.strftime("%Y-%m-%d %H:%M:%S"),
        ascii_name(p.given),
        p.family,
        p.email if p is buyer or not child else "",
        str(len(order.people)),
        "Child (free)" if child else ("Adult (donation)" if paid else "Adult (free)"),
        attendee,
        f"{attendee}001",
        "Eventbrite Completed" if paid else "Free Order",
        "5.00" if paid else "0.00",
        "0.69" if paid else "0.00",
        "Riverside Spring Fun Day",
        "987654321012",
        status,
        order.address,
        order.city,
        buyer.postcode,
        phone,
        p.gender.title() if rng.random() < 0.9 else "Prefer not to say",
        str(p.age_on(EVENT_DAY)),
        "Yes" if status == "Checked In" else "No",
    ]


def make_eventbrite(people: list[Person], out: Path) -> None:
    rng = random.Random(f"{SEED}:eventbrite")
    rows = [EVENTBRITE_HEADER]
    for n, group in enumerate(eventbrite_orders(people), start=1):
        order = eventbrite_order(n, group, rng)
        rows += [eventbrite_row(p, order, rng) for p in group]
    write_csv(out / "eventbrite-attendees.csv", rows)


FORM_HEADER = [
    "Timestamp",
    "Email address",
    "What is your full name?",
    "What is your postcode?",
    "Date of birth",
    "How would you describe your ethnic group?",
    "How did you hear about us?",
    "Measure",
    "Wellbeing score (WEMWBS)",
    "Do you agree to Riverside Community Trust keeping your answers?",
    "How is your health in general?",
    "Do you consider yourself disabled?",
    "Are you an unpaid carer?",
    "What has changed for you since you joined?",
    "When did that change?",
]
HEARD = ["Friend or family", "Riverside Lunch Club", "GP", "Instagram", "Poster in the library"]


def form_timestamp(moment: datetime) -> str:
    zone = "BST" if moment.date() >= date(2026, 3, 29) else "GMT"  # clocks go forward
    return moment.strftime("%Y/%m/%d %H:%M:%S ") + zone


def form_row(
    p: Person, moment: datetime, score: int, rng: random.Random, changed: str = ""
) -> list[str]:
    email = p.email.upper() if rng.random() < 0.15 else p.email
    if rng.random() < 0.2:
        email = email[0].upper() + email[1:]  # phones capitalise the first letter
    ethnicity = ETHNICITY[p.ethnicity][1] if rng.random() < 0.9 else "Prefer not to say"
    return [
        form_timestamp(moment),
        email,
        name_as_typed(p.full_name, rng),
        postcode_as_typed(p.postcode, rng),
        uk_date(p.dob),
        ethnicity,
        rng.choice(HEARD),
        "WEMWBS",
        str(score),
        "I agree",
        *v2.wellbeing(p.key).values(),
        changed,
        uk_date((moment - timedelta(days=7)).date()) if changed else "",
    ]


def make_wellbeing_form(people: list[Person], out: Path) -> None:
    """A first score in March and, for most people, a follow-up six weeks later."""
    rng = random.Random(f"{SEED}:wellbeing")
    outcomes = random.Random(f"{SEED}:outcomes")
    responses = []
    for p in in_file(people, "W"):
        first = datetime(2026, 3, 2, 10) + timedelta(seconds=rng.randrange(0, 14 * 24 * 3600))
        score = rng.randrange(30, 52)
        responses.append((first, form_row(p, first, score, rng)))
        if rng.random() < 0.75:
            later = first + timedelta(days=42, seconds=rng.randrange(-36000, 36000))
            later_score = min(70, score + rng.randrange(-2, 12))
            changed = v2.outcome(outcomes)
            responses.append((later, form_row(p, later, later_score, rng, changed)))
    responses.sort(key=lambda r: r[0])
    write_csv(out / "wellbeing-form.csv", [FORM_HEADER, *(row for _, row in responses)])


def make_volunteers(people: list[Person], out: Path) -> None:
    """The volunteers' register (with a HXL row) and their sign-in sheet for March."""
    rng = random.Random(f"{SEED}:volunteers")
    by_key = {p.key: p for p in in_file(people, "V")}
    rows: list[list[str]] = [v2.REGISTER_HEADER, v2.REGISTER_HXL]
    for key, answers in v2.register_rows():
        p = by_key[key]
        rows.append([p.full_name, p.email, phone_as_typed(p.phone, rng), *answers])
    write_csv(out / "volunteer-register.csv", rows)
    names = {  # a sign-in sheet has the names people sign with: "Dan Walsh", "Fatima Hassan"
        k: f"{p.nickname or p.given} {p.family}" if rng.random() < 0.5 else p.full_name
        for k, p in by_key.items()
    }
    days = [uk_date(day) for day in LUNCH_DAYS]
    phones = {k: phone_as_typed(p.phone, rng, international=False) for k, p in by_key.items()}
    sign_in = [v2.SIGN_IN_HEADER, *v2.sign_in_rows(rng, days, names, phones)]
    write_csv(out / "volunteer-sign-in.csv", sign_in)


def make_all(out: Path) -> list[Path]:
    """Write every sample file into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    people = load_people()
    for make in (
        make_lunch_club,
        make_youth_club,
        make_food_bank,
        make_eventbrite,
        make_wellbeing_form,
        make_volunteers,
    ):
        make(people, out)
    return sorted(p for p in out.iterdir() if p.suffix in {".csv", ".xlsx"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder to write into (default: harvest/demo)"
    )
    args = parser.parse_args(argv)
    for path in make_all(args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
