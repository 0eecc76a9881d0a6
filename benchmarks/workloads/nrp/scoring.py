"""Python workload for benchmarks/nrp_matrix.py: a model-scoring service's request loop.

    python3 scoring.py REQUESTS [SIZE]

Each request scores a batch: a SIZE x SIZE float64 matrix product (numpy's BLAS,
OpenBLAS in the PyPI wheels, which starts OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
threads, else one per host CPU) and a softmax over the result. Requests run one
after the other, as one worker process of a web server handles them. Prints
"requests=... wall=... p50ms=... p99ms=... cpuSec=... blasThreads=..." and "OK".
"""
import os
import sys
import time


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    return ",".join(str(p["num_threads"]) for p in threadpool_info()) or "none"


def main() -> None:
    import numpy as np

    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rng = np.random.default_rng(7)
    weights = rng.random((size, size))
    latencies = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    for i in range(requests):
        t = time.perf_counter()
        batch = rng.random((size, size))
        scores = batch @ weights
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores / size)
        probs /= probs.sum(axis=1, keepdims=True)
        float(probs[i % size].argmax())
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    latencies.sort()
    def pick(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"requests={requests} size={size} wall={wall:.3f} p50ms={pick(0.5):.2f} p99ms={pick(0.99):.2f} "
          f"cpuSec={time.process_time() - cpu0:.2f} blasThreads={blas_threads()}")
    print("OK")


if __name__ == "__main__":
    main()
