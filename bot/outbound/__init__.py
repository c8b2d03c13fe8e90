"""One guarded outbound HTTP client for URL data sources and webhook tries (CONTRACT §8, "The doors out hold too").

`addresses` says which targets are refused by default (loopback, link-local, cloud metadata, unspecified) and which
the operator opened with KRBOT_OUTBOUND_ALLOW; `network` resolves and connects under that rule and the exchange's
wall-clock deadline, inside an httpcore network backend, so the check is made on the address actually connected to
(DNS rebinding cannot pass); `decoding` inflates gzip/deflate a bounded piece at a time; `client` sends one request
without following redirects and reads at most 1 MB of its answer. httpx loads only when the first exchange runs.
"""

from __future__ import annotations

DEADLINE_SECONDS = 10.0  # connect + send + read of one exchange, wall clock
LIMIT_BYTES = 1_000_000  # of an answer's body, after decompression
