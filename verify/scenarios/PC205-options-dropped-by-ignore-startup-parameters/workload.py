"""Checks through the app's engine that statements time out after 1.5 s, as the app wants."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from sqlalchemy import text  # noqa: E402

from app.db import engine  # noqa: E402

with engine.connect() as conn:
    value = conn.execute(text("SHOW statement_timeout")).scalar_one()
engine.dispose()
errors = [] if value == "1500ms" else [
    f"SHOW statement_timeout returned {value} (the server default), the app wants 1500ms"
]
verifykit.report(errors, f"SHOW statement_timeout = {value}")
