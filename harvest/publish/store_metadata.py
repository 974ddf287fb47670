"""The staff view's Datasette metadata: a title, a description and the licence, every table
and column of the store described (the record and person columns from the common data
standard), and the canned queries of ``queries.yaml``. ``datasette.py`` writes it beside
the database before starting Datasette.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harvest.errors import PublishError
from harvest.normalise.standard import Field, load_standard
from harvest.store import PERSON_FIELDS

LICENSE = "Private: personal data held by {organisation}. Not for publication."

RECORD_COLUMNS = {
    "id": "The record's id; the same as the id of the raw row it was cleaned from.",
    "source": "The source (sheet, form or tool) the row came from, as named in harvest.yaml.",
    "source_key": "The row's key within its source, stable from one sync to the next.",
    "is_current": "1 while the row is still in its source; 0 once it has changed or gone.",
    "person_id": "The person this row was matched to (see the people table).",
    "location": "Where in the source the row was found (file and sheet, form, or event).",
    "row_number": "The row's number in its sheet, counting the header row as 1.",
    "postcode_text": (
        "A postcode that is not a valid UK one (mistyped, overseas, an Irish Eircode), in"
        " capitals without spaces: kept for matching; the postcode column is then blank."
    ),
    "extra": "Columns the source had that are not part of the standard, as JSON.",
    "synced_at": "When harvest last wrote this record (UTC).",
}
PEOPLE_COLUMNS = {
    "person_id": "harvest's id for this person, shared by every record matched to them.",
    "first_seen": "When harvest first saw a record for this person (UTC).",
    "last_seen": "When harvest last saw a record for this person (UTC).",
    "record_count": "How many records are matched to this person.",
    "sources": "The sources this person appears in, as a JSON list.",
    "last_sync_run_id": "The sync run that last changed this person (see sync_runs).",
}
TABLES: dict[str, dict[str, Any]] = {
    "raw_rows": {
        "description": "Every row exactly as read from its source, kept unchanged. "
        "A changed row is stored again as a new version."
    },
    "activities": {"description": "Each activity, session, event or service, named once."},
    "attendances": {
        "description": "One row for each time a person registered for or came to an activity.",
        "columns": {
            "record_id": "The record this attendance was read from.",
            "person_id": "The person who attended (see the people table).",
            "activity_id": "The activity attended (see the activities table).",
            "activity_date": "The day the activity took place (YYYY-MM-DD).",
            "attendance_status": "Registered, attended, no show or cancelled.",
        },
    },
    "outcomes": {
        "description": "Outcomes achieved and scores taken (such as WEMWBS or PHQ-9), "
        "one row per record that has one."
    },
    "issues": {
        "description": "Data problems found while reading sources: the row, the field, the "
        "value and what was wrong with it.",
        "columns": {
            "problem": "What was wrong, in plain English.",
            "severity": "'warning' (the row was kept) or 'error' (it could not be used).",
            "value": "The value as it was in the source.",
        },
    },
    "sync_runs": {"description": "Each time `harvest sync` ran, and how it ended."},
    "source_runs": {
        "description": "What each sync did for each source: rows read, new, "
        "changed, unchanged and problems found."
    },
    "source_state": {
        "description": "Where each source's next sync starts from, and its last successful sync.",
        "columns": {"last_success_at": "When this source last synced without failing (UTC)."},
    },
    "standard": {
        "description": "The common data standard: every field, what it means, its "
        "hashtag and its allowed values."
    },
    "person_keys": {"description": "Keys used to match records to people.", "hidden": True},
    "person_merges": {
        "description": "People found to be the same person: each merged id and "
        "the person it now counts as."
    },
    "match_pairs": {
        "description": "Pairs of records that may be the same person, with the "
        "matching probability and whether they were linked or need a review."
    },
    "match_decisions": {
        "description": "Decisions on possible duplicates: same person or not, "
        "by whom and when (undone decisions are kept)."
    },
    "match_runs": {
        "description": "Each time people were matched: settings, counts and time taken."
    },
    "match_cache": {
        "description": "The identifying values of current records, grouped as "
        "matching uses them, kept so that a re-sync need not read every record "
        "again. Emptied whenever a record is deleted or its identifying values "
        "change.",
        "hidden": True,
    },
    "match_flips": {
        "description": "Ids of records that stopped or started being current since the last match.",
        "hidden": True,
    },
    # data protection (harvest/audit.py, harvest/dataprotection/)
    "audit_runs": {
        "description": "Who did what, and when: each sync, publish, review decision, "
        "export, erasure and login change, with counts (never personal data). "
        "Append-only."
    },
    "tombstones": {
        "description": "Keyed hashes of rows erased with `harvest forget`, so a sync "
        "never brings them back. They cannot be read back into values."
    },
    "erased_identities": {
        "description": "Keyed hashes of the identities of people erased with `harvest "
        "forget` (name with date of birth, email or phone with a name), so that an "
        "edited row of theirs from any source is not stored again. They cannot be read "
        "back into values."
    },
    "erasures": {
        "description": "Each erasure, and whether it is complete: the store and "
        "funders.db both cleaned. An unfinished one is finished by the next sync, "
        "publish or forget."
    },
    "geo_postcodes": {
        "description": "Each live UK postcode with its local authority, ward, "
        "region and country codes and deprivation decile (1 = most deprived), "
        "from the ONS Postcode Directory (`harvest geo import`). Source: Office "
        "for National Statistics, Open Government Licence v3.0."
    },
    "geo_areas": {"description": "The names of the areas in geo_postcodes."},
    "meta": {
        "description": "Facts about the store, such as the standard's version.",
        "hidden": True,
    },
}


def describe_field(f: Field) -> str:
    """A field's description, with a warning when it is personal or special category data."""
    text = f.description
    if f.identifying:
        text += " Identifies a person."
    if f.special:
        text += " Special category data under UK GDPR."
    return text


def load_queries() -> dict[str, dict[str, Any]]:
    """The canned queries from queries.yaml, keyed by name."""
    text = resources.files("harvest.publish").joinpath("queries.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def table_metadata() -> dict[str, dict[str, Any]]:
    """Descriptions of every table, with column descriptions for records and people."""
    std = load_standard()
    records = {**RECORD_COLUMNS, **{f.name: describe_field(f) for f in std.fields}}
    people = {
        "person_id": PEOPLE_COLUMNS["person_id"],
        **{name: describe_field(std.field(name)) for name in PERSON_FIELDS},
        **{k: v for k, v in PEOPLE_COLUMNS.items() if k != "person_id"},
    }
    return {
        "records": {
            "description": "Every row from every source, cleaned into the common data "
            "standard. One row per version of a source row.",
            "columns": records,
        },
        "people": {
            "description": "Each person once, however many rows and sources they "
            "appear in, with their best-known details.",
            "columns": people,
        },
        **TABLES,
    }


def build_metadata(organisation: str, db_name: str = "harvest") -> dict[str, Any]:
    """Datasette 0.65 metadata for the store: titles, descriptions and canned queries."""
    return {
        "title": f"{organisation} — harvest",
        "description": (
            f"{organisation}'s activity data, gathered by harvest from its sign-up sheets, "
            "forms and booking tools. It includes personal data: for staff use only."
        ),
        "license": LICENSE.format(organisation=organisation),
        "source": organisation,
        "databases": {
            db_name: {
                "description": "The harvest store: raw rows, cleaned records, people, "
                "activities, attendances, outcomes and data problems.",
                "tables": table_metadata(),
                "queries": load_queries(),
            }
        },
    }


def metadata_path_for(db_path: Path) -> Path:
    """Where the metadata for a database is written: harvest.db → harvest.metadata.json."""
    return db_path.with_name(f"{db_path.stem}.metadata.json")


def write_metadata(organisation: str, db_path: Path) -> Path:
    """Write the metadata as JSON next to the database and return its path."""
    return write_json(
        metadata_path_for(Path(db_path)), build_metadata(organisation, db_name=Path(db_path).stem)
    )


def write_json(path: Path, metadata: dict[str, Any]) -> Path:
    try:
        path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise PublishError(f"Could not write the Datasette metadata to {path}: {exc}.") from None
    return path
