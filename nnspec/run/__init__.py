"""run: RunResult -> a run directory (atomic artifacts, manifest, checkpoint, curves)."""
