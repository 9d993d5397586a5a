"""Cutaway's development tools: the fake Discord and NemoVideo servers, the playground, and the
helper that starts the real bot against the fakes. Shipped in the same distribution so that
`python -m bot playground` works after `pip install -e .`, but nothing in `bot`, `cogs`, `storage`
or `engine` imports it (tests/test_boundaries.py enforces that)."""
