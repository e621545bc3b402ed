"""ML Privacy Meter 1.0.1 (PyPI ``privacy-meter``) on a target, run by ``bench_peers.py`` in a separate Python environment.

Privacy Meter 1.0.1 imports tensorflow and opacus at import time and pins nothing, so it lives in its own venv
(``--privacy-meter-python``; see BENCHMARKS.md for how it was built). This script runs there: it takes an ``.npz``
(``x_members``, ``y_members``, ``x_nonmembers``, ``y_nonmembers``, ``x_population``, ``y_population``) and a pickled
torch module, runs the library's **population attack** (``PopulationMetric``, attack P of Ye et al. 2022: the
target's loss on each record against thresholds at quantiles of its loss on population records) through
``Audit``-free calls of the library's own ``Dataset``, ``InformationSource``, ``ModelLoss`` and
``linear_itp_threshold_func`` as its population-metric tutorial does, and writes JSON: the membership score
(minus the loss signal the metric thresholds: higher = member), with the records' true labels in the metric's order.
"""

from __future__ import annotations

import json
import sys
import time


def main(arrays_path: str, module_path: str, out_path: str) -> None:
    import numpy as np
    import torch
    from privacy_meter.dataset import Dataset
    from privacy_meter.hypothesis_test import linear_itp_threshold_func
    from privacy_meter.information_source import InformationSource
    from privacy_meter.information_source_signal import ModelLoss
    from privacy_meter.metric import PopulationMetric
    from privacy_meter.model import PytorchModelTensor

    torch.set_num_threads(1)
    a = np.load(arrays_path)
    module = torch.load(module_path, weights_only=False)
    tensor = lambda v: torch.from_numpy(np.ascontiguousarray(v))  # noqa: E731
    target_data = Dataset({"train": {"x": tensor(a["x_members"]), "y": tensor(a["y_members"])},
                           "test": {"x": tensor(a["x_nonmembers"]), "y": tensor(a["y_nonmembers"])}}, default_input="x", default_output="y")
    population = Dataset({"train": {"x": tensor(a["x_population"]), "y": tensor(a["y_population"])}}, default_input="x", default_output="y")
    model = PytorchModelTensor(model_obj=module, loss_fn=torch.nn.CrossEntropyLoss(), batch_size=1024)
    started = time.perf_counter()
    metric = PopulationMetric(
        target_info_source=InformationSource(models=[model], datasets=[target_data]),
        reference_info_source=InformationSource(models=[model], datasets=[population]),
        signals=[ModelLoss()], hypothesis_test_func=linear_itp_threshold_func,
    )
    metric.prepare_metric()
    result = metric.run_metric()[0]  # the library's default quantiles; only the signal it thresholds is used
    seconds = time.perf_counter() - started
    signal = np.asarray(result.signal_values, dtype=float)
    json.dump({"scores": (-signal).tolist(), "true_labels": np.asarray(result.true_labels).astype(int).tolist(), "seconds": seconds,
               "queries": int(len(a["x_members"]) + len(a["x_nonmembers"]) + len(a["x_population"]))},
              open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
