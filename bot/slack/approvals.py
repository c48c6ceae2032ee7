"""Approvals: a review above MMS_APPROVAL_ABOVE (or over a daily limit) becomes a request; an approver other
than the person asking approves it (the send recorded in the decision's transaction, once) or rejects it
with a reason; the person asking may withdraw it; undecided, it expires. Every copy of the request message
then says who decided, when and why, and the person asking is told.
"""

from __future__ import annotations

import json
import logging

from slack_sdk.errors import SlackApiError

from bot.sending.request import request_from_draft
from bot.sending.states import APPROVAL_APPROVED, APPROVAL_REFUSED, APPROVAL_REJECTED, APPROVAL_WITHDRAWN
from bot.slack.blocks import ACTION_APPROVE, ACTION_REJECT, ACTION_WITHDRAW
from bot.slack.kit import count, plain, refusal, tell
from bot.slack.payload import metadata, parse_id, state_values, text_value

log = logging.getLogger(__name__)

CALLBACK_REJECT_REASON = "mms_reject_reason"
EXPIRED = "A request of yours for approval expired: no approver decided in time, so nothing was sent."


def register(app) -> None:
    app.action(ACTION_APPROVE)(approve_clicked)
    app.action(ACTION_REJECT)(reject_clicked)
    app.view(CALLBACK_REJECT_REASON)(reject_reason_submitted)
    app.action(ACTION_WITHDRAW)(withdraw_clicked)


def ask(services, draft_id: str, user: str, draft: dict, why: str) -> int | None:
    """The confirmed review becomes a request (nothing is sent); None when this draft was asked for before."""
    review = draft["review"]
    approval_id = services.store.create_approval(
        draft_id,
        user,
        draft["channel_id"],
        review,
        draft["numbers"],
        draft["media"],
        why,
        services.settings.approval_hours * 3600,
    )
    if approval_id is not None:
        log.info("approval request %d recorded: %d numbers", approval_id, len(draft["numbers"]))
        services.reporter.wake()
    return approval_id


def _pressed(body, services) -> tuple[str, dict | None]:
    """Who pressed a request's button, and the request its value names (None: no such request)."""
    approval_id = parse_id(str(body["actions"][0].get("value", "")))
    return body["user"]["id"], services.store.find_approval(approval_id) if approval_id is not None else None


def _may_decide(services, user: str, approval: dict | None, respond) -> bool:
    approvers = services.settings.approvers_or_admins
    if approval is None:
        tell(respond, "This request is not known (any more); nothing was changed.")
        return False
    if user == approval["requester"]:
        tell(respond, "You asked for this send, so another approver must decide it; nothing was changed.")
        return False
    if user not in approvers:
        tell(
            respond,
            refusal("Only approvers (MMS_APPROVERS) can decide requests; nothing was changed.", user, approvers),
        )
        return False
    return True


def _already(approval: dict) -> str:
    by = f" by <@{approval['decided_by']}>" if approval.get("decided_by") else ""
    return f"This request was already decided: {approval['state']}{by}. Nothing was changed."


def approve_clicked(ack, body, respond, context) -> None:
    """The decision and the send are one transaction: two approvers at once, or a double click, send once."""
    ack()
    services = context["services"]
    user, approval = _pressed(body, services)
    if not _may_decide(services, user, approval, respond):
        return
    requester = approval["requester"]
    if not services.permissions.can_send(requester):
        decided = services.store.decide_approval(
            approval["id"],
            APPROVAL_REFUSED,
            user,
            "the person who asked can no longer send",
            "Your request for approval was not sent: you can no longer send MMS (an admin removed you from the list).",
        )
    else:
        request = request_from_draft(
            f"approval-{approval['id']}",
            requester,
            approval["channel_id"],
            approval["review"],
            approval["numbers"],
            services.store.approval_media(approval["id"]),
        )
        with services.store.transaction() as tx:
            decided = services.store.decide_approval(
                approval["id"],
                APPROVAL_APPROVED,
                user,
                "",
                f"<@{user}> approved your MMS to {count(approval['total'], 'number')}: it is sent (request "
                f"`{approval['id']}`).",
                tx=tx,
            )
            if decided:
                send_id = services.dispatcher.record(request, tx=tx)
                if send_id is not None:
                    services.store.approval_sent(approval["id"], send_id, tx=tx)
    if not decided:
        tell(respond, _already(services.store.find_approval(approval["id"])))
        return
    services.reporter.wake()
    services.dispatcher.wake()


def reject_clicked(ack, body, client, respond, context) -> None:
    """Asks the approver why, in a small form; the request is rejected when they submit it."""
    ack()
    services = context["services"]
    user, approval = _pressed(body, services)
    if not _may_decide(services, user, approval, respond):
        return
    view = {
        "type": "modal",
        "callback_id": CALLBACK_REJECT_REASON,
        "title": plain("Reject"),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"approval_id": approval["id"]}),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": plain("Why (the person who asked is told)"),
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 500},
            }
        ],
    }
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("could not open the rejection form: %s", exc.response.get("error"))


def reject_reason_submitted(ack, body, context) -> None:
    services = context["services"]
    user = body["user"]["id"]
    approval_id = metadata(body["view"]).get("approval_id")
    approval = services.store.find_approval(approval_id) if type(approval_id) is int else None
    reason = " ".join((text_value(state_values(body["view"]), "reason") or "").split())
    if not reason:
        ack(response_action="errors", errors={"reason": "Say why, for the person who asked."})
        return
    approvers = services.settings.approvers_or_admins
    if approval is None or user == approval["requester"] or user not in approvers:
        ack(response_action="errors", errors={"reason": "You cannot decide this request; nothing was changed."})
        return
    decided = services.store.decide_approval(
        approval["id"],
        APPROVAL_REJECTED,
        user,
        reason,
        f"<@{user}> rejected your MMS to {count(approval['total'], 'number')} (request `{approval['id']}`): "
        f"{reason[:500]}. Nothing was sent.",
    )
    if not decided:
        ack(response_action="errors", errors={"reason": _already(services.store.find_approval(approval["id"]))})
        return
    services.reporter.wake()
    ack(response_action="clear")


def withdraw_clicked(ack, body, respond, context) -> None:
    ack()
    services = context["services"]
    user, approval = _pressed(body, services)
    if approval is None or approval["requester"] != user:
        tell(respond, "Only the person who asked can withdraw a request.")
        return
    if not services.store.decide_approval(approval["id"], APPROVAL_WITHDRAWN, user, "", "You withdrew your request."):
        tell(respond, _already(services.store.find_approval(approval["id"])))
        return
    services.reporter.wake()


def expire(store) -> int:
    """Every 5 s: requests nobody decided in time expire (their messages and requesters are told)."""
    return len(store.expire_approvals(EXPIRED))
