"""nnspec: a declarative neural-network spec compiler. Start reading at nnspec/pipeline.py."""

__version__ = "0.1.0"
