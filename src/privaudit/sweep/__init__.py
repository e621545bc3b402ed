"""Privacy–utility sweeps: train one target per setting (DP-SGD, regularisation, output defences), audit each, plot the frontier.

``privaudit sweep CONFIG`` runs :func:`run_sweep` on a config read by
:func:`load_sweep_config`; ``privaudit sweep --example adult DIR`` writes
the Adult example (:func:`write_example`). torch is imported only when a sweep runs.
"""

from privaudit.sweep.config import SweepConfig, load_sweep_config, parse_sweep_config
from privaudit.sweep.example import EXAMPLES, write_example
from privaudit.sweep.frontier import pareto_front
from privaudit.sweep.run import SweepRun, run_sweep

__all__ = ["SweepConfig", "SweepRun", "EXAMPLES", "load_sweep_config", "parse_sweep_config", "pareto_front", "run_sweep", "write_example"]
