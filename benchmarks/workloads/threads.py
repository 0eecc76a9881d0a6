"""Python workload for benchmarks/oom.py: CPU-bound work on a default ThreadPoolExecutor.

    python3 threads.py TASKS SIZE

Each task multiplies SIZE x SIZE float matrices with numpy (the BLAS releases
the GIL and starts its own threads: OpenBLAS sizes its pool from the host's
CPUs, not the CFS quota). Without numpy, each task hashes a buffer with
hashlib (which also releases the GIL). ``ThreadPoolExecutor()`` gets its
default number of workers, which follows ``os.cpu_count()`` (and, on Python
3.13+, ``PYTHON_CPU_COUNT``).

Prints ``workers=... blas_threads=... wall=...`` and ``OK``.
"""
import concurrent.futures
import hashlib
import os
import sys
import time


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS", "default")
    return ",".join(str(p["num_threads"]) for p in threadpool_info()) or "none"


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 384
    try:
        import numpy as np
    except ImportError:
        np = None

    if np is not None:
        def task(i):
            rng = np.random.default_rng(i)
            a = rng.random((size, size))
            b = rng.random((size, size))
            for _ in range(8):
                a = a @ b
                a /= np.abs(a).max()
            return float(a.sum())
        kind = "numpy"
    else:
        data = os.urandom(size * 1024)

        def task(i):
            h = hashlib.sha256()
            for _ in range(64):
                h.update(data)
            return h.hexdigest()
        kind = "hashlib"

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor() as ex:
        workers = ex._max_workers
        list(ex.map(task, range(tasks)))
    wall = time.perf_counter() - start
    print(f"kind={kind} workers={workers} cpu_count={os.cpu_count()} "
          f"blas_threads={blas_threads()} wall={wall:.2f}")
    print("OK")


if __name__ == "__main__":
    main()
