"""The bytes of a message: MIME built once per issue (``message``), every placeholder filled in
one place (``fill``), DKIM (``dkim``), signed unsubscribe and confirmation links (``tokens``),
per-list and per-reader values (``addressing``), and the deliverability checks run before anyone
receives it (``check``, ``check_headers``, ``check_links``, ``spamassassin``).
"""
