"""Loads the project's settings and runs one query through Django's connection."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
try:
    import mysite.wsgi  # noqa: F401  (django.setup() with the project's settings)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        value = cursor.fetchone()[0]
    connection.close()
    if connection.pool is not None:
        connection.close_pool()
except Exception as exc:
    verifykit.report([verifykit.error_text(exc)], "no query ran")
else:
    verifykit.report([], f"query through the Django pool returned {value}")
