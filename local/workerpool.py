"""Beam's Python worker pool for ``EXTERNAL`` environments, on loopback, with this interpreter.

A Flink TaskManager asks the pool at ``--environment_config HOST:PORT`` for an SDK worker per
job; the worker runs newsflow's transforms. Beam's own ``worker_pool_main`` binds every interface
(``[::]``), starts each worker as ``python -c ...`` (whichever ``python`` comes first on PATH:
with the system one, the job waits for ever for its environment) and leaves the worker's output
in a pipe nobody reads. This pool listens on the host it is given (127.0.0.1), starts workers
with ``sys.executable`` (the virtualenv newsflow is installed in) and appends their output to a
log file. SIGTERM stops the pool and its workers.

    python -m local.workerpool --port 50000 --log workers.log
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import (
    BeamFnExternalWorkerPoolServicer,
    kill_process_gracefully,
)
from apache_beam.utils import thread_pool_executor

__all__ = ["main", "serve"]

_log = logging.getLogger(__name__)

_WORKER = (
    "from apache_beam.runners.worker.sdk_worker import SdkHarness; "
    "SdkHarness({control!r}, worker_id={worker!r}, state_cache_size={cache}).run()"
)


class _WorkerPool(BeamFnExternalWorkerPoolServicer):  # type: ignore[misc]
    """Beam's pool servicer, starting each worker with this interpreter, output to ``log``.

    Every TaskManager numbers its workers from 1, so two TaskManagers sharing a pool ask for the
    same worker id. Beam's pool keeps one process per id, and a TaskManager stopping its worker
    killed the other's in the middle of a bundle. Here workers are kept per id and per caller
    (the TaskManager's connection): a stop ends the caller's own worker, and never a worker it
    cannot tell apart (that one ends by itself once its TaskManager closes its control channel).
    """

    def __init__(self, log: Path, state_cache_size: int) -> None:
        super().__init__(use_process=True, state_cache_size=state_cache_size)
        self._log_path = log
        self._lock = threading.Lock()
        self._workers: dict[str, list[tuple[str, subprocess.Popen[bytes]]]] = {}

    def StartWorker(  # noqa: N802 - the gRPC method's name
        self, request: beam_fn_api_pb2.StartWorkerRequest, context: Any
    ) -> beam_fn_api_pb2.StartWorkerResponse:
        code = _WORKER.format(control=request.control_endpoint.url, worker=request.worker_id,
                              cache=self._state_cache_size)
        try:
            with open(self._log_path, "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, close_fds=True,
                )
        except OSError:
            return beam_fn_api_pb2.StartWorkerResponse(error=traceback.format_exc())
        with self._lock:
            self._workers.setdefault(request.worker_id, []).append((context.peer(), process))
        _log.info("started SDK worker %s (pid %d) for %s at %s", request.worker_id, process.pid,
                  context.peer(), request.control_endpoint.url)
        threading.Thread(target=_report_exit, args=(request.worker_id, process),
                         name=f"watch-{request.worker_id}", daemon=True).start()
        return beam_fn_api_pb2.StartWorkerResponse()

    def StopWorker(  # noqa: N802 - the gRPC method's name
        self, request: beam_fn_api_pb2.StopWorkerRequest, context: Any
    ) -> beam_fn_api_pb2.StopWorkerResponse:
        peer = context.peer()
        with self._lock:
            live = [(p, proc) for p, proc in self._workers.get(request.worker_id, [])
                    if proc.poll() is None]
            mine = [entry for entry in live if entry[0] == peer]
            if len(mine) != 1 and len(live) == 1:
                mine = list(live)  # one worker with this id: whoever asks, it is that one
            if len(mine) == 1:
                live.remove(mine[0])
            self._workers[request.worker_id] = live
        if len(mine) == 1:
            kill_process_gracefully(mine[0][1], timeout=5)
        else:
            _log.info("stop of worker %s from %s: not told apart from %d others; it ends with "
                      "its control channel", request.worker_id, peer, len(live))
        return beam_fn_api_pb2.StopWorkerResponse()

    def stop_all(self) -> None:
        with self._lock:
            processes = [proc for entries in self._workers.values() for _, proc in entries]
            self._workers.clear()
        for process in processes:
            if process.poll() is None:
                kill_process_gracefully(process, timeout=5)


def _report_exit(worker_id: str, process: subprocess.Popen[bytes]) -> None:
    code = process.wait()
    _log.log(logging.INFO if code in (0, -signal.SIGTERM) else logging.WARNING,
             "SDK worker %s (pid %d) exited with %d", worker_id, process.pid, code)


def serve(host: str, port: int, log: Path, *, state_cache_size: int = 0,
          stop: threading.Event | None = None) -> None:
    """Serve the pool on ``host:port`` until ``stop`` is set (default: until SIGTERM/SIGINT)."""
    pool = _WorkerPool(log, state_cache_size)
    server = grpc.server(
        thread_pool_executor.shared_unbounded_instance(),
        options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)],
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot listen on {host}:{port}")
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    server.start()
    _log.info("worker pool listening on %s:%d", host, bound)
    if stop is None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            assert stop is not None
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop(2)
        pool.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.workerpool", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50000)
    parser.add_argument("--log", type=Path, required=True, help="the SDK workers' output")
    parser.add_argument("--state_cache_size", type=int, default=0, metavar="BYTES")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)
    serve(args.host, args.port, args.log, state_cache_size=args.state_cache_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
