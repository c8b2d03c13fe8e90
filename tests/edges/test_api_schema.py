"""Schemathesis against the live /api/v1/openapi.json of a running server: no 5xx, every answer as documented."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bot.app import App
from tests.fakes.api_client import bearer, http_app, token
from tests.fakes.served import serve

EXAMPLES = 25  # per operation: enough to reach every refusal path, bounded to keep the run short
# Not checked: that every schema-valid request is accepted. A value §6 refuses (an ambiguous "1,500", a code that is
# no KR) is schema-valid text and is answered 422 by design, with its field and the reason, as documented.


def _exercise(operation: Any, *, headers: dict[str, str]) -> int:
    """Up to EXAMPLES generated requests to one operation, each answer checked; how many were sent."""
    sent = 0

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    check()
    return sent


def test_every_operation_answers_as_documented_and_never_5xx(example: App) -> None:
    """Generated requests with a valid token (the KR2 owner's): no server error; status, content type, headers and
    body as the document says — for every operation the document lists."""
    served = serve(app=http_app(example))
    try:
        schema = schemathesis.openapi.from_url(served.url + "/api/v1/openapi.json")
        headers = bearer(token(example, "chen"))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} == {"/checkins", "/okrs", "/digest", "/asks", "/asks/{ask_id}/decision"}
        for operation in operations:
            assert _exercise(operation, headers=headers) > 0, operation.label
    finally:
        served.stop()
