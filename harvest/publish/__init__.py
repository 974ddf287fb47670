"""Publishing the store: Datasette for the charity's own staff (``datasette.py``)."""
