"""Connects through the app's engine and checks that JIT is off, as the app wants."""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
from sqlalchemy import text  # noqa: E402

from app.db import engine  # noqa: E402


async def main() -> None:
    try:
        async with engine.connect() as conn:
            jit = (await conn.execute(text("SHOW jit"))).scalar_one()
    except Exception as exc:
        verifykit.report([verifykit.error_text(exc)], "connection refused")
        return
    finally:
        await engine.dispose()
    errors = [] if jit == "off" else [f"SHOW jit returned {jit}, the app wants off"]
    verifykit.report(errors, f"connected, SHOW jit = {jit}")


asyncio.run(asyncio.wait_for(main(), timeout=30))
