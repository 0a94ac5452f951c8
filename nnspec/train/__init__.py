"""train: Spec + Dataset + Executable -> RunResult (the epoch loop, early stopping, progress)."""
