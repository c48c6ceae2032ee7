"""Every number of a send ends in exactly one outcome; this module decides which.

The gateway's answer is not trusted to be complete or tidy: a number it does not mention is
"not confirmed" (it may or may not have been queued), a number it mentions twice counts once, and
a number it mentions that was not sent is logged and ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.sending.contacts import national_or_none
from bot.sending.gateway import GatewayResult

log = logging.getLogger(__name__)

# Outcomes, in the order the summary lists them.
QUEUED = "queued"
INVALID = "invalid"  # refused before sending (not a mobile number)
REJECTED = "rejected"  # refused by the gateway as invalid
UNSUBSCRIBED = "unsubscribed"  # the gateway has the number as unsubscribed
SUPPRESSED = "suppressed"  # on the bot's suppression list: never sent
UNCONFIRMED = "unconfirmed"  # sent in a batch the gateway answered, but the answer did not mention it
FAILED = "failed"  # the batch was refused: nothing queued
UNKNOWN = "unknown"  # the batch's request left and no answer came
EXPIRED = "expired"  # never sent: the bot was down too long
OUTCOMES = (QUEUED, INVALID, REJECTED, UNSUBSCRIBED, SUPPRESSED, UNCONFIRMED, FAILED, UNKNOWN, EXPIRED)
# Outcomes a person may choose to send again ("Send again" button): nothing is known to have arrived.
RESENDABLE = (UNCONFIRMED, FAILED, UNKNOWN, EXPIRED)

NOT_CONFIRMED = "The gateway's answer did not mention this number: it may or may not have been sent."


@dataclass(frozen=True)
class NumberOutcome:
    number: str
    outcome: str
    reason: str = ""
    message_id: str = ""


def account(sent: list[str], result: GatewayResult, *, where: str = "") -> list[NumberOutcome]:
    """One outcome for each number sent, in the order sent, from the gateway's answer."""
    queued: dict[str, str] = {}
    for item in result.queued:
        queued.setdefault(item.number, item.message_id)
    unsubscribed = set(result.unsubscribed)
    invalid: dict[str, str] = {}
    for item in result.invalid:
        invalid.setdefault(national_or_none(item.contact) or item.contact, item.error or item.error_type or "not valid")
    sent_set = set(sent)
    strays = (set(queued) | unsubscribed | set(invalid)) - sent_set
    if strays:
        log.warning(
            "%s: the gateway's answer named %d number(s) that were not sent in it; ignored",
            where or "a batch",
            len(strays),
        )
    outcomes = []
    for number in sent:
        if number in queued:
            outcomes.append(NumberOutcome(number, QUEUED, "", queued[number]))
        elif number in unsubscribed:
            outcomes.append(NumberOutcome(number, UNSUBSCRIBED, "Cellcast has this number as unsubscribed."))
        elif number in invalid:
            outcomes.append(NumberOutcome(number, REJECTED, f"refused by the gateway: {invalid[number]}"))
        else:
            outcomes.append(NumberOutcome(number, UNCONFIRMED, NOT_CONFIRMED))
    missing = sum(o.outcome == UNCONFIRMED for o in outcomes)
    if missing:
        log.warning(
            "%s: the gateway's answer did not mention %d of %d number(s)", where or "a batch", missing, len(sent)
        )
    return outcomes


def all_of(numbers: list[str], outcome: str, reason: str) -> list[NumberOutcome]:
    return [NumberOutcome(n, outcome, reason) for n in numbers]


def tally(outcomes: list[NumberOutcome]) -> dict[str, int]:
    """How many numbers ended in each outcome, in the order OUTCOMES names them."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    for item in outcomes:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return {outcome: n for outcome, n in counts.items() if n}
