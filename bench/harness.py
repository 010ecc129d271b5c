"""What every benchmark shares: its own PostgreSQL database on the loopback server of
DATABASE_URL (created, migrated and dropped), a WSGI server in a process group of its own, CPU
accounting per process group, and the last line of output, one JSON object (DESIGN.md,
"Benchmarks"). Each bench/<name>.py imports this module, never another bench.
"""

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# Not db 0: bench farms get ids 1, 2... and would push their events into the live groups of a
# developer's browser watching farm 1 on the same Redis.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def logger(bench):
    """A log function for `bench`: progress goes to stderr, so that stdout ends with the JSON."""

    def log(message):
        print(f"[{bench}] {message}", file=sys.stderr, flush=True)

    return log


def print_result(document):
    """The bench's LAST line of output: one JSON object, compared over time."""
    print(json.dumps(document), flush=True)


def parse_bench_args(parser: argparse.ArgumentParser, default_db: str, argv=None):
    """The bench's arguments, with --db (its own database, dropped at start) and --keep-db added;
    a --db that is not obviously a bench's own is refused before anything is dropped."""
    parser.add_argument("--db", default=default_db, help="the bench's own database (dropped)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database")
    args = parser.parse_args(argv)
    if "bench" not in args.db:
        parser.error("--db must contain 'bench': it is dropped")
    return args


def stop_on_sigterm():
    """SIGTERM (a CI timeout, `kill`) takes the same path as Ctrl-C, so servers and simulators
    started by the bench are stopped and its database dropped."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def loopback_url(raw, what):
    parts = urlsplit(raw)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"{what} must point at loopback, not {parts.hostname!r}")
    return parts


def with_db(parts, name):
    return urlunsplit(parts._replace(path="/" + name))


# --- process bookkeeping -------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # comm may contain spaces and parentheses: split after the last ')'.
    comm = text[text.index("(") + 1 : text.rindex(")")]
    return comm, text[text.rindex(")") + 2 :].split()


def cpu_snapshot(server_pgid):
    """CPU seconds so far per group: the server's process group, PostgreSQL, Redis, this client,
    and the machine's busy total (which also counts other people's work on a shared box)."""
    groups = {"server": 0.0, "postgres": 0.0, "redis": 0.0}
    per_server_process = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm, fields = _stat_fields(entry)
        except (OSError, ValueError):
            continue
        # Fields after comm: state is [0], pgrp [2], utime [11], stime [12].
        seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if server_pgid is not None and int(fields[2]) == server_pgid:
            groups["server"] += seconds
            per_server_process[entry] = seconds
        elif comm == "postgres":
            groups["postgres"] += seconds
        elif comm.startswith("redis-server"):
            groups["redis"] += seconds
    groups["client"] = time.process_time()
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    groups["machine_busy"] = (sum(values[:8]) - idle) / CLK_TCK
    return groups, per_server_process


def group_cpu_s(pgid):
    """CPU seconds of a process group's live processes (what `cpu_snapshot` counts as "other")."""
    seconds = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            _, fields = _stat_fields(entry)
        except (OSError, ValueError):
            continue
        if int(fields[2]) == pgid:
            seconds += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


def process_cores(before, after, wall):
    """Cores per server process, busiest first: with keep-alive connections a worker that
    accepted most of them stays the busiest for the whole run, which caps throughput at what one
    GIL-bound process can do while the other idles."""
    shared = before.keys() & after.keys()
    return sorted((round((after[p] - before[p]) / wall, 2) for p in shared), reverse=True)


def cpu_cores(before, after, wall):
    """Average cores each group kept busy over the interval; `other` is the rest of the machine
    (other users, kernel networking): when it is large the run was disturbed."""
    cores = {k: (after[k] - before[k]) / wall for k in before}
    ours = sum(v for k, v in cores.items() if k != "machine_busy")
    cores["other"] = max(0.0, cores["machine_busy"] - ours)
    return cores


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A WSGI server in its own process group, so stopping it reaches every worker it forked."""

    def __init__(self, kind, port, workers, threads, env):
        self.kind = kind
        self.port = port
        self.workers = workers
        self.threads = threads
        self.env = env
        self.proc = None
        fd, path = tempfile.mkstemp(prefix=f"bench-{kind}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)

    def command(self):
        app = "ethdash.wsgi:application"
        if self.kind == "gunicorn":
            return [
                str(BIN / "gunicorn"), app, "-b", f"127.0.0.1:{self.port}", "-k", "gthread",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--log-level", "warning",
            ]  # fmt: skip
        return [
            str(BIN / "granian"), "--interface", "wsgi", app, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(self.workers),
            "--blocking-threads", str(self.threads), "--no-ws", "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip

    def start(self, timeout=60):
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not answer /healthz within {timeout} s\n{self.tail()}")

    def tail(self, lines=30):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the group is the one this process leads
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        # Workers that outlived their master would keep the port and DB connections.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)

    def version(self):
        out = subprocess.run(
            [str(BIN / self.kind), "--version"], capture_output=True, text=True, check=False
        )
        return (out.stdout or out.stderr).strip().split("\n")[0]


# --- database ------------------------------------------------------------------------------------


def drop_database(admin_url, name):
    # FORCE: a server killed mid-run may leave backends behind for a moment.
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(drop)


def recreate_database(admin_url, name):
    drop_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def use_bench_database(name):
    """Points this process (and the manage.py commands it runs) at database `name` on the
    loopback PostgreSQL of DATABASE_URL, for a bench that runs Django in-process: production
    settings, no Redis (live pushes go to the in-process layer, which nobody listens to here),
    simulators on loopback allowed. Returns the admin URL that creates and drops `name`."""
    parts = loopback_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "ethdash.settings",
            "DATABASE_URL": with_db(parts, name),
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            # A benchmark measures capacity, not the per-caller throttles (docs/api.md).
            "ETHDASH_THROTTLE_API": "off",
            "ETHDASH_THROTTLE_TELEMETRY": "off",
            "ETHDASH_THROTTLE_HIVE": "off",
            "ETHDASH_OUTBOUND_ALLOW": "127.0.0.0/8",
            "ETHDASH_MANIFEST_STATIC": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    return with_db(parts, "postgres")


def migrate_fresh(admin_url, name, env=None):
    """Drops and recreates the bench database, then migrates it (manage.py run with `env`,
    this process's environment by default)."""
    recreate_database(admin_url, name)
    manage({**(env or os.environ)}, "migrate", "--noinput", "-v", "0")


@contextlib.contextmanager
def django_bench_database(name, log, *, keep=False):
    """For a bench that runs Django in this process: its own database `name`, recreated and
    migrated, Django set up on it (use_bench_database's settings); on the way out, even on
    Ctrl-C or SIGTERM, Django's connections are closed and the database dropped unless `keep`."""
    admin_url = use_bench_database(name)
    stop_on_sigterm()
    try:
        log(f"database {name}: drop, create, migrate")
        migrate_fresh(admin_url, name)
        import django

        django.setup()
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            drop_database(admin_url, name)


def manage(env, *args):
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


# --- processes of the production configuration ----------------------------------------------


class Process:
    """A command in its own process group, its output in a log file; stop() reaches its children."""

    def __init__(self, name, command, env):
        self.name, self.command, self.env = name, command, env
        fd, path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self.proc = None

    def start(self):
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        # The leader first: a Celery worker's warm shutdown lets its pool finish the task in
        # hand, where SIGTERM to the whole group would kill them mid-task (and log it).
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def text(self):
        return self.log_path.read_text(errors="replace")


def wait_for_file(path, proc, what, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text:
            return json.loads(text)
        if not proc.alive():
            raise RuntimeError(f"{what} exited:\n{proc.text()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within {timeout_s} s")


def wait_for_http(url, proc, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout_s} s")
