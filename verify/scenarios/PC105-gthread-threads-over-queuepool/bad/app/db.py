from sqlalchemy import create_engine

engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:25432/pc105?connect_timeout=5",
    pool_size=2,
    max_overflow=1,
    pool_timeout=1,
)
