from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# PgBouncer 1.18 in transaction mode cannot keep prepared statements: no statement cache at all,
# and no pool of our own on top of PgBouncer's.
engine = create_async_engine(
    "postgresql+asyncpg://app@127.0.0.1:26201/pc201",
    poolclass=NullPool,
    connect_args={"statement_cache_size": 0, "prepared_statement_cache_size": 0},
)
