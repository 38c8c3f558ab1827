"""IMAP probe: untagged OK greeting, CAPABILITY, STARTTLS (RFC 9051 §6.2.1) or implicit TLS, LOGOUT.

`[BANNER]` is the greeting's text (`[CAPABILITY ...] Dovecot ready.` included as
sent), `[CAPABILITIES]` the words of the CAPABILITY answer (`IMAP4REV1 STARTTLS
AUTH=PLAIN ...`), asked again after STARTTLS. A `* BYE` greeting (server busy
or refusing) is down with its text; `* PREAUTH` counts as a greeting.
"""

from __future__ import annotations

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.mail import MAX_LINES, MailProblem, MailSession, probe_mail, require_tls_offer
from shared.checks import ImapCheck


@register("imap")
async def probe_imap(check: ImapCheck, context: ProbeContext) -> Outcome:
    """Up when the server greets with OK (or PREAUTH), lists capabilities and (if asked) upgrades to TLS."""

    async def dialogue(session: MailSession) -> None:
        greeting = await session.line()
        status, _, text = greeting.removeprefix("* ").partition(" ")
        session.seen.banner = text
        if not greeting.startswith("* ") or status.upper() not in ("OK", "PREAUTH"):
            raise MailProblem(f"IMAP greeting was not OK: {greeting[:200]!r}")
        session.seen.capabilities = await _capability(session, "a1")
        if check.tls == "starttls":
            require_tls_offer(session, "STARTTLS" in session.seen.capabilities, "STARTTLS")
            await _command(session, "a2", "STARTTLS")
            await session.start_tls()
            session.seen.capabilities = await _capability(session, "a3")
        await session.send("a4 LOGOUT")

    return await probe_mail(check, context, dialogue)


async def _capability(session: MailSession, tag: str) -> list[str]:
    untagged = await _command(session, tag, "CAPABILITY")
    for line in untagged:
        if line.upper().startswith("* CAPABILITY "):
            return [word.upper() for word in line.split()[2:]]
    raise MailProblem("the IMAP server sent no CAPABILITY list")


async def _command(session: MailSession, tag: str, command: str) -> list[str]:
    """Send a tagged command; return its untagged lines. Raises MailProblem unless it ends in OK."""
    await session.send(f"{tag} {command}")
    untagged: list[str] = []
    while len(untagged) < MAX_LINES:
        line = await session.line()
        if line.startswith(f"{tag} "):
            status, _, text = line[len(tag) + 1 :].partition(" ")
            if status.upper() != "OK":
                raise MailProblem(f"IMAP {command} answered {status}: {text[:200]}")
            return untagged
        untagged.append(line)
    raise MailProblem(f"the IMAP answer to {command} is longer than {MAX_LINES} lines")
