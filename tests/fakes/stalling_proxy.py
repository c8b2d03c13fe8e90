"""A TCP proxy in front of a real database server that goes silent: once the client has sent a marker, the server's
answer is never passed on (a hung server or network, as the client sees it). `with StallingProxy(...) as proxy`."""

from __future__ import annotations

import socket
import threading
from typing import Any


class StallingProxy:
    """Forwards 127.0.0.1:`port` to `target` byte for byte until the client's bytes contain `marker`."""

    def __init__(self, *, target: tuple[str, int], marker: bytes = b"krbot_stall") -> None:
        self.target = target
        self.marker = marker
        self.stalled = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closing = False

    def __enter__(self) -> StallingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._closing = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            silent = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, silent, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, silent, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, silent: threading.Event, upstream: bool) -> None:
        seen = b""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if upstream:
                seen = seen[-len(self.marker):] + data
                if self.marker in seen:
                    silent.set()
                    self.stalled.set()
            elif silent.is_set():
                continue  # the answer is swallowed: the client waits for bytes that never come
            try:
                sink.sendall(data)
            except OSError:
                return
