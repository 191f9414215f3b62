from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# SQLAlchemy's asyncpg docs: disable JIT through server_settings for short OLTP queries.
engine = create_async_engine(
    "postgresql+asyncpg://app@127.0.0.1:26204/pc204",
    poolclass=NullPool,
    connect_args={"server_settings": {"jit": "off", "application_name": "pc204-api"}},
)
