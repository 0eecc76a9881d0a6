"""One module per runtime, each a pure function of what identification found.

``plan(target, argv, env, limits, settings, read_file=None) -> Plan``: no
files are read here (``read_file`` is the one door, for java ``@argfiles``
where the user's settings may live), nothing is executed, nothing printed.
Only the module of the runtime being started is imported.
"""
MODULES = {
    "jvm": "jvm",
    "node": "node",
    "python": "python",
    "ruby": "ruby",
    "go": "go",
    "dotnet": "dotnet",
}


def load(runtime: str):
    """The module planning for ``runtime`` (imported on first use)."""
    name = "cgroupsize.runtimes." + MODULES[runtime]
    return __import__(name, fromlist=["plan"])
