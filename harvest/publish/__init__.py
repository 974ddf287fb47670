"""Publishing: the staff Datasette of the store (``datasette.py``) and the funder-safe
``funders.db`` (``funders.py``): the store read for publishing (``source.py``), the
protected tables for every choice (``periods.py``, ``tables.py``, ``breakdowns.py``,
``assemble.py``) made with the cell key method (``protect.py``), and the funder view's
logins, permissions and canned queries (``site.py``, ``users.py``, ``privacy.py``,
``funder_queries.yaml``, ``plugins/``)."""
