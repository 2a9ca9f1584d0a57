"""The `dbt_worker` piece (orchestration/runtime): a dbt process started with the run, so that
dbt's start (imports and parse, ~4–5 CPU-s) happens while the run ingests, not after it.

dagster-dbt runs dbt as a subprocess and reads its JSON log lines from stdout. The resource's
dbt executable is `vardval-dbt` (`client_main`):

* when the run started a worker (`VARDVAL_DBT_WORKER` names its socket), the client hands it
  the command line, environment and working directory, relays its output, and exits with its
  status;
* otherwise, or if the worker is gone, or for `--version`, the client execs the real dbt in
  its place.

The worker (`worker_main`) imports dbt and parses the project at once (no database
connection), then waits for one command. It runs it with the parsed manifest, as dbt's
documented "reusing objects" does, and exits. It exits as well when the run's process is
gone. This module imports only the standard library and the settings at the top: the client
starts in ~30 ms.
"""
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

from orchestration.runtime import enabled

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
CLIENT = "vardval-dbt"
SOCKET_ENV = "VARDVAL_DBT_WORKER"
EXIT_MARK = b"\x00vardval-dbt-exit "
PARSE_FLAGS = ["--quiet", "--log-level-file", "none", "--no-write-json"]


# --- in the run's process ---------------------------------------------------------------------

def client_path() -> Path:
    return Path(sys.executable).with_name(CLIENT)


def start_worker(data_dir: Path) -> "DbtWorker | None":
    """Start a worker for this process's next dbt command, unless the piece is off, one is
    already waiting or the client is not installed. The client finds it through the environment."""
    if not enabled("dbt_worker") or os.environ.get(SOCKET_ENV) or not client_path().exists():
        return None
    cache = data_dir / "dbt_target"
    cache.mkdir(parents=True, exist_ok=True)
    # What dbt.cli() passes on, as far as parsing the project depends on it.
    env = {**os.environ, "VARDVAL_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR)}
    worker = DbtWorker(cache, env)
    os.environ[SOCKET_ENV] = worker.socket_path
    return worker


class DbtWorker:
    """A started worker and its socket; `stop` ends it if it is still waiting."""

    def __init__(self, parse_cache: Path, env: dict[str, str]):
        self._folder = Path(tempfile.mkdtemp(prefix="vardval-dbt-"))
        self.socket_path = str(self._folder / "worker.sock")
        # Listening before the worker starts: a client that comes before dbt is imported waits
        # in the backlog rather than finding no socket and starting a dbt of its own.
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.socket_path)
        server.listen(1)
        with server:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.runtime.dbt_worker", str(server.fileno()), str(parse_cache),
                 str(os.getpid())],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=env.get("DBT_PROJECT_DIR"), pass_fds=[server.fileno()],
                start_new_session=True)  # Ctrl-C in a terminal reaches dbt through the client
        # Only the worker holds the socket now: once it is gone, a client is refused at once.

    def wait(self, timeout: float = 60) -> None:
        """Until the worker has ended (it ends after its one command), and so released the warehouse."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()

    def stop(self) -> None:
        if os.environ.get(SOCKET_ENV) == self.socket_path:
            del os.environ[SOCKET_ENV]
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


def keep_partial_parse(invocation_target: Path, cache: Path) -> None:
    """Keep an invocation's parse cache for the next dbt start against the same data dir."""
    source = invocation_target / "partial_parse.msgpack"
    if not source.exists():
        return
    tmp = cache / f".partial_parse.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, cache / "partial_parse.msgpack")
    except OSError:
        tmp.unlink(missing_ok=True)


# --- the worker ---------------------------------------------------------------------------------

def worker_main(listening_fd: int, parse_cache: str, parent: int) -> int:
    server = socket.socket(fileno=listening_fd)
    runner, manifest = _prepare(Path(parse_cache))
    server.settimeout(1.0)
    while True:
        try:
            connection, _ = server.accept()
            break
        except socket.timeout:
            if os.getppid() != parent:  # the run's process is gone
                return 0
    with connection:
        connection.settimeout(None)
        return _serve(connection, runner, manifest, parent)


def _prepare(parse_cache: Path):
    """Import dbt and parse the project; without a manifest the command parses by itself."""
    from dbt.cli.main import dbtRunner

    target = parse_cache / f"prewarm-{os.getpid()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        seed = parse_cache / "partial_parse.msgpack"
        if seed.exists():
            shutil.copyfile(seed, target / "partial_parse.msgpack")
        result = dbtRunner().invoke([*PARSE_FLAGS, "parse", "--target-path", str(target)])
        if not result.success:
            return dbtRunner, None
        keep_partial_parse(target, parse_cache)
        return dbtRunner, result.result
    except Exception:  # noqa: BLE001 - the command's own parse reports what is wrong
        return dbtRunner, None
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _serve(connection: socket.socket, runner, manifest, parent: int) -> int:
    request = json.loads(connection.makefile("rb").readline())
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    output = connection.makefile("w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr = output
    threading.Thread(target=_end_with_the_run, args=(connection, parent), daemon=True,
                     name="vardval-dbt-watch").start()
    try:
        result = runner(manifest=manifest).invoke(request["args"][1:])
        # dbt's own exit codes: 0 success, 1 a handled failure (a test, a model), 2 an exception.
        status = 0 if result.success else (1 if result.exception is None else 2)
    except BaseException:  # noqa: BLE001 - reported to the client like dbt would
        traceback.print_exc(file=output)
        status = 2
    output.flush()
    _close_database()
    connection.sendall(EXIT_MARK + f"{status}\n".encode())
    return status


def _end_with_the_run(connection: socket.socket, parent: int) -> None:
    """Exit at once when the client (killed with the run's process group) or the run's process
    is gone, as the plain dbt subprocess died with them: a killed run must not leave dbt
    holding the warehouse for the next one. dbt's writes are transactions, so the warehouse
    keeps every model either as it was or as rebuilt. The client sends nothing after its
    request, so the connection becomes readable when it closes."""
    while True:
        readable, _, _ = select.select([connection], [], [], 0.5)
        if (readable and not connection.recv(4096)) or os.getppid() != parent:
            os._exit(3)


def _close_database() -> None:
    """Close dbt-duckdb's connection (and so checkpoint the warehouse) as dbt's exit would: the
    run's next step opens the warehouse as soon as the command has ended."""
    import gc

    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()
    gc.collect()


# --- the client (`vardval-dbt`) ---------------------------------------------------------------

def client_main() -> None:
    # `--version` (dagster-dbt asks it when `lean_dbt` is off) is not the command the worker waits for.
    worker = _connect(os.environ.get(SOCKET_ENV, "")) if sys.argv[1:] != ["--version"] else None
    if worker is None:
        dbt = str(Path(sys.executable).with_name("dbt"))
        os.execv(dbt, [dbt, *sys.argv[1:]])
    request = {"args": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}
    worker.sendall(json.dumps(request).encode() + b"\n")
    pid = struct.unpack("3i", worker.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
    # dagster-dbt stops dbt with SIGINT (then SIGTERM/SIGKILL): dbt in the worker gets them.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: os.kill(pid, received))
    out = sys.stdout.buffer
    status = None
    for line in worker.makefile("rb"):  # to the end: the worker closes it as it exits
        if line.startswith(EXIT_MARK):
            status = int(line[len(EXIT_MARK):])
            continue
        out.write(line)
        out.flush()
    if status is None:
        out.write(b"vardval-dbt: the dbt worker ended without an exit status\n")
    sys.exit(2 if status is None else status)


def _connect(path: str) -> socket.socket | None:
    if not path:
        return None
    worker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        worker.connect(path)
    except OSError:
        worker.close()
        return None
    return worker


if __name__ == "__main__":
    status = worker_main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    sys.stdout.flush()
    os._exit(status)  # dbt's threads and atexit hooks have nothing left to do
