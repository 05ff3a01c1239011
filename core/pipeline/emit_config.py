"""What emit needs to know about one owner (a tenant, or the system), kept between events.

Settings, the effective mail server, templates and each channel's routes change rarely and are
read on every event. They are read once per configuration generation (core/generation.py) and then
served from memory; a change committed by any process moves the generation and the next emit
reads them again. Snapshots are plain frozen values, never ORM rows, so they are safe to share
between threads and sessions.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.catalog import Event
from core.crypto import SecretBox
from core.digest_policy import DigestPolicy, default_policy, owner_policies
from core.generation import current_generation
from core.locality import Locality
from core.models.mail import MailServer
from core.models.tenancy import NotificationSettings, SystemSettings, Tenant
from core.rendering import TemplateSource
from core.services.mail_servers import resolve_effective_server
from core.services.templates import effective_template
from core.vocabulary import RecipientMode

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServerView:
    """The fields of the effective mail server that shape a message (no secrets)."""

    id: int | None
    mail_from: str | None
    username: str | None
    reply_to: str | None

    @classmethod
    def of(cls, server: MailServer) -> ServerView:
        return cls(server.id, server.mail_from, server.username, server.reply_to)


@dataclass(slots=True)
class OwnerConfig:
    """One owner's configuration as of one generation; templates and routes filled on demand."""

    toggles: dict[str, bool]
    recipients: list[str]
    server: ServerView | None
    recipient_mode: str = RecipientMode.TO
    # Each digest event of the owner's scope → its policy (core/digest_policy.py).
    digests: dict[str, DigestPolicy] = field(default_factory=dict)
    # Where its mail reads: its time zone and locale, else the system's (core/locality.py).
    locality: Locality = field(default_factory=Locality.default)
    templates: dict[str, TemplateSource] = field(default_factory=dict)
    # Each channel's targets per event, keyed (channel, event): filled by the renderers.
    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def template(self, session: Session, tenant: Tenant | None, name: str) -> TemplateSource:
        return _memo(
            self.templates,
            name,
            lambda: effective_template(
                session=session, tenant=tenant, name=name, locale=self.locality.locale
            ),
        )

    def digest_policy(self, event: str) -> DigestPolicy | None:
        """`event`'s digest policy, or None when digests do not apply to it (or are off)."""
        policy = self.digests.get(event)
        return policy if policy is not None and policy.enabled else None

    def targets(self, channel: str, event: str, load: Callable[[], list[Any]]) -> list[Any]:
        """`channel`'s targets for `event`, read by `load` once per generation."""
        return _memo(self.routes, (channel, event), load)


@dataclass(frozen=True, slots=True)
class EmitDraft:
    """One event being emitted, as the channels' renderers see it (core/channels/base.py)."""

    session: Session
    box: SecretBox
    spec: Event
    payload: Any  # the validated payload model
    tenant: Tenant | None
    config: OwnerConfig
    enabled: bool  # the event's toggle is on (or it has none)


def _memo(store: dict[Any, T], key: Any, load: Callable[[], T]) -> T:
    found = store.get(key)
    if found is None:
        found = store[key] = load()
    return found


def _load(session: Session, tenant: Tenant | None) -> OwnerConfig:
    settings: NotificationSettings | SystemSettings
    system = session.get(SystemSettings, 1) or SystemSettings(id=1)
    if tenant is None:
        settings, locality = system, system.locality()
    else:
        settings = session.get(NotificationSettings, tenant.id) or NotificationSettings(
            tenant_id=tenant.id or 0
        )
        locality = settings.locality(system.locality())
    toggles = {
        name: bool(value) for name, value in settings.model_dump().items() if name[:7] == "notify_"
    }
    server = resolve_effective_server(session=session, tenant=tenant).server
    return OwnerConfig(
        toggles=toggles,
        recipients=list(settings.recipients),
        server=ServerView.of(server) if server is not None else None,
        recipient_mode=settings.recipient_mode,
        digests=owner_policies(settings.digests, system=tenant is None, default=default_policy()),
        locality=locality,
    )


def through_system_server(session: Session, config: OwnerConfig) -> OwnerConfig:
    """`config` with its email sent through the system's default server, when there is one (an
    alert about the owner's own broken mail path must not depend on that path)."""
    system = owner_config(session, None).server
    return config if system is None else replace(config, server=system)


class _EngineCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: int | None = None
        self.owners: dict[int | None, OwnerConfig] = {}


_caches: weakref.WeakKeyDictionary[Engine, _EngineCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_for(engine: Engine) -> _EngineCache:
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = _EngineCache()
        return cache


def owner_config(session: Session, tenant: Tenant | None) -> OwnerConfig:
    """`tenant`'s configuration (None: the system's), current as of this transaction."""
    generation = current_generation(session)
    if generation is None:
        return _load(session, tenant)
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    cache = _cache_for(engine)
    owner = tenant.id if tenant is not None else None
    with cache.lock:
        if cache.generation != generation:
            cache.generation, cache.owners = generation, {}
        found = cache.owners.get(owner)
    if found is not None:
        return found
    loaded = _load(session, tenant)
    with cache.lock:
        # Only if nothing moved meanwhile: what was loaded is at least as new as `generation`.
        if cache.generation == generation:
            cache.owners[owner] = loaded
    return loaded
