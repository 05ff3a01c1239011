"""Import of a settings document (`mailbell import`): applied through the ordinary services,
so every rule and audit entry is theirs, in one transaction.

Idempotent: each tenant, server, account, template, webhook and Slack channel of the document
is created when missing, updated when it differs, left alone when equal; a second import of
the same file changes nothing. What the database holds and the file does not is kept (an
import never deletes). `dry_run` computes the same report and rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from core.crypto import SecretBox
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.settings_document import ExportDocument, PassphraseSeal, parse_document
from core.services.settings_import_owner import ImportItem, Outcome, OwnerImport, within
from core.services.settings_import_tenant import TenantImport
from core.services.tenants import create_tenant, rename_tenant


@dataclass
class ImportReport:
    dry_run: bool
    items: list[ImportItem] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in ("created", "updated", "unchanged"))
        done = "dry run: nothing was changed" if self.dry_run else "applied in one transaction"
        return f"{counts}; {done}; nothing in the database was deleted"


@contextmanager
def _one_transaction(session: Session, *, keep: bool) -> Iterator[None]:
    """The services commit each change; an import is all or nothing, so their commits only
    flush until the end, which commits (`keep`) or rolls back everything."""
    session.flush()
    setattr(session, "commit", session.flush)  # noqa: B010 - shadow the method on this instance
    try:
        yield
    except BaseException:
        vars(session).pop("commit", None)
        session.rollback()
        raise
    vars(session).pop("commit", None)
    if keep:
        session.commit()
    else:
        session.rollback()


def _tenant(session: Session, slug: str, name: str, actor: Actor) -> tuple[Tenant, ImportItem]:
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        tenant = create_tenant(session=session, slug=slug, name=name, actor=actor)
        return tenant, ImportItem("tenant", slug, "", "created")
    if tenant.name != name:
        tenant = rename_tenant(session=session, slug=slug, name=name, actor=actor)
        return tenant, ImportItem("tenant", slug, "", "updated", ("name",))
    return tenant, ImportItem("tenant", slug, "", "unchanged")


def _apply(
    session: Session, box: SecretBox, doc: ExportDocument, actor: Actor, seal: Any
) -> list[ImportItem]:
    items: list[ImportItem] = []
    if doc.system is not None:
        owner = OwnerImport(session=session, box=box, actor=actor, seal=seal, tenant=None)
        items += owner.apply(doc.system, "system")
    for index, entry in enumerate(doc.tenants):
        path = f"tenants[{index}]"
        with within(path):
            tenant, item = _tenant(session, entry.slug, entry.name, actor)
        items.append(item)
        owner = TenantImport(session=session, box=box, actor=actor, seal=seal, tenant=tenant)
        items += owner.apply(entry, path)
        items += owner.apply_accounts(entry.email_accounts, f"{path}.email_accounts")
        items += owner.apply_slack(entry.slack_channels, f"{path}.slack_channels")
    return items


def import_settings(
    *,
    session: Session,
    box: SecretBox,
    document: Any,
    actor: Actor,
    dry_run: bool,
    passphrase: str | None = None,
) -> ImportReport:
    """Apply `document` (parsed JSON from `mailbell export`) in one transaction and report
    each item; `dry_run` rolls back. A document of another version, a broken key (named by its
    JSON path), a rule a value breaks, or a missing or wrong passphrase: `ValidationError`, and
    nothing changed."""
    doc = parse_document(document)
    seal = None
    if doc.encryption is not None:
        seal = PassphraseSeal.for_document(doc.encryption, passphrase)
    report = ImportReport(dry_run=dry_run)
    with _one_transaction(session, keep=not dry_run):
        report.items = _apply(session, box, doc, actor, seal)
    return report
