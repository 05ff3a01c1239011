"""Checks of templates being saved, in a process of their own (core/template_check_worker.py).

The API validates a template after the token check and before the write; the outcome goes into
the cache of validation outcomes (core/validated_templates.py), so the service's own check
inside the write is a hit and never renders on the shared writer thread. The process is started
on first use and replaced if it dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from aiohttp import web

from core import render_budget
from core.errors import ValidationError
from core.template_check_worker import check_template, start_worker
from core.validated_templates import VALIDATED

# One process: a tenant saving expensive templates takes one CPU and no more.
CHECK_PROCESSES = 1


class TemplateChecks:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    CHECK_PROCESSES,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker,
                    initargs=(render_budget.max_bytes(), render_budget.timeout_ms()),
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def validate(self, name: str, values: dict[str, str]) -> None:
        """`validate_template(name, **values)` in the checking process: `ValidationError` when
        refused; the outcome is remembered either way."""
        parts = (name, values["mail_from"], values["subject"], values["body"])
        key = VALIDATED.key(*parts)
        if not VALIDATED.known(key):
            pool = self._executor()
            loop = asyncio.get_running_loop()
            try:
                refusal = await loop.run_in_executor(pool, check_template, *parts)
            except BrokenProcessPool:  # the check died (e.g. at its memory ceiling)
                self._replace(pool)
                refusal = ("body", "template exceeds the render budget (memory)")
            outcome = ValidationError(*refusal) if refusal is not None else None
            VALIDATED.remember(key, outcome)
        VALIDATED.check(key, lambda: None)  # raises the remembered refusal

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


TEMPLATE_CHECKS = web.AppKey("template_checks", TemplateChecks)


def setup(app: web.Application) -> None:
    app[TEMPLATE_CHECKS] = TemplateChecks()

    async def close(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, app[TEMPLATE_CHECKS].close)

    app.on_cleanup.append(close)
