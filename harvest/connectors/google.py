"""Google Forms and Google Sheets connectors (being written)."""
