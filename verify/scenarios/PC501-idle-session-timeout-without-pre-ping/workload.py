"""Two requests through the app's engine, 3.5 s apart (longer than idle_session_timeout)."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from app.db import engine  # noqa: E402
from app.views import latest_orders  # noqa: E402

errors: list[str] = []
results = []
for attempt in range(2):
    try:
        results.append(latest_orders())
    except Exception as exc:
        errors.append(verifykit.error_text(exc))
    if attempt == 0:
        time.sleep(3.5)
engine.dispose()
verifykit.report(errors, f"{len(results)}/2 requests ok after a 3.5 s pause")
