"""`python -m nnspec ...`: the same command line as the `nnspec` script."""

from nnspec.cli import main

raise SystemExit(main())
