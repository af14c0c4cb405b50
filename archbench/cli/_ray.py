"""``archbench search --backend ray``: the same search and output, run by Ray Tune.

Imported only for that backend, so the Optuna backend works without Ray installed.
"""

from __future__ import annotations

from archbench.cli._common import console, err_console, fail, print_json, user_errors
from archbench.cli._search import SearchProgress, _summary_table
from archbench.search import SearchAborted, SearchSettings, default_study_name

RAY_MISSING = 'the ray backend needs Ray Tune: pip install "archbench[ray]"'


def run_ray_search(
    settings: SearchSettings, *, fresh: bool, quiet: bool, json_output: bool
) -> None:
    """Runs the search on Ray and prints what the Optuna backend prints.

    Exits 2 with one line when Ray is not installed or the settings do not suit Ray.
    """
    try:
        from archbench.search import _ray
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        fail(RAY_MISSING)
    try:
        with user_errors():
            if quiet:
                summary = _ray.run_ray_search(settings, fresh=fresh)
            else:
                name = settings.study or default_study_name(settings)
                with SearchProgress(settings, name) as view:
                    summary = _ray.run_ray_search(settings, fresh=fresh, poll=view.update)
    except SearchAborted as exc:
        fail(f"search stopped: {exc} (stored trials are kept)")
    if json_output:
        print_json(summary.to_dict())
    elif quiet:
        err_console.print(
            f"{summary.study}: {summary.trained} trained, {summary.rejected} rejected, "
            f"{summary.failed} failed in {summary.seconds:.0f}s"
        )
    else:
        console.print(_summary_table(summary))
        console.print(
            f"next: archbench results --study {summary.study}"
            + (f" --storage {settings.storage}" if settings.storage else "")
        )
