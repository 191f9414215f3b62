from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26205/pc205?connect_timeout=5",
    poolclass=NullPool,
    connect_args={"options": "-c statement_timeout=1500"},
)
