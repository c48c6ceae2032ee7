"""Who may send, and every change to that, audited."""

from __future__ import annotations

from bot.store.base import Aggregate
from bot.store.engine import Tx


class Allowlist(Aggregate):
    def is_allowed(self, user_id: str, *, tx: Tx | None = None) -> bool:
        with self._read(tx) as tx:
            return tx.one("SELECT 1 FROM allowlist WHERE user_id = :user", {"user": user_id}) is not None

    def allow(self, user_id: str, actor: str, *, tx: Tx | None = None) -> bool:
        """Returns False when the user was already on the list (the attempt is still audited)."""
        with self._tx(tx) as tx:
            added = (
                tx.one(
                    "INSERT INTO allowlist (user_id, added_by, added_at) VALUES (:user, :actor, :at)"
                    " ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
                    {"user": user_id, "actor": actor, "at": tx.now_iso},
                )
                is not None
            )
            self._audit(tx, "allow" if added else "allow (already listed)", user_id, actor)
        return added

    def revoke(self, user_id: str, actor: str, *, tx: Tx | None = None) -> bool:
        with self._tx(tx) as tx:
            removed = (
                tx.one("DELETE FROM allowlist WHERE user_id = :user RETURNING user_id", {"user": user_id}) is not None
            )
            self._audit(tx, "revoke" if removed else "revoke (not listed)", user_id, actor)
        return removed

    def allowed_users(self, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts("SELECT user_id, added_by, added_at FROM allowlist ORDER BY added_at")

    def audit(self, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts("SELECT action, user_id, actor, at FROM allowlist_audit ORDER BY id")

    @staticmethod
    def _audit(tx: Tx, action: str, user_id: str, actor: str) -> None:
        tx.execute(
            "INSERT INTO allowlist_audit (action, user_id, actor, at) VALUES (:action, :user, :actor, :at)",
            {"action": action, "user": user_id, "actor": actor, "at": tx.now_iso},
        )
