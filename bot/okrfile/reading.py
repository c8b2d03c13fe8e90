"""The OKR file read: YAML loaded with its numbers kept exact, validated, and every refusal collected."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from bot.core.errors import KrbotError
from bot.okrfile.errors import file_error, line_of, location, pydantic_problem, yaml_error
from bot.okrfile.references import check_references
from bot.okrfile.spec import OkrFile, style_of
from bot.yamlload import Loader as _Loader
from bot.yamlload import Refused as _Refused

_LANGUAGE_LINE = re.compile(r"\blanguage:\s*[\"']?(zh|en)\b")


_THOUSAND_OR_DECIMAL = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")


def _float_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A YAML float, except `200.000`, which a de or fr writer means as 200000: kept as text for §6 to read."""
    if _THOUSAND_OR_DECIMAL.fullmatch(node.value):
        return node.value
    return loader.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _float_or_text)


def load_yaml(*, text: str, filename: str) -> Any:
    """The file's YAML as plain data (dates left as text); a syntax error is refused with its line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as error:
        raise yaml_error(error, filename=filename) from None


def file_language(*, text: str) -> str:
    """The workspace language a file asks for, to word its own errors in ("en" when unreadable)."""
    try:
        language = yaml.load(text, Loader=_Loader)["workspace"]["language"]  # noqa: S506 - a SafeLoader
    except _Refused:  # readable but refused unbuilt (aliases, nesting): worded in its `language:`
        found = _LANGUAGE_LINE.search(text)
        return found.group(1) if found else "en"
    except Exception:  # noqa: BLE001 - an unreadable file is worded in English
        return "en"
    return language if language in ("zh", "en") else "en"


def parse_okr_file(*, text: str, filename: str = "okrs.yaml") -> tuple[OkrFile, yaml.Node | None]:
    """Read and validate an OKR file; raise KrbotError naming the line and field of the first problem."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as error:
        raise yaml_error(error, filename=filename) from None
    if not isinstance(raw, dict):
        raise file_error(filename=filename, line=1, field="", problem="top")
    try:
        spec = OkrFile.model_validate(raw, context={"style": style_of(raw)})
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        problem, params = pydantic_problem(first)
        raise file_error(
            filename=filename, line=line_of(root, loc), field=location(loc), problem=problem, **params
        ) from None
    check_references(spec=spec, root=root, filename=filename)
    return spec, root


def refusals(*, text: str, filename: str) -> list[KrbotError]:
    """Every reason import would refuse the file: all field errors at once, else the first broken reference."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        raw = load_yaml(text=text, filename=filename)
    except (KrbotError, yaml.YAMLError) as error:
        return (
            [error]
            if isinstance(error, KrbotError)
            else [yaml_error(error, filename=filename)]
        )
    if not isinstance(raw, dict):
        return [file_error(filename=filename, line=1, field="", problem="top")]
    try:
        spec = OkrFile.model_validate(raw, context={"style": style_of(raw)})
    except ValidationError as error:
        found = []
        for item in error.errors():
            loc = tuple(item["loc"])
            problem, params = pydantic_problem(item)
            found.append(
                file_error(
                    filename=filename,
                    line=line_of(root, loc),
                    field=location(loc),
                    problem=problem,
                    **params,
                )
            )
        return found
    try:
        check_references(spec=spec, root=root, filename=filename)
    except KrbotError as error:
        return [error]
    return []
