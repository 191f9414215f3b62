"""16 concurrent requests (2 per thread), each holding a pooled connection 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/orders", concurrency=16, total=48)
