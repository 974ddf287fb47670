"""Tools for testing a connector, harvest's own or another package's: a fake vendor API
(:mod:`~harvest.testing.fake_api`) and the connector contract every connector passes
(:mod:`~harvest.testing.contract`). See docs/connectors/writing.md. They need pytest,
which harvest itself does not: import this package from tests only."""
