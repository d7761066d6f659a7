"""Signing processes: the same signatures as in-process, and nothing unsigned when one fails."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import dkim
import pytest

from digest.mail.canonical import body_hash
from digest.mail.dkim import DkimSigner, split_message
from digest.mail.dkim_pool import SigningPool
from support.dkimkeys import DOMAIN, SELECTOR, DkimKey


def message(i: int) -> bytes:
    return (f"From: Digest <digest@example.org>\r\nTo: r{i}@example.net\r\n"
            f"Subject: issue {i}\r\nMessage-ID: <m{i}@example.org>\r\n\r\n"
            + "Hello   there\t\r\n" * (i % 7 + 1)).encode()


@pytest.fixture(scope="module")
def signer(key: DkimKey) -> DkimSigner:
    return DkimSigner.from_pem(DOMAIN, SELECTOR, key.pem)


def test_pool_signs_as_the_signer_does_from_many_threads(key: DkimKey,
                                                         signer: DkimSigner) -> None:
    # rsa-sha256 (PKCS #1 v1.5) is deterministic: the same bytes prove the same signing.
    got: dict[int, bytes] = {}
    with SigningPool(signer, 2) as pool:

        def sign(first: int) -> None:
            for i in range(first, 40, 4):
                data = message(i)
                known = body_hash(split_message(data)[1]) if i % 2 else None
                got[i] = pool(data, body_hash=known)

        threads = [threading.Thread(target=sign, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert pool.failures == []
    assert sorted(got) == list(range(40))
    for i, signed in got.items():
        assert signed == signer.sign(message(i))
        assert dkim.verify(signed, dnsfunc=key.dns()) is True


def test_a_signing_process_that_dies_costs_no_signature(key: DkimKey,
                                                       signer: DkimSigner) -> None:
    with SigningPool(signer, 1) as pool:
        assert pool(message(1)) == signer.sign(message(1))
        [child] = pool.processes
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        for i in range(2, 5):  # signed in-process from now on
            assert pool(message(i)) == signer.sign(message(i))
        assert len(pool.failures) == 1 and "ended" in pool.failures[0]


def test_a_signing_process_that_stops_answering_is_retired(key: DkimKey,
                                                          signer: DkimSigner) -> None:
    # A stopped (or stuck) child would otherwise leave its message unsigned for ever, and the
    # send waiting on it: the run never ends and holds the lock.
    with SigningPool(signer, 1, timeout=0.5) as pool:
        assert pool(message(1)) == signer.sign(message(1))
        [child] = pool.processes
        os.kill(child.pid, signal.SIGSTOP)
        try:
            for i in range(2, 5):  # the first waits for the timeout, then all in-process
                signed = pool(message(i), body_hash=body_hash(split_message(message(i))[1]))
                assert signed == signer.sign(message(i))
                assert dkim.verify(signed, dnsfunc=key.dns()) is True
        finally:
            if child.poll() is None:  # not retired: let it end with the pool
                os.kill(child.pid, signal.SIGCONT)
        assert child.wait() == -signal.SIGKILL
        assert len(pool.failures) == 1 and "no answer in 0.5 s" in pool.failures[0]


def test_submitted_messages_are_signed_ahead_in_order_of_need(signer: DkimSigner) -> None:
    with SigningPool(signer, 2) as pool:
        futures = [pool.submit(message(i)) for i in range(12)]
        assert [f.result(timeout=30) for f in futures] == [signer.sign(message(i))
                                                            for i in range(12)]
    assert all(proc.poll() == 0 for proc in pool.processes)  # ended with the pool


def test_a_pool_needs_a_process(signer: DkimSigner) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SigningPool(signer, 0)


def test_a_folder_named_like_the_package_in_the_working_folder_is_not_imported(
        signer: DkimSigner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's own folder called "digest" (with an __init__.py that would fail) where cron runs.
    fake = tmp_path / "digest"
    (fake / "mail").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise SystemExit('the wrong digest was imported')\n")
    (fake / "mail" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    with SigningPool(signer, 1) as pool:
        assert pool(message(3)) == signer.sign(message(3))
        assert pool.failures == []
