"""Runs every scenario and budget measurement against one real PostgreSQL and per-scenario PgBouncers.

Started by verify/run (which prepares packages, the virtualenv and the poolcheck binary, and runs
this as an unprivileged user). Prints one line per scenario, then `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_HOST = "127.0.0.1"
PG_PORT = 25432
PG_MAX_CONNECTIONS = 20
PG_SUPERUSER_RESERVED = 3
APP_ROLE = "app"
ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5"

# postgresql.conf keys a scenario may set that PostgreSQL also accepts per database: the harness
# applies them with ALTER DATABASE, so one server serves every scenario with its own settings.
PER_DATABASE_SETTINGS = {
    "idle_session_timeout",
    "idle_in_transaction_session_timeout",
    "statement_timeout",
    "lock_timeout",
    "jit",
    "search_path",
    "timezone",
}
# Keys that must equal the running server's, since poolcheck's arithmetic reads them.
SERVER_SETTINGS = {"max_connections", "superuser_reserved_connections", "port"}


@dataclass
class Outcome:
    name: str
    passed: bool
    observed: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{verdict} {self.name}: {self.observed}"
        if self.problems:
            text += " | PROBLEM: " + "; ".join(self.problems)
        return text


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.repo = Path(args.repo)
        self.verify = self.repo / "verify"
        self.work = Path(args.work)
        self.poolcheck = args.poolcheck
        self.pg_bin = Path(args.pg_bin)
        self.pgbouncer_bin = args.pgbouncer
        self.python = args.python
        self.filters = args.only
        self.verbose = bool(os.environ.get("VERIFY_VERBOSE"))
        # CI must stay under 15 minutes: whatever would start after this is reported as not run.
        self.budget_seconds = float(os.environ.get("VERIFY_BUDGET_SECONDS", "720"))
        self.pids = self.work / "pids"
        self.pids.mkdir(parents=True, exist_ok=True)
        self.postgres: subprocess.Popen[bytes] | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    # ---------------------------------------------------------------- PostgreSQL
    def start_postgres(self) -> None:
        data = self.work / "pg" / "data"
        data.parent.mkdir(parents=True)
        run(
            [str(self.pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            timeout=120,
        )
        cert, key = data / "server.crt", data / "server.key"
        run(
            ["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1",
             "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(cert)],
            timeout=60,
        )
        key.chmod(0o600)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# poolcheck verify\n"
                f"listen_addresses = '{PG_HOST}'\n"
                f"port = {PG_PORT}\n"
                f"max_connections = {PG_MAX_CONNECTIONS}\n"
                f"superuser_reserved_connections = {PG_SUPERUSER_RESERVED}\n"
                f"unix_socket_directories = '{data.parent}'\n"
                "ssl = on\n"
                "ssl_cert_file = 'server.crt'\n"
                "ssl_key_file = 'server.key'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\n"
                "log_connections = off\n"
            )
        port_must_be_free(PG_PORT, "PostgreSQL")
        log = (self.work / "pg" / "postgres.log").open("wb")
        self.postgres = subprocess.Popen(
            [str(self.pg_bin / "postgres"), "-D", str(data)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        (self.pids / "postgres.pid").write_text(str(self.postgres.pid))
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                    conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.postgres.poll() is not None:
                    raise SystemExit(
                        "verify: PostgreSQL did not start:\n"
                        + (self.work / "pg" / "postgres.log").read_text()[-2000:]
                    )
                time.sleep(0.2)

    def admin(self, *statements: str) -> list[tuple]:
        rows: list[tuple] = []
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            for statement in statements:
                cursor = conn.execute(statement)
                if cursor.description:
                    rows = cursor.fetchall()
        return rows

    def server_setting(self, name: str) -> str:
        return str(self.admin(f"SHOW {name}")[0][0])

    def reset_database(self, database: str) -> None:
        """A fresh database per scenario: nothing left over from the previous variant."""
        self.terminate_backends(database)
        self.admin(
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
            f'CREATE DATABASE "{database}" OWNER {APP_ROLE}',
        )

    def terminate_backends(self, database: str) -> None:
        self.admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )

    def apply_postgresql_conf(self, variant: Path, database: str) -> list[str]:
        """Applies the variant's postgresql.conf to its database; returns mismatches."""
        problems = []
        conf = variant / "postgresql.conf"
        if not conf.exists():
            return problems
        for key, value in parse_postgresql_conf(conf.read_text()).items():
            if key in SERVER_SETTINGS:
                actual = self.server_setting(key)
                if actual != value:
                    problems.append(f"{conf.name} says {key} = {value}, the server runs {actual}")
            elif key in PER_DATABASE_SETTINGS:
                literal = value.replace("'", "''")
                self.admin(f"ALTER DATABASE \"{database}\" SET {key} = '{literal}'")
        return problems

    def connections(self, database: str) -> int:
        return int(
            self.admin(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'")[0][0]
        )

    # ---------------------------------------------------------------- PgBouncer
    def start_pgbouncer(self, ini: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
        port = pgbouncer_port(ini)
        port_must_be_free(port, f"PgBouncer ({ini})")
        log_path = self.work / f"pgbouncer-{name}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [self.pgbouncer_bin, ini.name], cwd=ini.parent,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.children.append(proc)
        (self.pids / f"group-pgbouncer-{name}.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + 10
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PgBouncer did not start: {log_path.read_text()[-1500:]}")
            time.sleep(0.05)
        return proc, log_path

    def stop(self, proc: subprocess.Popen[bytes], name: str) -> None:
        stop_process_group(proc)
        if proc in self.children:
            self.children.remove(proc)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    # ---------------------------------------------------------------- poolcheck
    def poolcheck_codes(self, directory: Path, code: str) -> list[str] | None:
        """The codes poolcheck reports with `--select code`; None when it has no such rule."""
        completed = subprocess.run(
            [self.poolcheck, "check", "--format", "json", "--select", code, "--exit-zero",
             str(directory.relative_to(self.repo))],
            cwd=self.repo, capture_output=True, text=True, timeout=60, check=False,
        )
        if completed.returncode == 2 and "matches no rule code" in completed.stderr:
            return None
        if completed.returncode != 0:
            raise RuntimeError(f"poolcheck check exited {completed.returncode}: {completed.stderr}")
        return [d["code"] for d in json.loads(completed.stdout)["diagnostics"]]

    def poolcheck_budget(self, directory: Path) -> dict:
        completed = run(
            [self.poolcheck, "budget", "--format", "json", str(directory.relative_to(self.repo))],
            cwd=self.repo, timeout=60,
        )
        return json.loads(completed.stdout)

    # ---------------------------------------------------------------- workloads
    def run_workload(
        self, workload: Path, variant: Path, database: str, timeout: float,
        pgbouncer_log: Path | None,
    ) -> tuple[dict, str, float]:
        env = dict(os.environ)
        env.update(
            VERIFY_WORK=str(self.work),
            VERIFY_DATABASE=database,
            VERIFY_PGBOUNCER_LOG=str(pgbouncer_log or ""),
            VERIFY_LIB=str(self.verify / "lib"),
        )
        started = time.monotonic()
        proc = subprocess.Popen(
            [self.python, str(workload), str(variant)], cwd=variant, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.children.append(proc)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(proc)
            output, _ = proc.communicate()
            text = output.decode(errors="replace")
            self.children.remove(proc)
            return (
                {"errors": [f"workload timed out after {timeout:.0f} s"], "detail": "timeout",
                 "timed_out": True},
                text,
                time.monotonic() - started,
            )
        stop_process_group(proc)  # anything it left behind (servers in its session)
        self.children.remove(proc)
        text = output.decode(errors="replace")
        result_lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
        if not result_lines:
            return (
                {"errors": [f"workload exited {proc.returncode} without a RESULT line"],
                 "detail": tail(text), "crashed": True},
                text,
                time.monotonic() - started,
            )
        result = json.loads(result_lines[-1][len("RESULT "):])
        result["exit_code"] = proc.returncode
        return result, text, time.monotonic() - started

    # ---------------------------------------------------------------- scenarios
    def scenario(self, directory: Path) -> Outcome:
        spec = tomllib.loads((directory / "scenario.toml").read_text())
        code, database = spec["code"], spec["database"]
        timeout = float(spec.get("timeout", 60))
        problems: list[str] = []
        observed: list[str] = []

        bad_codes = self.poolcheck_codes(directory / "bad", code)
        good_codes = self.poolcheck_codes(directory / "good", code)
        if bad_codes is None or good_codes is None:
            problems.append(f"poolcheck has no rule {code}")
            observed.append(f"poolcheck has no rule {code}")
        else:
            if code not in bad_codes:
                problems.append(f"poolcheck does not report {code} on bad/")
            if code in good_codes:
                problems.append(f"poolcheck reports {code} on good/")
            observed.append(
                f"poolcheck bad={'+'.join(bad_codes) or 'none'} "
                f"good={'+'.join(good_codes) or 'none'}"
            )

        for variant_name in ("bad", "good"):
            variant = directory / variant_name
            section = spec.get(variant_name, {})
            result, output, seconds = self.variant(directory, variant, database, timeout)
            if self.verbose:
                print(f"--- {directory.name}/{variant_name} output:\n{output}", flush=True)
            problems.extend(result.pop("_problems", []))
            errors = [str(e) for e in result.get("errors", [])]
            evidence = list(errors)
            if section.get("error_source") == "pgbouncer-log" and result.get("_pgbouncer_log"):
                evidence.append(result["_pgbouncer_log"])
            detail = result.get("detail", "")
            bouncer_tail = tail(result.get("_pgbouncer_log", ""), 300)
            if variant_name == "bad":
                pattern = section["expect_error"]
                match = next(
                    (m for m in (re.search(pattern, text) for text in evidence) if m), None
                )
                if match:
                    observed.append(f"bad: `{excerpt(evidence, match)}` ({detail}, {seconds:.1f}s)")
                else:
                    observed.append(f"bad: {detail} ({seconds:.1f}s)")
                    problems.append(
                        f"bad/ did not fail with /{pattern}/; errors seen: "
                        f"{errors[:3] or 'none'}; output tail: {tail(output, 400)}"
                        + (f"; PgBouncer log tail: {bouncer_tail}" if bouncer_tail else "")
                    )
            else:
                if errors or result.get("exit_code", 1) != 0:
                    observed.append(f"good: failed ({seconds:.1f}s)")
                    problems.append(
                        f"good/ failed: {errors[:3]}; output tail: {tail(output, 400)}"
                        + (f"; PgBouncer log tail: {bouncer_tail}" if bouncer_tail else "")
                    )
                else:
                    observed.append(f"good: {detail} ({seconds:.1f}s)")
        return Outcome(directory.name, not problems, "; ".join(observed), problems)

    def variant(
        self, directory: Path, variant: Path, database: str, timeout: float
    ) -> tuple[dict, str, float]:
        self.reset_database(database)
        problems = self.apply_postgresql_conf(variant, database)
        bouncers = []
        try:
            for index, ini in enumerate(sorted(variant.glob("**/pgbouncer*.ini"))):
                name = f"{directory.name}-{variant.name}-{index}"
                proc, log = self.start_pgbouncer(ini, name)
                bouncers.append((proc, name, log))
            result, output, seconds = self.run_workload(
                directory / "workload.py", variant, database, timeout,
                bouncers[0][2] if bouncers else None,
            )
        finally:
            for proc, name, _ in bouncers:
                self.stop(proc, f"group-pgbouncer-{name}")
        if bouncers:
            result["_pgbouncer_log"] = bouncers[0][2].read_text(errors="replace")
        result["_problems"] = problems
        return result, output, seconds

    # ---------------------------------------------------------------- budgets
    def budget(self, directory: Path) -> Outcome:
        spec = tomllib.loads((directory / "budget.toml").read_text())
        database = spec["database"]
        timeout = float(spec.get("timeout", 60))
        project = directory / "project"
        problems: list[str] = []

        model = self.poolcheck_budget(project)
        predicted_db = next(
            (db for db in model["databases"] if db.get("demand") is not None), None
        )
        predicted = predicted_db["demand"] if predicted_db else None
        formulas = (
            " + ".join(c["formula"] for c in predicted_db["contributors"]) if predicted_db else ""
        )

        self.reset_database(database)
        problems.extend(self.apply_postgresql_conf(project, database))
        peak = 0
        stop_sampling = threading.Event()

        def sample() -> None:
            nonlocal peak
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                while not stop_sampling.is_set():
                    count = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
                    ).fetchone()[0]
                    peak = max(peak, int(count))
                    time.sleep(0.02)

        client_peak = 0

        def sample_bouncer(port: int) -> None:
            """Client connections PgBouncer holds for the database (SHOW POOLS, stats user)."""
            nonlocal client_peak
            import psycopg2  # the admin console speaks only the simple query protocol

            conn = psycopg2.connect(
                host=PG_HOST, port=port, dbname="pgbouncer", user="stats", connect_timeout=5
            )
            conn.autocommit = True
            try:
                with conn.cursor() as cursor:
                    while not stop_sampling.is_set():
                        cursor.execute("SHOW POOLS")
                        names = [column[0] for column in cursor.description]
                        for row in cursor.fetchall():
                            pool = dict(zip(names, row))
                            if pool["database"] == database:
                                client_peak = max(
                                    client_peak, int(pool["cl_active"]) + int(pool["cl_waiting"])
                                )
                        time.sleep(0.02)
            finally:
                conn.close()

        samplers = [threading.Thread(target=sample, daemon=True)]
        samplers[0].start()
        bouncers = []
        try:
            for index, ini in enumerate(sorted(project.glob("**/pgbouncer*.ini"))):
                name = f"{directory.name}-{index}"
                proc, log = self.start_pgbouncer(ini, name)
                bouncers.append((proc, name, log))
                if spec.get("pgbouncer_clients"):
                    samplers.append(
                        threading.Thread(target=sample_bouncer, args=(pgbouncer_port(ini),), daemon=True)
                    )
                    samplers[-1].start()
            result, output, seconds = self.run_workload(
                directory / "workload.py", project, database, timeout,
                bouncers[0][2] if bouncers else None,
            )
        finally:
            stop_sampling.set()
            for sampler in samplers:
                sampler.join(timeout=5)
            for proc, name, _ in bouncers:
                self.stop(proc, f"group-pgbouncer-{name}")

        errors = result.get("errors", [])
        if errors or result.get("exit_code", 1) != 0:
            problems.append(f"the load failed: {errors[:3]}; output tail: {tail(output, 400)}")
        if predicted is None:
            problems.append("poolcheck predicted no bounded demand")
        else:
            if predicted < peak:
                problems.append(f"measured {peak} connections > predicted {predicted}")
            if spec.get("saturates", True) and predicted != peak:
                problems.append(
                    f"every pool was saturated, yet measured {peak} ≠ predicted {predicted}"
                )
        observed = (
            f"predicted {predicted} ({formulas}), measured peak {peak} in pg_stat_activity "
            f"for {database}"
        )
        if spec.get("pgbouncer_clients"):
            client_demand = next(
                (b.get("client_demand") for b in model.get("pgbouncers", [])), None
            )
            observed += (
                f"; PgBouncer clients predicted {client_demand}, measured peak {client_peak}"
                " (SHOW POOLS cl_active + cl_waiting)"
            )
            if client_demand is None or client_demand < client_peak:
                problems.append(f"measured {client_peak} PgBouncer clients > predicted {client_demand}")
            elif spec.get("saturates", True) and client_demand != client_peak:
                problems.append(
                    f"every pool was saturated, yet {client_peak} PgBouncer clients ≠ predicted "
                    f"{client_demand}"
                )
        observed += f" ({result.get('detail', '')}, {seconds:.1f}s)"
        return Outcome(f"budget/{directory.name}", not problems, observed, problems)

    # ---------------------------------------------------------------- main
    def selected(self, name: str) -> bool:
        return not self.filters or any(name.startswith(f) for f in self.filters)

    def main(self) -> int:
        started = time.monotonic()
        self.start_postgres()
        print(
            f"PostgreSQL {self.server_setting('server_version')} on {PG_HOST}:{PG_PORT} "
            f"(max_connections {PG_MAX_CONNECTIONS}), "
            f"{run([self.pgbouncer_bin, '--version']).stdout.splitlines()[0]}",
            flush=True,
        )
        outcomes: list[Outcome] = []
        scenarios = sorted(p for p in (self.verify / "scenarios").iterdir() if p.is_dir())
        budgets = sorted(p for p in (self.verify / "budgets").iterdir() if p.is_dir())
        jobs = [(p, self.scenario) for p in scenarios if self.selected(p.name)]
        jobs += [(p, self.budget) for p in budgets if self.selected(p.name)]
        for path, job in jobs:
            step = time.monotonic()
            if step - started > self.budget_seconds:
                outcome = Outcome(
                    path.name, False, "not run",
                    [f"the run exceeded its time budget of {self.budget_seconds:.0f} s"],
                )
                outcomes.append(outcome)
                print(outcome.line(), flush=True)
                continue
            try:
                outcome = job(path)
            except Exception as error:  # one broken scenario must not stop the others
                outcome = Outcome(path.name, False, "harness error", [f"{type(error).__name__}: {error}"])
            outcome.observed += f" [{time.monotonic() - step:.0f}s]"
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
        passed = sum(o.passed for o in outcomes)
        print(f"# total {time.monotonic() - started:.0f}s", flush=True)
        print(f"{passed} passed, {len(outcomes) - passed} failed", flush=True)
        return 0 if passed == len(outcomes) and outcomes else 1

    def shutdown(self) -> None:
        """Stops everything at once: runuser gives its child about two seconds after SIGTERM."""
        groups = [int(p.read_text()) for p in self.pids.glob("group-*.pid") if p.read_text().strip()]
        groups += [proc.pid for proc in self.children]
        for group in groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.postgres and self.postgres.poll() is None:
            self.postgres.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
        deadline = time.monotonic() + 1.5
        for group in groups:
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.postgres:
            try:
                self.postgres.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.postgres.send_signal(signal.SIGQUIT)  # "immediate" shutdown


def parse_postgresql_conf(text: str) -> dict[str, str]:
    settings = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*(.+)", line)
        if match:
            settings[match.group(1).lower()] = match.group(2).strip().strip("'")
    return settings


def pgbouncer_port(ini: Path) -> int:
    match = re.search(r"^\s*listen_port\s*=\s*(\d+)", ini.read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 6432


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((PG_HOST, port)) == 0


def port_must_be_free(port: int, what: str) -> None:
    if port_open(port):
        raise RuntimeError(f"port {PG_HOST}:{port} for {what} is already in use")


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
    # Children of the group (gunicorn workers) may outlive the leader for a moment.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(command: list[str], cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode not in (0, 1) or (completed.returncode == 1 and not completed.stdout):
        raise RuntimeError(
            f"`{' '.join(command)}` exited {completed.returncode}: {completed.stderr[-1500:]}"
        )
    return completed


def tail(text: str, size: int = 600) -> str:
    return " ⏎ ".join(text.strip().splitlines())[-size:]


def excerpt(texts: list[str], match: re.Match[str]) -> str:
    """The line of the evidence that holds the match, without timestamps and SQLAlchemy's tail."""
    for text in texts:
        for line in text.splitlines():
            if match.group(0) not in line:
                continue
            line = line.strip()
            stamp = re.match(r"\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] ", line)
            if stamp:
                line = "PgBouncer log: " + line[stamp.end():]
            for noise in (" [SQL:", " (Background on this error"):
                line = line.split(noise, 1)[0]
            return line[:220]
    return match.group(0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--poolcheck", required=True)
    parser.add_argument("--pg-bin", required=True)
    parser.add_argument("--pgbouncer", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("only", nargs="*")
    harness = Harness(parser.parse_args())

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return harness.main()
    finally:
        harness.shutdown()


if __name__ == "__main__":
    sys.exit(main())
