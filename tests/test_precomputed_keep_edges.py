"""Precomputed reference outputs whose ``keep`` leaves an audited record IN no model, or IN every model (review of issue 17).

Online LiRA would fit a Gaussian from zero IN (or OUT) values and online RMIA would compare with no
OUT models; the audit must refuse in one line naming the file and the fix, never score on NaN.
"""

from __future__ import annotations

import numpy as np
import pytest

from privaudit.config import load_config
from privaudit.exceptions import DataError
from privaudit.reference.precomputed import save_reference_outputs
from test_precomputed_reference import folder, trained  # noqa: F401  (module fixtures)


@pytest.mark.parametrize("side", ["no model", "every model"])
def test_a_record_in_no_model_or_every_model_is_refused_in_one_line(folder, trained, tmp_path, side):  # noqa: F811
    from privaudit.pipeline import run_audit

    _, seen = trained
    data_ids = np.asarray(seen["ids"]).astype(str)
    keep = seen["in_mask"].T.copy()
    audited = np.flatnonzero(keep.any(axis=0) & ~keep.all(axis=0))[0]
    keep[:, audited] = side == "every model"
    save_reference_outputs(folder / "refs_edge.npz", data_ids, keep, seen["outputs"], seen["kind"])
    text = (folder / "precomputed.yaml").read_text().replace("refs.npz", "refs_edge.npz")
    (folder / "edge.yaml").write_text(text)
    config, base = load_config(folder / "edge.yaml")
    with pytest.raises(DataError) as error:
        run_audit(config, base)
    message = str(error.value)
    print(message)
    assert "\n" not in message and "refs_edge.npz" in message and data_ids[audited] in message
