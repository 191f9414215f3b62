"""6 threads run the app's query 30 times each, one transaction per call, through the app's engine."""

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from app.db import engine  # noqa: E402
from app.queries import stock_level  # noqa: E402

errors: list[str] = []
done = []


def worker(number: int) -> None:
    for i in range(30):
        try:
            stock_level(number * 100 + i)
            done.append(1)
        except Exception as exc:
            errors.append(verifykit.error_text(exc))


threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=40)
engine.dispose()
verifykit.report(errors, f"{len(done)}/180 calls ok")
