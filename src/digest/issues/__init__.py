"""The issue: what goes into the next one and when (pure decisions), drafts and approval, and
rendering it once as HTML and text.

``compose`` picks and orders the posts, ``schedule`` says when an issue is due, ``discussed``
finds the most discussed earlier posts, ``resent`` spots posts of a held draft that look already
sent, ``drafts`` freezes, edits and approves, ``notice`` makes the editors' copy, ``render`` and
``i18n`` turn a plan into HTML and text in the reader's language.
"""
