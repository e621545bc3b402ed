"""Bad-input battery, cases found by a hostile review of issues 12 and 13 (see each test's docstring)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from hostile import assert_one_line_error, run_cli

sys.path.insert(0, str(Path(__file__).parent))


def test_untrusted_config_cannot_send_other_environment_variables_to_its_url(tmp_path):
    """headers_from_env: {Authorization: GITHUB_TOKEN} in someone else's config sent the user's GitHub token to
    whatever url the config named. Without trust_code only PRIVAUDIT_* variables are read; refused before any connection."""
    pytest.importorskip("httpx")
    from test_hostile_http import _audit, _config

    from http_faults import FaultServer

    with FaultServer("ok") as server:
        config = _config(tmp_path / "audit", f"http://127.0.0.1:{server.port}/predict", headers_from_env={"Authorization": "GITHUB_TOKEN"})
        outcome = _audit(config, env={"GITHUB_TOKEN": "ghp_review0secret0value"})
        assert server.requests == 0
    line = assert_one_line_error(outcome, code=2, names=["headers_from_env.Authorization", "GITHUB_TOKEN", "PRIVAUDIT_", "trust_code"])
    assert "ghp_review0secret0value" not in outcome.err + outcome.out + line
    # trusted (the user read the config and its url): the variable is read and sent
    with FaultServer("ok") as server:
        config = _config(tmp_path / "trusted", f"http://127.0.0.1:{server.port}/predict", headers_from_env={"Authorization": "GITHUB_TOKEN"})
        outcome = run_cli(["audit", config, "-q", "--trust-code"], env={"GITHUB_TOKEN": "Bearer ghp_review0secret0value"})
        assert outcome.code == 0, outcome.err
        assert server.requests > 0


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null"])
def test_model_card_out_refuses_a_device_or_pipe(tmp_path, special):
    """model-card --out FIFO hung forever (the ownership check opened it to read its first lines); --out /dev/zero
    read without end into memory; with --force, as root, the card would be renamed over the device."""
    import os

    from test_hostile_gate import _report, _write

    report = _write(tmp_path, _report())
    if special == "fifo":
        special = tmp_path / "card.md"
        os.mkfifo(special)
    elif not Path(special).exists():
        pytest.skip(f"{special} missing")
    for force in ([], ["--force"]):
        outcome = run_cli(["model-card", report, "--out", special, *force])
        assert_one_line_error(outcome, code=2, names=["--out", "not a regular file"])
    assert not Path(special).is_file()
