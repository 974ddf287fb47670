"""A funder who wants to learn about one person: the seeded store with its known truth,
the figures a funder can download, and interval reasoning over them.

Used by test_funders_attack.py. The truth is worked out here from the generated rows,
not by harvest's code, so the attacker and the defender share nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from harvest.publish.geo import districts

SEED = 13
DISTRICTS = {"NW1": 55, "N7": 30, "E8": 40, "SE15": 24, "M13": 1}  # M13: an area with one person
ACTIVITIES = ["Lunch club", "Food bank", "Youth club"]
SARAH = "Sarah's group"  # one person, once
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
LONE_MONTH = "2024-07"  # a month with one attendance
ETHNICITY = {
    "White British": "White",
    "Indian": "Asian or Asian British",
    "Black Caribbean": "Black, Black British, Caribbean or African",
    "Mixed White and Asian": "Mixed or Multiple",
    "Arab": "Other ethnic group",
    "Prefer not to say": "Prefer not to say",
}
# version-2 fields (issue 21): what the sheet says → the standard's label; a list field's
# cell joins several with ", ". "" is "Not known".
RELIGION = {
    "Christian": "Christian",
    "Muslim": "Muslim",
    "No religion": "No religion",
    "Jewish": "Jewish",
    "Prefer not to say": "Prefer not to say",
    "": "Not known",
}
INCOME = {
    "Under £10,000": "Under £10,000",
    "£10,000 to £19,999": "£10,000 to £19,999",
    "£20,000 to £29,999": "£20,000 to £29,999",
    "": "Not known",
}
ENGLISH = {
    "Very well": "Very well",
    "Not well": "Not well",
    "Not at all": "Not at all",
    "": "Not known",
}
HEALTH = {"Good": "Good", "Fair": "Fair", "Bad": "Bad", "Very bad": "Very bad", "": "Not known"}
CARE = {
    "No": "No",
    "Yes, 9 hours a week or less": "Yes, 9 hours a week or less",
    "Yes, 50 or more hours a week": "Yes, 50 or more hours a week",
    "": "Not known",
}
VULNERABILITY = {
    "lives alone": "Lives alone",
    "low income": "Low income",
    "pregnant": "Pregnant",
    "refugee": "Refugee or asylum seeker",
}
NEEDS = {
    "debt": "Debt, benefits and money",
    "housing": "Housing",
    "bereavement": "Bereavement",
    "domestic abuse": "Domestic abuse",
}
FORMATS = {"large print": "Large print", "braille": "Braille", "easy read": "Easy read"}
FOOD = {"halal": "Halal", "vegetarian": "Vegetarian", "nut allergy": "Nut allergy"}
HOUSEHOLD = ["1 person", "2 people", "3 people", "4 people", "5 people", "6 or more"]
SINGLE = {
    "Religion": RELIGION,
    "Household income": INCOME,
    "Speaks English": ENGLISH,
    "Unpaid care": CARE,
    "General health": HEALTH,
}
MULTIPLE = {
    "Vulnerability": VULNERABILITY,
    "Support needs": NEEDS,
    "Format needed": FORMATS,
    "Food needs": FOOD,
}
SPECIAL_CIRCUMSTANCES = {"Religion", "Unpaid care", "General health", *MULTIPLE}
LETTERS = "ABDEFGHJKLMNPRSTUWXYZ"
INWARD = "ABDEFGHJLNPQRSTUWXYZ"  # letters a postcode's second half may use


@dataclass
class Person:
    i: int
    given: str
    family: str
    email: str
    phone: str
    postcode: str
    dob: str
    gender: str
    ethnicity: str
    disability: str
    visits: list[tuple[str, str]] = field(default_factory=list)  # (activity, YYYY-MM-DD)
    scores: list[tuple[int, str]] = field(default_factory=list)  # (score, YYYY-MM-DD)
    outcome: str = ""
    v2: dict[str, str] = field(default_factory=dict)  # sheet column → cell, version-2 fields
    volunteer: bool = False
    hours: list[float] = field(default_factory=list)  # per visit, for a volunteer

    @property
    def district(self) -> str:
        return self.postcode.split()[0]


def people() -> list[Person]:
    rng = random.Random(SEED)
    out: list[Person] = []
    for district, count in DISTRICTS.items():
        for _ in range(count):
            i = len(out)
            p = Person(
                i,
                given=f"Given{LETTERS[i % 21]}{LETTERS[(i // 21) % 21]}",
                family=f"Family{i:03d}q",
                email=f"person{i}@example.org",
                phone=f"07700 900{i:03d}",
                postcode=f"{district} {i % 9 + 1}{INWARD[i % 20]}{INWARD[(i // 7) % 20]}",
                dob=f"{1940 + rng.randrange(70)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}",
                gender=rng.choice(["Female", "Female", "Male", "Male", "Non-binary"]),
                ethnicity=rng.choice(list(ETHNICITY)),
                disability=rng.choice(["Yes", "No", "No", ""]),
            )
            for _ in range(rng.randrange(1, 9)):
                month = rng.choice(MONTHS)
                p.visits.append((rng.choice(ACTIVITIES), f"{month}-{rng.randrange(1, 28):02d}"))
            if rng.random() < 0.4:
                first = rng.randrange(30, 50)
                p.scores = [(first, "2024-01-15"), (first + rng.randrange(-3, 6), "2024-05-15")]
                p.outcome = "Started employment" if rng.random() < 0.5 else ""
            out.append(p)
    out[3].visits.append((SARAH, "2024-03-05"))
    out[4].visits.append(("Lunch club", f"{LONE_MONTH}-02"))
    add_v2(out)
    return out


def _several(rng: random.Random, names: dict[str, str]) -> str:
    return ", ".join(rng.sample(list(names), rng.choice([0, 1, 1, 2])))


def add_v2(everyone: list[Person]) -> None:
    """The version-2 fields, from a generator of their own (the rest stays as it was)."""
    rng = random.Random(SEED + 21)
    for p in everyone:
        p.v2 = {
            "Religion": rng.choice(list(RELIGION)),
            "Income band": rng.choice(list(INCOME)),
            "English proficiency": rng.choice(list(ENGLISH)),
            "Household size": rng.choice(["1", "2", "3", "4", "6", "9", ""]),
            "Unpaid carer": rng.choice(list(CARE)),
            "General health": rng.choice(list(HEALTH)),
            "Vulnerability": _several(rng, VULNERABILITY),
            "Support needs": _several(rng, NEEDS),
            "Contact format": _several(rng, FORMATS),
            "Food needs": _several(rng, FOOD),
        }
        p.volunteer = rng.random() < 0.2
        p.hours = [rng.choice([1.0, 1.5, 2.0, 3.0, 4.5]) for _ in p.visits] if p.volunteer else []


V2_COLUMNS = ["Religion", "Income band", "English proficiency", "Household size"]
V2_COLUMNS += ["Unpaid carer", "General health", "Vulnerability", "Support needs"]
V2_COLUMNS += ["Contact format", "Food needs"]


def circumstances(p: Person) -> dict[str, list[str]]:
    """characteristic → the categories a person counts in (the truth, worked out here)."""
    out = {
        name: [values[p.v2[column]]]
        for (name, values), column in zip(
            SINGLE.items(),
            ["Religion", "Income band", "English proficiency", "Unpaid carer", "General health"],
            strict=True,
        )
    }
    size = p.v2["Household size"]
    out["Household size"] = [HOUSEHOLD[min(int(size), 6) - 1] if size else "Not known"]
    for (name, values), column in zip(MULTIPLE.items(), V2_COLUMNS[6:], strict=True):
        cell = p.v2[column]
        out[name] = [values[v] for v in cell.split(", ")] if cell else ["Not known"]
    return out


def club_rows(everyone: list[Person]) -> list[list[str]]:
    header = ["First name", "Surname", "Email", "Phone", "Postcode", "Date of birth", "Gender"]
    header += ["Ethnicity", "Disability", "Activity", "Date", "Attended?"]
    header += [*V2_COLUMNS, "Role", "Volunteer hours"]
    rows = [header]
    for p in everyone:
        who = [p.given, p.family, p.email, p.phone, p.postcode, p.dob, p.gender, p.ethnicity]
        v2 = [p.v2.get(c, "") for c in V2_COLUMNS] + ["Volunteer" if p.volunteer else ""]
        for k, (activity, day) in enumerate(p.visits):
            hours = str(p.hours[k]) if k < len(p.hours) else ""
            rows.append([*who, p.disability, activity, day, "yes", *v2, hours])
    return rows


def wellbeing_rows(everyone: list[Person]) -> list[list[str]]:
    rows = [
        [
            "First name",
            "Surname",
            "Email",
            "Date of birth",
            "Measure",
            "Score",
            "Assessment date",
            "Outcome",
        ]
    ]
    for p in everyone:
        for k, (score, day) in enumerate(p.scores):
            outcome = p.outcome if k == 1 else ""
            rows.append([p.given, p.family, p.email, p.dob, "WEMWBS", str(score), day, outcome])
    return rows


# --- the truth -----------------------------------------------------------------------


def periods_of(month: str) -> list[str]:
    year, m = int(month[:4]), int(month[5:7])
    fy = year - (1 if m < 4 else 0)
    return [
        month,
        f"{year}-Q{(m - 1) // 3 + 1}",
        str(year),
        f"{fy}/{(fy + 1) % 100:02d}",
        "All time",
    ]


def areas_of(p: Person) -> list[str]:
    d = districts()[p.district]
    return [a for a in (p.district, d["county"], d["country"]) if a] + ["All areas"]


def age_band(dob: str, today: date) -> str:
    born = date.fromisoformat(dob)
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    bands = [(0, "0-15"), (16, "16-24"), (25, "25-34"), (35, "35-44"), (45, "45-54")]
    bands += [(55, "55-64"), (65, "65-74"), (75, "75+")]
    return [label for low, label in bands if years >= low][-1]


def truth(everyone: list[Person], today: date) -> dict[tuple, set[int] | int]:
    """Cell → the set of people in it (or, for attendances, the number)."""
    cells: dict[tuple, set[int]] = defaultdict(set)
    att: dict[tuple, int] = defaultdict(int)
    hours: dict[tuple, float] = defaultdict(float)  # hours volunteered, not a count
    first = {p.i: min(day[:7] for _, day in p.visits) for p in everyone}
    for p in everyone:
        traits = {
            "Age band": age_band(p.dob, today),
            "Gender": p.gender,
            "Ethnic group": ETHNICITY[p.ethnicity],
            "Disability": p.disability or "Not known",
        }
        per: dict[tuple, int] = defaultdict(int)
        for k, (activity, day) in enumerate(p.visits):
            for period in periods_of(day[:7]):
                for a in (activity, "All activities"):
                    for r in areas_of(p):
                        per[(period, a, r)] += 1
                        if p.volunteer:
                            hours[("hours", period, a, r)] += p.hours[k]
        for (period, a, r), n in per.items():
            for name, values in circumstances(p).items():
                for value in values:
                    cells[("circ", period, a, r, name, value)].add(p.i)
            if p.volunteer:
                cells[("vol", period, a, r)].add(p.i)
            cells[("people", period, a, r)].add(p.i)
            att[("att", period, a, r)] += n
            new = first[p.i] in {m for m in MONTHS + [LONE_MONTH] if period in periods_of(m)}
            cells[("new" if new else "ret", period, a, r)].add(p.i)
            for name, value in traits.items():
                cells[("who", period, a, r, name, value)].add(p.i)
            cells[("dep", period, a, r, "Not known")].add(p.i)  # no deprivation data imported
            band = (
                "Once"
                if n == 1
                else "2 or 3 times"
                if n <= 3
                else "4 to 9 times"
                if n <= 9
                else "10 times or more"
            )
            cells[("sess", period, a, r, band)].add(p.i)
        if len(p.scores) == 2:
            for period in set(periods_of(p.scores[0][1][:7])) & set(periods_of(p.scores[1][1][:7])):
                for r in areas_of(p):
                    cells[("scored", period, r)].add(p.i)
                    cells[("score_n", period, r, "WEMWBS")].add(p.i)
        if p.outcome:
            for period in periods_of(p.scores[1][1][:7]):
                for r in areas_of(p):
                    cells[("out", period, r, p.outcome)].add(p.i)
    return {**cells, **att, **hours}  # type: ignore[dict-item]


def size(value: set[int] | int) -> int:
    return value if isinstance(value, int) else len(value)


# --- interval reasoning ----------------------------------------------------------------

INF = 10**9


def interval(
    value: object, below: int, noise: int, half_round: int, floor: int = 0
) -> tuple[int, int] | None:
    """What a published figure says about the true count."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("<"):
            limit = int(value[1:])
            return (0, limit - 1 + (noise if limit == below else 0))
        return None
    v = int(value)
    return (max(below, floor, v - half_round - noise), v + half_round + noise)


@dataclass
class Solver:
    """Intervals for cells, narrowed by sums the attacker knows hold."""

    bounds: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    sums: list[tuple[str, tuple, list[tuple]]] = field(default_factory=list)
    truth: dict[tuple, set[int] | int] | None = None  # to check the reasoning stays honest

    def know(self, cell: tuple, bounds: tuple[int, int] | None) -> None:
        if bounds is None:
            return
        lo, hi = self.bounds.get(cell, (0, INF))
        self.bounds[cell] = (max(lo, bounds[0]), min(hi, bounds[1]))

    def relate(self, kind: str, parent: tuple, children: Iterable[tuple]) -> None:
        """kind: 'eq' parent = sum, 'le' sum <= parent, 'ge' sum >= parent."""
        children = list(children)
        kids = [c for c in children if c in self.bounds]
        if len(kids) < len(children):  # some parts unknown: only "the known parts fit" holds
            if kind == "ge":
                return
            kind = "le"
        if parent in self.bounds and kids:
            self.sums.append((kind, parent, kids))

    def solve(self, rounds: int = 200) -> None:
        for _ in range(rounds):
            changed = False
            for kind, parent, kids in self.sums:
                changed |= self._narrow(kind, parent, kids)
            if not changed:
                return

    def _narrow(self, kind: str, parent: tuple, kids: list[tuple]) -> bool:
        b = self.bounds
        plo, phi = b[parent]
        los, his = [b[k][0] for k in kids], [b[k][1] for k in kids]
        slo, shi = sum(los), sum(his)
        new: dict[tuple, tuple[int, int]] = {}
        if kind in ("eq", "le"):
            for k, lo, hi in zip(kids, los, his, strict=True):
                new[k] = (lo, min(hi, phi - (slo - lo)))
            new[parent] = (max(plo, slo), phi)
        if kind in ("eq", "ge"):
            for k, lo, hi in zip(kids, los, his, strict=True):
                cur = new.get(k, (lo, hi))
                new[k] = (max(cur[0], plo - (shi - hi)), cur[1])
            cur = new.get(parent, (plo, phi))
            new[parent] = (cur[0], min(cur[1], shi))
        changed = False
        for cell, (lo, hi) in new.items():
            if (lo, hi) != b[cell] and lo <= hi:
                b[cell] = (max(lo, b[cell][0]), min(hi, b[cell][1]))
                changed = True
                if self.truth is not None:
                    self._check(cell, kind, [parent, *kids])
        return changed

    def _check(self, cell: tuple, kind: str, cells: list[tuple]) -> None:
        assert self.truth is not None
        lo, hi = self.bounds[cell]
        if not lo <= size(self.truth.get(cell, 0)) <= hi:
            shown = [(c, self.bounds[c], size(self.truth.get(c, 0))) for c in cells]
            raise AssertionError(f"a false relation ({kind}): {shown}")

    def pinned(self) -> dict[tuple, int]:
        return {c: lo for c, (lo, hi) in self.bounds.items() if lo == hi}
