from sqlalchemy import text

from app.db import engine


def record_view(page: int) -> int:
    with engine.begin() as conn:
        return conn.execute(text("SELECT :p + 1"), {"p": page}).scalar_one()
