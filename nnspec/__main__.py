"""`python -m nnspec ...`: the same command line as the `nnspec` script."""

from nnspec.cli import entry

if __name__ == "__main__":  # not when a sweep's worker process re-imports the main module
    entry()
