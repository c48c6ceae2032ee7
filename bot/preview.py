"""``mms-bot preview``: what people will see, before the app is installed. Sample data goes through the
same code that renders the real views and messages (a throwaway store, no Slack, no Cellcast), and
each comes out as a Block Kit Builder link to open in a browser."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

from bot.sending import outcomes as o
from bot.sending.contact_files import FileSource
from bot.sending.contacts import Rejected
from bot.sending.dry_run import DryRunGateway
from bot.sending.permissions import Permissions
from bot.sending.review import Balance, Review
from bot.sending.summary import summarise

BUILDER = "https://app.slack.com/block-kit-builder/#"
SAMPLE_ADMIN = "U0PREVIEW1"


def builder_link(payload: dict) -> str:
    """A Block Kit Builder link: a modal or home view as it is, a message as its blocks."""
    return BUILDER + quote(json.dumps(payload, separators=(",", ":")), safe="")


def samples() -> dict[str, dict]:
    """Name → the view or message payload, made by the bot's own renderers from sample data."""
    from bot.slack.blocks import channel_message, thread_summary
    from bot.slack.home import home_view
    from bot.slack.views import review_view, send_form
    from bot.store import Store

    numbers = [f"4{i:08d}" for i in range(12_000_000, 12_001_234)]
    review = Review(
        message="Our spring sale starts Saturday: 20% off everything in store.\nReply STOP to opt out",
        sender="Acme",
        gif_url=None,
        media=None,
        numbers=numbers,
        typed=0,
        from_file=len(numbers),
        file_source=FileSource("customers.csv", "CSV", 1_240, 2, "Mobile"),
        rejected=[
            Rejected("0412 34", "too short for a mobile number", "row 17"),
            Rejected("02 9999 0000", "a landline, not a mobile", "row 88"),
        ],
        duplicates=3,
        suppressed=[("412000099", "replied “STOP”")],
        balance=Balance(5_000.0),
        credits_per_mms=1.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "preview.db"))
        send_id = store.create_send(
            {
                "view_id": "preview",
                "user_id": SAMPLE_ADMIN,
                "channel_id": "C0PREVIEW",
                "message": review.message,
                "sender": "Acme",
            },
            None,
            [numbers[:1000], numbers[1000:]],
            [o.NumberOutcome("0412 34 (row 17)", o.INVALID, "too short for a mobile number")],
        )
        for _ in range(2):
            batch = store.claim_next_batch("preview", 60)
            store.finish_batch(
                batch.id,
                "queued",
                o.all_of(batch.contacts, o.QUEUED, "")
                if batch.seq == 0
                else o.all_of(batch.contacts, o.UNKNOWN, "No answer from the gateway — outcome unknown."),
                owner="preview",
            )
        summary = summarise(store, send_id)
        services = SimpleNamespace(
            store=store,
            permissions=Permissions(store, frozenset({SAMPLE_ADMIN})),
            gateway=DryRunGateway(),
            settings=SimpleNamespace(dry_run=True),
        )
        home = home_view(services, SAMPLE_ADMIN)
        store.close()
    _, channel_blocks = channel_message(summary)
    thread_blocks = thread_summary(summary).blocks
    return {
        "the form (/mms)": send_form("C0PREVIEW"),
        "the review": review_view("preview", review),
        "the channel message": {"blocks": channel_blocks},
        "the thread summary": {"blocks": thread_blocks},
        "the App Home": home,
    }


def main() -> int:
    for name, payload in samples().items():
        print(f"{name}:\n  {builder_link(payload)}\n")
    print("Open each link in a browser signed in to Slack (Block Kit Builder shows it as people will see it).")
    return 0
