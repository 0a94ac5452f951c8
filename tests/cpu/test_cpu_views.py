"""views.matrix / views.flat: the engine's 2-D and 1-D views of its flat buffers, built
without Numba's reshape helper; they must be exactly the views a slice + reshape gives."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit

from nnspec.backends.cpu import views


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("off, rows, cols", [(0, 1, 1), (3, 4, 5), (7, 0, 5), (2, 6, 1),
                                             (0, 10, 10)])
def test_matrix_is_the_sliced_reshape(off, rows, cols, dtype):
    buf = np.arange(100, dtype=dtype)
    m = views.matrix(buf, off, rows, cols)
    expect = buf[off:off + rows * cols].reshape(rows, cols)
    assert m.shape == expect.shape and m.strides == expect.strides and m.dtype == buf.dtype
    assert m.flags.c_contiguous
    np.testing.assert_array_equal(m, expect)


def test_views_share_the_buffer():
    buf = np.zeros(30, np.float32)
    views.matrix(buf, 4, 2, 3)[1, 2] = 5.0  # element 4 + 1 * 3 + 2
    assert buf[9] == 5.0 and buf.sum() == 5.0
    views.flat(views.matrix(buf, 10, 4, 5))[7] = 2.0
    assert buf[17] == 2.0


def test_flat_of_a_matrix():
    a = np.arange(12.0).reshape(3, 4)
    f = views.flat(a)
    assert f.shape == (12,) and f.strides == (8,)
    np.testing.assert_array_equal(f, a.ravel())


def test_matrix_of_a_2d_buffer_takes_its_elements_in_order():
    buf = np.arange(24.0).reshape(2, 12)
    np.testing.assert_array_equal(views.matrix(buf, 10, 2, 3), [[10, 11, 12], [13, 14, 15]])


@pytest.mark.parametrize("off, rows, cols", [(90, 4, 5), (-1, 2, 2), (0, -1, 3), (0, 101, 1)])
def test_matrix_outside_the_buffer_raises(off, rows, cols):
    with pytest.raises(IndexError):
        views.matrix(np.zeros(100, np.float32), off, rows, cols)


def test_a_view_keeps_its_buffer_alive():
    """The view holds the buffer's memory owner: the buffer may go away first."""
    @njit
    def make(n):  # type: ignore[no-untyped-def]
        buf = np.arange(n * 1.0)
        return views.matrix(buf, 2, 3, 4)

    m = make(20)
    gc.collect()
    np.testing.assert_array_equal(m, np.arange(2.0, 14.0).reshape(3, 4))
