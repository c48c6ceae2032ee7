"""The store: one package, one module per aggregate, one seam per engine.

``Store(DATABASE_URL)`` opens SQLite (``sqlite:///path``, through sqlite-utils: the embedded default)
or PostgreSQL (``postgresql://…``, psycopg 3 + psycopg_pool: several instances on several machines),
applies the migrations, and offers every aggregate's operations. Each takes ``tx=``: callers open
``store.transaction()`` to make several of them one transaction (a reply and its suppression), or
leave it out for a transaction of its own.

Concurrency rules, each true on both engines and tested on both (tests/store/):

1. **One claimer per batch; a loser gets the next batch.** The claim is one
   ``UPDATE … WHERE id = (SELECT … LIMIT 1 <claim_suffix>) AND state = 'pending' RETURNING``:
   PostgreSQL's ``FOR UPDATE SKIP LOCKED`` passes over a row another claimer holds; SQLite's
   ``BEGIN IMMEDIATE`` admits one writer, so the loser waits and then sees the winner's claim.
   Only batches of *open* sends are claimed: a scheduled send's wait until it is due.
2. **A send's reports go out in order, by one process.** A claimer takes all due reports of one send
   and none while another live owner holds one of them; the claim locks the send's row first
   (``FOR UPDATE``; SQLite: the write lock) and re-checks under it.
3. **The suppression copy never skips an entry.** Changes carry a version from one counter row whose
   lock is held to commit, so versions commit in order; the copy follows ``version > seen``.
4. **Duplicate inserts are ``ON CONFLICT``**, never a caught error (PostgreSQL aborts the transaction).
5. **One clock.** Leases, due times and timestamps come from the transaction's ``now``: the database's
   clock on PostgreSQL (hosts' clocks differ), the host's on SQLite, or a clock tests inject.
6. **One rate limit for the account**: a sliding log of call starts in one row, changed under its
   lock (``FOR UPDATE``; SQLite: the write lock) on the database's clock (``rate.py``).
7. **A multi-step change is one transaction**: a batch's finish, the send's counts and the summary
   due; a claim and the send's turn; a reply, its suppression and its report due.
8. **A reply is recorded once** whether the poll, the webhook or both bring it: looking for its twin
   and inserting it run under a lock on the number (PostgreSQL: an advisory lock, ``Tx.serialise``;
   SQLite: the write lock), so two processes cannot both miss each other (``replies.py``).
9. **A scheduled send starts once or is cancelled, never both**: both are ``UPDATE sends … WHERE
   state = 'scheduled'``; the first to commit wins, the other finds nothing to change (``schedules.py``).
10. **An approval request is decided once**, and an approved one's send is recorded in the decision's
    transaction (``approvals.py``).
11. **A Workflow Builder step's review is decided once** (Send, Cancel, or expiry): each is ``UPDATE steps
    … WHERE state = 'reviewing'``, and Send records its send (or approval request) in that transaction; the
    step finishes in the transaction that finishes its send or decides its request (``steps.py``).
"""

from __future__ import annotations

from bot.store.allowlist import Allowlist
from bot.store.approvals import Approvals
from bot.store.batches import Batches
from bot.store.clock import Clock
from bot.store.delivery import Delivery
from bot.store.drafts import Drafts
from bot.store.engine import Engine, StoreError, Tx, open_engine
from bot.store.instances import Instances
from bot.store.migrations import migrate
from bot.store.outbox import Outbox
from bot.store.rate import RateLog
from bot.store.replies import Replies
from bot.store.retention import Retention
from bot.store.schedules import Schedules
from bot.store.sends import Sends
from bot.store.steps import Steps
from bot.store.suppression import Suppression
from bot.store.sync_state import SyncState
from bot.store.templates import Templates

__all__ = ["Store", "StoreError", "Tx", "database_url"]


def database_url(value: str) -> str:
    """A bare file path (``DATABASE_PATH``) is a SQLite URL."""
    return value if "://" in value else f"sqlite:///{value}"


class Store(
    Instances,
    Allowlist,
    Drafts,
    Sends,
    Schedules,
    Batches,
    Delivery,
    Outbox,
    Suppression,
    Replies,
    SyncState,
    Retention,
    RateLog,
    Templates,
    Approvals,
    Steps,
):
    """Every aggregate's operations over one engine (the aggregates are the modules beside this one)."""

    def __init__(self, url: str, *, clock: Clock | None = None, pool_size: int = 20) -> None:
        Suppression.__init__(self)
        self.url = database_url(url)
        self.engine: Engine = open_engine(self.url, clock, pool_size)
        try:
            migrate(self.engine)
        except StoreError:
            raise
        except Exception as exc:
            self.engine.close()
            hint = "DATABASE_URL" if self.engine.dialect.name == "postgresql" else "DATABASE_URL or DATABASE_PATH"
            raise StoreError(f"cannot open or write {self.engine.description} ({exc}); check {hint}") from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.close()
