from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# jit = off is set on the server (postgresql.conf); PgBouncer tracks application_name.
engine = create_async_engine(
    "postgresql+asyncpg://app@127.0.0.1:26204/pc204",
    poolclass=NullPool,
    connect_args={"server_settings": {"application_name": "pc204-api"}},
)
