from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

# Statement pooling: every statement must commit on its own. psycopg2's hstore lookup on connect
# would run in an implicit transaction before AUTOCOMMIT applies, so it is turned off.
engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26206/pc206?connect_timeout=5",
    poolclass=NullPool,
    isolation_level="AUTOCOMMIT",
    use_native_hstore=False,
)
