"""SMTP sending: a small pool of connections to the relay in `[smtp]`, reused across mails.

Opening a connection (and STARTTLS, and AUTH) costs more than a mail, so a
connection is kept and reused; a relay that dropped an idle connection gets
one reconnect. Errors become DeliveryError with the retry decision: a 5xx on
the recipient (unknown user) is permanent and disables that address; 4xx,
network trouble and a refused login are temporary (the relay or the config
can recover).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

from statuspage.notify.delivery_error import DeliveryError
from statuspage.settings import SmtpConfig


class SmtpPool:
    """Thread-safe: at most `config.max_connections` connections, each used by one thread at a time."""

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._slots = threading.BoundedSemaphore(config.max_connections)
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    async def send_async(self, message: Message | str, recipients: list[str]) -> None:
        """`send` on one of the pool's own threads, one per connection.

        Not asyncio's default executor: it has min(32, cores + 4) threads (6 on two
        cores), fewer than `max_connections` may be, and apprise sends share it.
        """
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.config.max_connections, thread_name_prefix="smtp")
            executor = self._executor
        await asyncio.get_running_loop().run_in_executor(executor, self.send, message, recipients)

    def send(self, message: Message | str, recipients: list[str]) -> None:
        """Send one message (a Message, or an already flattened ASCII one from
        `[smtp].from_address`); raise DeliveryError on failure."""
        if not self.config.host:
            raise DeliveryError("smtp.host is not configured")
        with self._slots:
            connection = self._take()
            try:
                try:
                    refused = self._send_on(connection, message, recipients)
                except smtplib.SMTPServerDisconnected:
                    # The relay closed an idle connection: one fresh try.
                    _close(connection)
                    connection = self._open()
                    refused = self._send_on(connection, message, recipients)
            except smtplib.SMTPRecipientsRefused as error:
                self._give_back(connection)
                raise _recipients_error(error.recipients) from None
            except smtplib.SMTPResponseException as error:
                _close(connection)
                raise _response_error(error) from None
            except (smtplib.SMTPException, OSError) as error:
                _close(connection)
                raise DeliveryError(f"SMTP: {error!r}") from None
            self._give_back(connection)
        if refused and len(refused) == len(recipients):
            raise _recipients_error(refused)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        for connection in idle:
            _close(connection)

    def _send_on(
        self, connection: smtplib.SMTP, message: Message | str, recipients: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        if isinstance(message, str):  # smtplib turns its line ends into CRLF
            return connection.sendmail(self.config.from_address, recipients, message)
        return connection.send_message(message, to_addrs=recipients)

    def _take(self) -> smtplib.SMTP:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self._open()
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError("SMTP: the relay refused smtp.username/smtp.password") from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"SMTP: cannot connect to {self.config.host}:{self.config.port}: {error!r}"
            ) from None

    def _give_back(self, connection: smtplib.SMTP) -> None:
        with self._lock:
            self._idle.append(connection)

    def _open(self) -> smtplib.SMTP:
        config = self.config
        host = str(config.host)
        connection: smtplib.SMTP
        # Certificates are always verified; ca_file adds a private CA (an internal relay).
        context = ssl.create_default_context(cafile=config.ca_file)
        if config.security == "tls":
            connection = smtplib.SMTP_SSL(host, config.port, timeout=config.timeout_s, context=context)
        else:
            connection = smtplib.SMTP(host, config.port, timeout=config.timeout_s)
            if config.security == "starttls":
                connection.starttls(context=context)
        if config.username is not None and config.password is not None:
            if config.security == "none" and not config.allow_unencrypted_auth:
                # Validation refuses this config; a pool built past it must not leak the password.
                connection.close()
                raise smtplib.SMTPException(
                    "refusing SMTP AUTH over an unencrypted connection (smtp.allow_unencrypted_auth is false)"
                )
            connection.login(config.username, config.password)
        return connection


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _recipients_error(refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
    code, text = next(iter(refused.values()))
    detail = f"SMTP {code} for the recipient: {text.decode(errors='replace')[:200]}"
    return DeliveryError(detail, disable=code >= 500)


def _response_error(error: smtplib.SMTPResponseException) -> DeliveryError:
    detail = f"SMTP {error.smtp_code}: {_text(error.smtp_error)[:200]}"
    # A refused sender or login is the relay's or the config's problem, not this mail's: retry.
    permanent = error.smtp_code >= 500 and not isinstance(
        error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError
    )
    return DeliveryError(detail, permanent=permanent)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
