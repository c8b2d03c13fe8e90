"""A TCP proxy in front of a real server that can stall: it keeps accepting bytes and holds them, answering nothing.

While stalled the proxy looks like a network partition to both ends: connections are accepted, what is sent is
taken (the sender's writes succeed) and held, nothing comes back. On `resume()` what was held is delivered in
order, as TCP would deliver its retransmissions once a partition heals, and a side that closed meanwhile closes
its peer after the held bytes. So a COMMIT sent into the stall reaches the server when it resumes: a client that
told its user "nothing was saved" must not have sent one.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

POLL = 0.05  # seconds a pump waits on its socket before looking at the stall flag again


@dataclass
class StallingProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` until `stall()`, holds everything until `resume()`."""

    target_host: str
    target_port: int
    port: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _listener: socket.socket | None = None

    def start(self) -> StallingProxy:
        """Listen on a free local port and accept connections in the background."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, name="stalling-proxy", daemon=True).start()
        return self

    def stall(self) -> None:
        """From now on hold every byte in both directions (connections are still accepted)."""
        self.stalled.set()

    def resume(self) -> None:
        """Deliver what was held and forward again."""
        self.stalled.clear()

    def stop(self) -> None:
        """Close the listener and every connection."""
        self._stop.set()
        self.stalled.clear()
        for sock in [self._listener, *self._sockets]:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def url(self, *, of: str) -> str:
        """`of` (a database URL) with its host and port replaced by the proxy's."""
        return of.replace(f"{self.target_host}:{self.target_port}", f"127.0.0.1:{self.port}", 1)

    def _accept(self) -> None:
        """Accept clients; each gets its own connection to the target, made at once (held while stalled)."""
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.target_host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), name="stalling-proxy-pump", daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Read from `source` always; write to `sink` whenever not stalled; pass an end on after what was held."""
        source.settimeout(POLL)
        held = bytearray()
        ended = False
        while not self._stop.is_set():
            if not ended:
                try:
                    data = source.recv(65536)
                    if data:
                        held += data
                    else:
                        ended = True
                except TimeoutError:
                    pass
                except OSError:
                    ended = True
            if self.stalled.is_set():
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
