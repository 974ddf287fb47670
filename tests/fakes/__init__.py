"""Local fake vendor APIs for the tests (see server.py)."""
