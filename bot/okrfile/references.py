"""Cross-checks the schema can't make alone: people, codes and `was:` renames that must point at something real."""

from __future__ import annotations

from typing import Any

import yaml

from bot.core.errors import KrbotError
from bot.okrfile.errors import file_error, line_of, location
from bot.okrfile.spec import OkrFile, unique_measures


def check_references(*, spec: OkrFile, root: yaml.Node | None, filename: str) -> None:
    """Every person named exists, codes are unique, each KR and task has exactly one known owner."""
    people = [person.id for person in spec.people]
    known = set(people)

    def fail(loc: tuple[Any, ...], problem: str, **params: Any) -> KrbotError:
        return file_error(
            filename=filename, line=line_of(root, loc), field=location(loc), problem=problem, **params
        )

    def person(loc: tuple[Any, ...], key: str | None) -> None:
        if key is not None and key not in known:
            raise fail(loc, "unknown_person", word=key, known=", ".join(people))

    seen_people: set[str] = set()
    for index, entry in enumerate(spec.people):
        if entry.id in seen_people:
            raise fail(("people", index, "id"), "twice", word=entry.id)
        seen_people.add(entry.id)
    codes: dict[str, str] = {}

    def code(loc: tuple[Any, ...], value: str) -> None:
        if value in codes:
            raise fail(loc, "code_twice", word=value, other=codes[value])
        codes[value] = location(loc)

    for o_index, objective in enumerate(spec.objectives):
        base: tuple[Any, ...] = ("objectives", o_index)
        code((*base, "code"), objective.code)
        person((*base, "owner"), objective.owner)
        unique_measures(objective.measures, (*base, "measures"), fail)
        for p_index, path in enumerate(objective.paths):
            p_loc = (*base, "paths", p_index)
            code((*p_loc, "code"), path.code)
            for k_index, kr in enumerate(path.krs):
                k_loc = (*p_loc, "krs", k_index)
                code((*k_loc, "code"), kr.code)
                person((*k_loc, "owner"), kr.owner)
                person((*k_loc, "accountable"), kr.accountable)
                for field in ("consulted", "informed", "delegates"):
                    for i, key in enumerate(getattr(kr, field)):
                        person((*k_loc, field, i), key)
                for department, key in kr.contributors.items():
                    person((*k_loc, "contributors", department), key)
                unique_measures(kr.measures, (*k_loc, "measures"), fail)
                titles: set[str] = set()
                for t_index, task in enumerate(kr.tasks):
                    person((*k_loc, "tasks", t_index, "owner"), task.owner)
                    if task.title in titles:
                        raise fail((*k_loc, "tasks", t_index, "title"), "twice", word=task.title)
                    titles.add(task.title)
    _check_was(spec=spec, codes=codes, fail=fail)


def _check_was(*, spec: OkrFile, codes: dict[str, str], fail: Any) -> None:
    """A `was:` names an old code or measure name that the file no longer uses, and only once."""
    claimed: dict[str, str] = {}
    for o_index, objective in enumerate(spec.objectives):
        owners: list[tuple[tuple[Any, ...], Any]] = [(("objectives", o_index), objective)]
        for p_index, path in enumerate(objective.paths):
            owners += [(("objectives", o_index, "paths", p_index, "krs", k), kr) for k, kr in enumerate(path.krs)]
        for loc, owner in owners:
            if owner.was is not None:
                if owner.was in codes:
                    raise fail((*loc, "was"), "was_in_file", word=owner.was, other=codes[owner.was])
                if owner.was in claimed:
                    raise fail((*loc, "was"), "was_twice", word=owner.was, other=claimed[owner.was])
                claimed[owner.was] = location((*loc, "code"))
            names = {m.name.casefold() for m in owner.measures}
            olds: set[str] = set()
            for m_index, measure in enumerate(owner.measures):
                if measure.was is None:
                    continue
                m_loc = (*loc, "measures", m_index, "was")
                if measure.was.casefold() in names or measure.was.casefold() in olds:
                    raise fail(m_loc, "was_in_file", word=measure.was, other=location((*loc, "measures")))
                olds.add(measure.was.casefold())


def renames_in(*, spec: OkrFile) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """What the file says was renamed: {new code: old code} and {(code, new measure name): old name}."""
    codes: dict[str, str] = {}
    measures: dict[tuple[str, str], str] = {}
    for objective in spec.objectives:
        owners: list[Any] = [objective, *(kr for path in objective.paths for kr in path.krs)]
        for owner in owners:
            if owner.was is not None:
                codes[owner.code] = owner.was
            for measure in owner.measures:
                if measure.was is not None:
                    measures[(owner.code, measure.name)] = measure.was
    return codes, measures
