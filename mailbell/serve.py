"""`mailbell serve`: one process for the HTTP API (and Slack), the delivery worker and IMAP sync.

    exit_code = await serve(ctx, host="127.0.0.1", port=8080, worker=True)

- HTTP: `api.app.create_api_app(ctx)`, plus the Slack endpoint when configured (`mount_slack`).
- With `worker=True` (the default): `core.pipeline.worker.Worker`, the IMAP scheduler and the
  health watch (`core.health.runner.HealthWatch`) run on the same event loop; `--no-worker`
  serves HTTP (and Slack) only.
- Slow and idle clients are disconnected (`mailbell.http_limits`: headers within 10 s, a body
  within 30 s, 75 s idle keep-alive); the soft open-files limit is raised to the hard limit at
  start, and running out of descriptors is logged at most once a second.
- Logs are JSON lines on stderr (`configure_logging`): one per request, one per lifecycle step;
  never a header, a body or a secret.
- SIGTERM or SIGINT: stop accepting connections, let in-flight requests finish (3 s at most),
  let the worker finish its in-flight sends and give back its leases (6 s at most, then the
  sends are cancelled and the leases given back anyway), close SMTP and database connections,
  exit 0 — all within 10 s. A component that dies on its own stops the process with exit 1;
  the health watch is restarted instead (a pass that cannot record, e.g. on a read-only
  database, must not take delivery down with it).
- With `ssh=(host, port)` (`serve --ssh`): the SSH console (tui/ssh) listens beside the API;
  on shutdown its sessions are ended (each child 2 s, then killed) within the same budget.
- SIGHUP: the key ring is read again (`reload_keys`; one log line, no key material). A key
  file rewritten by `mailbell keys rotate` is also picked up without it, when a secret does not
  open; MAILBELL_SECRET_KEYS is read once at start, so a new value needs a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from core.context import Context

log = logging.getLogger("mailbell.serve")

HTTP_DRAIN_S = 3.0  # in-flight requests get this long after the listener closes
COMPONENT_DRAIN_S = 6.0  # worker sends / IMAP syncs in flight get this long, then are cancelled
HEALTH_RESTART_S = 30.0  # a health watch that failed starts again after this long

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the record's extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (bad header bytes, bad request line) as an error
    with a traceback, after answering it 400 itself: the client's mistake, not ours. Logged as
    one warning line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed HTTP request refused (%s)", (type(error).__name__,)
            record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str = "info", stream: IO[str] | None = None) -> None:
    """JSON lines on stderr for the whole process (mailbell, aiohttp, the worker)."""
    from mailbell.log_limits import ResourceExhaustionFilter

    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    # Out of descriptors, asyncio logs every failed accept: one line a second is enough.
    handler.addFilter(ResourceExhaustionFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log is off (the API logs each request itself); keep its errors.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())
    if level.lower() != "debug":  # migrations on start list every plugin they load
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def mount_slack(app: web.Application, ctx: Context) -> bool:
    """Hook for the Slack bot: `/slack/events` on `app`, or Socket Mode beside it.

    Does nothing unless SLACK_BOT_TOKEN is set and the `slackbot` package is there. With
    SLACK_APP_TOKEN, Socket Mode runs from the app's startup to its cleanup
    (`slackbot.socket.run_socket_mode`); otherwise HTTP mode mounts `POST /slack/events`
    (`slackbot.http.mount`, which needs SLACK_SIGNING_SECRET). A Slack misconfiguration is
    logged and leaves the API running. Returns whether Slack was mounted.
    """
    settings = ctx.settings
    if not settings.slack_bot_token:
        return False
    if importlib.util.find_spec("slackbot.app") is None:
        log.warning("SLACK_BOT_TOKEN is set but slackbot.app is not installed: Slack is off")
        return False
    from core.errors import MailbellError

    try:
        if settings.slack_app_token:
            _start_socket_mode(app, ctx)
        else:
            from slackbot.http import mount

            mount(app, ctx)
            log.info("slack: endpoint mounted", extra={"path": "/slack/events"})
    except MailbellError as exc:
        log.error("slack is off: %s", exc)
        return False
    return True


def _start_socket_mode(app: web.Application, ctx: Context) -> None:
    from slackbot.socket import run_socket_mode

    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(_app: web.Application) -> None:
        tasks.append(asyncio.create_task(run_socket_mode(ctx, stop), name="mailbell-slack"))

    async def close(_app: web.Application) -> None:
        stop.set()
        for task in tasks:
            await _stop_component("slack socket mode", task, HTTP_DRAIN_S)

    app.on_startup.append(start)
    app.on_cleanup.append(close)


async def _stop_component(name: str, task: asyncio.Task[Any], budget: float) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(task), budget)
    except TimeoutError:
        log.warning("%s did not stop in %.0f s: cancelling it", name, budget)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    except Exception:
        log.exception("%s failed while stopping", name)


def reload_keys(ctx: Context) -> str:
    """Read the key ring again (blocking); the one line to log about it, without key material."""
    from core.errors import MailbellError

    source = ctx.box.source
    try:
        count = ctx.box.reload()
    except MailbellError as exc:
        return f"SIGHUP: key ring not reloaded, the keys loaded stay in use: {exc}"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"SIGHUP: key ring not reloaded, the keys loaded stay in use: {reason}"
    if source.env_keys:
        return (
            f"SIGHUP: {count} key(s) in use from MAILBELL_SECRET_KEYS, which is read once when "
            "the process starts: restart it to use a new value"
        )
    return f"SIGHUP: key ring reloaded from {source.description} ({count} key(s))"


def install_key_reload(ctx: Context, report: Callable[[str], None]) -> None:
    """On SIGHUP, `reload_keys` on a thread, then `report` its line."""
    loop = asyncio.get_running_loop()

    def reload() -> None:
        report(reload_keys(ctx))

    def on_hup() -> None:
        loop.run_in_executor(None, reload)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, on_hup)


def _install_signals(stop: asyncio.Event, ctx: Context) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    install_key_reload(ctx, log.info)


async def _watch_health(ctx: Context, stop: asyncio.Event) -> None:
    """The health watch until `stop`; started again after HEALTH_RESTART_S when it fails."""
    from core.health.runner import HealthWatch

    while not stop.is_set():
        try:
            await HealthWatch(ctx).run(stop)
        except Exception as exc:
            log.error(
                "health watch failed, starting again in %.0f s: %s: %s",
                HEALTH_RESTART_S,
                type(exc).__name__,
                exc,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEALTH_RESTART_S)


async def serve(
    ctx: Context,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    worker: bool = True,
    stop: asyncio.Event | None = None,
    ssh: tuple[str, int] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); returns the exit code."""
    from aiohttp import web

    from api.app import create_api_app
    from api.routes.ops import COMPONENTS
    from mailbell.http_limits import GuardedAppRunner, HttpTimeouts, raise_open_files_limit

    try:
        timeouts = HttpTimeouts.from_environ()
    except ValueError as exc:
        log.error("%s", exc)
        return 1
    open_files, _hard = raise_open_files_limit()
    stop = stop or asyncio.Event()
    _install_signals(stop, ctx)
    app = create_api_app(ctx)
    slack = mount_slack(app, ctx)
    components: dict[str, str] = {}
    app[COMPONENTS] = components
    runner = GuardedAppRunner(
        app,
        timeouts=timeouts,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=HTTP_DRAIN_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        await runner.cleanup()
        return 1
    bound = runner.addresses[0][1] if runner.addresses else port
    console = None
    if ssh is not None:
        from tui.ssh.server import ConsoleServer

        console = ConsoleServer(ctx.settings)
        try:
            await console.start(*ssh)
        except OSError as exc:
            log.error("cannot listen for SSH on %s:%s: %s", *ssh, exc.strerror or exc)
            await runner.cleanup()
            return 1
    log.info(
        "listening on http://%s:%s",
        host,
        bound,
        extra={
            "host": host,
            "port": bound,
            "worker": worker,
            "slack": slack,
            "open_files": open_files,
            "timeouts": f"{timeouts.header_s:g}/{timeouts.body_s:g}/{timeouts.keepalive_s:g}",
        },
    )

    tasks: dict[str, asyncio.Task[Any]] = {}
    work = None
    if worker:
        from core.pipeline.worker import Worker
        from core.vocabulary import WorkerKind

        work = Worker(ctx, lease_s=ctx.settings.worker_lease_s, kind=WorkerKind.SERVE)
        tasks["worker"] = asyncio.create_task(work.run(stop), name="mailbell-worker")
        components["worker"] = "running"
        if importlib.util.find_spec("core.services.imap_scheduler") is not None:
            from core.services.imap_scheduler import ImapScheduler

            scheduler = ImapScheduler(ctx)
            tasks["imap_scheduler"] = asyncio.create_task(
                scheduler.run(stop), name="mailbell-imap-scheduler"
            )
            components["imap_scheduler"] = "running"
        else:
            log.warning("IMAP scheduler not available: scheduled IMAP sync is off")
        tasks["health"] = asyncio.create_task(_watch_health(ctx, stop), name="mailbell-health")
        components["health"] = "running"

    code = await _wait(stop, tasks, components)
    started = time.monotonic()
    log.info("stopping", extra={"reason": "signal" if code == 0 else "component failed"})
    await asyncio.gather(
        runner.cleanup(),
        *([console.close()] if console is not None else []),
        *(_stop_component(name, task, COMPONENT_DRAIN_S) for name, task in tasks.items()),
    )
    if work is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(work.close(), 1.0)
    log.info("stopped", extra={"seconds": round(time.monotonic() - started, 3), "exit": code})
    return code


async def _wait(
    stop: asyncio.Event, tasks: dict[str, asyncio.Task[Any]], components: dict[str, str]
) -> int:
    """Until `stop` is set (0), or a component ends on its own (1; `stop` is then set)."""
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopped, *tasks.values()}, return_when=asyncio.FIRST_COMPLETED)
    if stopped in done:
        return 0
    stopped.cancel()
    for name, task in tasks.items():
        if task in done:
            components[name] = "failed"
            error = task.exception() if not task.cancelled() else None
            log.error("%s stopped unexpectedly", name, exc_info=error)
    stop.set()
    return 1
