"""sweep: a spec with a `sweep` block -> a sweep folder of runs, a table and pictures.

`spec.py` is the block's IR and its expansion into trials (checked by check/sweep.py),
`run.py` runs the trials on an executor (a local process pool, or Ray Tune) into one run
folder each, `table.py` reads the runs back into rows (`sweep.csv`, `sweep.json`, the summary),
`plots.py` draws the comparison pictures.
"""
