"""The context object every front end builds once and passes down: settings, engine, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import render_budget
from core.config import Settings, load_settings
from core.crypto import KeySource, SecretBox
from core.db import make_engine, session_scope, upgrade
from core.errors import StorageError, storage_error


@dataclass
class Context:
    settings: Settings
    engine: Engine
    box: SecretBox
    _upgraded: bool = field(default=False, repr=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session (rolled back unless committed). A database that is full or read-only
        raises `StorageFullError` / `StorageReadOnlyError` instead of the driver's error."""
        try:
            with session_scope(self.engine) as session:
                yield session
        except StorageError:
            raise
        except Exception as exc:
            translated = self.storage_error(exc)
            if translated is None:
                raise
            raise translated from exc

    def storage_error(self, exc: BaseException, *, os_errors: bool = False) -> StorageError | None:
        """What `exc` means if the database is full or read-only (see core.errors)."""
        url = self.engine.url
        path = url.database if url.get_backend_name() == "sqlite" else None
        name = path or url.render_as_string(hide_password=True)
        return storage_error(exc, database=name, path=path, os_errors=os_errors)

    def ensure_schema(self) -> None:
        if not self._upgraded:
            try:
                upgrade(self.engine)
            except Exception as exc:
                # upgrade() reports a driver error as a MailbellError without its cause
                translated = self.storage_error(exc, os_errors=True) or (
                    self.storage_error(exc.__context__, os_errors=True)
                    if exc.__context__ is not None
                    else None
                )
                if translated is None:
                    raise
                raise translated from exc
            self._upgraded = True

    def close(self) -> None:
        self.engine.dispose()


def build_context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    """Settings from the environment, an engine, the key ring; schema migrated unless told not."""
    settings = settings or load_settings()
    render_budget.configure(settings.template_max_bytes, settings.template_timeout_ms)
    engine = make_engine(settings.effective_database_url)
    box = SecretBox(KeySource(env_keys=settings.secret_keys, key_file=settings.key_file))
    context = Context(settings=settings, engine=engine, box=box)
    if migrate:
        context.ensure_schema()
    return context
