"""`digest subscribers export`: the list as a CSV file that `digest subscribers import` reads
back and a spreadsheet opens safely (see ``digest.subscribers.sheets``)."""

from __future__ import annotations

from collections.abc import Iterator

from digest.models import SubscriberStatus
from digest.settings import Settings
from digest.store import Store
from digest.subscribers.sheets import export_csv


def export_subscribers(settings: Settings,
                       status: SubscriberStatus | None = None) -> Iterator[str]:
    """The export's CSV lines (header first; CRLF ends), every subscriber or those with
    ``status``, by id, read from the store a page at a time."""
    with Store.open(settings.store) as store:
        yield from export_csv(store.export_rows(status))
