"""Feishu's pushes, checked before anything reads them: signature, time, token and encryption, then each event's shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lark_oapi.core.json import JSON
from lark_oapi.core.utils import AESCipher

from bot.platforms import payloads
from bot.platforms.payloads import Malformed

WINDOW_SECONDS = 300


def verify(*, body: bytes, headers: Any, encrypt_key: str, verification_token: str) -> dict[str, Any] | None:
    """The decrypted push when it passes every check (encryption, ±5 min, signature, token), else None."""
    try:
        outer = json.loads(body)
        sealed = outer.get("encrypt") if isinstance(outer, dict) else None
        if not isinstance(sealed, str) or not encrypt_key:
            return None
        plain = json.loads(AESCipher(encrypt_key).decrypt_str(sealed))
    except Exception:  # noqa: BLE001 - bad JSON, bad base64, bad padding, too deep: not a push Feishu sealed
        return None
    if not isinstance(plain, dict):
        return None
    if plain.get("type") == "url_verification":
        return plain if token_ok(token=plain.get("token"), expected=verification_token) else None
    timestamp = headers.get("x-lark-request-timestamp") or ""
    nonce = headers.get("x-lark-request-nonce") or ""
    signature = headers.get("x-lark-signature") or ""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return None
    if abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
        return None
    expected = hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    header = plain.get("header")
    token = (header.get("token") if isinstance(header, dict) else None) if plain.get("schema") else plain.get("token")
    return plain if token_ok(token=token, expected=verification_token) else None


def token_ok(*, token: Any, expected: str) -> bool:
    """True when the verification token matches (constant time), or none is configured."""
    if not expected:
        return True
    return isinstance(token, str) and hmac.compare_digest(token.encode(), expected.encode())

def moment(value: Any) -> datetime | None:
    """A card's ISO time (the digest's as-of), None when absent; Malformed when unreadable."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed("as_of is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed("as_of is not an ISO time") from None
    if moment.tzinfo is None:
        raise Malformed("as_of has no offset")
    return moment


def typed(plain: dict[str, Any], kind: type, shape: Callable[[dict[str, Any]], None]) -> Any:
    """lark-oapi's typed event from a decrypted push whose shape was checked first (Malformed otherwise)."""
    payloads.text(plain, "header", "event_id")
    shape(payloads.node(plain, "event"))
    try:
        return JSON.unmarshal(json.dumps(plain), kind)
    except Exception as error:  # noqa: BLE001 - lark-oapi's models raise whatever a wrong type makes them
        raise Malformed(f"event: {type(error).__name__}") from None


def message_shape(event: dict[str, Any]) -> None:
    """What _on_message reads of a message event, checked."""
    sender = event.get("sender")
    if sender is not None:
        payloads.node(event, "sender")
        if payloads.text(event, "sender", "sender_type", default="") == "user":
            payloads.text(event, "sender", "sender_id", "open_id")
    if event.get("message") is None:
        return
    for key in ("message_id", "chat_type", "message_type"):
        payloads.text(event, "message", key)
    payloads.text(event, "message", "content", default="")
    mentions = payloads.node(event, "message").get("mentions")
    if mentions is not None and not (isinstance(mentions, list) and all(isinstance(m, dict) for m in mentions)):
        raise Malformed("message.mentions is not a list of objects")


def menu_shape(event: dict[str, Any]) -> None:
    """What _on_menu reads of a menu event, checked."""
    if event.get("operator") is not None:
        payloads.text(event, "operator", "operator_id", "open_id", default="")


def card_shape(event: dict[str, Any]) -> None:
    """What _on_card reads of a card callback, checked."""
    if event.get("operator") is not None:
        payloads.text(event, "operator", "open_id", default="")
    if event.get("action") is None:
        return
    action = payloads.node(event, "action")
    for key in ("value", "form_value"):
        if action.get(key) is not None:
            part = payloads.node(action, key)
            if key == "value" and not all(isinstance(k, str) for k in part):
                raise Malformed("action.value keys")
    measures = (action.get("value") or {}).get("measures")
    if measures is not None and not isinstance(measures, list):
        raise Malformed("action.value.measures is not a list")
