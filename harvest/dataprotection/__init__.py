"""Data protection operations: erasure (``forget``), subject access, retention, tombstones.

UK GDPR gives people the right to see what is held about them (article 15) and to
have it erased (article 17); the charity must keep data no longer than its policy
says. Each is one library call here and one `harvest` command in ``cli/privacy.py``.
"""
