"""Saturates every worker's pool through PgBouncer: 24 concurrent requests holding 0.5 s each."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=24, total=72)
