"""``python -m cgroupsize``: the same entrypoint as the ``cgroupsize`` script.

Run it isolated, ``python3 -I -B -m cgroupsize``, so that the application's
``PYTHON*`` variables and current directory cannot steer the tool.
"""
try:  # Ctrl-C before the exec is a death by SIGINT, as for the command; an ignored SIGINT stays ignored
    import _signal

    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
except (ImportError, OSError, ValueError):  # pragma: no cover - other interpreters
    pass

from cgroupsize.cli import main

if __name__ == "__main__":
    main()
