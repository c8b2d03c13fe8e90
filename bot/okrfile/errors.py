"""Where in the file a problem is: YAML and pydantic errors turned into refusals naming the file, line and field."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import (
    BaseModel,
)

from bot.core.errors import KrbotError
from bot.okrfile.spec import OkrFile
from bot.yamlload import MAX_YAML_DEPTH, MAX_YAML_NODES
from bot.yamlload import Refused as _Refused


def location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest existing parent."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((value for key, value in node.value if getattr(key, "value", None) == part), None)
            if match is None:
                match = next((key for key, _ in node.value if getattr(key, "value", None) == part), None)
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def yaml_error(error: yaml.YAMLError, *, filename: str) -> KrbotError:
    """A YAML error as the located refusal the user reads."""
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, _Refused):
        return file_error(
            filename=filename, line=line, field="", problem=str(error.problem),
            limit=MAX_YAML_NODES if error.problem == "aliases" else MAX_YAML_DEPTH,
        )
    detail = getattr(error, "problem", None) or str(error)
    return file_error(filename=filename, line=line, field="", problem="yaml", detail=detail)


def file_error(*, filename: str, line: int | None, field: str, problem: str, **params: Any) -> KrbotError:
    """One located problem: `problem` names the sentence okrfile.problem.<problem> in the catalog."""
    where = f"{filename}:{line}" if line else filename
    return KrbotError(
        "okrfile.invalid", where=where, field=field, problem=f"okrfile.problem.{problem}", **params
    )


_PYDANTIC_PROBLEMS = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "literal_error": "choice",
    "enum": "choice",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "float_parsing": "number",
    "float_type": "number",
    "int_parsing": "whole_number",
    "int_type": "whole_number",
    "int_from_float": "whole_number",
    "bool_parsing": "boolean",
    "bool_type": "boolean",
    "string_type": "text",
    "string_too_short": "empty",
    "string_too_long": "too_long",
    "too_short": "empty_list",
    "list_type": "list",
    "dict_type": "mapping",
    "model_type": "mapping",
    "model_attributes_type": "mapping",
    "greater_than_equal": "too_small",
}


def pydantic_problem(error: Any) -> tuple[str, dict[str, Any]]:
    """Our catalog key and its words for one pydantic error."""
    kind = str(error.get("type", ""))
    if kind.startswith("okr_"):
        return kind.removeprefix("okr_"), dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return "unknown_field", {"known": ", ".join(_fields_at(tuple(error.get("loc", ()))[:-1]))}
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else str(got)
    ctx = dict(error.get("ctx") or {})
    return _PYDANTIC_PROBLEMS.get(kind, "other"), {
        "got": shown,
        "expected": str(ctx.get("expected", "")),
        "limit": str(ctx.get("ge", ctx.get("max_length", ""))),
        "detail": str(error.get("msg", "")),
    }


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names the file allows at `loc` (for an unknown field: what would work instead)."""
    from typing import get_args, get_origin

    current: Any = OkrFile
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = current.model_fields[part].annotation if part in getattr(current, "model_fields", {}) else None
        while annotation is not None and get_origin(annotation) is not None:
            inner = [arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
            annotation = inner[0] if inner else None
        if annotation is None or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)
