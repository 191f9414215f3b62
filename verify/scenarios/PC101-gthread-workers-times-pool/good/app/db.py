import os

from sqlalchemy import create_engine

DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql+psycopg2://app@127.0.0.1:25432/pc101?connect_timeout=5"
)

engine = create_engine(DATABASE_URL, pool_size=8, max_overflow=0, pool_timeout=10)
