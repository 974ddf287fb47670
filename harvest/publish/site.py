"""Who sees what in the published Datasette: funders' metadata, logins and permissions.

Two servers, both on Datasette 0.65 with datasette-auth-passwords:

* the **funder view** (``serve_funders``) serves only ``funders.db``, which holds
  aggregates only. A funder reads it on the dashboard (dashboard_web.py), in plain
  words, and downloads the canned queries of ``funder_queries.yaml`` and the published
  tables (every figure protected when it was published) as data; never arbitrary SQL
  (``allow_sql``). The query boxes take values from the ``choices`` table only
  (``plugins/harvest_vocabulary.py``).
* the **staff view** (``harvest serve``, see datasette.py) serves the store and
  ``funders.db``; with users added, staff see everything and funders only what the
  funder view shows them.

Anyone not logged in is sent to the login page. The harvest plugin (logins.py) reads
the users file itself on every request; no password hash is written into the metadata
or passed in the environment.
"""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harvest.publish.geo import ATTRIBUTION, LICENSE_URL, SOURCE_URL
from harvest.publish.privacy import PublishConfig
from harvest.publish.sessions import PLUGIN, LoginsConfig, sessions_path
from harvest.secrets import TokenStore

EVERYONE = {"role": ["funder", "staff"]}
STAFF = {"role": ["staff"]}
SECRET_NAME = "datasette_secret"
PLUGINS_DIR = Path(__file__).with_name("plugins")
TEMPLATES_DIR = Path(__file__).with_name("templates")
FUNDER_SETTINGS = {
    "sql_time_limit_ms": "5000",
    "max_returned_rows": "5000",
    "default_page_size": "100",
    "allow_download": "off",
    "default_allow_sql": "off",
}
PROTECTED = (
    "Each count carries a small fixed adjustment (the cell key method), is hidden below "
    "the threshold and rounded to 5, so parts may not add up exactly to their total: "
    "that keeps anyone from working out one person's details by comparing figures."
)
FUNDER_TABLES: dict[str, dict[str, Any]] = {
    "coverage": {
        "description": "For each source: how many rows are current, the share of them with a "
        "postcode, an age and an ethnic group, and the last successful sync. "
        "Counts below the threshold are shown as suppressed; percentages are "
        "worked out from the true counts, to the nearest 1%, and hidden when they would "
        "point at a few rows.",
    },
    "districts": {
        "description": "Every UK postcode district (outward code, such as NW1) with its "
        "centre, place, county, country and, where known, local authority.",
        "license": "CC BY 4.0",
        "license_url": LICENSE_URL,
        "source": ATTRIBUTION,
        "source_url": SOURCE_URL,
    },
    "about": {
        "description": "The charity's name, when this database was published and the "
        "settings of the rule that protects its figures (see docs/privacy.md)."
    },
    "choices": {
        "description": "What the query boxes take: every period (with its type), activity "
        "and area figures are published for. Activities and areas are offered when they "
        "have enough people over all time; the rest count in All activities and All areas."
    },
    "people_reached": {
        "description": "People reached, new and returning people and attendances for every "
        "period, activity and area. A choice with too few people shows the minimum in "
        "brackets (such as <20) and nothing else. " + PROTECTED
    },
    "who_took_part": {
        "description": "People reached by age band, gender, ethnic group and disability, "
        "every category listed, for every choice with enough people. " + PROTECTED
    },
    "sessions_attended": {
        "description": "People by how often they came, for every choice with enough people. "
        + PROTECTED
    },
    "deprivation_deciles": {
        "description": "People and attendances by deprivation decile, for every choice "
        "with enough people. " + PROTECTED
    },
    "outcomes_achieved": {
        "description": "People achieving each outcome, by period and area. " + PROTECTED
    },
    "score_changes": {
        "description": "Changes in wellbeing and health scores, by period and area. " + PROTECTED
    },
    "people_circumstances": {
        "description": "People reached by religion, household income, English, household "
        "size, unpaid care, general health, vulnerability, support needs, formats needed "
        "and food needs, every category listed, for every choice with enough people. "
        "Religion, health, care, vulnerability, needs, formats and food needs are special "
        "category data, hidden below the higher threshold. Where a person can have several "
        "(vulnerability, support needs, formats, food needs) they count once in each, so "
        "the parts do not add up to the total. " + PROTECTED
    },
    "volunteering": {
        "description": "Volunteers (people whose role is volunteer, or who gave hours) and "
        "the hours they volunteered, for every period, activity and area with enough "
        "people. Hours are moved by a small fixed amount and rounded, and shown only "
        "beside a number of volunteers that is shown. " + PROTECTED
    },
}


def load_funder_queries(settings: PublishConfig | None = None) -> dict[str, dict[str, Any]]:
    """The funders' canned queries, with their shared fragments filled in.

    ``settings`` is accepted for callers that pass it; the queries only pick rows of
    tables protected at publish time, so they do not depend on it.
    """
    text = resources.files("harvest.publish").joinpath("funder_queries.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    queries = {}
    for name, query in data["queries"].items():
        sql = query["sql"]
        while "{{" in sql:
            before = sql
            for fragment, body in data["fragments"].items():
                sql = sql.replace("{{" + fragment + "}}", body)
            if sql == before:
                break
        queries[name] = {**query, "sql": sql, "hide_sql": True}
    return queries


def funders_database_metadata(settings: PublishConfig, with_auth: bool = True) -> dict[str, Any]:
    """The metadata block for funders.db: queries for everyone, person tables for staff."""
    tables = {name: dict(meta) for name, meta in FUNDER_TABLES.items()}
    queries = load_funder_queries(settings)
    block: dict[str, Any] = {
        "description": "Figures for funders: who is taking part, where they come from, what "
        "they do and what changes, and how many volunteers gave how many hours. Every figure was protected when it was published; "
        "nobody is named and no row is about one person.",
        "source": f"{ATTRIBUTION}. Local authorities, regions and deprivation deciles, when "
        "imported: ONS Postcode Directory (Open Government Licence v3.0).",
        "source_url": SOURCE_URL,
        "license": "Postcode districts: CC BY 4.0",
        "license_url": LICENSE_URL,
        "tables": tables,
        "queries": queries,
    }
    if with_auth:
        block["allow"] = EVERYONE
        block["allow_sql"] = STAFF
        for query in queries.values():
            query["allow"] = EVERYONE
    return block


def funder_metadata(
    organisation: str, settings: PublishConfig, plugins: dict[str, Any], db_name: str = "funders"
) -> dict[str, Any]:
    """Datasette metadata for the funder view (only funders.db)."""
    return {
        "title": f"{organisation} — figures for funders",
        "description": (
            f"What {organisation} does and who takes part, from its own records. "
            "Small numbers are suppressed and nobody is named."
        ),
        "license": f"Figures © {organisation}; postcode districts CC BY 4.0",
        "license_url": LICENSE_URL,
        "source": f"{organisation}. {ATTRIBUTION}",
        "source_url": SOURCE_URL,
        "allow": EVERYONE,
        "databases": {db_name: funders_database_metadata(settings)},
        "plugins": plugins,
    }


def secure_staff_metadata(
    metadata: dict[str, Any],
    store_name: str,
    plugins: dict[str, Any],
    funders_name: str | None,
    settings: PublishConfig,
) -> dict[str, Any]:
    """Add logins and permissions to the staff metadata: the store is for staff only."""
    store = metadata["databases"][store_name]
    store["allow"] = STAFF
    store["allow_sql"] = STAFF
    for query in store.get("queries", {}).values():
        query["allow"] = STAFF
    if funders_name:
        metadata["databases"][funders_name] = funders_database_metadata(settings)
    metadata["allow"] = EVERYONE
    metadata["plugins"] = plugins
    return metadata


def login_plugin_config(
    users_file: Path,
    store: Path | None,
    logins: LoginsConfig | None = None,
    config: Path | None = None,
) -> dict[str, Any]:
    """The harvest plugin's settings (logins.py): where the users, sessions and audit trail
    are, and the session limits. Password hashes stay in the users file. ``config`` is
    harvest.yaml, for the staff console (only the staff server has it)."""
    users_file = Path(users_file).resolve()  # Datasette may run from another folder
    return {
        PLUGIN: {
            "users": str(users_file),
            "sessions": str(sessions_path(users_file)),
            "store": str(Path(store).resolve()) if store else None,
            "config": str(Path(config).resolve()) if config else None,
            "limits": (logins or LoginsConfig()).model_dump(),
        }
    }


def datasette_secret(tokens: TokenStore) -> str:
    """The key Datasette signs login cookies with, kept so logins survive a restart."""
    secret = tokens.get(SECRET_NAME)
    if secret is None:
        tokens.set(SECRET_NAME, secrets.token_hex(32))
        secret = tokens.get(SECRET_NAME)
    assert secret is not None
    return secret.get_secret_value()
