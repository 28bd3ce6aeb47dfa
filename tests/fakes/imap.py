"""A real IMAP server for the hotline tests: pymap (pure Python, on PyPI) with its in-memory backend,
started as a subprocess on 127.0.0.1 with a certificate of a throwaway CA (trustme), so that the
worker's client goes through STARTTLS exactly as with a real provider.

pymap is a complete IMAP4rev1 server (SEARCH, UID FETCH with BODY.PEEK, STORE of flags, APPEND,
folders); nothing here imitates IMAP: the tests speak to it with the standard library's imaplib.
"""

from __future__ import annotations

import imaplib
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import trustme

USER = "hotline@cantines.example"
PASSWORD = "mot-de-passe-d-application"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ImapServer:
    """`with ImapServer(tmp_path) as server:` a pymap server; `server.url` is the worker's IMAP_URL."""

    def __init__(self, folder: Path, *, user: str = USER, password: str = PASSWORD):
        self.folder = folder
        self.user = user
        self.password = password
        self.port = free_port()
        self.ca = trustme.CA()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"imap://{quote(self.user, safe='')}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/INBOX"

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def start(self) -> ImapServer:
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert_file, key_file = self.folder / "imap-cert.pem", self.folder / "imap-key.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        for extra in cert.cert_chain_pems[1:]:
            with cert_file.open("ab") as handle:
                handle.write(extra.bytes())
        cert.private_key_pem.write_to_path(str(key_file))
        pymap = shutil.which("pymap", path=str(Path(sys.executable).parent)) or shutil.which("pymap")
        assert pymap, "pymap is a test dependency (pip install -e '.[test]')"
        self.process = subprocess.Popen(
            [pymap, "--host", "127.0.0.1", "--port", str(self.port), "--cert", str(cert_file), "--key", str(key_file),
             "dict", "--demo-user", self.user, "--demo-password", self.password],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pymap did not start: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pymap did not answer within 20 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def __enter__(self) -> ImapServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What a person or another mail client does, through a second connection.

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.starttls(ssl_context=self.client_context())
        imap.login(self.user, self.password)
        return imap

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """A message arrives in `folder` (created if needed)."""
        imap = self.connect()
        try:
            imap.create(f'"{folder}"')  # "already exists" is fine
            status, _ = imap.append(f'"{folder}"', None, imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK"
        finally:
            imap.logout()

    def state(self, folder: str = "INBOX") -> list[tuple[str, set[str]]]:
        """Every message of `folder`: its Message-ID and flags (nothing is opened as read)."""
        imap = self.connect()
        try:
            imap.select(f'"{folder}"', readonly=True)
            _, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        finally:
            imap.logout()
        out = []
        for item in data:
            if isinstance(item, tuple):
                head = item[0].decode()
                flags = head[head.index("FLAGS (") + 7:].split(")")[0].split()
                out.append((item[1].decode().split(":", 1)[1].strip(), set(flags)))
        return out
