"""A full disk, for real: a SQLite file on a small tmpfs the test mounts (skipped where mounting is not allowed)."""

import os
import subprocess
import uuid

import pytest

from bot.store import Store, StoreError


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk) -> None:
    with open(disk / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass


def test_writes_refused_by_a_full_disk_show_in_health_and_succeed_once_space_is_back(small_disk):
    store = Store(f"sqlite:///{small_disk / 'bot.db'}")
    store.suppress("400000000", "admin", "first", "U1")
    fill(small_disk)
    failures = 0
    for i in range(60):  # the WAL has some room left: writes fail once it must grow
        try:
            store.suppress(f"4000001{i:02d}", "admin", uuid.uuid4().hex * 8, "U1")
        except Exception:
            failures += 1
    assert failures
    with pytest.raises(StoreError, match="full"):
        store.check_writable()
    os.unlink(small_disk / "filler")
    store.suppress("400000999", "admin", "after", "U1")  # the same thread's connection works again
    store.check_writable()
    assert store.suppression_entry("400000999") is not None
    store.close()
