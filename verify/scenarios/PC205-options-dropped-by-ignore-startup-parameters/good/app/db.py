from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

# statement_timeout is set on the server (postgresql.conf): PgBouncer drops `options`.
engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26205/pc205?connect_timeout=5",
    poolclass=NullPool,
)
