"""POP3 probe: +OK greeting, CAPA (RFC 2449), STLS (RFC 2595) or implicit TLS, QUIT.

`[BANNER]` is the greeting's text after `+OK` (`Dovecot ready.`),
`[CAPABILITIES]` the CAPA lines' words (`TOP UIDL SASL PLAIN STLS ...`), asked
again after STLS. A server without CAPA (RFC 1939 only) has an empty list, and
with `tls = "starttls"` is down: it cannot say it offers STLS.
"""

from __future__ import annotations

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.mail import MAX_LINES, MailProblem, MailSession, probe_mail, require_tls_offer
from shared.checks import Pop3Check


@register("pop3")
async def probe_pop3(check: Pop3Check, context: ProbeContext) -> Outcome:
    """Up when the server greets with +OK, lists its capabilities and (if asked) upgrades to TLS."""

    async def dialogue(session: MailSession) -> None:
        greeting = await session.line()
        if not greeting.startswith("+OK"):
            session.seen.banner = greeting
            raise MailProblem(f"POP3 greeting was not +OK: {greeting[:200]!r}")
        session.seen.banner = greeting[3:].strip()
        session.seen.capabilities = await _capa(session)
        if check.tls == "starttls":
            require_tls_offer(session, "STLS" in session.seen.capabilities, "STLS")
            await session.send("STLS")
            answer = await session.line()
            if not answer.startswith("+OK"):
                raise MailProblem(f"POP3 STLS answered {answer[:200]!r}")
            await session.start_tls()
            session.seen.capabilities = await _capa(session)
        await session.send("QUIT")

    return await probe_mail(check, context, dialogue)


async def _capa(session: MailSession) -> list[str]:
    await session.send("CAPA")
    answer = await session.line()
    if not answer.startswith("+OK"):
        return []  # RFC 1939 servers answer -ERR: no capabilities to tell
    words: list[str] = []
    for _ in range(MAX_LINES):
        line = await session.line()
        if line == ".":
            return words
        words += [word.upper() for word in line.split()]
    raise MailProblem(f"the POP3 CAPA list is longer than {MAX_LINES} lines")
