from sqlalchemy import create_engine

engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26207/pc207?connect_timeout=5",
    pool_size=4,
    max_overflow=0,
)
