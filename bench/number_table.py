"""Prints, as markdown, what krbot stores (or why it refuses) for typed numbers from de, fr, en and zh owners.

Each row is measured: `krbot checkin --as PERSON --at TIME TEXT` (or `krbot import-checkins FILE`) runs against
a fresh SQLite database holding the English example with a German, a French, a Chinese and an American owner;
the stored values and asks are read back with `krbot export`.  Run: .venv/bin/python bench/number_table.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.__main__ import cli  # noqa: E402

LOCALES = {"lin": "de-DE", "chen": "fr-FR", "zhao": "zh-CN", "sun": "en-US"}
START = datetime(2026, 10, 5, 8, 0)

CHECKINS: list[tuple[str, str, str | None]] = [  # (person, text, --at when not the next minute)
    ("lin", "O1 €5.000", None),
    ("lin", "O1 5.000 €", None),
    ("lin", "O1 12.500,50 €", None),
    ("lin", "O1 New-customer GMV=1,5 Mio. €", None),
    ("lin", "O1 New-product orders=1.200", None),
    ("lin", "O1 5 000 €", None),
    ("lin", "O1 2,5k €", None),
    ("lin", "O1 1,500 €", None),
    ("lin", "O1 5m €", None),
    ("lin", "O1 +5.000 €", None),
    ("lin", "O1 9.999.999 €", None),
    ("lin", "O1 9.999.999 €!", None),
    ("lin", "O1 €5.000 ask: 5 000 € für Creator", None),
    ("lin", "O1 5.000 €", "2026-09-28T10:00"),
    ("chen", "KR2 1,8 %", None),
    ("chen", "KR2 New-customer conversion=1,85 %, ACOS=23,5 %", None),
    ("chen", "KR2 1.8%", None),
    ("chen", "KR2 1,800 %", None),
    ("chen", "KR4 Price response=90 min", None),
    ("chen", "KR4 Price response=1,5 h", None),
    ("chen", "KR2 2 000 %", None),
    ("chen", "KR2 2 000 %!", None),
    ("chen", "KR2 +0,2 %", None),
    ("chen", "KR2 1,8 % ask: 5 000 € pour les créateurs", None),
    ("chen", "KR2 1,8 % ask: 5000 budget and 2 people", None),
    ("chen", "KR2 acso=20 %", None),
    ("chen", "KR2 1,8 %", "2027-01-20T10:00"),
    ("sun", "KR3 1,480 units", None),
    ("sun", "KR3 1.200 units", None),
    ("sun", "KR3 5k units", None),
    ("sun", "KR3 1.2M units", None),
    ("sun", "KR3 12,500.50 units", None),
    ("sun", "KR3 5m units", None),
    ("sun", "KR3 Restock response=90m", None),
    ("sun", "KR3 Restock response=1w", None),
    ("sun", "KR3 Restock response=3d", None),
    ("sun", "KR3 " + "9" * 400, None),
    ("sun", "KR3 ask: €5.000 extra budget", None),
    ("sun", "KR3 1.5M units ask: $15k air-freight budget", None),
    ("sun", "KR3 1.5M units", "2026-12-30T10:00"),
    ("sun", "KR33 1.5M units", None),
    ("zhao", "ＫＲ１ 完成", None),
    ("zhao", "KR1：done", None),
    ("zhao", "KR1 New-customer orders：２５０", None),
    ("zhao", "KR1 GMV=2.5万欧", None),
    ("zhao", "KR1 GMV=5千欧", None),
    ("zhao", "KR1 GMV＝１．２万欧，New-customer orders=300", None),
    ("zhao", "KR1 New-customer orders 三百", None),
    ("zhao", "KR1 GMV=5,000", None),
    ("zhao", "KR1 GMV=5,000欧", None),
    ("zhao", "KR1 GMV=5.000", None),
    ("zhao", "KR1 GMV=2万% ", None),
    ("zhao", "KR1 new customer orders=310 备注：测试", None),
    ("zhao", "KR1 New-customer orders=320单 需求：追加5000欧预算；招聘2人", None),
    ("zhao", "KR1 300单", None),
]

CSV_FILES: list[tuple[str, str, list[str]]] = [  # (what, header+rows, extra options)
    ("German Excel (;, decimal comma)", "code;measure;value;person;at\nKR2;ACOS;23,5;chen;2026-10-12T10:00\n"
     "KR2;New-customer conversion;1,8;chen;2026-10-12T10:00\n", ["--locale", "de-DE"]),
    ("French, tab, `1 480`", "code\tmeasure\tvalue\tperson\tat\nKR3\tStock landed in EU\t1 480\tsun\t2026-10-13\n", []),
    ("English, `\"1,480\"` quoted", 'code,measure,value,person,at\nKR3,Stock landed in EU,"1,480",sun,2026-10-14\n', []),
    ("English, `1.200`", "code,measure,value,person,at\nKR3,Stock landed in EU,1.200,sun,2026-10-15\n", []),
    ("de `1.200` with --locale de-DE", "code;measure;value;person;at\nKR3;Stock landed in EU;1.200;sun;2026-10-15\n",
     ["--locale", "de-DE"]),
    ("a repeated row", "code,measure,value,person,at\nKR2,ACOS,20%,chen,2026-10-16T10:00\n"
     "KR2,ACOS,21%,chen,2026-10-16T10:00\n", []),
    ("a row before the cycle", "code,measure,value,person,at\nKR2,ACOS,20%,chen,2026-09-16T10:00\n", []),
    ("an ask row", "code,measure,value,person,at,ask\nKR2,,,chen,2026-10-17T10:00,5 000 € for creators\n", []),
]


def okr_file() -> str:
    """The English example with a German, a French, a Chinese and an American owner."""
    text = (ROOT / "examples" / "q4-europe.en.yaml").read_text(encoding="utf-8")
    for key, locale in LOCALES.items():
        text = re.sub(rf"(  - id: {key}\n    name: [^\n]+\n)", rf"\g<1>    locale: {locale}\n", text)
    return text


def cell(text: str) -> str:
    """Text made safe for a markdown table cell, shortened."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 150 else text[:149] + "…"


def main() -> None:
    """Run every input and print the table."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'numbers.db'}"

        def run(*args: str) -> tuple[int, str]:
            result = runner.invoke(cli, [*args, "--db", db])
            return result.exit_code, (result.stdout + result.stderr).strip()

        okrs = Path(folder) / "okrs.yaml"
        okrs.write_text(okr_file(), encoding="utf-8")
        assert run("import", str(okrs))[0] == 0
        print("| # | owner (locale) | typed | stored | krbot's answer |")
        print("|---|---|---|---|---|")
        for number, (person, text, at) in enumerate(CHECKINS, start=1):
            moment = at or (START + timedelta(minutes=number)).isoformat(timespec="minutes")
            code, said = run("checkin", "--as", person, "--at", moment, text)
            stored = stored_at(run, moment) if code == 0 else "refused (exit 2)"
            typed = f"`{cell(text)}`" + (f" at {moment[:10]}" if at else "")
            print(f"| {number} | {person} ({LOCALES[person]}) | {typed} | {cell(stored)} | {cell(said)} |")
        for offset, (what, body, options) in enumerate(CSV_FILES, start=len(CHECKINS) + 1):
            path = Path(folder) / f"rows{offset}.csv"
            path.write_text(body, encoding="utf-8")
            before = facts(export(run))
            code, said = run("import-checkins", str(path), *options)
            added = [fact.split(" @ ")[0] for fact in facts(export(run)) if fact not in before]
            stored = "; ".join(added) if code == 0 else "refused (exit 2)"
            shown = " ⏎ ".join(body.strip().splitlines()[1:]).replace("\t", "→")
            print(f"| {offset} | CSV: {cell(what)} | `{cell(shown)}` | {cell(stored)} | {cell(said)} |")


def export(run: object) -> dict:
    """`krbot export` as data."""
    code, out = run("export")  # type: ignore[operator]
    return json.loads(out)


def stored_at(run: object, moment: str) -> str:
    """The values and asks stored at one moment, as `measure = value` and `ask: kind amount unit`."""
    data = export(run)
    local = datetime.fromisoformat(moment)
    values = [f"{c['measure']} = {c['value']}" for c in data["checkins"] if _same(c["at"], local) and c["measure"]]
    asks = [f"ask: {a['kind']} {a['amount']} {a['unit'] or ''}".strip() for a in data["asks"] if _same(a["at"], local)]
    return "; ".join(values + asks) or "notes only"


def facts(data: dict) -> list[str]:
    """Every stored value and ask, as `code measure = value` and `code ask: kind amount unit`."""
    values = [f"{c['code']} {c['measure']} = {c['value']} @ {c['at']}" for c in data["checkins"] if c["measure"]]
    asks = [f"{a['code']} ask: {a['kind']} {a['amount']} {a['unit'] or ''} @ {a['at']}" for a in data["asks"]]
    return values + asks


def _same(stamp: str, local: datetime) -> bool:
    """True when an exported time is the workspace-local moment `local` (Europe/Berlin)."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(stamp) == local.replace(tzinfo=ZoneInfo("Europe/Berlin"))


if __name__ == "__main__":
    main()
