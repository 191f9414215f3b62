from sqlalchemy import text

from app.db import engine


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    try:
        # The report reads on one connection while its audit row commits on another.
        with engine.connect() as report, engine.begin() as audit:
            audit.execute(text("SELECT 1"))
            report.execute(text("SELECT pg_sleep(0.5)"))
    except Exception as exc:  # the load driver reads the error from the body
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{type(exc).__name__}: {exc}\n".encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done\n"]
