"""pictures: run directories -> PNG pictures of training (issue 15).

- trajectory.py: the parameters recorded every N optimizer steps (`output { trajectory }`),
  appended to a run's trajectory log while it trains and kept as trajectory.npz;
- paths.py: `nnspec paths`, the exact loss surface of a two-parameter model with each run's
  (w, b) path on it;
- landscape.py: `nnspec landscape`, the loss of any network on a plane through its final
  weights (filter-normalized random directions, Li et al. 2018) with the path projected on it.

matplotlib (the `pictures` extra) is imported only when a picture is drawn.
"""
