"""``python -m cgroupsize``: the same entrypoint as the console script."""
from cgroupsize.cli import main

if __name__ == "__main__":
    main()
