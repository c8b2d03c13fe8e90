"""The shapes of /api/v1/ requests and answers (pydantic): the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

TEXT = 2000  # a note, next step, ask or risk: longer than any chat message krbot takes


class Strict(BaseModel):
    """A request body that names an unknown field is refused (a typo like `nxt` is not silently dropped)."""

    model_config = ConfigDict(extra="forbid")


class CheckinIn(Strict):
    """One check-in: structured `values` (with note, next, ask, risk, confidence), or `text` in the chat grammar."""

    code: str = Field(min_length=1, max_length=64, description="KR or objective code, e.g. KR2.", examples=["KR2"])
    values: dict[str, float | bool | str] | None = Field(
        default=None,
        max_length=50,
        description="Measure name → value. JSON numbers are numbers in the measure's unit; strings are read as "
        "typed in chat, in your locale (\"1,8%\", \"5千欧\", \"2000%!\"); true/false for milestones.",
        examples=[{"新客转化率": 1.8, "ACOS": "23%"}],
    )
    text: str | None = Field(
        default=None, max_length=TEXT, description="The chat grammar after the code: \"新客转化率=1.8% 备注：…\"."
    )
    note: str | None = Field(default=None, max_length=TEXT)
    next: str | None = Field(default=None, max_length=TEXT, description="The next step.")
    ask: str | None = Field(default=None, max_length=TEXT, description="An ask: money, people or permission.")
    risk: str | None = Field(default=None, max_length=TEXT)
    confidence: StrictInt | StrictStr | None = Field(
        default=None, description="Your own call on reaching the target by its deadline: 0–10 (kept until changed), "
        "or \"on track\" / \"at risk\" / \"off track\" (\"有把握\" / \"有风险\" / \"没把握\": 8, 5, 2).", examples=[7]
    )
    at: str | None = Field(
        default=None, max_length=64, description="ISO date-time of the check-in (default: now; no zone = the "
        "workspace's).", examples=["2026-11-20T17:00"]
    )


class SavedValue(BaseModel):
    """One measure's value as stored, and as written back in your locale."""

    name: str
    value: float
    unit: str | None = None
    kind: str
    shown: str


class LoggedAsk(BaseModel):
    """An ask stored with the check-in."""

    kind: Literal["money", "people", "permission", "other"]
    amount: float | None = None
    unit: str | None = None
    text: str


class Standing(BaseModel):
    """The KR's (or objective's) completion and forecast completion after this check-in, as ratios."""

    completion: float | None = None
    forecast: float | None = None
    status: str | None = None


class CheckinOut(BaseModel):
    """The check-in as stored: values as understood, words, asks, the standing now, and the chat's reply."""

    code: str
    values: list[SavedValue]
    note: str | None = None
    next: str | None = None
    risk: str | None = None
    confidence: int | None = None
    asks: list[LoggedAsk]
    standing: Standing | None = None
    message: str


class ErrorDetail(BaseModel):
    """What was wrong, in the token person's language, and the field it concerns (when one does)."""

    code: str = Field(description="A stable key, e.g. checkin.bad_value, code.unknown, api.unauthorized.")
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """Every 4xx answer."""

    error: ErrorDetail


class AskOut(BaseModel):
    """One ask and its decision."""

    id: int
    code: str
    person: str
    kind: Literal["money", "people", "permission", "other"]
    amount: float | None = None
    unit: str | None = None
    text: str
    status: Literal["open", "approved", "declined"]
    at: str
    decided_by: str | None = None


class AsksOut(BaseModel):
    """The asks of the current cycle, oldest first."""

    asks: list[AskOut]


class DecisionIn(Strict):
    """Approve or decline one open ask (boss or admin)."""

    decision: Literal["approve", "decline"]


class DecisionOut(BaseModel):
    """The ask as decided, and the sentence the chat would show."""

    id: int
    status: Literal["open", "approved", "declined"]
    decided_by: str | None = None
    message: str


class OkrsOut(BaseModel):
    """The OKR tree of the current cycle with values, completion, forecast and status (as `krbot export` gives it)."""

    workspace: dict[str, Any]
    cycle: dict[str, Any]
    objectives: list[dict[str, Any]]


class HookOut(BaseModel):
    """A hook's value as stored."""

    code: str
    values: list[SavedValue]
    message: str


ABOUT = {
    400: "An Idempotency-Key that is empty or longer than 255 characters (keys are never cut).",
    401: "No token, or an unknown or revoked one, or its person left the OKR file or was archived.",
    403: "Someone else's KR, or a decision you may not make.",
    404: "Unknown code or ask.",
    409: "The ask was already decided, or belongs to a cycle that has ended; or a request with the same "
    "Idempotency-Key is still in flight (api.idempotency_in_flight): retry later for its answer.",
    413: "A request body over 1 MB (with or without Content-Length); nothing was read past the limit.",
    422: "A value §6 refuses, or a malformed body or query: not JSON, not UTF-8, nested too deeply, NaN, Infinity or "
    "a number beyond 1e308 (body.not_finite, naming the field); or an Idempotency-Key already used with another "
    "body or route (api.idempotency_mismatch): nothing was done.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented refusals of one operation (401 and 422 always), each as ErrorOut."""
    return {status: {"model": ErrorOut, "description": ABOUT[status]} for status in sorted({401, 422, *statuses})}


def saved_values(*, params: dict[str, Any]) -> list[SavedValue]:
    """The values of a "saved" reply as the API shows them."""
    return [
        SavedValue(name=v["name"], value=v["value"], unit=v["unit"], kind=v["kind"], shown=v["shown"])
        for v in params.get("values", ())
    ]


def checkin_out(*, reply: Any, message: str) -> CheckinOut:
    """A stored check-in's reply as the API's answer."""
    params = reply.params
    standing = params.get("standing")
    return CheckinOut(
        code=params.get("code", ""),
        values=saved_values(params=params),
        note=params.get("note"),
        next=params.get("next_step"),
        risk=params.get("risk"),
        confidence=params.get("confidence"),
        asks=[LoggedAsk(kind=a["kind"], amount=a["amount"], unit=a["unit"], text=a["text"]) for a in params.get("asks", ())],
        standing=Standing(**standing) if standing else None,
        message=message,
    )
