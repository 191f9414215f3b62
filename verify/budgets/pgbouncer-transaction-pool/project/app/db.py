from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

# PgBouncer pools; the app closes its connection after every request.
engine = create_engine(
    "postgresql+psycopg2://app@127.0.0.1:26901/budget_bouncer?connect_timeout=5",
    poolclass=NullPool,
)
