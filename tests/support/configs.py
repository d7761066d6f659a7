"""The smallest valid feeds.yaml, in pieces that tests put their own sections between."""

from __future__ import annotations

# The digest section's required keys, nothing else.
DIGEST = """\
digest:
  title: Example Blog weekly
  from: "Example Blog <digest@example.org>"
  site_url: https://example.org/
"""
# One feed.
FEEDS = """\
feeds:
  - url: https://example.org/feed/
"""
# A whole valid file: tests append the section under test.
HEAD = DIGEST + FEEDS
