"""16 concurrent requests through PgBouncer, each holding a server connection 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=16, total=48)
