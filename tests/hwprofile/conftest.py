"""One intra-op thread for these tests: they check figures and structure, not speed, and on a
shared 2-core machine two spinning OpenMP threads made the small CPU steps 5-10x slower."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="package", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
