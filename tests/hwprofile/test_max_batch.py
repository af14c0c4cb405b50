"""The max-batch search against injected limits, and the probe process that runs real steps."""

from __future__ import annotations

import math
import os
import signal
import time

import pytest
import torch

from archbench.hwprofile import (
    MAX_BATCH_LIMIT,
    ProbeFailed,
    is_oom_error,
    measure_max_batch_size,
    predict_max_batch_size,
    safe_batch_size,
    search_max_batch,
)
from archbench.hwprofile._max_batch import ProbeProcess
from archbench.models import get_preset


def _search(true_max: int, start: int, limit: int) -> tuple[int, list[tuple[int, bool]]]:
    result = search_max_batch(lambda batch: batch <= true_max, start=start, limit=limit)
    return result.max_batch_size, list(result.probes)


LIMITS = (1, 2, 3, 7, 64, 100, 1000, 4096, MAX_BATCH_LIMIT)


@pytest.mark.parametrize("limit", LIMITS)
def test_finds_the_limit_within_the_probe_bound_from_any_start(limit: int) -> None:
    bound = math.ceil(math.log2(limit)) + 3
    truths = sorted({0, 1, 2, limit // 3, limit // 2, limit - 1, limit, limit + 5})
    starts = sorted({1, 2, 3, limit // 7 + 1, limit // 2, limit, 10 * limit})
    for true_max in truths:
        for start in starts:
            found, probes = _search(true_max, start, limit)
            assert found == max(0, min(true_max, limit)), (true_max, start)
            assert len(probes) <= bound, (true_max, start, probes)
            batches = [batch for batch, _ in probes]
            assert len(set(batches)) == len(batches), probes
            assert all(1 <= batch <= limit for batch in batches)


def test_a_good_start_needs_few_probes() -> None:
    """Starting from the prediction (a fit just below the truth): one doubling, then bisection
    of [start, 2 * start], not of the whole range."""
    found, probes = _search(true_max=1000, start=900, limit=MAX_BATCH_LIMIT)
    assert found == 1000
    assert probes[:2] == [(900, True), (1800, False)]
    assert len(probes) <= 2 + math.ceil(math.log2(900))


def test_search_reports_the_cap() -> None:
    result = search_max_batch(lambda batch: True, start=8, limit=64)
    assert result.max_batch_size == 64 and result.capped
    assert not search_max_batch(lambda batch: batch <= 10, start=8, limit=64).capped


def test_search_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="limit"):
        search_max_batch(lambda batch: True, start=1, limit=0)


@pytest.mark.parametrize(("raw", "safe"), [(0, 0), (1, 1), (9, 8), (10, 9), (1000, 900)])
def test_safe_batch_size_keeps_a_ten_percent_margin(raw: int, safe: int) -> None:
    assert safe_batch_size(raw) == safe


def test_measuring_on_cpu_is_refused() -> None:
    with pytest.raises(ValueError, match="CUDA"):
        measure_max_batch_size(get_preset("simple_cnn"), "cpu", start=8)


@pytest.mark.slow
def test_probe_process_is_restarted_once_then_its_death_is_an_error() -> None:
    """The child trains real steps (on CPU here, at tiny batches). A dead child is restarted
    once and asked again; a second death is an error, not a "does not fit"."""
    with ProbeProcess(get_preset("simple_cnn"), "cpu") as probe:
        assert probe.fits(2)
        probe._process.kill()
        assert probe.fits(4)  # answered by the restarted child
        probe._process.kill()
        with pytest.raises(ProbeFailed, match="died at batch 8.*again after one restart"):
            probe.fits(8)


@pytest.mark.slow
def test_a_hung_probe_is_killed_at_its_deadline() -> None:
    with ProbeProcess(get_preset("simple_cnn"), "cpu", deadline=60) as probe:
        assert probe.fits(2)  # started and answering
        probe._deadline = 1.0
        os.kill(probe._process.pid, signal.SIGSTOP)  # a real hang: the child stops running
        started = time.monotonic()
        with pytest.raises(ProbeFailed, match="did not answer within 1 s.*killed"):
            probe.fits(4)
        assert time.monotonic() - started < 10
        assert not probe._process.is_alive()


@pytest.mark.parametrize(
    "message",
    [
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)",
        "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported",
        "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        "GET was unable to find an engine to execute this computation",
        "cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a "
        "non-contiguous input.",
        "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
    ],
)
def test_every_out_of_memory_form_is_classified_as_one(message: str) -> None:
    assert is_oom_error(RuntimeError(message))


def test_the_out_of_memory_class_is_one_and_other_errors_are_not() -> None:
    assert is_oom_error(torch.OutOfMemoryError("anything"))
    assert not is_oom_error(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_oom_error(ValueError("out of memory"))  # not a runtime failure of the step


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_measured_max_batch_on_cuda_is_near_the_prediction() -> None:
    cfg = get_preset("quizdnn")
    memory = torch.cuda.get_device_properties(0).total_memory
    predicted = predict_max_batch_size(cfg, memory)
    measured = measure_max_batch_size(cfg, "cuda:0", start=predicted)
    assert measured.max_batch_size > 0
    assert len(measured.probes) <= math.ceil(math.log2(MAX_BATCH_LIMIT)) + 3
    assert 0.5 * measured.max_batch_size <= predicted <= 1.5 * measured.max_batch_size


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_an_emulated_smaller_card_fits_a_smaller_batch() -> None:
    cfg = get_preset("quizdnn")
    small = measure_max_batch_size(cfg, "cuda:0", start=256, limit=8192, memory_limit=2 * 2**30)
    assert 0 < small.max_batch_size < 8192
