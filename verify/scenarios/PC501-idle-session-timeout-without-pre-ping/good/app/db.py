from sqlalchemy import create_engine

engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:25432/pc501?connect_timeout=5",
    pool_size=5,
    max_overflow=5,
    pool_pre_ping=True,
)
