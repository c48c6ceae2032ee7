"""What a person sees when a listener fails: a clear answer, never Slack's generic error for a 500.

Bolt answers 500 when a listener raises before it acknowledged; this handler turns that into the
answer Slack shows well for each kind of request (an updated modal, an ephemeral line, a quiet ack),
and logs the error with the kind of request (never the payload: it may hold numbers and messages).
"""

from __future__ import annotations

import json
import logging

from slack_bolt import BoltResponse

from bot.slack.views import notice_view

log = logging.getLogger(__name__)

SORRY = "Something went wrong in the bot (the error is logged for its operators). Nothing was sent. Run `/mms` again."


def register(app) -> None:
    app.error(listener_failed)


def listener_failed(error: Exception, body: dict, response: BoltResponse | None) -> BoltResponse:
    body = body if isinstance(body, dict) else {}
    kind = str(body.get("type") or ("slash_command" if body.get("command") else "unknown"))[:40]
    log.error("a %s listener failed", kind, exc_info=(type(error), error, error.__traceback__))
    if kind == "view_submission":
        answer = {"response_action": "update", "view": notice_view("Not sent", SORRY)}
    elif kind == "slash_command":
        answer = {"response_type": "ephemeral", "text": SORRY}
    else:
        answer = None
    body_text = json.dumps(answer) if answer else ""
    headers = {"content-type": ["application/json;charset=utf-8"]} if answer else {}
    if response is None:
        return BoltResponse(status=200, body=body_text, headers=headers)
    response.status, response.body, response.headers = 200, body_text, headers
    return response
