"""Who sees what in the published Datasette: funders' metadata, logins and permissions.

Two servers, both on Datasette 0.65 with datasette-auth-passwords:

* the **funder view** (``serve_funders``) serves only ``funders.db``. A funder sees
  the canned queries of ``funder_queries.yaml`` (with small numbers suppressed) and
  the published tables ``coverage``, ``districts`` and ``about``; never the
  pseudonymous person-level tables, and never arbitrary SQL (``allow_sql``).
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

from harvest.publish.funders import PERSON_TABLES
from harvest.publish.geo import ATTRIBUTION, LICENSE_URL, SOURCE_URL
from harvest.publish.privacy import PublishConfig, expand_sql
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
FUNDER_TABLES: dict[str, dict[str, Any]] = {
    "coverage": {
        "description": "For each source: how many rows are current, the share of them with a "
        "postcode, an age and an ethnic group, and the last successful sync. "
        "Counts below the threshold are shown as suppressed; percentages are "
        "worked out from rounded counts.",
    },
    "districts": {
        "description": "Every UK postcode district (outward code, such as NW1) with its "
        "centre, place, county, country and, where known, local authority.",
        "license": "CC BY 4.0",
        "license_url": LICENSE_URL,
        "source": ATTRIBUTION,
        "source_url": SOURCE_URL,
    },
    "about": {"description": "When this database was published and the suppression rule used."},
    "people": {
        "description": "One row per person, as a pseudonym: age band, gender, ethnic "
        "group, disability, role and postcode district, and (once the ONS Postcode "
        "Directory is imported) country, region, local authority, ward and deprivation "
        "decile. Staff only."
    },
    "contacts": {"description": "Attendances per person, activity and month. Staff only."},
    "outcomes": {"description": "Outcomes achieved per person, by month. Staff only."},
    "scores": {"description": "Scores per person and measure, in order. Staff only."},
}


def load_funder_queries(settings: PublishConfig | None = None) -> dict[str, dict[str, Any]]:
    """The funders' canned queries with their suppression macros expanded into SQL."""
    text = resources.files("harvest.publish").joinpath("funder_queries.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    settings = settings or PublishConfig()
    queries = {}
    for name, query in data["queries"].items():
        sql = query["sql"]
        for fragment, body in data["fragments"].items():
            sql = sql.replace("{{" + fragment + "}}", body)
        queries[name] = {**query, "sql": expand_sql(sql, settings), "hide_sql": True}
    return queries


def funders_database_metadata(settings: PublishConfig, with_auth: bool = True) -> dict[str, Any]:
    """The metadata block for funders.db: queries for everyone, person tables for staff."""
    tables = {name: dict(meta) for name, meta in FUNDER_TABLES.items()}
    queries = load_funder_queries(settings)
    block: dict[str, Any] = {
        "description": "Figures for funders: who is taking part, where they come from, what "
        "they do and what changes, with small numbers suppressed. Nobody is "
        "named.",
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
        for name in PERSON_TABLES:
            tables[name]["allow"] = STAFF
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
