"""backends.cuda.slots: the layout of the two small device arrays that keep a chunk's books.

A chunk of batches runs without the host looking at any result until it ends, so the
decisions the CPU engine takes in Python-visible control flow live on the device:

ctl (int64): STATUS (0 ok | 1 non-finite loss | 2 non-finite gradient, the first batch that
  went bad; every later kernel of the chunk sees it and does nothing), BAD (that batch's
  index in the epoch), DONE (updates applied), SAMPLES (their rows).
acc (float64): LOSS_TOTAL (sum of batch loss * rows over the batches applied), LOSS (the
  current batch's loss, written by the loss kernel, read by its gradient and the books),
  S (evaluate's running sum of loss terms), then PART: RED_BLOCKS pairs of partial sums
  (sum g^2, sum clip(g)^2) of the gradient check, summed by every optimizer block in the
  same order (deterministic, no float atomics); then, for a graph with heads, HEAD: head h's
  batch loss at acc[HEAD + h] (losses.loss_seed), booked per applied batch by book_heads
  (engine.py) into the chunk's head terms.
"""

from __future__ import annotations

from nnspec.backends.cuda.jit import RED_BLOCKS

STATUS, BAD, DONE, SAMPLES = range(4)
N_CTL = 4
LOSS_TOTAL, LOSS, S = range(3)
PART = 4
N_ACC = PART + 2 * RED_BLOCKS
HEAD = N_ACC  # acc holds N_ACC + (number of heads) values
