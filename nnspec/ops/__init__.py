"""ops: the registry of every named thing a spec can use. See ops/base.py."""

from nnspec.ops.activations import ACTIVATIONS
from nnspec.ops.initializers import INITIALIZERS
from nnspec.ops.layers import LAYERS
from nnspec.ops.losses import LOSSES
from nnspec.ops.metrics import METRICS
from nnspec.ops.optimizers import OPTIMIZERS
from nnspec.ops.schedules import SCHEDULES
from nnspec.ops.sources import SOURCES

__all__ = ["ACTIVATIONS", "INITIALIZERS", "LAYERS", "LOSSES", "METRICS", "OPTIMIZERS",
           "SCHEDULES", "SOURCES"]
