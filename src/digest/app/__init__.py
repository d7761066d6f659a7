"""The application layer: each use case of digest, written once, for the CLI and the web app.

    cli/, web/  ->  digest.app  ->  config, feeds, store, issues, mail, subscribers, delivery
                                    ->  models, settings, errors

The adapters parse input, call one use case and present its result; only the CLI turns errors
into exit codes and only the web app into HTTP answers. Every concrete dependency (clock, sender,
HTTP transport, progress output) comes in through ``Deps``, so the same code runs from cron,
from tests and from the benchmarks.

    cron       run (the cron job)              fetching  fetch
    sending    send, deliver_issue             drafts    draft, edit, approve, open_draft,
                                                        settle_already_sent
    previews   upcoming, write_preview,        checks    check_next, check_file
               send_test, web_version          reports   feed_health, issue_summaries, status
    readers    unsubscribe, add, remove,       signup    request_subscription,
               import, list, provider events             confirm_subscription
    export     export_subscribers (CSV)
    planning   plan_next (compose, schedule)   messages  message_template, send_each, dkim
    archive    archive, latest, atom_feed       welcome   send_welcomes (after a confirmation)
    editors    the editors' copies and alerts  watch     feed alerts, edits, floods after a fetch

The names below are this package's public surface. Each is imported from its module on first
use, so a command pays only for what it runs (`digest --version` imports none of it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.app.archive import archive, atom_feed, latest
    from digest.app.checks import Checked, check_file, check_next
    from digest.app.cron import RunReport, run
    from digest.app.deps import Clock, Deps, make_deps
    from digest.app.drafts import (
        Drafted,
        approve,
        draft,
        edit,
        looks_already_sent,
        open_draft,
        settle_already_sent,
        stored_issue,
    )
    from digest.app.export import export_subscribers
    from digest.app.fetching import FetchReport, fetch
    from digest.app.messages import preview_recipient
    from digest.app.planning import plan_next
    from digest.app.previews import (
        Draft,
        Next,
        TestCopy,
        as_draft,
        draft_next,
        published_issue,
        send_test,
        stored_preview,
        test_message,
        upcoming,
        web_version,
        write_preview,
    )
    from digest.app.readers import (
        Left,
        SubscriberImport,
        add_subscriber,
        apply_provider_events,
        import_subscribers,
        list_subscribers,
        reader_of,
        remove_subscriber,
        unsubscribe,
    )
    from digest.app.reports import FeedHealth, feed_health, issue_status, issue_summaries
    from digest.app.sending import (
        SendReport,
        cancel_issue,
        deliver_issue,
        delivery_options,
        send,
    )
    from digest.app.signup import check_confirmation, confirm_subscription, request_subscription
    from digest.app.welcome import WelcomeReport, send_welcomes

_WHERE = {
    "archive": "archive",
    "export_subscribers": "export",
    "atom_feed": "archive",
    "latest": "archive",
    "Clock": "deps",
    "Deps": "deps",
    "make_deps": "deps",
    "plan_next": "planning",
    "preview_recipient": "messages",
    "FetchReport": "fetching",
    "fetch": "fetching",
    "SendReport": "sending",
    "deliver_issue": "sending",
    "delivery_options": "sending",
    "send": "sending",
    "cancel_issue": "sending",
    "RunReport": "cron",
    "run": "cron",
    "Drafted": "drafts",
    "approve": "drafts",
    "draft": "drafts",
    "edit": "drafts",
    "open_draft": "drafts",
    "looks_already_sent": "drafts",
    "settle_already_sent": "drafts",
    "stored_issue": "drafts",
    "Draft": "previews",
    "Next": "previews",
    "TestCopy": "previews",
    "as_draft": "previews",
    "draft_next": "previews",
    "published_issue": "previews",
    "send_test": "previews",
    "stored_preview": "previews",
    "test_message": "previews",
    "upcoming": "previews",
    "web_version": "previews",
    "write_preview": "previews",
    "Checked": "checks",
    "check_file": "checks",
    "check_next": "checks",
    "Left": "readers",
    "SubscriberImport": "readers",
    "add_subscriber": "readers",
    "apply_provider_events": "readers",
    "import_subscribers": "readers",
    "list_subscribers": "readers",
    "reader_of": "readers",
    "remove_subscriber": "readers",
    "unsubscribe": "readers",
    "check_confirmation": "signup",
    "confirm_subscription": "signup",
    "request_subscription": "signup",
    "FeedHealth": "reports",
    "feed_health": "reports",
    "issue_status": "reports",
    "issue_summaries": "reports",
    "WelcomeReport": "welcome",
    "send_welcomes": "welcome",
}

__all__ = [
    "archive", "atom_feed", "latest", "WelcomeReport", "send_welcomes", "export_subscribers",
    "Checked", "Clock", "Deps", "Draft", "Drafted", "FeedHealth", "FetchReport", "Left",
    "Next", "RunReport", "SendReport", "SubscriberImport", "TestCopy", "add_subscriber",
    "apply_provider_events", "approve", "as_draft", "cancel_issue", "check_confirmation",
    "check_file",
    "check_next",
    "confirm_subscription", "deliver_issue", "delivery_options", "draft", "draft_next", "edit",
    "feed_health", "fetch", "import_subscribers", "issue_status", "issue_summaries",
    "list_subscribers", "looks_already_sent", "make_deps", "open_draft", "plan_next",
    "preview_recipient",
    "published_issue", "reader_of", "remove_subscriber", "request_subscription", "run", "send",
    "send_test", "settle_already_sent", "stored_issue", "stored_preview", "test_message",
    "unsubscribe", "upcoming", "web_version", "write_preview",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'digest.app' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"digest.app.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
