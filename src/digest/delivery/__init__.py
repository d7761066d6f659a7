"""Delivering an issue: the ledger-driven send loop and the senders it hands messages to.

``loop.deliver`` works through an issue's pending delivery rows with one worker thread per
connection (``worker``), a shared token bucket (``ratelimit``) and one ledger writer
(``recorder``) that records each result before its connection can deliver anything more, so a
crash repeats at most what was in flight. ``senders`` holds the outbox, SMTP and mail API
senders behind one protocol; ``report`` is what a send returns and ``progress`` prints.
"""
