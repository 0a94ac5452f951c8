"""The windowed-op case table shared by tests/reference/test_ref_conv.py (finite differences,
PyTorch) and tests/cpu/test_cpu_conv.py (the cpu kernels against the reference): one table,
so a geometry the cpu kernels are checked on is also one the reference is checked on."""

from __future__ import annotations

# (channels, H, W, kernel, stride, padding, dilation): each a case the kernels must get right
CONV_CASES = {
    "1ch-3x3": (1, 5, 5, 3, 1, 0, 1),
    "3ch-odd-stride2": (3, 7, 6, 3, 2, 1, 1),
    "rect-kernel-stride-hw": (2, 6, 7, (3, 2), (2, 3), (1, 0), 1),
    "dilation": (3, 7, 7, 3, 1, 2, 2),
    "dilation-hw-stride": (1, 9, 8, (2, 3), 2, (0, 1), (3, 1)),
    "same-odd": (3, 5, 4, 3, 1, "same", 1),
    "same-even": (2, 5, 6, (2, 4), 1, "same", (1, 2)),
    "1x1": (3, 3, 4, 1, 1, 0, 1),
    "1x1-stride2": (2, 5, 5, 1, 2, 0, 1),
    "1x1-padded": (2, 3, 3, 1, 1, 1, 1),
    "kernel-is-input": (2, 3, 3, 3, 1, 0, 1),
    "padding-larger-than-kernel-reach": (1, 4, 3, 2, 3, 3, 1),
    # rows long enough for the cpu kernels' vector moves (backends/cpu/simd.py): 29 and 17
    # outputs a row (vectors of 8, the last overlapping), 29 padded input values a row
    "wide-rows-padded": (2, 4, 29, 3, 1, 1, 1),
    "wide-rows-valid": (1, 5, 19, 3, 1, 0, 1),
}
# (channels, H, W, kernel, stride or None, padding)
POOL_CASES = {
    "2x2": (1, 4, 4, 2, None, 0),
    "odd-size-leaves-a-row": (3, 5, 7, 2, None, 0),
    "overlap-stride1-pad": (2, 4, 5, 3, 1, 1),
    "rect-stride-pad": (3, 6, 5, (3, 2), (2, 1), (1, 1)),
    "kernel-is-input": (1, 3, 3, 3, None, 0),
}
