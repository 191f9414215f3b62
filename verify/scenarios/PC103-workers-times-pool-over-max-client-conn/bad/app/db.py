import os

from sqlalchemy import create_engine

# Every process talks to PgBouncer, never to PostgreSQL directly.
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql+psycopg2://app@127.0.0.1:26103/pc103?connect_timeout=5"
)

engine = create_engine(DATABASE_URL, pool_size=6, max_overflow=0, pool_pre_ping=True)
