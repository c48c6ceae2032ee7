"""An HTTPS proxy on loopback that stands in for the Internet's host names.

The bot runs with ``HTTPS_PROXY`` pointing here and ``SSL_CERT_FILE`` holding a test CA. A
``CONNECT files.slack.com:443`` is answered with real TLS for that name (a certificate from the test
CA), and the request inside the tunnel is passed to the fake Slack, which sees the real Host header.
So downloads can be redirected from ``files.slack.com`` to ``files-origin.slack.com``, to a CDN name
under ``slack-edge.com``, to a workspace's sign-in page, or to a foreign host, exactly as Slack does,
and a test can tell which host names the bot contacted and what it sent each of them.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import trustme

from tests.fakes.server import read_head, serve_connections


class TlsProxy:
    def __init__(self, upstream_port: int, workdir: Path) -> None:
        self.upstream_port = upstream_port
        self.ca = trustme.CA()
        self.ca_file = workdir / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.connects: list[str] = []  # every host name the bot asked to reach, in order
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def env(self) -> dict[str, str]:
        """What the bot's process needs to go through this proxy and trust its certificates."""
        return {
            "HTTPS_PROXY": self.url,
            "https_proxy": self.url,
            "SSL_CERT_FILE": str(self.ca_file),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def start(self) -> TlsProxy:
        threading.Thread(
            target=serve_connections, args=(self._server, self._tunnel, lambda: not self._stopping), daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._server.close()

    def _context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return self._contexts[host]

    def _tunnel(self, client: socket.socket) -> None:
        try:
            head = read_head(client)
            if head is None:
                return
            method, target = head.split(b" ", 2)[:2]
            if method != b"CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.decode().rpartition(":")
            with self._lock:
                self.connects.append(host)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            secure = self._context(host).wrap_socket(client, server_side=True)
            # A loopback address is reached as itself (e.g. the Socket Mode stand-in); any host name is the fake Slack.
            upstream_port = int(port) if host == "127.0.0.1" else self.upstream_port
            upstream = socket.create_connection(("127.0.0.1", upstream_port))
            threading.Thread(target=_pipe, args=(upstream, secure), daemon=True).start()
            _pipe(secure, upstream)
        except (OSError, ssl.SSLError, ValueError):
            pass  # a client that gave up, or refused our certificate: nothing to pass on
        finally:
            client.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):  # closed by the other side already
                sock.shutdown(socket.SHUT_RDWR)
