from ._context import TrialContext as TrialContext
from ._pool import PoolState as PoolState, train_configs as train_configs
from ._prescreen import (
    PRESCREEN_ATTR as PRESCREEN_ATTR,
    Prescreening as Prescreening,
    ScoredPool as ScoredPool,
)
from ._run import (
    BestTrial as BestTrial,
    Progress as Progress,
    ProgressEvent as ProgressEvent,
    SearchFinished as SearchFinished,
    SearchStarted as SearchStarted,
    SearchSummary as SearchSummary,
    TrialCounts as TrialCounts,
    quiet_optuna as quiet_optuna,
    run as run,
)
from ._samplers import make_sampler as make_sampler, suggest as suggest
from ._settings import RaySettings as RaySettings, SearchSettings as SearchSettings
from ._study import (
    SearchAborted as SearchAborted,
    prepare_study as prepare_study,
    study_name as study_name,
)
