"""Reading a search back: leaderboard, export of the winners with their card, plots and report.

Everything here reads the Optuna storage, the one source of truth (docs/DESIGN.md, decision 8), and
returns data or the paths it wrote; the CLI formats them.
"""

import lazy_loader

# The exports are the names the stub (__init__.pyi) imports, for type checkers too; each module
# loads on first use, so that `archbench --help` imports no optuna, torch or matplotlib.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
