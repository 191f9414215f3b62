from sqlalchemy import text

from app.db import engine


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.5)"))
    except Exception as exc:  # the load driver reads the error from the body
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{type(exc).__name__}: {exc}\n".encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
