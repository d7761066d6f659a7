"""`digest serve`: the web pages (unsubscribe, subscribe, web versions, the editors' pages)."""

from __future__ import annotations

import os

import click

from digest.cli._context import EXIT_OK, Context, guarded
from digest.errors import ConfigError


@click.command(epilog="Example: DIGEST_EDITOR_TOKEN=... digest serve --port 8025")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep it local and put a TLS proxy in front.")
@click.option("--port", default=8025, show_default=True, type=int,
              help="Port to listen on.")
@click.option("--proxy-headers", is_flag=True,
              help="Behind a proxy: take the client's address from X-Forwarded-For (and the "
                   "scheme from X-Forwarded-Proto) when the request comes from an address in "
                   "--forwarded-allow-ips. Without it those headers are ignored.")
@click.option("--forwarded-allow-ips", metavar="ADDRESSES",
              help="The proxies trusted with --proxy-headers: comma-separated addresses or "
                   "networks.  [default: 127.0.0.1]")
@click.pass_obj
@guarded
def serve(obj: Context, host: str, port: int, proxy_headers: bool,
          forwarded_allow_ips: str | None) -> int:
    """Serve the reader pages (unsubscribe, subscribe, web versions of issues) and the editors'
    pages under /editor/ (log in with the environment variable DIGEST_EDITOR_TOKEN).

    Needs DIGEST_SECRET (it signs every link and session). DIGEST_EDITOR_TOKEN must be at least
    32 random characters; make one with
    python -c "import secrets; print(secrets.token_urlsafe(32))". Set digest.public_url to the
    address readers reach the server at, so links in emails and pages point there.
    Confirmation messages are queued and sent by a background thread (and by `digest run`).
    Behind a TLS proxy on this machine, add --proxy-headers so rate limits count each client,
    not the proxy.
    """
    # Imported here: the other commands (cron's `digest run`) need no web server.
    import uvicorn

    from digest.web import create_app
    from digest.web.security import EDITOR_TOKEN_ENV, is_loopback, trusted_proxies

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port number (0 to 65535)", key="port")
    if forwarded_allow_ips is not None and not proxy_headers:
        raise ConfigError("--forwarded-allow-ips is only used with --proxy-headers; add it, or "
                          "leave both out when no proxy is in front")
    proxies = trusted_proxies(forwarded_allow_ips or "127.0.0.1") if proxy_headers else None
    settings = obj.settings
    if not is_loopback(host):
        click.echo(f"digest: warning: listening on {host}, not only on this machine; serve "
                   "it through a TLS proxy", err=True)
    token = os.environ.get(EDITOR_TOKEN_ENV) or None
    if token is None:
        click.echo(f"digest: {EDITOR_TOKEN_ENV} is not set: the editor pages are off", err=True)
    base = settings.digest.public_url or f"http://{host}:{port}"
    app = create_app(settings, obj.deps(show_progress=False).sender_factory,
                     editor_token=token, base_url=base, clock=obj.clock,
                     forwarded_allow_ips=proxies)
    obj.say(f"Serving {settings.digest.title} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                server_header=False)
    return EXIT_OK
