"""Opening the store: the warning for databases on network filesystems."""

from __future__ import annotations

import logging
from pathlib import Path

from xmr_tui.store import Store
from xmr_tui.store import database

MOUNTS = """/dev/vda / ext4 rw,relatime 0 0
server:/export /work nfs4 rw,relatime 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
"""


def test_filesystem_type_uses_longest_whole_mount(tmp_path: Path):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)

    assert database.filesystem_type(Path("/work/project/experiments.db"), mounts) == "nfs4"
    assert database.filesystem_type(Path("/workspace/experiments.db"), mounts) == "ext4"
    assert database.filesystem_type(Path("/mnt/my share/experiments.db"), mounts) == "cifs"
    assert database.filesystem_type(Path("/x.db"), tmp_path / "missing") is None


def test_network_filesystem_store_logs_warning(tmp_path: Path, monkeypatch, caplog):
    monkeypatch.setattr(database, "filesystem_type", lambda path: "nfs4")

    with caplog.at_level(logging.WARNING, logger="xmr_tui.store.database"):
        Store(tmp_path / "experiments.db")

    assert "is on a network filesystem (nfs4)" in caplog.text


def test_local_store_logs_no_warning(tmp_path: Path, caplog):
    with caplog.at_level(logging.WARNING, logger="xmr_tui.store.database"):
        Store(tmp_path / "experiments.db")

    assert "network filesystem" not in caplog.text
