"""Land one source's tables in the store.

For every row read: keep it verbatim in ``raw_rows`` (a new version when it
changed, untouched when it did not), clean it into a ``records`` row, find its
person by exact keys (same email, same phone, or same name and date of birth),
and derive attendances and outcomes. The caller holds one transaction for the
whole source.

    rows.py     a row's identity (key, content hash), its JSON, the counts
    people.py   a provisional person for each new row, by exact keys
    writes.py   a batch as SQL, written on a second thread while the next is cleaned
    tidy.py     problems with whole tables, snapshot rows gone, people touched
    lander.py   the loop that ties them together
"""

from harvest.landing.lander import BATCH, Lander
from harvest.landing.people import person_keys
from harvest.landing.rows import Counts, erased_note

__all__ = ["BATCH", "Counts", "Lander", "erased_note", "person_keys"]
