from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(
    "postgresql+asyncpg://app@127.0.0.1:26201/pc201",
    pool_size=5,
    max_overflow=5,
)
