"""A TCP proxy in front of a real database server that goes silent, as a hung server or network looks to its client.

Two ways to go silent, one class (`with StallingProxy(target=(host, port)) as proxy`):

- by marker: once a client has sent `marker` on a connection, the server's answers on that connection are swallowed
  (the client waits for bytes that never come);
- by hand: `stall()` makes every connection, new ones too, a network partition: connections are accepted, what
  either side sends is taken (its writes succeed) and held, nothing is passed on; `resume()` delivers what was held,
  in order, as TCP delivers its retransmissions once a partition heals, and a side that closed meanwhile closes its
  peer after the held bytes. So a COMMIT sent into the stall reaches the server when it resumes: a client that told
  its user "nothing was saved" must not have sent one.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

POLL = 0.05  # seconds a pump waits on its socket before looking at the stall again


class StallingProxy:
    """Forwards 127.0.0.1:`port` to `target` byte for byte until a client sends `marker`, or until `stall()`."""

    def __init__(self, *, target: tuple[str, int], marker: bytes = b"krbot_stall") -> None:
        self.target = target
        self.marker = marker
        self.stalled = threading.Event()  # set once a marker was seen, or while stalled by hand
        self._holding = threading.Event()  # stalled by hand: every byte is held until resume()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closing = False

    def __enter__(self) -> StallingProxy:
        threading.Thread(target=self._accept, name="stalling-proxy", daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._closing = True
        self._holding.clear()
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def stall(self) -> None:
        """From now on hold every byte in both directions (connections are still accepted)."""
        self._holding.set()
        self.stalled.set()

    def resume(self) -> None:
        """Deliver what was held and forward again."""
        self._holding.clear()
        self.stalled.clear()

    def url(self, *, of: str) -> str:
        """`of` (a database URL naming the target) with its host and port replaced by the proxy's."""
        host, port = self.target
        return of.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            silent = threading.Event()
            for source, sink, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, silent, upstream), name="stalling-proxy-pump",
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, silent: threading.Event, upstream: bool) -> None:
        """Read from `source` always; pass on to `sink` unless held (stalled) or swallowed (after the marker); pass an
        end on after what was held."""
        source.settimeout(POLL)
        seen, held, ended = b"", bytearray(), False
        while not self._closing:
            if not ended:
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    ended = True
                elif data and upstream:
                    seen = seen[-len(self.marker):] + data
                    if self.marker in seen:
                        silent.set()
                        self.stalled.set()
                if data and not (silent.is_set() and not upstream):  # the answer after a marker is swallowed
                    held += data
            if self._holding.is_set():
                if ended:
                    time.sleep(POLL)
                continue
            if held:
                try:
                    sink.sendall(bytes(held))
                except OSError:
                    return
                held.clear()
            if ended:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
