"""SMTP probe: 220 greeting, EHLO extensions, STARTTLS (RFC 3207) or implicit TLS (RFC 8314), QUIT.

`[BANNER]` is the greeting's text after the code (`mail.acme.test ESMTP Postfix`),
`[CAPABILITIES]` the EHLO keywords (`PIPELINING SIZE 10240000 STARTTLS ...`), as
offered after STARTTLS when TLS is used (servers often add AUTH only then).
"""

from __future__ import annotations

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.mail import MAX_LINES, MailProblem, MailSession, probe_mail, require_tls_offer
from shared.checks import SmtpCheck


@register("smtp")
async def probe_smtp(check: SmtpCheck, context: ProbeContext) -> Outcome:
    """Up when the server greets with 220, answers EHLO and (if asked) upgrades to trusted TLS."""

    async def dialogue(session: MailSession) -> None:
        code, lines = await _reply(session)
        session.seen.banner = lines[0] if lines else ""
        if code != 220:
            raise MailProblem(f"SMTP greeting was {code}, expected 220: {session.seen.banner[:200]}")
        session.seen.capabilities = await _ehlo(session, check.helo_name)
        if check.tls == "starttls":
            require_tls_offer(session, "STARTTLS" in session.seen.capabilities, "STARTTLS")
            await session.send("STARTTLS")
            code, lines = await _reply(session)
            if code != 220:
                raise MailProblem(f"SMTP STARTTLS answered {code}: {(lines or [''])[-1][:200]}")
            await session.start_tls()
            session.seen.capabilities = await _ehlo(session, check.helo_name)
        await session.send("QUIT")

    return await probe_mail(check, context, dialogue)


async def _ehlo(session: MailSession, helo_name: str) -> list[str]:
    await session.send(f"EHLO {helo_name}")
    code, lines = await _reply(session)
    if code != 250:
        raise MailProblem(f"SMTP EHLO answered {code}: {(lines or [''])[-1][:200]}")
    # The first line names the server; each further line is one extension ("AUTH PLAIN LOGIN").
    return [word.upper() for line in lines[1:] for word in line.split()]


async def _reply(session: MailSession) -> tuple[int, list[str]]:
    """One (possibly multi-line) reply: its code and the text of each line."""
    texts: list[str] = []
    while len(texts) < MAX_LINES:
        line = await session.line()
        if len(line) < 3 or not line[:3].isdigit():
            raise MailProblem(f"not an SMTP reply: {line[:80]!r}")
        texts.append(line[4:])
        if len(line) == 3 or line[3] != "-":
            return int(line[:3]), texts
    raise MailProblem(f"the SMTP reply is longer than {MAX_LINES} lines")
