"""How a screen's background work reports back: typed messages, handled with `@on`.

A screen runs blocking work (the database) in a `@work(thread=True)` method and network work in
an async `@work` method; the worker posts what it got as a message of its own type, and the
screen's `@on(ThatMessage)` handler applies it on the UI thread:

    class ServersLoaded(Result[ServersView]): ...

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(ServersLoaded(servers.load(self.ctx, slug)))

    @on(ServersLoaded)
    def show(self, message: ServersLoaded) -> None: ...

A failure never ends the app: `reporting` posts a `JobFailed` (or the subclass it is given); a
screen that knows how to show one handles that subclass and calls `prevent_default()`,
otherwise `ShowsFailures` turns the reason into an error notification.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from textual import on
from textual.message import Message
from textual.message_pump import MessagePump

from tui.runtime import error_text

T = TypeVar("T")


class Result(Message, Generic[T], bubble=False):
    """What a job produced; subclass it once per kind of result."""

    def __init__(self, value: T) -> None:
        super().__init__()
        self.value = value


class JobFailed(Message, bubble=False):
    """A job raised `error`; `job` names it in the notification's title ("save failed")."""

    def __init__(self, error: BaseException, job: str) -> None:
        super().__init__()
        self.error = error
        self.job = job


@contextmanager
def reporting(target: MessagePump, job: str, failed: type[JobFailed] = JobFailed) -> Iterator[None]:
    """Inside a worker: an exception becomes a `failed` message posted to `target`."""
    try:
        yield
    except Exception as exc:
        target.post_message(failed(exc, job))


class ShowsFailures(MessagePump):
    """Mix into a Screen (first): a failure no handler took care of becomes an error
    notification. A MessagePump itself, so Textual registers its `@on` handler."""

    @on(JobFailed)
    def show_failure(self, message: JobFailed) -> None:
        self.notify(  # type: ignore[attr-defined]
            error_text(message.error),
            title=f"{message.job.replace('_', ' ')} failed",
            severity="error",
            timeout=8,
        )
