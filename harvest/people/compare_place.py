"""Location (postcode and address, one comparison) and contacts (email, phone): the levels
of candidate pairs, written into the ``levels`` and ``tf`` arrays that compare.py makes
(columns 3, 4 and 5, after the names and the date of birth at 0 to 2).
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process

from harvest.people.features import Features


def contact_levels(feats: Features, a, b, levels, tf) -> None:
    """Email and phone: same or different. A shared one says nothing when the dates of
    birth disagree (not even the year and month, or day, agree): a family inbox, a
    carer's phone or an office address is shared by different people."""
    dates_differ = (levels[:, 2] == 0) | (levels[:, 2] == 1)
    for i, name in ((4, "email"), (5, "phone")):
        ca, cb = getattr(feats, name)[a], getattr(feats, name)[b]
        both = (ca >= 0) & (cb >= 0)
        levels[both, i] = (ca == cb)[both]
        levels[both & (ca == cb) & dates_differ, i] = -1
        tf[:, i] = np.where(levels[:, i] == 1, ca, -1)


def location_levels(feats: Features, a, b, levels, tf) -> None:
    pa, pb = feats.postcode[a], feats.postcode[b]
    both = (pa >= 0) & (pb >= 0)
    sa, da = feats.sector[a], feats.district[a]
    uk = sa >= 0  # a postcode that is not a UK one has no sector: it agrees only as text
    same = pa == pb
    pc = np.select(
        [same & uk, same, (sa == feats.sector[b]) & uk, (da == feats.district[b]) & (da >= 0)],
        [3, 2, 2, 1],
        0,
    )
    loc = np.where(both, pc, -1)
    aa, ab = feats.address[a], feats.address[b]
    both_addr = (aa >= 0) & (ab >= 0)
    flat, rest = feats.address_forms
    fa, fb = flat[aa], flat[ab]
    one_flat = (fa == fb) | (fa == -1) | (fb == -1)  # or one leaves the flat line out
    alike = both_addr & ((aa == ab) | ((rest[aa] == rest[ab]) & (rest[aa] >= 0) & one_flat))
    near = np.flatnonzero(both_addr & ~alike & one_flat)  # two flats of one house differ
    if len(near):
        sim = process.cpdist(
            feats.strings("address", a[near]),
            feats.strings("address", b[near]),
            scorer=fuzz.token_sort_ratio,
            workers=-1,
        )
        alike[near] = sim >= 90
    # alike addresses: the top level where the postcodes agree or one is missing, else
    # "same postcode or address" (a mistyped postcode); unlike ones with no postcode to
    # compare: different
    loc = np.where(alike, np.where((loc == -1) | (both & same), 4, 3), loc)
    loc = np.where(both_addr & ~alike & (loc == -1), 0, loc)
    levels[:, 3] = loc
    tf[:, 3] = np.where(both & same & uk, pa, -1)
