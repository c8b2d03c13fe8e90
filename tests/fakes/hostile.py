"""One shared list of hostile strings, and the checks that a surface showed them inert (no ping, no script, no template)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

# Each entry: (id, text). Typed by a careless user or an attacker into a note, risk, ask, reason, name or form.
HOSTILE: tuple[tuple[str, str], ...] = (
    ("script", "<script>document.title='pwned'</script>"),
    ("img-onerror", "<img src=x onerror=alert(2)>"),
    ("svg-onload", "<svg onload=alert(3)>"),
    ("attr-break", "\"' onmouseover=alert(4) x=\""),
    ("js-url", "[click](javascript:alert(5))"),
    ("at-channel", "@channel look at this"),
    ("at-here", "@here and @everyone now"),
    ("slack-here", "<!here> urgent"),
    ("slack-channel", "<!channel|channel> urgent"),
    ("slack-subteam", "<!subteam^S123|team> <@U0BOSS0001>"),
    ("feishu-all", '<at user_id="all">所有人</at> @all @所有人'),
    ("jinja-expr", "{{ 7*13337 }}"),
    ("jinja-stmt", "{% for x in range(3) %}loop{% endfor %}"),
    ("jinja-raw", "{% raw %}{{ config }}{% endraw %}"),
    ("jinja-globals", "{{ lipsum.__globals__['os'].popen('id').read() }}"),
    ("md-link", "[evil](https://evil.example/x) ![img](https://evil.example/p.png)"),
    ("md-format", "*bold* _it_ ~strike~ `code` ```block``` > quote # head | a | b |"),
    ("slack-link", "<https://evil.example|Click me>"),
    ("json-quotes", '"}]}, {"type": "divider"} \\" \\\\'),
    ("control-chars", "a\x00b\x01c\x07d\x1be\x7ff\u2028g\u2029h"),
    ("lone-surrogate", "bad \ud800 half \udfff pair"),
    ("long", "長" * 5000 + "x" * 5000),
    ("rtl", "\u202egnp.exe\u202c \u200f\u061c mark"),
    ("zero-width", "@\u200bchannel \u200b\u200c\u200d\ufeff hidden"),
    ("csv-formula", "=HYPERLINK(\"https://evil.example\",\"x\")"),
    ("csv-plus", "+1+cmd|' /C calc'!A0"),
    ("csv-minus", "-2+3"),
    ("csv-at", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("csv-tab", "\t=1+1"),
    ("csv-cr", "\r=1+1"),
)
IDS = [name for name, _ in HOSTILE]
TEXTS = [text for _, text in HOSTILE]

# A mass mention that a chat platform would deliver as a ping.
_LIVE = re.compile(
    r"<!(?:channel|here|everyone|subteam)|<at\b|@(?:channel|here|everyone|all)\b", re.IGNORECASE
)
_EVALUATED = ("93359", "looploop", "<function", "os.popen", "posix")  # what a template engine would print


def live_mentions(text: str, /) -> list[str]:
    """Every mass mention in `text` that would ping (a zero-width space after `@` makes one inert)."""
    return [match.group(0) for match in _LIVE.finditer(text)]


def evaluated(text: str, /) -> list[str]:
    """Signs that a hostile template was evaluated instead of shown."""
    return [sign for sign in _EVALUATED if sign in text]


def strings_of(node: Any, /) -> list[str]:
    """Every string inside a JSON-like payload."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_of(value)]
    if isinstance(node, list | tuple):
        return [s for value in node for s in strings_of(value)]
    return []


def valid_json(payload: Any, /) -> bytes:
    """The payload as the UTF-8 JSON bytes a platform client sends; raises when it can't be sent."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert json.loads(body) == payload
    return body


class Elements(HTMLParser):
    """Every element and attribute of a page, to find what a browser would run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href", "action")]


def active_html(html: str, /) -> list[str]:
    """What in an HTML page could run or load: script/img/iframe/object elements, event handlers, URLs."""
    parser = Elements()
    parser.feed(html)
    found = [tag for tag in parser.tags if tag in ("script", "img", "iframe", "object", "embed", "a", "form")]
    return found + parser.handlers + parser.urls
