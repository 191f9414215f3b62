"""Records 10 page views through the app's engine."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from app.db import engine  # noqa: E402
from app.views import record_view  # noqa: E402

errors: list[str] = []
done = 0
for page in range(10):
    try:
        record_view(page)
        done += 1
    except Exception as exc:
        errors.append(verifykit.error_text(exc))
engine.dispose()
verifykit.report(errors, f"{done}/10 views recorded")
