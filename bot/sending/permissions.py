"""Who may send: admins named in configuration, plus users an admin allowed (kept in the store)."""

from __future__ import annotations

from typing import Protocol


class NotAdmin(PermissionError):
    pass


class AllowlistStore(Protocol):
    def is_allowed(self, user_id: str) -> bool: ...
    def allow(self, user_id: str, actor: str) -> bool: ...
    def revoke(self, user_id: str, actor: str) -> bool: ...
    def allowed_users(self) -> list[dict]: ...


class Permissions:
    def __init__(self, store: AllowlistStore, admins: frozenset[str]) -> None:
        self._store = store
        self.admins = admins

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins

    def can_send(self, user_id: str) -> bool:
        return self.is_admin(user_id) or self._store.is_allowed(user_id)

    def allow(self, actor: str, user_id: str) -> bool:
        self._require_admin(actor)
        return self._store.allow(user_id, actor)

    def revoke(self, actor: str, user_id: str) -> bool:
        """Admins from configuration cannot be revoked here: they are not on the stored list."""
        self._require_admin(actor)
        return self._store.revoke(user_id, actor)

    def allowed_users(self, actor: str) -> list[dict]:
        self._require_admin(actor)
        return self._store.allowed_users()

    def _require_admin(self, actor: str) -> None:
        if not self.is_admin(actor):
            raise NotAdmin(actor)
