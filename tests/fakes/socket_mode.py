"""A loopback Socket Mode endpoint: the WebSocket that apps.connections.open hands out.

It speaks the protocol as Slack does: the HTTP upgrade, a ``hello`` message, pongs to the client's
pings, envelopes pushed to the app and the app's acks back (matched by ``envelope_id``). A test can
drop every connection to see what the bot does while Slack is away.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time

from tests.fakes.server import read_head, serve_connections

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self.acks: dict[str, dict] = {}  # envelope id → the app's ack (with its payload, if any)
        self.connections = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.getsockname()[1]}/link/?ticket=test"

    def start(self) -> FakeSocketMode:
        threading.Thread(target=serve_connections, args=(self._server, self._serve), daemon=True).start()
        return self

    def stop(self) -> None:
        self.drop()
        self._server.close()

    def connected(self) -> bool:
        with self._lock:
            return bool(self._clients)

    def drop(self) -> None:
        """Slack goes away: every connection closes at once."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
                client.close()
            except OSError:
                pass

    def push(self, envelope_type: str, payload: dict, timeout: float = 5.0) -> dict:
        """Send an envelope (e.g. ``slash_commands``) to the app and wait for its ack."""
        envelope_id = f"env-{time.monotonic_ns()}"
        message = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": True,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            client = self._clients[-1]
        _send_frame(client, 0x1, json.dumps(message).encode())
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            if time.monotonic() > deadline:
                raise AssertionError("the app did not acknowledge the envelope")
            time.sleep(0.01)
        return self.acks[envelope_id]

    def _serve(self, client: socket.socket) -> None:
        try:
            head = read_head(client)
            if head is None:
                return
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            client.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            hello = {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-test", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A1"},
            }
            _send_frame(client, 0x1, json.dumps(hello).encode())
            while True:
                opcode, payload = _read_frame(client)
                if opcode == 0x9:  # ping → pong
                    _send_frame(client, 0xA, payload)
                elif opcode == 0x8:
                    return
                elif opcode == 0x1:
                    message = json.loads(payload)
                    if "envelope_id" in message:
                        self.acks[message["envelope_id"]] = message
        except (OSError, StopIteration, ValueError):
            return
        finally:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = _recv_exact(sock, 2)
    opcode, masked, length = first & 0x0F, second & 0x80, second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _recv_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _recv_exact(sock, 8))[0]
    mask = _recv_exact(sock, 4) if masked else b"\0\0\0\0"
    data = _recv_exact(sock, length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _send_frame(sock: socket.socket, opcode: int, payload: bytes) -> None:
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([len(payload)])
    elif len(payload) < 65536:
        header += bytes([126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([127]) + struct.pack("!Q", len(payload))
    sock.sendall(header + payload)
