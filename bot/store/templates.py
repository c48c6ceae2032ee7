"""Saved message templates: a name unique whatever its case, the text with its placeholders, who saved it
and when; every save and delete audited (in the same transaction as the change)."""

from __future__ import annotations

from bot.store.base import Aggregate
from bot.store.engine import Tx

_COLUMNS = "id, name, text, created_by, created_at"


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


class Templates(Aggregate):
    def save_template(self, name: str, text: str, actor: str, *, tx: Tx | None = None) -> bool:
        """False when the name is taken (``ON CONFLICT``: two people saving one name at once get one template)."""
        with self._tx(tx) as tx:
            saved = (
                tx.one(
                    "INSERT INTO templates (name, name_key, text, created_by, created_at)"
                    " VALUES (:name, :key, :text, :actor, :at) ON CONFLICT (name_key) DO NOTHING RETURNING id",
                    {"name": name, "key": name_key(name), "text": text, "actor": actor, "at": tx.now_iso},
                )
                is not None
            )
            self._audit_template(tx, "save" if saved else "save (name taken)", name, text, actor)
        return saved

    def delete_template(self, template_id: int, actor: str, *, tx: Tx | None = None) -> dict | None:
        """The template deleted, or None when there was none."""
        with self._tx(tx) as tx:
            rows = tx.dicts(f"DELETE FROM templates WHERE id = :id RETURNING {_COLUMNS}", {"id": template_id})
            if rows:
                self._audit_template(tx, "delete", rows[0]["name"], rows[0]["text"], actor)
        return rows[0] if rows else None

    def list_templates(self, limit: int = 100, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts(f"SELECT {_COLUMNS} FROM templates ORDER BY name_key LIMIT :limit", {"limit": limit})

    def find_template(self, template_id: int, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts(f"SELECT {_COLUMNS} FROM templates WHERE id = :id", {"id": template_id})
        return rows[0] if rows else None

    def template_named(self, name: str, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts(f"SELECT {_COLUMNS} FROM templates WHERE name_key = :key", {"key": name_key(name)})
        return rows[0] if rows else None

    def template_audit(self, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts("SELECT action, name, text, actor, at FROM template_audit ORDER BY id")

    @staticmethod
    def _audit_template(tx: Tx, action: str, name: str, text: str, actor: str) -> None:
        tx.execute(
            "INSERT INTO template_audit (action, name, text, actor, at) VALUES (:action, :name, :text, :actor, :at)",
            {"action": action, "name": name, "text": text, "actor": actor, "at": tx.now_iso},
        )
