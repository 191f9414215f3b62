"""Keeps all 8 threads of the worker busy: 8 concurrent requests holding a connection for 0.5 s."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.http_scenario("/work", concurrency=8, total=32)
