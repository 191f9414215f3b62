from sqlalchemy import text

from app.db import engine


def stock_level(item: int) -> int:
    with engine.begin() as conn:
        return conn.execute(text("SELECT CAST(:i AS int) % 13 + 1"), {"i": item}).scalar_one()
