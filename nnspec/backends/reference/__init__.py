"""backends.reference: Plan -> ReferenceExecutable (plain NumPy, float64).

The executable definition of every op, and the oracle the compiled backends are tested
against: activations, dense, conv2d, maxpool, avgpool, global_avgpool (their windows:
windows.py), dropout, batchnorm, losses, optimizers (with clipping),
initializers and metrics (the one implementation every backend's training loop uses), each
an op-level module of clear NumPy; network.py chains them over a Plan; executable.py is the
backends/base.py contract with a Python loop over batches.
"""

from nnspec.backends.reference.executable import ReferenceExecutable
from nnspec.lower.plan import Plan


def compile(plan: Plan) -> ReferenceExecutable:  # noqa: A001 - the stage verb
    """Build the reference executable of `plan`, parameters drawn from init_rng(plan.seed)."""
    return ReferenceExecutable(plan)


__all__ = ["ReferenceExecutable", "compile"]
