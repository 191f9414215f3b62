"""8 concurrent requests against 2 sync workers, each holding a connection 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=8, total=16)
