"""Write a text audit's inputs as a config folder: ``config.yaml`` and ``texts.jsonl`` (what ``text-audit`` and ``demo --llm`` run).

``privaudit text-audit`` is a shortcut: it writes the config it runs into its
output folder (with the texts it read, as JSON Lines with ids and a
membership column), then runs it through :func:`privaudit.audit.run_audit`
like ``privaudit audit`` would; ``privaudit audit <out>/config.yaml`` reruns
it. Model paths in the config are relative to the folder, never absolute.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from privaudit.text.data import TextData, text_data_jsonl

__all__ = ["TEXT_INPUT_FILES", "text_config", "shortcut_text_data", "write_text_config", "relative_to_folder", "target_name", "check_model_options"]

#: what :func:`write_text_config` writes into the folder
TEXT_INPUT_FILES = ("config.yaml", "texts.jsonl")


def relative_to_folder(path: str | Path, folder: str | Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators), as configs name files."""
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


def target_name(path: str | Path) -> str:
    """A config target name from a model path: its last part with characters outside ``A-Za-z0-9_.-`` replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", Path(path).name) or "model"


def check_model_options(model: str | Path, reference: str | Path | None) -> None:
    """Raise :class:`~privaudit.exceptions.ConfigError` naming ``--model`` or ``--reference`` when that path is not there."""
    from privaudit.exceptions import ConfigError

    for option, path in (("--model", model), ("--reference", reference)):
        if path is not None and not Path(path).exists():
            raise ConfigError(f"{option}: {path} not found; give a Hugging Face causal-LM folder (config.json, *.safetensors, tokenizer) or a .gguf file")


def text_config(target: dict, *, attacks=None, seed: int = 0, randomized: bool = False, metrics: dict | None = None) -> dict:
    """The config of a text audit of ``texts.jsonl`` (ids in ``id``, texts in ``text``, membership in ``member``) with one causal_lm ``target``."""
    config = {"seed": int(seed),
              "data": {"path": "texts.jsonl", "text_column": "text", "id_column": "id",
                       "membership": {"column": "member", "randomized": bool(randomized)}},
              "targets": [{"type": "causal_lm", **target}]}
    if attacks:
        config["attacks"] = list(attacks)
    if metrics:
        config["metrics"] = dict(metrics)
    config["output"] = "."
    return config


def shortcut_text_data(members, nonmembers) -> TextData:
    """The texts a shortcut's ``texts.jsonl`` holds: members first, ids ``member-0, ..., nonmember-0, ...``."""
    ids = [np.array([f"{kind}-{i}" for i in range(len(texts))], dtype=str) for kind, texts in (("member", members), ("nonmember", nonmembers))]
    return TextData(list(members), list(nonmembers), *ids, source="texts.jsonl")


def write_text_config(folder, config: dict, data: TextData, *, command: str) -> Path:
    """Stage ``texts.jsonl`` (``data``, from :func:`shortcut_text_data`) and ``config.yaml`` in ``folder``.

    ``folder`` is an open :class:`~privaudit.output_folder.OutputFolder`; the
    caller commits them (before running the config). Returns the config's final path.
    """
    import yaml

    is_member = [True] * len(data.members) + [False] * len(data.nonmembers)
    persons = None if data.member_persons is None else [*data.member_persons, *data.nonmember_persons]
    person_column = config["data"].get("person_column") or "person"
    folder.write_text("texts.jsonl", text_data_jsonl(list(data.record_ids), data.texts, is_member, persons, person_column))
    header = f"# Written by `privaudit {command}`; rerun with: privaudit audit config.yaml\n"
    return folder.write_text("config.yaml", header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
