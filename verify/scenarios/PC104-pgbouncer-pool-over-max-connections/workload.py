"""22 clients busy through PgBouncer, then one direct connection (a migration, an admin shell).

Reads PgBouncer's listen port and the server it forwards to from the variant's pgbouncer.ini."""

import configparser
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402
import psycopg2  # noqa: E402

directory = verifykit.variant()
ini = configparser.ConfigParser()
ini.read(directory / "pgbouncer.ini")
bouncer_port = ini["pgbouncer"]["listen_port"]
database, target = next(iter(ini["databases"].items()))
server = dict(part.split("=", 1) for part in target.split())

errors: list[str] = []
done = []


def client() -> None:
    try:
        conn = psycopg2.connect(
            host="127.0.0.1", port=bouncer_port, dbname=database, user="app", connect_timeout=5
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(2)")
        conn.close()
        done.append(1)
    except Exception as exc:
        errors.append(verifykit.error_text(exc))


threads = [threading.Thread(target=client) for _ in range(22)]
for thread in threads:
    thread.start()
time.sleep(1.0)
direct_ok = False
try:
    conn = psycopg2.connect(
        host=server["host"], port=server["port"], dbname=server["dbname"], user="app",
        connect_timeout=5,
    )
    conn.close()
    direct_ok = True
except Exception as exc:
    errors.append("direct connection: " + verifykit.error_text(exc))
for thread in threads:
    thread.join(timeout=60)
verifykit.report(
    errors,
    f"{len(done)}/22 PgBouncer clients done, direct connection {'ok' if direct_ok else 'refused'}",
)
