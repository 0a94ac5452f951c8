"""`python -m nnspec.cli ...` = the `nnspec` console script."""

from nnspec.cli import entry

entry()
