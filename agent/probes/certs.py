"""Reading X.509 certificates the probes receive, including ones that failed verification.

`ssl` only decodes a peer certificate it has verified; an expired or
self-signed one arrives as DER bytes, which `cryptography` parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.timeutil import format_duration


@dataclass(frozen=True)
class CertificateInfo:
    """What a person wants to know about a server certificate."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    names: tuple[str, ...]
    self_signed: bool

    def seconds_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds()


def read_certificate(der: bytes) -> CertificateInfo:
    """Decode a DER certificate. Raises ValueError when it cannot be parsed."""
    # Imported here: only TLS probes need it, and it costs memory at import.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(name) for name in san.get_values_for_type(x509.DNSName)]
        names += [str(address) for address in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    if not names:
        names = [attr.value for attr in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]  # type: ignore[misc]
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        names=tuple(str(name) for name in names),
        self_signed=cert.issuer == cert.subject,
    )


def expiry_message(info: CertificateInfo, now: datetime) -> str | None:
    """ "certificate expired 3 days ago" / "certificate not valid before ..."; None when in its validity."""
    if now > info.not_after:
        return f"certificate expired {_ago(now - info.not_after)} ago ({info.not_after:%Y-%m-%d %H:%M} UTC)"
    if now < info.not_before:
        return f"certificate not valid until {info.not_before:%Y-%m-%d %H:%M} UTC"
    return None


def _ago(delta: timedelta) -> str:
    days = delta.days
    if days >= 2:
        return f"{days} days"
    if days == 1:
        return "1 day"
    return format_duration(delta)


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
