"""Where the open data shipped beside the repository lives (`../shared/data/` by default;
SHARED_DATA_DIR overrides it, e.g. for a worktree elsewhere)."""
from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def shared_data_dir() -> Path:
    configured = os.environ.get("SHARED_DATA_DIR")
    return Path(configured) if configured else Path(settings.BASE_DIR).parent / "shared" / "data"


def saga_5374_dir() -> Path:
    return shared_data_dir() / "5374-saga"
