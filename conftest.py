"""pytest's root conftest: its directory, the repository, goes on ``sys.path``.

So the tests import their harnesses as ``tests.support.*`` and the benchmark
scripts they smoke-test as ``benchmarks.*``, wherever pytest is started from;
the benchmarks themselves run as ``python3 -m benchmarks.NAME`` from the
repository and import the same harnesses. Shared fixtures live in
``tests/conftest.py``.
"""
