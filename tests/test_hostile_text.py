"""Bad-input battery for ``privaudit text-audit`` (issue 13): broken text files, broken or hostile model folders.

Each case ends in one line ``privaudit: error: ...`` naming the file or option
and the fix, exit 2, no traceback, and the report an earlier run left in the
output folder untouched. Hostile *names* (a model folder called ``$…$`` or
``[/bold]``) are not errors: the audit runs and the report is written.
The model is a randomly initialised 2-layer GPT-2 with a word-level tokenizer
(as in ``tests/test_text_lm.py``), saved once per module; nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the llm extra

from hostile import assert_one_line_error, assert_unchanged, run_cli, snapshot  # noqa: E402

WORDS = ["kalo", "mira", "nute", "vosi", "pedu", "giba", "rate", "lomi", "suka", "dera"]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = ["[PAD]", "[UNK]", "[BOS]"] + WORDS + ["."]
    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocabulary)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    root = tmp_path_factory.mktemp("hostile-text")
    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id)
    model_dir = root / "model"
    GPT2LMHeadModel(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, 8)) + " ." for _ in range(24)]
    (root / "members.txt").write_text("\n".join(texts[:12]) + "\n", encoding="utf-8")
    (root / "nonmembers.txt").write_text("\n".join(texts[12:]) + "\n", encoding="utf-8")
    out = root / "out"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": "run"}\n')
    (out / "report.html").write_text("<p>earlier run</p>\n")
    return {"root": root, "model": model_dir, "members": root / "members.txt", "nonmembers": root / "nonmembers.txt", "out": out,
            "texts": texts}


def audit_args(world, *, model=None, members=None, nonmembers=None, extra=()):
    return ["text-audit", "--model", str(model or world["model"]), "--members", str(members or world["members"]),
            "--nonmembers", str(nonmembers or world["nonmembers"]), "--attack", "loss", "--bootstrap", "50", "--out", str(world["out"]),
            "-q", "--force", *extra]


def write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# (case id, members-file name, content, names the error line must contain)
TEXT_FILE_CASES = [
    ("latin-1 txt", "latin1.txt", "caf\u00e9 au lait .\nna\u00efve text .\n".encode("latin-1"), ["latin1.txt", "UTF-8"]),
    ("empty csv", "empty.csv", "", ["empty.csv", "empty", "header line"]),
    ("header-only csv", "header.csv", "text\n", ["header.csv", "no rows"]),
    ("csv without text column", "body.csv", "body\nkalo mira .\n", ["body.csv", "no 'text' column"]),
    ("jsonl null text", "null.jsonl", '{"text": "kalo mira ."}\n{"text": null}\n', ["null.jsonl", "line 2", "null", "string"]),
    ("jsonl number text", "number.jsonl", '{"text": 42}\n', ["number.jsonl", "line 1", "a number", "string"]),
    ("jsonl list text", "list.jsonl", '{"text": ["kalo", "mira"]}\n', ["list.jsonl", "line 1", "list"]),
    ("jsonl not an object", "array.jsonl", '["kalo mira ."]\n', ["array.jsonl", "line 1", "not a JSON object", '{"text": "..."}']),
    ("jsonl broken json", "broken.jsonl", '{"text": "kalo\n', ["broken.jsonl", "line 1"]),
    ("binary txt", "binary.txt", b"kalo\x00mira\x00\n", ["binary.txt", "NUL"]),
    ("text named .parquet", "texts.parquet", "kalo mira .\n", ["texts.parquet", "Parquet", "to_parquet"]),
]


@pytest.mark.parametrize("case, name, content, names", TEXT_FILE_CASES, ids=[c[0] for c in TEXT_FILE_CASES])
def test_broken_text_files_are_one_line_errors(world, case, name, content, names):
    before = snapshot(world["out"])
    members = write(world["root"] / name, content)
    outcome = run_cli(audit_args(world, members=members))
    assert_one_line_error(outcome, code=2, names=names)
    assert_unchanged(before, world["out"])


def test_missing_members_file(world):
    before = snapshot(world["out"])
    outcome = run_cli(audit_args(world, members=world["root"] / "nowhere.txt"))
    assert_one_line_error(outcome, code=2, names=["nowhere.txt", "not found"])
    assert_unchanged(before, world["out"])


def test_texts_in_both_members_and_nonmembers(world):
    before = snapshot(world["out"])
    shared = world["texts"][:2]
    nonmembers = write(world["root"] / "overlap.txt", "\n".join(world["texts"][12:] + shared) + "\n")
    outcome = run_cli(audit_args(world, nonmembers=nonmembers))
    line = assert_one_line_error(outcome, code=2, names=["2 texts", "members.txt (--members)", "overlap.txt (--nonmembers)", "remove"])
    assert repr(shared[0]) in line                                               # the first example
    assert_unchanged(before, world["out"])


def test_max_length_beyond_the_models_positions(world):
    before = snapshot(world["out"])
    long_text = " ".join(["kalo"] * 120) + " ."
    members = write(world["root"] / "long.txt", "\n".join([long_text] + world["texts"][:11]) + "\n")
    outcome = run_cli(audit_args(world, members=members, extra=["--max-length", "100"]))
    assert_one_line_error(outcome, code=2, names=["--max-length", "64"])
    assert_unchanged(before, world["out"])


def _model_copy(world, name: str) -> Path:
    target = world["root"] / name
    if not target.exists():
        shutil.copytree(world["model"], target)
    return target


def test_model_path_that_does_not_exist(world):
    before = snapshot(world["out"])
    outcome = run_cli(audit_args(world, model=world["root"] / "no-such-model"))
    assert_one_line_error(outcome, code=2, names=["no-such-model", "not found", "Hugging Face"])
    assert_unchanged(before, world["out"])


def test_model_path_that_is_not_a_model(world):
    before = snapshot(world["out"])
    not_a_model = world["root"] / "just-texts"
    not_a_model.mkdir(exist_ok=True)
    write(not_a_model / "notes.txt", "hello\n")
    assert_one_line_error(run_cli(audit_args(world, model=not_a_model)), code=2, names=["just-texts", "config.json"])
    assert_one_line_error(run_cli(audit_args(world, model=world["members"])), code=2, names=["members.txt", "config.json"])
    broken = world["root"] / "empty-config"
    broken.mkdir(exist_ok=True)
    write(broken / "config.json", "{}\n")
    assert_one_line_error(run_cli(audit_args(world, model=broken)), code=2, names=["empty-config", "cannot load", "Hugging Face"])
    assert_unchanged(before, world["out"])


def test_truncated_safetensors(world):
    before = snapshot(world["out"])
    folder = _model_copy(world, "truncated-model")
    weights = folder / "model.safetensors"
    data = (world["model"] / "model.safetensors").read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    outcome = run_cli(audit_args(world, model=folder))
    assert_one_line_error(outcome, code=2, names=["truncated-model/model.safetensors", "truncated", "re-save"])
    weights.write_bytes(data[:5])
    assert_one_line_error(run_cli(audit_args(world, model=folder)), code=2, names=["model.safetensors", "too short"])
    assert_unchanged(before, world["out"])


@pytest.mark.parametrize("name", ["gpt $\\foo{$ v2", "lm [bold]x [red]y"], ids=["mathtext", "rich-markup"])
def test_hostile_model_folder_names_are_shown_verbatim(world, tmp_path, name):
    """Not an error: matplotlib never parses the name as mathtext, rich never as markup; the report names the model as it is."""
    folder = _model_copy(world, name)
    out = tmp_path / "report"
    args = audit_args(world, model=folder)
    args[args.index("--out") + 1] = str(out)
    args.remove("-q")
    outcome = run_cli(args)
    assert outcome.escaped is None, outcome.escaped
    assert outcome.code == 0, outcome.err
    from privaudit.text.shortcut import target_name

    document = json.loads((out / "report.json").read_text())
    # a config names targets in [A-Za-z0-9_.-]: the target is named after the folder with the rest replaced; its path is kept verbatim
    assert document["targets"][0]["name"] == target_name(name) and "$" not in target_name(name) and "[" not in target_name(name)
    assert document["run"]["config"]["targets"][0]["path"].endswith(name)
    assert target_name(name) in outcome.out
    import html

    page = (out / "report.html").read_text()
    assert html.escape(name, quote=False) in page  # in the config dump


def test_pickled_weights_are_never_unpickled(world):
    """A folder with only pytorch_model.bin (a pickle that could run code) is refused: weights load from safetensors only."""
    before = snapshot(world["out"])
    folder = _model_copy(world, "pickled-model")
    (folder / "model.safetensors").unlink()
    marker = folder / "unpickled"
    import pickle

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    outcome = run_cli(audit_args(world, model=folder))
    assert_one_line_error(outcome, code=2, names=["pickled-model", "cannot load"])
    assert not marker.exists(), "the pickled weights were unpickled"
    assert_unchanged(before, world["out"])


def test_remote_code_in_a_model_folder_never_runs(world):
    """A config.json that points transformers at the folder's own Python module (auto_map) does not import it."""
    before = snapshot(world["out"])
    folder = _model_copy(world, "remote-code-model")
    marker = folder / "imported"
    (folder / "evil_model.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n", encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForCausalLM": "evil_model.EvilModel", "AutoConfig": "evil_model.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    outcome = run_cli(audit_args(world, model=folder))
    assert not marker.exists(), "the model folder's own code ran"
    assert outcome.escaped is None and "Traceback" not in outcome.err
    assert_unchanged(before, world["out"]) if outcome.code != 0 else None
