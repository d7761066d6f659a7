"""The README's "Set it up for your blog", followed: the wheel installed outside the checkout
(offline: --no-index, the dependencies already installed), the README's own feeds.yaml with only
the blog's feed and the mail server pointed at local ones, the SMTP password in the environment,
`digest subscribers add`, `digest check`, a test copy, and the cron line's command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from support.feedserver import FeedServer, Route
from support.rss import Item, write_rss
from support.smtpserver import CountingHandler, SmtpServer

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Set it up for your blog", 1)[1].split("\n## ", 1)[0]
PASSWORD = "pw-from-the-environment"


def block(kind: str) -> str:
    found = re.search(rf"```{kind}\n(.*?)```", SECTION, re.S)
    assert found, f"no {kind} block in the README's set-up section"
    return found.group(1)


def test_the_readme_set_up_section_names_each_step() -> None:
    assert "pipx install" in SECTION and "password_env: SMTP_PASSWORD" in block("yaml")
    assert "digest check" in SECTION and "export SMTP_PASSWORD" in SECTION
    assert "tracks no opens and no clicks" in SECTION


def test_following_the_set_up_section(tmp_path: Path) -> None:
    dist, site = tmp_path / "dist", tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "-w", str(dist), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert "Warning" not in built.stderr, built.stderr  # setuptools says nothing
    [wheel] = dist.glob("digest-*.whl")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                                "--no-deps", "--target", str(site), str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr

    folder = tmp_path / "srv-digest"
    folder.mkdir()
    write_rss(tmp_path / "feed.xml", "Example Blog", [
        Item("p1", "Hello readers", "https://example.org/hello", datetime(2026, 11, 30,
                                                                        tzinfo=UTC), 2)])
    with FeedServer() as feeds, SmtpServer(CountingHandler(keep=True),
                                           users={"digest@example.org": PASSWORD},
                                           auth_require_tls=False) as smtp:
        feed_url = feeds.route("/feed/", Route(body=(tmp_path / "feed.xml").read_bytes()))
        config = (block("yaml")
                  .replace("https://example.org/feed/", feed_url)
                  .replace("host: smtp.example.org", "host: 127.0.0.1")
                  .replace("port: 587", f"port: {smtp.port}\n    security: none"))
        (folder / "feeds.yaml").write_text(config, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(site), "SMTP_PASSWORD": PASSWORD,
               "DIGEST_CONFIG": ""}

        def digest(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "digest", *args], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=120)

        where = subprocess.run([sys.executable, "-c", "import digest; print(digest.__file__)"],
                               cwd=folder, env=env, capture_output=True, text=True)
        assert where.stdout.startswith(str(site))
        added = digest("subscribers", "add", "you@example.org")
        assert added.returncode == 0, added.stderr
        checked = digest("check")
        assert checked.returncode in (0, 1), checked.stderr  # 1: advice, e.g. unsubscribe_url
        assert 'Checking the next issue: "Example Blog weekly' in checked.stdout
        assert "(1 post)" in checked.stdout
        tested = digest("send", "--to", "you@example.org")
        assert tested.returncode == 0, tested.stderr
        assert [rcpt for rcpt, _ in smtp.handler.messages] == ["you@example.org"]
        # The cron line's command, as cron runs it from the folder.
        [line] = [ln for ln in block("cron").splitlines() if ln and ln[0].isdigit()]
        fields = line.split(None, 5)
        assert len(fields) == 6 and fields[5].startswith("cd /srv/digest && ")
        command = shlex.split(fields[5].split("&& ", 1)[1])
        assert command == ["digest", "--quiet", "run"]
        ran = digest(*command[1:])
        assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
        missing = {k: v for k, v in env.items() if k != "SMTP_PASSWORD"}
        refused = subprocess.run([sys.executable, "-m", "digest", "--quiet", "run"], cwd=folder,
                                 env=missing, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and "SMTP_PASSWORD" in refused.stderr
