"""The one wiring function: settings -> engine -> unit of work -> platforms -> scheduler -> HTTP server."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.core.errors import KrbotError
from storage.db import UnitOfWork, make_engine, upgrade

HEALTH_SECONDS = 1.0  # /healthz waits this long for the database, then says "slow"
SIGNAL_CHECK = 0.5  # seconds: the main thread wakes this often so that Python runs a signal handler another thread got
DRAIN_SECONDS = 10.0  # on SIGTERM: what is in flight is finished and answered within this, then the sockets close


@dataclass(frozen=True, slots=True)
class App:
    """What every edge needs: the settings and the unit of work over the database."""

    settings: Settings
    uow: UnitOfWork


def build_app(*, database_url: str | None = None, migrate: bool = True, settings: Settings | None = None) -> App:
    """Connect to the database (migrating it to head unless told not to) and hand back the wired app."""
    settings = settings or Settings()
    url = database_url or settings.database_url
    engine = make_engine(url=url)
    if migrate:
        upgrade(engine=engine)
    uow = UnitOfWork(engine=engine)
    from bot.webhooks import install

    install(uow=uow)  # webhooks queued by a commit go out right after it, in the background
    return App(settings=settings, uow=uow)


def database_answers(*, app: App, seconds: float = HEALTH_SECONDS) -> bool | str:
    """True when the database answers a trivial query within `seconds`; "slow" when it does not answer in time (the
    probe is cut at its own deadline, so /healthz never hangs); False when it refuses."""
    from sqlalchemy import text

    from storage.deadlines import DatabaseLate, deadline

    try:
        with deadline(seconds=seconds), app.uow.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DatabaseLate:
        return "slow"
    except Exception:  # noqa: BLE001 - any failure means: not healthy
        return False
    return True


def configured_platforms(*, app: App, http: bool | None, web_only: bool = False) -> list[Any]:
    """Every platform whose credentials are set; the console when none is (CONTRACT §3); none with `web_only`.

    `http=None` is for sending only (`jobs run`, `digest --post`): each platform in a mode its credentials allow.
    """
    settings = app.settings
    platforms: list[Any] = []
    if web_only:  # the web pages, the API and hooks alone: no chat token needed, none invented
        return platforms
    if settings.slack_bot_token or settings.slack_client_id:
        from bot.platforms import slack

        slack_http = http if http is not None else bool(settings.slack_client_id or not settings.slack_app_token)
        platforms.append(
            slack.build(settings=settings, uow=app.uow, http=slack_http)
        )
    if settings.feishu_app_id:
        from bot.platforms import feishu

        platforms.append(feishu.build(settings=settings, uow=app.uow, http=bool(http)))
    if not platforms and http:  # the console has no callback route: every platform request would get 404
        raise KrbotError("cli.no_platform_http")
    if not platforms:
        from bot.platforms import console

        platforms.append(console.build(settings=settings, uow=app.uow, http=bool(http)))
    return platforms


def start_scheduler(*, app: App, platforms: list[Any]) -> Any:
    """Start the in-memory timer that ticks every 30 seconds and sends what the database says is due."""
    from bot.timer import Scheduler

    timer = Scheduler(uow=app.uow, platforms=platforms)
    timer.start()
    return timer


def api_routes(*, app: App, platforms: list[Any], clock: Any = None) -> list[Any]:
    """/api/v1/ and /hooks/{secret} (CONTRACT §9); a reply's notices are told through each platform's outbox.

    `clock` (tests only) is the time requests are stored at; the real one by default."""
    from bot.api import api_routes as routes

    def tell(reply: Any, workspace: str, cause: str) -> None:
        from datetime import UTC, datetime

        from bot.outbox import tell_notices

        for platform in platforms:
            tell_notices(
                uow=app.uow, platform=platform, reply=reply, workspace=workspace, cause=cause, now=datetime.now(UTC)
            )

    return routes(uow=app.uow, tell=tell) if clock is None else routes(uow=app.uow, tell=tell, clock=clock)


def public_url(*, app: App, port: int | None = None) -> str:
    """Where people reach `krbot run --http` (KRBOT_PUBLIC_URL; http://localhost:PORT by default)."""
    return app.settings.web_address(port)


def web_routes(*, app: App, port: int | None = None, clock: Any = None) -> list[Any]:
    """The web pages (CONTRACT §10) when KRBOT_SECRET_KEY is set, else none; put after every other route."""
    if not app.settings.secret_key:
        return []
    from bot.web import web_routes as routes

    extra = {} if clock is None else {"clock": clock}
    return routes(uow=app.uow, secret_key=app.settings.secret_key, public_url=public_url(app=app, port=port), **extra)


def source_roles(*, app: App) -> Any:
    """The background check of the SQL sources' database roles that /healthz details report (superuser, writer)."""
    from bot.pulling.sql_roles import RoleWatch, workspace_source_envs

    return RoleWatch(names=lambda: workspace_source_envs(uow=app.uow))


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    """SIGTERM ends `krbot run` like Ctrl-C (uvicorn, which catches it first, raises it again once it has stopped taking
    and finished its requests): the platforms and the scheduler then drain and close in order, and the exit code is 0."""
    raise SystemExit(0)


def drain_then_close(*, platforms: list[Any], timer: Any) -> None:
    """Stop every intake (envelopes, events, the timer's ticks), finish and answer what is in flight with what it owes
    by one deadline (DRAIN_SECONDS), then close the connections."""
    deadline = time.monotonic() + DRAIN_SECONDS
    for platform in platforms:
        platform.stop_intake()
    if timer is not None:
        timer.halt()
    for platform in platforms:
        platform.drain(timeout=max(0.0, deadline - time.monotonic()))
    if timer is not None:
        timer.stop(deadline=deadline)
    for platform in platforms:
        platform.stop()


def run(*, app: App, http: bool, port: int | None = None, web_only: bool = False) -> None:
    """Serve every configured platform and the scheduler until interrupted (SIGTERM drains first, see above);
    `web_only`: no chat platform, only the web pages, the API and hooks."""
    from bot.http import build_http_app, serve_http
    from bot.logs import adopt_library_loggers, configure_logging

    configure_logging(fmt=app.settings.log_format, level=app.settings.log_level, secrets=app.settings.secrets())
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `docker stop`: finish in-flight work below, then exit 0

    platforms = configured_platforms(app=app, http=http, web_only=web_only)
    adopt_library_loggers()  # the platforms' SDKs are imported by now; their loggers go through ours
    stop = threading.Event()
    started: list[Any] = []
    timer = None
    try:
        for platform in platforms:
            platform.start()  # a KrbotError (a wrong token, Slack unreachable) closes what started, then says why
            started.append(platform)
        timer = start_scheduler(app=app, platforms=platforms)
        if http:
            routes = [route for platform in platforms for route in platform.routes()]
            routes += api_routes(app=app, platforms=platforms)
            routes += web_routes(app=app, port=port)  # last: the web answers every path no other route takes
            roles = source_roles(app=app)

            def health() -> dict[str, Any]:
                states = {platform.name: platform.healthy() for platform in platforms}
                database = database_answers(app=app)
                ticking = timer.ticking()
                return {
                    "ok": database is True and ticking and all(states.values()),
                    "database": database,
                    "scheduler": ticking,
                    "platforms": states,
                    "jobs": timer.jobs(),  # a run past its deadline is named here; the tick, not one job, is `ok`
                    "sources": roles.report(),  # a warning for operators, never part of "ok"
                }

            served = build_http_app(routes=routes, health=health, metrics_token=app.settings.metrics_token)
            serve_http(app=served, port=port or app.settings.http_port)
        else:
            while not stop.wait(timeout=SIGNAL_CHECK):  # a signal another thread took is handled at the next wake-up
                pass
    except KeyboardInterrupt:
        pass
    finally:
        drain_then_close(platforms=started, timer=timer)
