from sqlalchemy import create_engine

engine = create_engine(
    "postgresql+psycopg://app@127.0.0.1:26202/pc202?connect_timeout=5",
    pool_size=6,
    max_overflow=0,
    # PgBouncer 1.18 in transaction mode: psycopg must never prepare.
    connect_args={"prepare_threshold": None},
)
