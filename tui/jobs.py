"""Background jobs for screens: database work on a thread, network work on the event loop.

    self.run_job("load", load_servers, self.ctx, slug)     # -> self.done_load(result)
    self.run_job("test", test_coroutine_factory)            # async callables run on the loop

A job runs in a Textual worker and reports back with a message (`JobDone` / `JobFailed`) posted
to the screen that started it, so results are applied on the UI thread. A failure never ends
the app: `failed_<name>(exc)` handles it when the screen defines one (return True when it did);
otherwise the reason becomes an error notification and the screen stays usable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.worker import Worker

from tui.runtime import error_text


class JobDone(Message):
    def __init__(self, job: str, result: Any, key: Any = None) -> None:
        super().__init__()
        self.job = job
        self.result = result
        self.key = key


class JobFailed(Message):
    def __init__(self, job: str, error: BaseException, key: Any = None) -> None:
        super().__init__()
        self.job = job
        self.error = error
        self.key = key


class JobsMixin:
    """Mix into a Screen (or widget): `run_job` plus the two message handlers."""

    def run_job(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        exclusive: bool = True,
        key: Any = None,
        **kwargs: Any,
    ) -> Worker[Any]:
        """Run `fn(*args, **kwargs)`; with `key`, several jobs of one name run side by side and
        the handlers get the key too: `done_<name>(result, key)`, `failed_<name>(exc, key)`."""
        post = self.post_message  # type: ignore[attr-defined]
        group = name if key is None else f"{name}:{key}"
        if inspect.iscoroutinefunction(fn):

            async def run_async() -> None:
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    post(JobFailed(name, exc, key))
                else:
                    post(JobDone(name, result, key))

            return self.run_worker(  # type: ignore[attr-defined]
                run_async(), name=group, group=group, exclusive=exclusive, exit_on_error=False
            )

        def run_thread() -> None:
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                post(JobFailed(name, exc, key))
            else:
                post(JobDone(name, result, key))

        return self.run_worker(  # type: ignore[attr-defined]
            run_thread,
            name=group,
            group=group,
            exclusive=exclusive,
            thread=True,
            exit_on_error=False,
        )

    def on_job_done(self, message: JobDone) -> None:
        message.stop()
        handler = getattr(self, f"done_{message.job}", None)
        if handler is None:
            return
        if message.key is None:
            handler(message.result)
        else:
            handler(message.result, message.key)

    def on_job_failed(self, message: JobFailed) -> None:
        message.stop()
        handler = getattr(self, f"failed_{message.job}", None)
        if handler is not None:
            args = (message.error,) if message.key is None else (message.error, message.key)
            if handler(*args):
                return
        self.notify(  # type: ignore[attr-defined]
            error_text(message.error),
            title=f"{message.job.replace('_', ' ')} failed",
            severity="error",
            timeout=8,
        )
