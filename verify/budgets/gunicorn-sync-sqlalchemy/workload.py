"""6 concurrent report requests (2 per worker), each holding both of its worker's connections 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/report", concurrency=6, total=24)
