bind = "127.0.0.1:28401"
workers = 4
timeout = 20


def post_fork(server, worker):
    # The master reflected the schema: start every worker with an empty pool instead of the
    # master's SSL connection.
    from app.db import engine

    engine.dispose(close=False)
