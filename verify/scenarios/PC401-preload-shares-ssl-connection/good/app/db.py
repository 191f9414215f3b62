import os

from sqlalchemy import MetaData, create_engine

DATABASE_URL = os.environ.get(
    "DATABASE_URL",
    "postgresql+psycopg2://app@127.0.0.1:25432/pc401?sslmode=require&connect_timeout=5",
)

engine = create_engine(DATABASE_URL, pool_size=2, max_overflow=0)

# Learn the schema once, at import time.
metadata = MetaData()
metadata.reflect(bind=engine)
