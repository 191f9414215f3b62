"""Saturates every worker's pool: 48 concurrent requests that each hold a connection for 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=48, total=240)
