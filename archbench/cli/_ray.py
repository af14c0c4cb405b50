"""``archbench search --backend ray``: the same search and output, run by Ray Tune.

Imported only for that backend, so the Optuna backend works without Ray installed.
"""

from __future__ import annotations

import os

from archbench.cli._common import fail
from archbench.cli._search import SearchProgress, run_with_view
from archbench.search import SearchSettings, SearchSummary

LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
RAY_MISSING = 'the ray backend needs Ray Tune: pip install "archbench[ray]"'


def run_ray_search(
    settings: SearchSettings, *, fresh: bool, quiet: bool, json_output: bool
) -> None:
    """Runs the search on Ray and prints what the Optuna backend prints.

    Exits 2 with one line when Ray is not installed or the settings do not suit Ray.
    """
    try:
        if settings.ray is None or settings.ray.address is None:
            # A runtime of our own serves this machine only: Ray then binds to loopback instead
            # of the first network interface (read when ray is imported, so set it first).
            os.environ.setdefault(LOCAL_ONLY_ENV, "0")
        from archbench.search import _ray
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        fail(RAY_MISSING)

    def run(view: SearchProgress | None) -> SearchSummary:
        return _ray.run_ray_search(
            settings, fresh=fresh, poll=view.update if view is not None else None
        )

    run_with_view(settings, run, quiet=quiet, json_output=json_output)
