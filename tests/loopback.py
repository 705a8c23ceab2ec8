"""Loopback process groups of jax.distributed for the tests (not collected by pytest)."""
import os
import socket
import subprocess
import sys
import tempfile

__all__ = ("run_processes",)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(n, argv, timeout_s=300, threads=1):
    """Run ``python argv`` as ``n`` processes of one jax.distributed group on the loopback
    (a free port; ``DIFFSHAM_COORDINATOR``, ``DIFFSHAM_NUM_PROCESSES``,
    ``DIFFSHAM_PROCESS_ID``), each with ``threads`` numba threads and one CPU device.
    Every process is stopped by the time this returns, whatever happened.

    Returns
    -------
    list of (returncode, output)
    """
    port = _free_port()
    procs, logs = [], []
    try:
        for rank in range(n):
            env = dict(os.environ, DIFFSHAM_COORDINATOR=f"127.0.0.1:{port}", DIFFSHAM_NUM_PROCESSES=str(n),
                       DIFFSHAM_PROCESS_ID=str(rank), NUMBA_NUM_THREADS=str(threads))
            env.pop("XLA_FLAGS", None)
            logs.append(tempfile.TemporaryFile("w+"))  # not a pipe: a full pipe would stall its process
            procs.append(subprocess.Popen([sys.executable, *argv], env=env, stdout=logs[-1], stderr=subprocess.STDOUT,
                                          text=True))
        out = []
        for p, log in zip(procs, logs):
            p.wait(timeout=timeout_s)
            log.seek(0)
            out.append((p.returncode, log.read()))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
