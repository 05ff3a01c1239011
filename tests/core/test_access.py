"""core/access.py: what each console role may read and change, and the audit log's gate that
refuses (and rolls back) a change the acting grant does not cover."""

from __future__ import annotations

import pytest

from core.access import SYSTEM_ADMIN, Grant
from core.errors import Forbidden
from core.services.audit import Actor, list_entries
from core.services.mail_servers import list_mail_servers
from core.vocabulary import Role
from tests.support.factories import make_mail_server, make_tenant, read_settings, set_settings

ACME_ADMIN = Grant(Role.TENANT_ADMIN, frozenset({"acme"}))
ACME_VIEWER = Grant(Role.VIEWER, frozenset({"acme"}))
VIEWER = Grant(Role.VIEWER)


@pytest.mark.parametrize(
    ("grant", "slug", "read", "write"),
    [
        (SYSTEM_ADMIN, None, True, True),
        (SYSTEM_ADMIN, "globex", True, True),
        (ACME_ADMIN, "acme", True, True),
        (ACME_ADMIN, "globex", False, False),
        (ACME_ADMIN, None, False, False),
        (ACME_VIEWER, "acme", True, False),
        (ACME_VIEWER, "globex", False, False),
        (VIEWER, "globex", True, False),
        (VIEWER, None, False, False),
    ],
)
def test_who_may_read_and_write_what(grant, slug, read, write) -> None:
    assert grant.may_read(slug) is read
    assert grant.may_write(slug) is write


def test_a_change_outside_the_grant_is_refused_and_rolled_back(ctx, actor) -> None:
    with ctx.session() as session:
        make_tenant(session, slug="acme", actor=actor)
        make_tenant(session, slug="globex", actor=actor)
    acme_admin = Actor(name="ops", source="ssh", tenant_scoped=True, grant=ACME_ADMIN)
    viewer = Actor(name="watcher", source="ssh", grant=VIEWER)
    before = read_settings(ctx, "globex")

    with pytest.raises(Forbidden, match="cannot change tenant globex"):
        set_settings(ctx, acme_admin, "globex", recipients=["ops@globex.example"])
    with pytest.raises(Forbidden, match="read-only"):
        set_settings(ctx, viewer, "acme", recipients=["ops@acme.example"])
    unfenced = Actor(name="ops", source="ssh", grant=ACME_ADMIN)  # the gate, not the host fence
    with pytest.raises(Forbidden, match="system's settings"), ctx.session() as session:
        make_mail_server(session, ctx.box, None, actor=unfenced, name="sneaky")

    assert read_settings(ctx, "globex") == before
    assert read_settings(ctx, "acme").recipients == []
    with ctx.session() as session:
        assert not list_mail_servers(session=session, tenant=None)
    set_settings(ctx, acme_admin, "acme", recipients=["ops@acme.example"])
    assert read_settings(ctx, "acme").recipients == ["ops@acme.example"]
    with ctx.session() as session:
        actors = {(e.actor, e.source) for e in list_entries(session=session)}
    assert ("ops", "ssh") in actors and ("watcher", "ssh") not in actors


def test_a_grant_describes_itself_for_messages() -> None:
    assert SYSTEM_ADMIN.describe() == "system-admin"
    assert Grant(Role.TENANT_ADMIN, frozenset({"globex", "acme"})).describe() == (
        "tenant-admin of acme, globex"
    )
    assert VIEWER.describe() == "viewer of every tenant"
