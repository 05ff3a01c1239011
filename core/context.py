"""The context object every front end builds once and passes down: settings, engine, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.config import Settings, load_settings
from core.crypto import KeySource, SecretBox
from core.db import make_engine, session_scope, upgrade


@dataclass
class Context:
    settings: Settings
    engine: Engine
    box: SecretBox
    _upgraded: bool = field(default=False, repr=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    def ensure_schema(self) -> None:
        if not self._upgraded:
            upgrade(self.engine)
            self._upgraded = True

    def close(self) -> None:
        self.engine.dispose()


def build_context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    """Settings from the environment, an engine, the key ring; schema migrated unless told not."""
    settings = settings or load_settings()
    engine = make_engine(settings.effective_database_url)
    box = SecretBox(KeySource(env_keys=settings.secret_keys, key_file=settings.key_file))
    context = Context(settings=settings, engine=engine, box=box)
    if migrate:
        context.ensure_schema()
    return context
