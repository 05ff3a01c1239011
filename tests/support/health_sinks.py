"""For the health check tests: the notices a pass hands to core.health.alerts, recorded instead
of sent (how alerts land is the alert tests' business), and SMTP servers whose certificate
expires when told.

    def test_x(recorded_notices): ... [n.notice for n in recorded_notices] == ["alert"]
    certs = expiring_certs(tmp_path, days=5)   # CA + server certificate valid 5 more days
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from core.health.store import Notice
from tests.support.certs import TestCerts, make_test_certs


@pytest.fixture
def recorded_notices(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Notice]]:
    """Every notice run_pass sends, in order; nothing leaves the process."""
    notices: list[Notice] = []

    async def send_notices(ctx: object, batch: list[Notice]) -> None:
        notices.extend(batch)

    try:
        module = importlib.import_module("core.health.alerts")
    except ModuleNotFoundError:  # the alerts module is not written yet
        module = types.ModuleType("core.health.alerts")
        monkeypatch.setitem(sys.modules, "core.health.alerts", module)
    monkeypatch.setattr(module, "send_notices", send_notices, raising=False)
    yield notices


def expiring_certs(directory: Path, *, days: float) -> TestCerts:
    """A test CA and a server certificate for 127.0.0.1/localhost whose notAfter is `days` from
    now (negative: already expired), signed again by the same CA."""
    from cryptography.hazmat.primitives.asymmetric import ec

    certs = make_test_certs(directory)
    # make_test_certs does not keep the CA key: re-sign the leaf with a CA of our own.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = x509.load_pem_x509_certificate(certs.ca_file.read_bytes())
    now = dt.datetime.now(dt.UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca.subject)
        .issuer_name(ca.subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = x509.load_pem_x509_certificate(certs.cert_file.read_bytes())
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca_cert.subject)
        .public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    for extension in leaf.extensions:
        if not isinstance(extension.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(extension.value, critical=extension.critical)
    cert = builder.sign(ca_key, hashes.SHA256())
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    certs.ca_file.write_bytes(ca_pem)
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    return certs
