"""An answer's body inflated a bounded piece at a time (gzip, deflate, or both): a gzip bomb yields 64 KB pieces
that the reader counts and stops at its cap, so it is never inflated whole (httpx's own decoders inflate each
received chunk at once — a 64 KB chunk of zeros becomes 64 MB)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from bot.core.errors import KrbotError

PIECE = 64 * 1024  # the most bytes one inflating step yields
WINDOWS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
ACCEPTED = "gzip, deflate"  # the Accept-Encoding sent: what `decoded` can read


def decoded(*, chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """The body's bytes as its Content-Encoding (applied in the order listed) is undone, in pieces of ≤ 64 KB."""
    names = [word.strip().lower() for word in encoding.split(",")]
    stream: Iterable[bytes] = chunks
    for name in reversed([word for word in names if word and word != "identity"]):
        if name not in WINDOWS:
            raise KrbotError("source.encoding", encoding=name)
        stream = _inflated(chunks=stream, name=name)
    for piece in stream:
        if piece:
            yield piece


def _inflated(*, chunks: Iterable[bytes], name: str) -> Iterator[bytes]:
    """One encoding undone, up to the end of its compressed stream; deflate zlib-wrapped or raw, as the bytes say."""
    inflater = zlib.decompressobj(WINDOWS[name])
    started = False
    try:
        for chunk in chunks:
            if not started and name == "deflate" and chunk:
                inflater = _deflate_kind(first=chunk)
            started = started or bool(chunk)
            yield from _steps(inflater=inflater, data=chunk)
            if inflater.eof:  # the end of the compressed stream: whatever follows is not read (nor kept)
                return
        yield inflater.flush()
    except zlib.error:
        raise KrbotError("source.encoding", encoding=name) from None


def _deflate_kind(*, first: bytes) -> zlib._Decompress:
    """A zlib-wrapped inflater when the first bytes are a zlib header, else a raw one."""
    wrapped = len(first) >= 2 and (first[0] & 0x0F) == 8 and ((first[0] << 8) | first[1]) % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _steps(*, inflater: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """Inflate `data` in pieces of at most PIECE bytes, keeping the rest of the input for the next step."""
    pending = data
    while True:
        piece = inflater.decompress(pending, PIECE)
        pending = inflater.unconsumed_tail
        yield piece
        if not pending and len(piece) < PIECE:
            return
