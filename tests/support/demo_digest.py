"""The bundled demo digest built through the real pipeline, and ways to spoil it for tests."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import app as pipeline
from digest import config
from digest.delivery.senders import make_sender
from digest.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CLOCK = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def require_spamassassin() -> None:
    """Skip without SpamAssassin, except under CI, where `make test` installs it: fail there."""
    if shutil.which("spamassassin"):
        return
    message = ("spamassassin is not installed; `make deps` (as root) installs it with apt-get")
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI=true: the SpamAssassin tests must run)")
    pytest.skip(message)


def demo_copy(folder: Path, *, unsubscribe: str | None = None) -> Path:
    """feeds.yaml and demo/ copied into folder (unsubscribe replaced if given); the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "demo", folder / "demo")
    text = (REPO / "feeds.yaml").read_text()
    if unsubscribe is not None:
        text, count = re.subn(r"(?m)^(  unsubscribe:).*$", rf"\1 {unsubscribe}", text)
        assert count == 1, "feeds.yaml has no digest.unsubscribe line to replace"
    path = folder / "feeds.yaml"
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Demo:
    settings: Settings
    draft: pipeline.Draft
    eml: bytes  # digest.eml exactly as `digest preview` writes it

    def message(self, *, html: str | None = None, text: str | None = None) -> bytes:
        """The demo message built by the real message code, with the HTML or text replaced."""
        rendered = self.draft.rendered
        changed = replace(rendered, html=rendered.html if html is None else html,
                          text=rendered.text if text is None else text)
        draft = replace(self.draft, rendered=changed)
        return pipeline.test_message(self.settings, draft, CLOCK, subject_prefix="").data


def build_demo(folder: Path, *, unsubscribe: str | None = None) -> Demo:
    """The next issue of the demo, built as `digest preview` builds it, into folder/preview."""
    settings = config.load(demo_copy(folder, unsubscribe=unsubscribe), {})
    deps = pipeline.Deps(clock=lambda: CLOCK,
                         sender_factory=make_sender("outbox", outbox_dir=folder / "outbox"))
    draft, why = pipeline.draft_next(settings, deps, pipeline.preview_recipient(settings))
    assert draft is not None, why
    pipeline.write_preview(settings, draft, folder / "preview", CLOCK)
    return Demo(settings, draft, (folder / "preview" / "digest.eml").read_bytes())


def swap_parts(raw: bytes) -> bytes:
    """The same multipart message with its first two parts in the other order."""
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    assert boundary is not None
    marker = b"--" + boundary[1]
    preamble, first, second, *rest = raw.split(marker)
    return marker.join([preamble, second, first, *rest])


def set_header(raw: bytes, name: bytes, line: bytes | None) -> bytes:
    """Replace (or with None, remove) one header field, continuation lines included."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    pattern = rb"(?im)^" + re.escape(name) + rb":.*\r\n(?:[ \t].*\r\n)*"
    head, count = re.subn(pattern, b"" if line is None else line + b"\r\n", head + b"\r\n")
    assert count == 1, f"no {name!r} header to replace"
    return head.removesuffix(b"\r\n") + sep + body
