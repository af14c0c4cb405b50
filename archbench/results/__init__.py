"""Reading a search back: leaderboard, export of the winners with their card, plots and report.

Everything here reads the Optuna storage, the one source of truth (docs/DESIGN.md, decision 8), and
returns data or the paths it wrote; the CLI formats them.
"""

from archbench.results._export import (
    CHECK_EPOCHS,
    DEFAULT_EXPORT_RECIPE,
    ExportedConfig,
    export_card,
    export_trials,
    select_trials,
    train_command,
)
from archbench.results._leaderboard import (
    COLUMNS,
    LEADERBOARD_FIELDS,
    OVERVIEW_FIELDS,
    SORT_FIELDS,
    Leaderboard,
    RankedTrial,
    StudyOverview,
    format_value,
    leaderboard,
    list_studies,
    rank_trials,
    write_csv,
)
from archbench.results._plots import NothingToPlot, pareto_front
from archbench.results._report import Report, ReportFigure, write_report
from archbench.results._trials import (
    TrialRow,
    load_study,
    open_existing_storage,
    read_trials,
)
from archbench.search import STATUSES

__all__ = [
    "COLUMNS",
    "CHECK_EPOCHS",
    "DEFAULT_EXPORT_RECIPE",
    "ExportedConfig",
    "LEADERBOARD_FIELDS",
    "Leaderboard",
    "NothingToPlot",
    "OVERVIEW_FIELDS",
    "RankedTrial",
    "Report",
    "ReportFigure",
    "SORT_FIELDS",
    "STATUSES",
    "StudyOverview",
    "TrialRow",
    "export_card",
    "export_trials",
    "format_value",
    "leaderboard",
    "list_studies",
    "load_study",
    "open_existing_storage",
    "pareto_front",
    "rank_trials",
    "read_trials",
    "select_trials",
    "train_command",
    "write_csv",
    "write_report",
]
