"""Ranking figures on vectors whose answers are known by hand."""

from __future__ import annotations

import numpy as np
from pytest import approx

from archbench.fidelity import compare, top_k_recall, top_pick_reference_rank


def test_identical_and_reversed_rankings() -> None:
    values = [0.1, 0.5, 0.3, 0.9, 0.7]
    same = compare(values, values)
    reversed_ = compare([-v for v in values], values)
    assert same is not None and same.kendall_tau == approx(1) and same.spearman == approx(1)
    assert reversed_ is not None and reversed_.kendall_tau == approx(-1)
    assert same.top_k_recall == 1.0 and same.top_pick_reference_rank == 1
    assert reversed_.top_pick_reference_rank == 5


def test_top_k_recall_and_pick_by_hand() -> None:
    cheap = np.array([9.0, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    reference = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95])
    # top 2 by cheap: configs 0, 1; by reference: 9, 0 -> one of two found
    assert top_k_recall(cheap, reference, 2) == 0.5
    assert top_pick_reference_rank(cheap, reference) == 2


def test_missing_values_are_left_out() -> None:
    fit = compare([1.0, None, 3.0, 2.0], [0.1, 0.5, 0.3, None])
    assert fit is not None and fit.n == 2 and fit.kendall_tau == approx(1)


def test_no_interval_below_ten_configs() -> None:
    """4 configs ranked alike gave tau's 95% CI as [+1.00, +1.00]: meaningless, so none."""
    values = [0.1, 0.5, 0.3, 0.9, 0.7, 0.2, 0.4, 0.6, 0.8, 0.35]
    few = compare(values[:9], values[:9])
    assert few is not None and few.ci95 is None and few.spearman_ci95 is None
    enough = compare(values, [v + 0.01 * i for i, v in enumerate(values)])
    assert enough is not None and enough.ci95 is not None and enough.spearman_ci95 is not None


def test_the_fidelity_table_says_why_it_has_no_interval() -> None:
    import io

    from rich.console import Console

    from archbench.cli._fidelity import _table

    fit = compare([0.1, 0.5, 0.3, 0.9], [0.1, 0.5, 0.3, 0.9])
    assert fit is not None
    doc = {"configs": [{}] * 4, "correlations": {"epochs=1": fit.to_dict()}}
    out = Console(file=io.StringIO(), width=200, color_system=None)
    out.print(_table(doc, 1.0))
    text = " ".join(out.file.getvalue().split())  # type: ignore[attr-defined]
    assert "no 95% CI below 10 configs (here 4): a bootstrap over so few is meaningless" in text
