from ._columns import (
    COLUMNS as COLUMNS,
    DEFAULT_EXPORT_RECIPE as DEFAULT_EXPORT_RECIPE,
    SORT_FIELDS as SORT_FIELDS,
    format_value as format_value,
)
from ._export import (
    CHECK_EPOCHS as CHECK_EPOCHS,
    ExportedConfig as ExportedConfig,
    export_card as export_card,
    export_trials as export_trials,
    select_trials as select_trials,
    train_command as train_command,
)
from ._leaderboard import (
    LEADERBOARD_FIELDS as LEADERBOARD_FIELDS,
    OVERVIEW_FIELDS as OVERVIEW_FIELDS,
    Leaderboard as Leaderboard,
    RankedTrial as RankedTrial,
    StudyOverview as StudyOverview,
    leaderboard as leaderboard,
    list_studies as list_studies,
    rank_trials as rank_trials,
    write_csv as write_csv,
)
from ._plots import NothingToPlot as NothingToPlot, pareto_front as pareto_front
from ._report import Report as Report, ReportFigure as ReportFigure, write_report as write_report
from ._trials import (
    TrialRow as TrialRow,
    load_study as load_study,
    read_trials as read_trials,
)
