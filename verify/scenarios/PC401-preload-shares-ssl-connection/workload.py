"""32 concurrent requests (8 rounds) across the 4 preloaded workers, each running 3 queries."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

# A worker that dies mid-request answers nothing: its log names the protocol error.
verifykit.http_scenario(
    "/report", concurrency=32, total=128,
    log_errors=r"SSL|bad record mac|server closed the connection|lost synchronization|Worker \(pid:\d+\) was sent",
)
