"""run.killpoints: a named stage of a run -> (in tests only) the process killed outright there.

The kill -9 contract (docs/runs.md: after a kill at any moment, `--resume` works) is tested
by killing runs at named stages. `NNSPEC_TEST_KILL_AT=<stage>` (or `<stage>#<n>`: the n-th
time that stage is reached) makes the process send itself SIGKILL when it gets there. Stages:

- `importing`: the run folder is claimed and its manifest written; the data and backend
  modules are about to be imported;
- `data`: the data is about to be read;
- `compiling`: the kernels are about to be compiled (or loaded from Numba's cache);
- `training`: an epoch's row was just appended to the history; `training-no-checkpoint` /
  `training-checkpoint`: the same, before / after the run's first checkpoint;
- `finishing`: training ended (its last checkpoint written), the artifacts are next;
- `write:<file>`: the new content of `<file>` (manifest.json, spec.nn, data.json,
  weights.npz, history.json, history.csv, metrics.json, curves.png, state.json,
  state-<tag>.npz) is written to its temporary file and fsynced, not yet renamed.

Without the variable `reached` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "NNSPEC_TEST_KILL_AT"
_counts: dict[str, int] = {}


def reached(stage: str) -> None:
    want = os.environ.get(VARIABLE)
    if not want:
        return
    name, _, nth = want.partition("#")
    if name != stage and not (name.endswith("*") and stage.startswith(name[:-1])):
        return
    _counts[want] = _counts.get(want, 0) + 1
    if _counts[want] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
