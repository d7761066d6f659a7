"""Getting feed documents: HTTP with conditional GET, caps and timeouts, or a local file.

Everything here raises ``FetchFailed`` (a ``FeedError``) with a reason a user can act on;
``digest.feeds`` turns those into error outcomes so one feed never stops the others.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import ssl
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import httpx

from digest import __version__
from digest.errors import FetchFailed as FetchFailed  # raised here
from digest.feeds.boundary import HOME, BoundaryTransport, Refused
from digest.models import Validators
from digest.settings import FetchSettings

# Names the tool and version so a blog's owner can tell who is fetching and how often.
USER_AGENT = f"digest/{__version__} (feed-to-email digest; httpx/{httpx.__version__})"
ACCEPT = ("application/rss+xml, application/atom+xml;q=0.9, application/xml;q=0.8, "
          "text/xml;q=0.8, */*;q=0.5")
# Only what CappedBody can decode with a bounded output; httpx would also offer br and zstd.
ACCEPT_ENCODING = "gzip, deflate"
# A server dribbling bytes just fast enough to dodge the read timeout still gets cut off.
TOTAL_TIMEOUT_FACTOR = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class OutsideBoundary(FetchFailed):
    """The address is internal and the configured feed is not on it (``digest.feeds.boundary``)."""


class _BodyTooLarge(Exception):
    """The body, compressed or decompressed, went past the size cap. Private control flow: it
    never leaves this module (``_read_capped`` and ``_read_file`` turn it into FetchFailed)."""


@dataclass(frozen=True)
class Fetched:
    """A document as fetched: status 200 with a body, or 304 with none."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str  # where it was finally found, after redirects


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle is the slow part of making a client (tens of ms): do it once.
    return httpx.create_ssl_context()


def make_client(settings: FetchSettings,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one client of a run: it holds the connection pools and the SSL context.

    Without a ``transport`` given, requests go through ``BoundaryTransport``: a feed reaches
    loopback, private and other internal addresses only when it is configured on one.
    """
    limits = httpx.Limits(max_connections=max(1, settings.concurrency))
    return httpx.AsyncClient(
        transport=transport or BoundaryTransport(_ssl_context(), limits),
        verify=_ssl_context(),
        timeout=httpx.Timeout(settings.timeout),
        follow_redirects=False,  # followed by hand, to cap them and to name a loop
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        limits=limits,
    )


async def fetch_document(client: httpx.AsyncClient, url: str, validators: Validators,
                         settings: FetchSettings, *, named_by: str | None = None) -> Fetched:
    """Fetch a feed from the web or from disk, or raise FetchFailed saying why not.

    ``named_by``: the configured feed URL when ``url`` was named by that feed's content (a
    comments feed); such a URL must be http(s), and it reaches internal addresses only where
    the configured feed itself is. A configured feed is its own home.
    """
    if named_by is not None and urlsplit(url).scheme.lower() not in ("http", "https"):
        raise FetchFailed(url, "only http(s) addresses named by a feed are fetched")
    path = local_path(url)
    if path is not None:
        return await asyncio.to_thread(read_file, url, path, validators, settings.max_bytes)
    home = named_by or url
    total = settings.timeout * TOTAL_TIMEOUT_FACTOR
    try:
        async with asyncio.timeout(total):
            return await _get(client, url, validators, settings, home)
    except TimeoutError:
        raise FetchFailed(url, f"timed out: no complete answer after {total:g} s") from None
    except httpx.ConnectTimeout as exc:
        raise FetchFailed(url, f"timed out connecting after {settings.timeout:g} s") from exc
    except httpx.TimeoutException as exc:
        raise FetchFailed(url, f"timed out after {settings.timeout:g} s") from exc
    except httpx.ConnectError as exc:
        raise FetchFailed(url, f"could not connect: {exc or type(exc).__name__}") from exc
    except httpx.RemoteProtocolError as exc:
        raise FetchFailed(url, f"the server broke off the answer: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(url, f"network error: {exc or type(exc).__name__}") from exc


async def _get(client: httpx.AsyncClient, url: str, validators: Validators,
               settings: FetchSettings, home: str) -> Fetched:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    visited = [url]
    for _ in range(settings.max_redirects + 1):
        try:
            async with client.stream("GET", visited[-1], headers=headers,
                                     extensions={HOME: home}) as response:
                target = _redirect_target(url, visited, response)
                if target is None:
                    return await _finish(url, response, settings.max_bytes)
        except Refused as exc:
            raise OutsideBoundary(url, _refusal(visited, exc)) from exc
        visited.append(target)
    raise FetchFailed(url, f"too many redirects ({settings.max_redirects})")


def _refusal(visited: list[str], exc: Refused) -> str:
    how = f"redirected to {visited[-1]}, which" if len(visited) > 1 else "it"
    return (f"refused: {how} is on a {exc.kind} address ({exc.address}); only a feed "
            "configured on that host may reach it")


def _redirect_target(url: str, visited: list[str], response: httpx.Response) -> str | None:
    location: str | None = response.headers.get("location")
    if response.status_code not in _REDIRECTS or not location:
        return None
    target = urljoin(visited[-1], location.strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchFailed(url, f"redirected to a non-web address: {target}", response.status_code)
    if target in visited:
        chain = " -> ".join([*visited, target])
        raise FetchFailed(url, f"redirect loop: {chain}", response.status_code)
    return target


async def _finish(url: str, response: httpx.Response, max_bytes: int) -> Fetched:
    headers = {name.lower(): value for name, value in response.headers.items()}
    status = response.status_code
    if status == 304:
        return Fetched(304, headers, b"", str(response.url))
    if not 200 <= status < 300:
        raise FetchFailed(url, f"HTTP {status} {_reason(response)}".rstrip(), status)
    try:
        declared = int(headers.get("content-length", "-1"))
        if declared > max_bytes:
            raise _BodyTooLarge
        body = CappedBody(headers.get("content-encoding", ""), max_bytes)
        async for chunk in response.aiter_raw():
            body.feed(chunk)
        return Fetched(status, headers, body.finish(), str(response.url))
    except _BodyTooLarge:
        raise FetchFailed(url, f"body larger than {format_size(max_bytes)}", status) from None
    except ValueError as exc:
        raise FetchFailed(url, f"unreadable body: {exc}", status) from exc


def _reason(response: httpx.Response) -> str:
    if response.reason_phrase:
        return response.reason_phrase
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return ""


class CappedBody:
    """Collects a response body, decoding gzip/deflate, never holding more than ``limit``.

    Decompression is asked for at most the room left under the cap, so a gzip bomb (a few
    kilobytes expanding to gigabytes) is refused after producing ``limit`` bytes, not after
    inflating all of it.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
        self.coding = codings[0] if codings else ""
        self.limit = limit
        self.received = 0  # bytes off the wire
        self.produced = 0  # bytes after decoding
        self._chunks: list[bytes] = []
        self._decoder: zlib._Decompress | None = None
        self._members = 0
        self._done = False

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            raise _BodyTooLarge
        if not self.coding:
            self._keep(chunk)
            return
        data = chunk
        while data and not self._done:
            if self._decoder is None:
                if self._members and (self.coding == "deflate" or data[:2] != b"\x1f\x8b"):
                    self._done = True  # bytes after the compressed stream are padding
                    break
                self._decoder = self._start(data)
                self._members += 1
            try:
                piece = self._decoder.decompress(data, self.limit - self.produced + 1)
            except zlib.error as exc:
                raise ValueError(f"corrupt {self.coding} data ({exc})") from exc
            self._keep(piece)
            data = self._decoder.unconsumed_tail
            if self._decoder.eof:  # a further gzip member may follow
                data, self._decoder = self._decoder.unused_data, None

    def finish(self) -> bytes:
        if self._decoder is not None:
            self._keep(self._decoder.flush())
        return b"".join(self._chunks)

    def _start(self, data: bytes) -> zlib._Decompress:
        if self.coding == "deflate":
            # "deflate" should be zlib-wrapped, but some servers send raw deflate.
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS | 16)

    def _keep(self, piece: bytes) -> None:
        self.produced += len(piece)
        if self.produced > self.limit:
            raise _BodyTooLarge
        if piece:
            self._chunks.append(piece)


def local_path(url: str) -> Path | None:
    """The file a feed address names, or None for an http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FetchFailed(url, f"file URL on another host ({parts.netloc}) is not supported")
        return Path(url2pathname(unquote(parts.path)))
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise FetchFailed(url, f"unsupported address: {scheme}: URLs cannot be fetched")
    return Path(url)


def read_file(url: str, path: Path, validators: Validators, max_bytes: int) -> Fetched:
    """Read a local feed, answering 304 like a server when it has not changed."""
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            headers = {"etag": etag,
                       "last-modified": email.utils.formatdate(stat.st_mtime, usegmt=True)}
            if validators.etag == etag:
                return Fetched(304, headers, b"", url)
            if stat.st_size > max_bytes:
                raise FetchFailed(url, f"file larger than {format_size(max_bytes)}")
            body = handle.read(max_bytes + 1)  # the file may grow while it is read
    except FileNotFoundError as exc:
        raise FetchFailed(url, f"file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise FetchFailed(url, f"not a file: {path}") from exc
    except OSError as exc:
        raise FetchFailed(url, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(body) > max_bytes:
        raise FetchFailed(url, f"file larger than {format_size(max_bytes)}")
    return Fetched(200, headers, body, url)


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
