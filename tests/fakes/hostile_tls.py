"""TLS servers on loopback for the outbound guard's tests: one that records the name the client asked for (SNI)
with a self-signed certificate no client trusts, and one whose handshake trickles a byte at a time for ever."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for `localhost` signed by its own key (EC P-256), written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class TlsServer:
    """Accepts TCP connections on 127.0.0.1: `trickle` sends a TLS record header and then one byte every `every`
    seconds; otherwise it runs a TLS handshake with a self-signed certificate, recording each SNI name it is asked."""

    trickle: bool = False
    every: float = 0.5
    names: list[str | None] = field(default_factory=list)
    sent_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> TlsServer:
        self._listener = socket.create_server(("127.0.0.1", 0))
        context = None
        if not self.trickle:
            with tempfile.TemporaryDirectory() as folder:
                cert, key = _self_signed(Path(folder))
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(cert, key)
            context.sni_callback = lambda _sock, name, _ctx: self.names.append(name)
        threading.Thread(target=self._serve, args=(context,), daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    def _serve(self, context: ssl.SSLContext | None) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(connection, context), daemon=True).start()

    def _one(self, connection: socket.socket, context: ssl.SSLContext | None) -> None:
        with connection:
            try:
                if context is not None:
                    context.wrap_socket(connection, server_side=True).close()
                    return
                for byte in b"\x16\x03\x03\x40\x00" + b"\x00" * 16384:  # a handshake record that never ends
                    if self._stop.wait(self.every):
                        return
                    connection.sendall(bytes([byte]))
                    self.sent_bytes += 1
            except (OSError, ssl.SSLError):  # the client gave up or refused the certificate: as expected
                return
