"""The experiment store: SQLModel tables in SQLite (WAL), migrations, and run records."""

from xmr_tui.store.database import Store, default_db_path
from xmr_tui.store.models import Run, RunStatus

__all__ = ["Run", "RunStatus", "Store", "default_db_path"]
