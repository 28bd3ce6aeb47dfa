"""A fake server in a process of its own, driven through a pipe: `with Remote(FakeAirtable, ...) as fake:`.

For the benchmarks that measure wall time against an API's rate. In the benchmark's own process, the
fake's request handling would take CPU and the GIL from the worker being measured, and the time the
fake counts a request at (for its rate limit) would move with the worker's computing: neither happens
with the real API, on its own machines. Tests keep the fake in their process (they look into it freely).

`fake.url`, then `fake.get("log")`, `fake.set("latency", 0.15)`, `fake.call("reset_counts")`: what
crosses the pipe is pickled (the fakes' logged requests are plain dataclasses).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from typing import Any


def _serve(factory: type, options: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    with factory(**options) as fake:
        conn.send(fake.url)
        while True:
            try:
                command, name, args, kwargs = conn.recv()
            except EOFError:  # the benchmark is gone
                return
            if command == "stop":
                conn.send(None)
                return
            try:
                if command == "get":
                    result = getattr(fake, name)
                elif command == "set":
                    setattr(fake, name, args[0])
                    result = None
                else:
                    result = getattr(fake, name)(*args, **kwargs)
                conn.send(("ok", result))
            except Exception as exc:  # sent back, raised in the benchmark
                conn.send(("error", exc))


class Remote:
    """`factory(**options)` served from a child process for the duration of the `with` block."""

    def __init__(self, factory: type, **options: Any):
        self._factory = factory
        self._options = options
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.url = ""

    def __enter__(self) -> Remote:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: none of this process's threads
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(self._factory, self._options, theirs), daemon=True)
        self._process.start()
        self._conn = ours
        self.url = ours.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.send(("stop", "", (), {}))
            self._conn.recv()
        if self._process is not None:
            self._process.join(timeout=10)

    def _ask(self, command: str, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self._conn is not None, "use the remote fake inside its with block"
        self._conn.send((command, name, args, kwargs))
        status, result = self._conn.recv()
        if status == "error":
            raise result
        return result

    def get(self, name: str) -> Any:
        return self._ask("get", name)

    def set(self, name: str, value: Any) -> None:
        self._ask("set", name, value)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", name, *args, **kwargs)
