"""SQL parameters never reach an error message or a log line: a statement that fails shows its
SQL, never the values bound to it (secrets' ciphertexts, addresses, names)."""

from __future__ import annotations

import logging
import traceback

import pytest
from sqlalchemy.exc import IntegrityError

from core.context import Context
from core.db import make_engine
from core.models.mail import MailServer
from core.models.tenancy import Tenant

NAME_MARKER = "Display-Name-Marker-7f3a"
PASSWORD = "hunter2-very-secret"


def _failure_text(exc: BaseException) -> str:
    """Everything a log line with the exception (`log.exception`) would show."""
    return "".join(traceback.format_exception(exc))


def test_every_engine_hides_parameters(tmp_path) -> None:
    for url in (
        f"sqlite:///{tmp_path / 'x.db'}",
        "postgresql+psycopg://mailbell@127.0.0.1:1/nowhere",  # built, never connected
    ):
        engine = make_engine(url)
        assert engine.hide_parameters is True, url
        engine.dispose()


def test_a_unique_violation_does_not_show_the_values(ctx: Context, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with ctx.session() as session:
        session.add(Tenant(slug="acme", name="Acme"))
        session.commit()
    with pytest.raises(IntegrityError) as failure, ctx.session() as session:
        session.add(Tenant(slug="acme", name=NAME_MARKER))
        session.commit()
    text = _failure_text(failure.value)
    assert "INSERT INTO tenant" in text  # the statement is still there to debug with
    assert NAME_MARKER not in text
    assert NAME_MARKER not in caplog.text


def test_a_failed_insert_does_not_show_a_password_ciphertext(ctx: Context, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ciphertext = ctx.box.encrypt(PASSWORD)
    with pytest.raises(IntegrityError) as failure, ctx.session() as session:
        # no such tenant: a foreign-key violation, on SQLite and PostgreSQL alike
        session.add(
            MailServer(
                tenant_id=987654, name="smtp", host="smtp.example.org", password_enc=ciphertext
            )
        )
        session.commit()
    text = _failure_text(failure.value)
    assert "INSERT INTO mail_server" in text
    assert ciphertext not in text and PASSWORD not in text
    assert "smtp.example.org" not in text
    assert ciphertext not in caplog.text
