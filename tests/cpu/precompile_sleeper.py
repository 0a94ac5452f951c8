"""A stand-in job for the compile helper's tests (test_cpu_precompile.py): `job.compile`
takes a minute, long enough to see the helper stopped or ended while it runs."""

import time


class _Job:
    def compile(self, sig):  # type: ignore[no-untyped-def]
        time.sleep(60)


job = _Job()
