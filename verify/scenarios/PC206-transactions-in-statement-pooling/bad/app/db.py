from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26206/pc206?connect_timeout=5",
    poolclass=NullPool,
)
