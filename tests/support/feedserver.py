"""A real HTTP server on 127.0.0.1 for feed tests: routes with status, headers, delays, ETag/304
handling, redirects, gzip and streamed bodies. Threaded, with Nagle off, so timings are honest.

    with FeedServer() as server:
        url = server.route("/feed.xml", Route(body=data, etag='"v1"'))
        ...
        server.requests_to("/feed.xml")[0].headers["User-Agent"]
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)  # extra (or overriding) headers
    delay: float = 0.0  # seconds to wait before answering
    etag: str | None = None  # sent; a matching If-None-Match gets a 304
    last_modified: str | None = None  # sent; an equal If-Modified-Since gets a 304
    redirect_to: str | None = None  # Location (a path or URL); status defaults to 302
    gzip: bool = False  # compress `body` and say Content-Encoding: gzip
    # A streamed body: no Content-Length, the connection closes at the end.
    stream: Callable[[], Iterable[bytes]] | None = None
    drip: float = 0.0  # pause between streamed chunks
    declare_length: int | None = None  # a Content-Length to claim for a streamed body


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Serves routes on an ephemeral port of ``host`` until the `with` block ends.

    Another loopback address (127.0.0.2) stands in for an internal host in boundary tests.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.sent: dict[str, int] = {}  # body bytes written per path (stops when the client quits)
        self._lock = threading.Lock()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.feed_server = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _count(self, path: str, size: int) -> None:
        with self._lock:
            self.sent[path] = self.sent.get(path, 0) + size


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops concurrent connects (1 s SYN retry)
    block_on_close = False  # a handler still sleeping must not hold up the end of a test
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-body is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # http.server otherwise stalls ~40 ms per keep-alive answer
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.feed_server
        path = self.path
        owner._record(Request(path, dict(self.headers.items())))
        route = owner.routes.get(path)
        if route is None:
            route = Route(status=404, body=b"no such feed", content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        if route.redirect_to is not None:
            location = route.redirect_to
            if location.startswith("/"):
                location = owner.url(location)
            self._answer(route.status if route.status != 200 else 302, {"Location": location}, b"")
            return
        if self._not_modified(route):
            self._answer(304, self._validators(route), b"")
            return
        headers = {"Content-Type": route.content_type, **self._validators(route), **route.headers}
        if route.stream is not None:
            self._stream(route, headers, path)
            return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        # Count before answering: a client that has its answer may look at the count at once.
        owner._count(path, len(body))
        self._answer(route.status, headers, body)

    def _not_modified(self, route: Route) -> bool:
        etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if route.etag and etag is not None:
            return etag == route.etag
        return bool(route.last_modified and since == route.last_modified)

    @staticmethod
    def _validators(route: Route) -> dict[str, str]:
        headers = {}
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        return headers

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, route: Route, headers: dict[str, str], path: str) -> None:
        assert route.stream is not None
        self.send_response(route.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if route.declare_length is not None:
            self.send_header("Content-Length", str(route.declare_length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in route.stream():
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except OSError:
                return  # the client stopped reading: that is the point of some tests
            self.server.feed_server._count(path, len(chunk))
            if route.drip:
                time.sleep(route.drip)
