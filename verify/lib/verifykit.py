"""Helpers shared by the scenario workloads.

A workload is `python workload.py VARIANT_DIR`: it runs the variant's own code with the variant's
own settings (importing its modules, starting its server from its Procfile), and ends with one line
`RESULT {"errors": [...], "detail": "..."}` that the harness judges.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

WORK = Path(os.environ.get("VERIFY_WORK", "/tmp"))


def variant() -> Path:
    """The variant directory (argv[1]), made the working directory and importable."""
    directory = Path(sys.argv[1]).resolve()
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    return directory


def report(errors: list[str] | None = None, detail: str = "") -> None:
    distinct: list[str] = []
    for error in errors or []:
        text = " ".join(str(error).split())
        if text not in distinct:
            distinct.append(text)
    print("RESULT " + json.dumps({"errors": distinct[:8], "detail": detail}), flush=True)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def procfile_command(directory: Path, process: str = "web") -> list[str]:
    for line in (directory / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command.strip())
    raise SystemExit(f"no `{process}` process in {directory / 'Procfile'}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


LISTENING = re.compile(r"(?:Listening at: |Uvicorn running on )(http://[0-9.:]+)")


@contextmanager
def serve(command: list[str], directory: Path, name: str, boot_seconds: float = 20) -> Iterator[Server]:
    """Starts a server (gunicorn, uvicorn) in its own process group; stops the whole group after."""
    log = WORK / f"{name}-{os.getpid()}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        command, cwd=directory, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    # The server runs in a process group of its own: the harness and verify/run stop that group
    # by this file even if this workload is killed first.
    pidfile = WORK / "pids" / f"group-{name}-{process.pid}.pid"
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(str(process.pid))
    try:
        deadline = time.monotonic() + boot_seconds
        url = None
        while url is None:
            text = log.read_text(errors="replace")
            match = LISTENING.search(text)
            if match:
                url = match.group(1)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: {text[-1500:]}")
            time.sleep(0.05)
        wait_until_http(url, deadline)
        yield Server(url, process, log)
    finally:
        stop_group(process)
        pidfile.unlink(missing_ok=True)
        handle.close()


def wait_until_http(url: str, deadline: float) -> None:
    parsed = urllib.parse.urlsplit(url)
    while True:
        try:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
            conn.request("GET", "/health")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 8), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # Give forked workers a moment to follow their master.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@dataclass
class Response:
    status: int
    body: str
    seconds: float = 0.0


def get(url: str, path: str, timeout: float = 30) -> Response:
    parsed = urllib.parse.urlsplit(url)
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        conn.close()
        return Response(response.status, body, time.monotonic() - started)
    except OSError as exc:
        return Response(0, error_text(exc), time.monotonic() - started)


def load(url: str, path: str, concurrency: int, total: int, timeout: float = 30) -> list[Response]:
    """`total` GET requests, `concurrency` at a time: bounded in count and (per request) in time."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda _: get(url, path, timeout), range(total)))


def failures(responses: list[Response]) -> list[str]:
    return [r.body.strip().splitlines()[0] if r.body.strip() else f"HTTP {r.status}"
            for r in responses if r.status != 200]


def summary(responses: list[Response]) -> str:
    ok = sum(r.status == 200 for r in responses)
    slowest = max((r.seconds for r in responses), default=0.0)
    return f"{ok}/{len(responses)} requests ok (slowest {slowest:.1f}s)"



def http_scenario(
    path: str, concurrency: int, total: int, process: str = "web", log_errors: str | None = None,
    timeout: float = 30,
) -> None:
    """Starts the variant's `process` from its Procfile, sends the bounded load, reports failures.

    `log_errors`: a regex for server log lines that count as errors too (a worker that died
    mid-request answers nothing, but its traceback names the error)."""
    directory = variant()
    with serve(procfile_command(directory, process), directory, process) as server:
        started = time.monotonic()
        responses = load(server.url, path, concurrency, total, timeout)
        seconds = time.monotonic() - started
        log = server.log_text()
    errors = failures(responses)
    if log_errors:
        errors += [line.strip() for line in log.splitlines() if re.search(log_errors, line)][:8]
    report(errors, f"{summary(responses)} at concurrency {concurrency} in {seconds:.1f}s")
