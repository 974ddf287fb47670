"""The staff console: running harvest from the browser (docs/console.md).

Each module is one page (or a few that belong together); the harvest_console plugin
registers their routes under ``/-/console``. Every page is for a logged-in member of
staff; every change is a POST (Datasette checks its CSRF token), runs a library function
and is written to the audit trail under the staff member's name.
"""
