"""lsp.__main__: `python -m nnspec.lsp` -> the language server over stdio."""

import sys

from nnspec.lsp import main

sys.exit(main())
