from sqlalchemy import text

from app.db import engine


async def count_orders(customer: int) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM generate_series(1, 100) AS s WHERE s % 7 = :c"),
            {"c": customer % 7},
        )
        return result.scalar_one()


async def order_total(order: int) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT :o * 3 + 1"), {"o": order})
        return result.scalar_one()
