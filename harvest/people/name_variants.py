"""Given names that are one name, where the `nicknames` list does not say so.

The `nicknames` data set is American: it lacks many British short forms (Sal for Sarah,
Mags for Margaret, Bex for Rebecca, Katie for Katherine) and knows nothing of spelling
variants with another ending (Paula and Pauline, Christina and Christine, Louisa and
Louise). ``SHORT_FORMS`` adds the first; ``stems`` the second: names that share a stem
of three letters or more and differ only in a feminine ending (-a, -ie, -y, -ia, -ina,
-ine, -ette; -e only against -a) are read as one name. A bare stem (Paul, Louis, Daniel)
is never a variant, so a brother and sister (Paul and Paula) stay two names.
"""

from __future__ import annotations

SHORT_FORMS: dict[str, tuple[str, ...]] = {  # short form → the names it is short for
    "sal": ("sarah", "sally"),
    "sadie": ("sarah",),
    "mags": ("margaret",),
    "katie": ("katherine", "catherine", "kathleen"),
    "kat": ("katherine", "catherine"),
    "bex": ("rebecca",),
    "tash": ("natasha",),
    "tasha": ("natasha",),
    "sasha": ("alexandra", "alexander", "natasha"),
    "alfie": ("alfred",),
    "olly": ("oliver",),
    "gaz": ("gary", "gareth"),
    "baz": ("barry",),
    "tel": ("terence", "terry"),
    "del": ("derek",),
    "debs": ("deborah",),
    "shaz": ("sharon",),
    "kez": ("kerry",),
    "liv": ("olivia",),
    "evie": ("eve", "evelyn"),
    "hat": ("harriet",),
    "ems": ("emma", "emily"),
    "pip": ("philippa",),
    "mo": ("maureen",),
    "nicky": ("nicola",),
    "nikki": ("nicola",),
    "izzy": ("isabel", "isabella", "isobel"),
    "issy": ("isabel", "isabella", "isobel"),
    "maddie": ("madeleine", "madison"),
    "jules": ("julie", "julia", "julian"),
    "gerry": ("gerald", "geraldine"),
    "trace": ("tracey", "tracy"),
    "babs": ("barbara",),
}
ENDINGS = ("a", "ie", "y", "ia", "ina", "ine", "ette")
MIN_STEM = 3


def stems(name: str) -> frozenset[str]:
    """Markers that two spelling variants of one name share: 'paula' and 'pauline' both
    give 'paul~'; 'louise' and 'louisa' both give 'louis~ea'."""
    out = {
        name[: -len(e)] + "~"
        for e in ENDINGS
        if name.endswith(e) and len(name) - len(e) >= MIN_STEM
    }
    if name[-1:] in ("a", "e") and len(name) - 1 >= MIN_STEM:
        out.add(name[:-1] + "~ea")
    return frozenset(out)
