"""16 concurrent requests holding a connection 0.5 s each, against 2 workers × 4 threads."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=16, total=32, timeout=8)
