"""The demo's answers to the questions of the standard's version 2, typed as people type them.

Used by make_sample_data.py: the food bank's referral list gets a resident's religion,
income, household, language, contact preferences, food needs, vulnerability and support
needs; the wellbeing form gets general health, disability, unpaid care and outcomes; and
two new files hold the volunteers (a register with a HXL row, and a sign-in sheet).
Every answer is chosen by a random generator seeded per person or per file, so the
output never changes. Some answers are bad on purpose: a value in no list ("Jedi"), an
income typed as a figure, a DBS date in the future, "prefer not to say" spelt many ways.
"""

from __future__ import annotations

import random

# home language by the person's ethnicity key (see ETHNICITY in make_sample_data.py)
LANGUAGE = {
    "aban": "Bengali",
    "apak": "Urdu",
    "aind": "Panjabi",
    "woth": "Polish",
    "arab": "Arabic",
}
RELIGION = {
    "aban": ["Muslim", "Islam", "Prefer not to say"],
    "apak": ["Muslim", "Pakistani Muslim"],
    "aind": ["Sikh", "Hindu"],
    "arab": ["Muslim", "I'd rather not say"],
    "wiri": ["Roman Catholic", "Catholic"],
    "woth": ["Catholic", "No religion"],
}
RELIGION_ANY = ["Christian", "C of E", "No religion", "None", "Atheist", "PNTS", "Jedi"]
INCOME = [
    "Under £10,000",
    "£10,000 - £19,999",
    "£250 a week",
    "12k",
    "prefer not to say",
    "£20,000 to £29,999",
    "Rather not say",
]
HOUSEHOLD = ["1", "2", "3", "4", "2 adults, 3 children", "1 adult 2 children", "5"]
CONTACT = ["Phone", "Text or email", "Letter", "WhatsApp", "phone/text", "Email", "In person"]
FORMATS = ["", "", "", "Large print", "Interpreter", "Easy read", "Large print and audio"]
ENGLISH = ["Very well", "Well", "Not well", "not at all", "Fluent"]
FOOD = [
    "",
    "Halal",
    "Halal, no nuts",
    "Vegetarian / no nuts",
    "Diabetic",
    "Gluten free",
    "None",
    "Vegan\nNut allergy",
    "Kosher",
    "Pescatarian-ish",
]
VULNERABILITY = [
    "",
    "Shielding",
    "Newly vulnerable",
    "Long term condition",
    "Carer, ESOL",
    "Lives alone",
    "Prefer not to say",
]
NEEDS = [
    "Debt, isolation",
    "Mental health and wellbeing",
    "Employability / digital",
    "Bereavement",
    "Food",
    "Housing and debt",
    "Social isolation & digital divide",
    "Domestic abuse",
]
HEALTH = ["Very good", "Good", "Fair", "Bad", "good", "Prefer not to say"]
DISABLED = ["No", "No", "Yes", "yes - hearing loss", "Prefer not to say"]
CARER = ["No", "No", "Yes, 9 hours a week or less", "Yes - about 20 hours a week", "no"]
OUTCOMES = [
    "Feel less isolated",
    "Started volunteering",
    "Gained a qualification",
    "Started employment",
    "Accessed debt advice",
]


def resident(key: str, ethnicity: str) -> dict[str, str]:
    """One resident's answers on the food bank's referral list (the same every time)."""
    rng = random.Random(f"resident:{key}")
    language = LANGUAGE.get(ethnicity, "English")
    religion = rng.choice(RELIGION.get(ethnicity, RELIGION_ANY))
    return {
        "Household size": rng.choice(HOUSEHOLD),
        "Religion": religion,
        "Income": rng.choice(INCOME),
        "Preferred language": language,
        "Speaks English": "Main language" if language == "English" else rng.choice(ENGLISH),
        "Contact by": rng.choice(CONTACT),
        "Format": rng.choice(FORMATS),
        "Dietary requirements": rng.choice(FOOD),
        "Vulnerability": rng.choice(VULNERABILITY),
        "Support needs": rng.choice(NEEDS),
    }


RESIDENT_HXL = {
    "Household size": "#affected+household+num",
    "Religion": "#person+religion",
    "Income": "#person+income+band",
    "Preferred language": "#person+language",
    "Speaks English": "#person+english+proficiency",
    "Contact by": "#contact+preferred+method",
    "Format": "#contact+preferred+format",
    "Dietary requirements": "#person+food+needs+list",
    "Vulnerability": "#person+vulnerable+list",
    "Support needs": "#person+needs+list",
}


def wellbeing(key: str) -> dict[str, str]:
    """One person's answers to the form's health questions (the same every time)."""
    rng = random.Random(f"wellbeing:{key}")
    return {
        "How is your health in general?": rng.choice(HEALTH),
        "Do you consider yourself disabled?": rng.choice(DISABLED),
        "Are you an unpaid carer?": rng.choice(CARER),
    }


def outcome(rng: random.Random) -> str:
    """What changed, said at a follow-up (often nothing is said)."""
    return rng.choice(OUTCOMES) if rng.random() < 0.6 else ""


# --- volunteers ---------------------------------------------------------------------------

REGISTER_HEADER = [
    "Name",
    "Email",
    "Mobile",
    "Skills",
    "Availability",
    "Experience",
    "DBS check",
    "DBS issue date",
    "Languages spoken",
    "People in your household",
]
REGISTER_HXL = [
    "#person+name",
    "#contact+email",
    "#contact+phone",
    "#volunteer+skills+list",
    "#volunteer+availability+list",
    "#volunteer+experience",
    "#volunteer+dbs+level",
    "#volunteer+dbs+date",
    "#volunteer+language+list",
    "#volunteer+household+num",
]
# key | skills | availability | experience | DBS level | DBS date | languages | household
VOLUNTEERS = """
renee  |Befriending and listening|Weekday mornings/weekends|Visited older neighbours for years|Enhanced|14/02/2024|English|1
dan    |Driving, first aid|Evenings|Van driver; first aid at work certificate|Enhanced with barred list|03/09/2025|English|4
priya  |IT, social media|Flexible|Runs a coding club|Basic|21/06/2025|English, Gujarati and Hindi|3
hannah |Cooking / food hygiene|Weekday afternoons|Worked in a café kitchen|Standard|01/09/2027|English and German|2
grace  |Teaching & mentoring|Weekends|Sunday school teacher|Enhanced|30/11/2023|English, Yoruba|5
sarah  |Admin, fundraising|Weekday mornings|School office manager|Not checked||English/Welsh|3
tomasz |Driving, heavy lifting|Sat and Sun|Warehouse supervisor|Basic|12/01/2026|Polish, English, Russian|2
fatima |Languages, interpreting|Weekday mornings|Community interpreter|Enhanced|05/05/2025|Arabic, English and French|6
"""
SIGN_IN_HEADER = ["Date", "Volunteer name", "Mobile", "Activity", "Task", "Hours"]
TASKS = {
    "Lunch club": ["Cooking", "Washing up", "Serving"],
    "Food bank": ["Sorting donations", "Driving", "Packing parcels"],
    "Wellbeing check-in": ["Befriending calls", "Interpreting"],
}
HOURS_TYPED = ["3", "2.5", "2h30", "2:30", "90 mins", "3 hrs", "4", "2 hours"]


def register_rows() -> list[tuple[str, list[str]]]:
    """(person key, the rest of the register row after name, email and mobile)."""
    out = []
    for line in VOLUNTEERS.strip().splitlines():
        key, *rest = [c.strip() for c in line.split("|")]
        out.append((key, rest))
    return out


def sign_in_rows(
    rng: random.Random, days: list[str], names: dict[str, str], phones: dict[str, str]
) -> list[list[str]]:
    """Who signed in, where, doing what, for how long: two volunteers a session."""
    rows = []
    for day in days:
        for activity, tasks in TASKS.items():
            for key in rng.sample(sorted(names), 2):
                hours = rng.choice(HOURS_TYPED)
                rows.append([day, names[key], phones[key], activity, rng.choice(tasks), hours])
    return rows
