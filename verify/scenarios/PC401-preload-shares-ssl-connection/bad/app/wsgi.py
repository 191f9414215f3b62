from sqlalchemy import text

from app.db import engine


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    try:
        with engine.connect() as conn:
            for size in (5000, 10000, 20000):
                conn.execute(text("SELECT string_agg(md5(i::text), '') FROM generate_series(1, :n) i"), {"n": size}).scalar_one()
    except Exception as exc:  # the load driver reads the error from the body
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{type(exc).__name__}: {exc}\n".encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
