"""What the fake APIs share: a threaded HTTP server on 127.0.0.1 handing each request to the fake's
`_handle(handler)`, started and stopped as a context manager (`with FakeAirtable() as fake:`)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class Handler(BaseHTTPRequestHandler):
    """GET and POST go to the fake; a fake whose API has more methods adds them (`do_PATCH = do_GET`)."""

    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer
    timeout = 30  # an idle keep-alive connection's thread ends after this
    wbufsize = 1 << 16  # one write per answer (flushed after each request), and no Nagle delay
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the fake keeps its own log
        pass


class FakeServer:
    """The life cycle of a fake API; subclasses set `handler_class` and `thread_name`, call
    `_listen_on(host, port)` in their constructor and implement `_handle`."""

    handler_class: type[Handler] = Handler
    thread_name = "fake-api"

    def _listen_on(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handle(self, handler: Handler) -> None:
        raise NotImplementedError

    def _stopping(self) -> None:
        """Called first by `stop` (e.g. to release requests held by a fault)."""

    def start(self) -> Any:
        self._server = FakeHTTPServer((self._host, self._port), self.handler_class)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
