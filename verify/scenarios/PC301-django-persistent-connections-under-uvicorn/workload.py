"""Two rounds of 3 then 9 requests to the uvicorn server; counts the connections left open after each."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402
import psycopg  # noqa: E402

directory = verifykit.variant()


def open_connections() -> int:
    time.sleep(0.5)
    with psycopg.connect("host=127.0.0.1 port=25432 dbname=postgres user=app") as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pc301'"
        ).fetchone()[0]


counts = []
responses = []
with verifykit.serve(verifykit.procfile_command(directory), directory, "web") as server:
    for total in (3, 9):
        responses += verifykit.load(server.url, "/orders", concurrency=3, total=total)
        counts.append(open_connections())
errors = verifykit.failures(responses)
if counts[-1] > counts[0] > 0:
    errors.append(
        f"connections left open grow with requests: {counts[0]} after 3 requests, "
        f"{counts[1]} after 12"
    )
elif counts[-1] > 0:
    errors.append(f"{counts[-1]} connections left open after 12 requests")
verifykit.report(errors, f"{verifykit.summary(responses)}; open connections after each round: {counts}")
