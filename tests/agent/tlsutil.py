"""Certificates the tests make: a private CA and leaves that are valid, expired, for the wrong
host, or self-signed; plus a loopback TLS server context for each."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Pki:
    """Files of one test PKI: `ca_file` to trust, and a server context per leaf kind."""

    directory: Path
    ca_file: Path

    def server_context(self, kind: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.directory / f"{kind}.pem", self.directory / f"{kind}.key")
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_pki(directory: Path, now: datetime | None = None) -> Pki:
    """Create ca.pem and the leaves valid / expired / wronghost (signed by the CA) and selfsigned."""
    now = now or datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("upwatch test CA"))
        .issuer_name(_name("upwatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    leaves = {
        "valid": ("localhost", ["localhost", "127.0.0.1"], now - timedelta(days=1), now + timedelta(days=90)),
        "soon": ("localhost", ["localhost", "127.0.0.1"], now - timedelta(days=80), now + timedelta(days=5)),
        "expired": (
            "localhost",
            ["localhost", "127.0.0.1"],
            now - timedelta(days=90),
            now - timedelta(days=3, hours=1),
        ),
        "wronghost": ("other.example", ["other.example"], now - timedelta(days=1), now + timedelta(days=90)),
        "selfsigned": (
            "localhost",
            ["localhost", "127.0.0.1"],
            now - timedelta(days=1),
            now + timedelta(days=90),
        ),
    }
    for kind, (common_name, names, not_before, not_after) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        alt_names: list[x509.GeneralName] = []
        for name in names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        self_signed = kind == "selfsigned"
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name) if self_signed else ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .sign(key if self_signed else ca_key, hashes.SHA256())
        )
        (directory / f"{kind}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, directory / f"{kind}.key")
    return Pki(directory, ca_file)
