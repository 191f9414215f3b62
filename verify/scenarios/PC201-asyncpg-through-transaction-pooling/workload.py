"""10 concurrent tasks run the app's queries 20 times each through the app's own engine."""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from app.db import engine  # noqa: E402
from app.queries import count_orders, order_total  # noqa: E402


async def main() -> None:
    errors: list[str] = []
    done = 0

    async def task(number: int) -> None:
        nonlocal done
        for i in range(20):
            try:
                await count_orders(number)
                await order_total(i)
                done += 1
            except Exception as exc:
                errors.append(verifykit.error_text(exc))

    await asyncio.wait_for(asyncio.gather(*(task(n) for n in range(10))), timeout=40)
    await engine.dispose()
    verifykit.report(errors, f"{done}/200 task iterations ok")


asyncio.run(main())
