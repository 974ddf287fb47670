"""Publishing: the staff Datasette of the store (``datasette.py``) and the funder-safe
``funders.db`` (``funders.py``) with its logins, permissions and canned queries
(``site.py``, ``users.py``, ``privacy.py``, ``funder_queries.yaml``)."""
