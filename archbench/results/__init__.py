"""Reading a search back: leaderboard, export of the winners with their card, plots and report.

Everything here reads the Optuna storage, the one source of truth (docs/DESIGN.md, decision 8), and
returns data or the paths it wrote; the CLI formats them.
"""

from typing import TYPE_CHECKING

from archbench._lazy import lazy_exports

if TYPE_CHECKING:
    from archbench.results._columns import (
        COLUMNS,
        DEFAULT_EXPORT_RECIPE,
        SORT_FIELDS,
        format_value,
    )
    from archbench.results._export import (
        CHECK_EPOCHS,
        ExportedConfig,
        export_card,
        export_trials,
        select_trials,
        train_command,
    )
    from archbench.results._leaderboard import (
        LEADERBOARD_FIELDS,
        OVERVIEW_FIELDS,
        Leaderboard,
        RankedTrial,
        StudyOverview,
        leaderboard,
        list_studies,
        rank_trials,
        write_csv,
    )
    from archbench.results._plots import (
        NothingToPlot,
        pareto_front,
    )
    from archbench.results._report import (
        Report,
        ReportFigure,
        write_report,
    )
    from archbench.results._trials import (
        TrialRow,
        load_study,
        open_existing_storage,
        read_trials,
    )

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_columns": ("COLUMNS", "DEFAULT_EXPORT_RECIPE", "SORT_FIELDS", "format_value"),
        "_export": (
            "CHECK_EPOCHS",
            "ExportedConfig",
            "export_card",
            "export_trials",
            "select_trials",
            "train_command",
        ),
        "_leaderboard": (
            "LEADERBOARD_FIELDS",
            "OVERVIEW_FIELDS",
            "Leaderboard",
            "RankedTrial",
            "StudyOverview",
            "leaderboard",
            "list_studies",
            "rank_trials",
            "write_csv",
        ),
        "_plots": ("NothingToPlot", "pareto_front"),
        "_report": ("Report", "ReportFigure", "write_report"),
        "_trials": ("TrialRow", "load_study", "open_existing_storage", "read_trials"),
    },
)
