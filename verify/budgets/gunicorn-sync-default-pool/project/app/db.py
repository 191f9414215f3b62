from sqlalchemy import create_engine

engine = create_engine("postgresql+psycopg2://app@127.0.0.1:25432/budget_default_pool?connect_timeout=5")
