"""Senders against a real outbox folder and real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import email
import itertools
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.delivery.senders import make_sender
from digest.delivery.senders.outbox import OutboxSender, eml_name
from digest.delivery.senders.smtp import SmtpSender, dot_stuffed
from digest.errors import ConfigError, SendAborted, SendError
from digest.models import Outgoing
from digest.settings import SmtpSettings
from support.smtpserver import Certs, CountingHandler, FaultyHandler, SmtpServer, make_certs


def message(i: int, rcpt: str | None = None) -> Outgoing:
    rcpt = rcpt or f"user{i}@example.com"
    data = (f"From: digest@example.org\r\nTo: {rcpt}\r\nSubject: test {i}\r\n"
            f"Message-ID: <digest.1.{i}@example.org>\r\n\r\n"
            "Hello\r\n.\r\n..two dots\r\nbye\r\n").encode("ascii")
    return Outgoing(i, "bounces@example.org", rcpt, data, f"<digest.1.{i}@example.org>")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def smtp(server: Any, **kw: Any) -> SmtpSettings:
    kw.setdefault("security", "none")
    return SmtpSettings(host=kw.pop("host", "127.0.0.1"), port=server.port, **kw)


@pytest.fixture
def sink() -> Iterator[SmtpServer]:
    with SmtpServer(CountingHandler(keep=True)) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# outbox


def test_outbox_writes_one_file_per_message_and_overwrites_on_resend(tmp_path: Path) -> None:
    sender = make_sender("outbox", outbox_dir=tmp_path / "out")()
    batch = [message(i) for i in range(5)]
    results = sender.send_batch(batch)
    assert [(r.delivery_id, r.outcome) for r in results] == [(i, "sent") for i in range(5)]
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == sorted(eml_name(m) for m in batch)
    for m in batch:
        assert (tmp_path / "out" / eml_name(m)).read_bytes() == m.data
    sender.send_batch(batch[:2])  # sent again after a crash: same names, no new files
    assert sorted((tmp_path / "out").iterdir()) == files


def test_outbox_names_are_safe_and_distinct() -> None:
    odd = [Outgoing(1, "b@e.org", "x@e.org", b"", "<../../etc/passwd@e.org>"),
           Outgoing(2, "b@e.org", "x@e.org", b"", "<.._.._etc_passwd@e.org>"),
           Outgoing(3, "b@e.org", "x@e.org", b"", "")]
    names = [eml_name(m) for m in odd]
    assert len(set(names)) == 3
    assert all("/" not in n and not n.startswith(".") and n.endswith(".eml") for n in names)


def test_outbox_failure_stops_with_results_so_far_and_no_half_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    batch = [message(i) for i in range(4)]
    (out / eml_name(batch[2])).mkdir()  # something that cannot be replaced by a file
    with pytest.raises(SendAborted, match="cannot write to the outbox folder") as info:
        OutboxSender(out).send_batch(batch)
    assert [r.delivery_id for r in info.value.results] == [0, 1]
    assert sorted(p.name for p in out.iterdir()) == sorted(eml_name(m) for m in batch[:3])
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


def test_make_sender_refuses_what_it_cannot_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown sender 'carrier-pigeon'"):
        make_sender("carrier-pigeon")
    with pytest.raises(ConfigError, match="needs a folder"):
        make_sender("outbox")
    with pytest.raises(ConfigError, match="needs an smtp section"):
        make_sender("smtp")


# SMTP


def test_smtp_delivers_intact_over_reused_connections(sink: SmtpServer) -> None:
    sender = make_sender("smtp", smtp=smtp(sink, messages_per_connection=3))()
    batch = [message(i) for i in range(7)]
    results = sender.send_batch(batch)
    sender.close()
    assert [r.outcome for r in results] == ["sent"] * 7
    assert all(r.reply.startswith("250") and r.attempts == 1 for r in results)
    handler = sink.handler
    assert [rcpt for rcpt, _ in handler.messages] == [m.recipient for m in batch]
    for (_, got), sent in zip(handler.messages, batch, strict=True):
        # the server adds nothing we did not send; dot-stuffing was undone on the way
        parsed = email.message_from_bytes(got)
        assert parsed["Message-ID"] == sent.message_id
        assert parsed.get_payload() == "Hello\r\n.\r\n..two dots\r\nbye\r\n"
    assert sink.connections == 3  # 3 + 3 + 1


def test_smtp_data_is_dot_stuffed_and_ended_whatever_its_first_and_last_line(
        sink: SmtpServer) -> None:
    bodies = [b"..", b".starts the body\r\nand ends without a line break",
              b"no dot at any line start\r\n", b"ends with a lone dot line\r\n.\r\n"]
    batch = [Outgoing(i + 1, "digest@example.org", f"r{i}@example.net",
                      f"Message-ID: <m{i}@example.org>\r\n\r\n".encode() + body,
                      f"<m{i}@example.org>")
             for i, body in enumerate(bodies)]
    sender = make_sender("smtp", smtp=smtp(sink))()
    results = sender.send_batch(batch)
    sender.close()
    assert [r.outcome for r in results] == ["sent"] * 4
    got = [content.replace(b"\r\n", b"\n") for _, content in sink.handler.messages]
    want = [m.data.replace(b"\r\n", b"\n") for m in batch]
    # what the server keeps ends with a line break even where the message did not
    assert got == [w if w.endswith(b"\n") else w + b"\n" for w in want]


def test_dot_stuffing_is_the_rfc_rule_on_every_short_input() -> None:
    # Every string of up to 6 bytes over ".", CR, LF and a letter: the rule of RFC 5321
    # 4.5.2 is a dot added at the start of every line that starts with one (lines end at LF).
    rule = re.compile(rb"^\.", re.MULTILINE)
    for length in range(7):
        for chars in itertools.product(b".\r\na", repeat=length):
            data = bytes(chars)
            assert dot_stuffed(data) == rule.sub(b"..", data), data


class EnvelopeHandler(CountingHandler):
    """Keeps each transaction's envelope as the server read it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[tuple[str, list[str], list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.mail_options),
                               list(envelope.rcpt_tos)))
        return await super().handle_DATA(server, session, envelope)


def test_smtp_envelope_names_each_address_and_the_size() -> None:
    # Plain addresses are written as they are; anything else (a quoted local part, a display
    # name) goes through smtplib's own address parsing, and reaches the server the same way.
    handler = EnvelopeHandler()
    with SmtpServer(handler) as server:
        sender = SmtpSender(smtp(server))
        plain = message(1, "reader+tag@example.net")
        quoted = Outgoing(2, "Digest <digest@example.org>", '"two words"@example.net',
                          plain.data, "<m2@example.org>")
        results = sender.send_batch([plain, quoted])
        sender.close()
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert handler.envelopes == [
        ("bounces@example.org", [f"SIZE={len(plain.data)}"], ["reader+tag@example.net"]),
        ("digest@example.org", [f"SIZE={len(plain.data)}"], ['"two words"@example.net']),
    ]


def test_smtp_sorts_replies_and_keeps_going() -> None:
    handler = FaultyHandler(reject=["gone@example.com"], faults={
        "busy@example.com": ["451"], "closing@example.com": ["421"],
        "drop@example.com": ["drop-before"], "late@example.com": ["drop-after"]})
    with SmtpServer(handler) as server:
        sender = SmtpSender(smtp(server))
        rcpts = ["a@example.com", "gone@example.com", "busy@example.com", "b@example.com",
                 "closing@example.com", "drop@example.com", "late@example.com", "c@example.com"]
        results = sender.send_batch([message(i, r) for i, r in enumerate(rcpts)])
        sender.close()
    got = {r: (res.outcome, res.reply) for r, res in zip(rcpts, results, strict=True)}
    assert got["gone@example.com"] == ("permanent", "550 5.1.1 No such user")
    assert got["busy@example.com"] == ("temporary", "451 4.3.0 Try again later")
    assert got["closing@example.com"][0] == "temporary"
    assert got["closing@example.com"][1].startswith("421")
    assert got["drop@example.com"][0] == "temporary"
    assert got["drop@example.com"][1].startswith("connection lost")
    assert got["late@example.com"][0] == "temporary"  # the server kept it, we cannot know
    for ok in ("a@example.com", "b@example.com", "c@example.com"):
        assert got[ok][0] == "sent"
    assert handler.counts == {"a@example.com": 1, "b@example.com": 1, "c@example.com": 1,
                              "late@example.com": 1}


def test_smtp_login_and_starttls(certs: Certs) -> None:
    with SmtpServer(CountingHandler(), starttls=certs.server_context(), require_starttls=True,
                    users={"digest": "s3cret"}) as server:
        settings = smtp(server, host="localhost", security="starttls", username="digest",
                        password="s3cret")
        sender = SmtpSender(settings, ssl_context=certs.client_context())
        assert [r.outcome for r in sender.send_batch([message(1)])] == ["sent"]
        sender.close()
        assert server.handler.counts == {"user1@example.com": 1}


def test_smtp_implicit_tls(certs: Certs) -> None:
    with SmtpServer(CountingHandler(), implicit_tls=certs.server_context()) as server:
        sender = SmtpSender(smtp(server, security="ssl"), ssl_context=certs.client_context())
        assert [r.outcome for r in sender.send_batch([message(1)])] == ["sent"]
        sender.close()


def test_untrusted_certificate_is_refused(certs: Certs) -> None:
    with SmtpServer(CountingHandler(), starttls=certs.server_context()) as server:
        sender = SmtpSender(smtp(server, host="localhost", security="starttls"))
        with pytest.raises(SendError, match="TLS certificate .* was refused"):
            sender.send_batch([message(1)])
        assert server.handler.total == 0


def test_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    other = make_certs(tmp_path, names=["DNS:mail.example.net"])
    with SmtpServer(CountingHandler(), starttls=other.server_context()) as server:
        sender = SmtpSender(smtp(server, security="starttls"), ssl_context=other.client_context())
        with pytest.raises(SendError, match="TLS certificate .* was refused"):
            sender.send_batch([message(1)])
        assert server.handler.total == 0


def test_starttls_missing_is_an_error(sink: SmtpServer) -> None:
    sender = SmtpSender(smtp(sink, security="starttls"))
    with pytest.raises(SendError, match="does not support STARTTLS"):
        sender.send_batch([message(1)])
    assert sink.handler.total == 0


def test_bad_credentials_stop_the_send(certs: Certs) -> None:
    with SmtpServer(CountingHandler(), starttls=certs.server_context(),
                    users={"digest": "s3cret"}) as server:
        settings = smtp(server, host="localhost", security="starttls", username="digest",
                        password="wrong")
        sender = SmtpSender(settings, ssl_context=certs.client_context())
        with pytest.raises(SendError, match="refused the login of 'digest': 535") as info:
            sender.send_batch([message(1), message(2)])
        assert isinstance(info.value, SendAborted) and info.value.results == ()
        no_login = SmtpSender(smtp(server, host="localhost", security="starttls"),
                              ssl_context=certs.client_context())
        with pytest.raises(SendError, match="requires a login"):
            no_login.send_batch([message(1)])
        assert server.handler.total == 0


def test_unreachable_server_is_retried_then_reported() -> None:
    port = closed_port()
    slept: list[float] = []
    sender = SmtpSender(SmtpSettings(host="127.0.0.1", port=port, security="none"),
                        connect_attempts=3, retry_delay=0.5, sleep=slept.append)
    with pytest.raises(SendError, match=f"cannot connect to the mail server 127.0.0.1:{port}.*"
                                        r"refused \(tried 3 times\)"):
        sender.send_batch([message(1)])
    assert slept == [0.5, 1.0]


def test_failure_after_some_messages_reports_them(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = CountingHandler()
    with SmtpServer(handler) as server:
        original = handler.handle_DATA

        async def accept_then_close(smtp_server: Any, session: Any, envelope: Any) -> str:
            server.stop_listening()
            return await original(smtp_server, session, envelope)

        monkeypatch.setattr(handler, "handle_DATA", accept_then_close)
        sender = SmtpSender(smtp(server, messages_per_connection=1), connect_attempts=1)
        with pytest.raises(SendAborted, match="cannot connect") as info:
            sender.send_batch([message(1), message(2), message(3)])
    assert [(r.delivery_id, r.outcome) for r in info.value.results] == [(1, "sent")]
    assert handler.total == 1
