"""Language-model targets, every text attack, the blind baseline and canaries on a tiny GPT-2 trained here.

No download: the tokenizer is a word-level one built from a made-up
vocabulary, the model a randomly initialised 2-layer GPT-2, fine-tuned with
:func:`privaudit.text.finetune.finetune_causal_lm` until it memorises its
members (and the canaries that were coin-flipped in). A second tiny GPT-2
trained on other texts from the same distribution is the reference model.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import torch  # the llm extra (`make test` installs it)

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import DataError
from privaudit.pipeline.text_audit import audit_text
from privaudit.text.canary_audit import audit_canaries
from privaudit.text.canaries import Canary, insert_canaries
from privaudit.text.causal_lm import CausalLMTarget, load_causal_lm
from privaudit.text.finetune import finetune_causal_lm
from privaudit.report import print_summary, write_report

SYLLABLES = ["ka", "lo", "mi", "nu", "ra", "te", "vo", "si", "pe", "du", "gi", "ba"]
DIGITS = list("0123456789")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here on one torch thread (conftest's shared fixture)."""


def make_tokenizer(words):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = ["[PAD]", "[UNK]", "[BOS]"] + words + [w.capitalize() for w in words] + DIGITS + ["PIN", "is", "."]
    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocabulary)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]")


def tiny_gpt2(tokenizer, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config)


def sentences(words, n, rng):
    out = []
    for _ in range(n):
        chosen = [rng.choice(words) for _ in range(rng.integers(8, 16))]
        out.append(" ".join(w.capitalize() if rng.random() < 0.3 else w for w in chosen) + " .")
    return out


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    words = sorted({"".join(rng.choice(SYLLABLES, 2)) for _ in range(400)})[:80]
    tokenizer = make_tokenizer(words)
    texts = sentences(words, 260, rng)
    members, nonmembers, population = texts[:60], texts[60:120], texts[120:]
    canaries = [Canary(f"{w.capitalize()} PIN is ", "".join(rng.choice(DIGITS, 4))) for w in words[:16]]
    train, inserted = insert_canaries(members, canaries, repetitions=4, seed=1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped, so set up before the per-test one-thread fixture
    try:
        model = tiny_gpt2(tokenizer)
        info = finetune_causal_lm(model, tokenizer, train, epochs=30, learning_rate=3e-3, batch_size=16, max_length=32, seed=0)
        reference_model = tiny_gpt2(tokenizer, seed=1)
        finetune_causal_lm(reference_model, tokenizer, population, epochs=30, learning_rate=3e-3, batch_size=16, max_length=32, seed=0)
    finally:
        torch.set_num_threads(before)
    return {
        "words": words, "tokenizer": tokenizer, "members": members, "nonmembers": nonmembers, "canaries": canaries, "inserted": inserted,
        "model": model, "reference_model": reference_model, "info": info,
        "target": CausalLMTarget(model, tokenizer, name="tiny", max_length=32, batch_size=8),
        "reference": CausalLMTarget(reference_model, tokenizer, name="tiny-reference", max_length=32, batch_size=8),
    }


def manual_log_probs(model, tokenizer, text):
    """Unbatched, unpadded log p(x_t | x_<t) and the vocabulary mean/std of log p, straight from log_softmax."""
    ids = torch.tensor([[tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        log_p = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), dim=-1)
    token = log_p.gather(-1, ids[0, 1:, None])[:, 0]
    mean = (log_p.exp() * log_p).sum(-1)
    std = ((log_p.exp() * (log_p - mean[:, None]) ** 2).sum(-1)).sqrt()
    return token.numpy(), mean.numpy(), std.numpy()


def test_finetuning_lowers_the_loss(world):
    losses = world["info"]["loss_per_epoch"]
    assert losses[-1] < 0.5 * losses[0]


def test_token_log_probs_match_an_unbatched_computation(world):
    texts = world["members"][:5] + world["nonmembers"][:5] + ["Kalo ."]
    for bucket in (True, False):
        target = CausalLMTarget(world["model"], world["tokenizer"], max_length=32, batch_size=4, bucket=bucket)
        scores = target.token_log_probs(texts, vocab_stats=True)
        for i, text in enumerate(texts):
            token, mean, std = manual_log_probs(world["model"], world["tokenizer"], text)
            np.testing.assert_allclose(scores.text(i), token, atol=2e-5)
            np.testing.assert_allclose(scores.vocab_mean[scores.offsets[i]:scores.offsets[i + 1]], mean, atol=2e-5)
            np.testing.assert_allclose(scores.vocab_std[scores.offsets[i]:scores.offsets[i + 1]], std, atol=2e-5)
    assert target.last_stats["texts"] == len(texts)


def test_length_bucketing_cuts_padding(world):
    texts = [" ".join(["kalo"] * n) for n in (2, 25, 3, 24, 4, 23, 5, 22)]
    bucketed = CausalLMTarget(world["model"], world["tokenizer"], max_length=32, batch_size=2, bucket=True)
    plain = CausalLMTarget(world["model"], world["tokenizer"], max_length=32, batch_size=2, bucket=False)
    a, b = bucketed.token_log_probs(texts), plain.token_log_probs(texts)
    np.testing.assert_allclose(a.log_probs, b.log_probs, atol=2e-5)
    assert bucketed.last_stats["padding_fraction"] < 0.05 < plain.last_stats["padding_fraction"]


def test_max_length_truncates(world):
    target = CausalLMTarget(world["model"], world["tokenizer"], max_length=6)
    scores = target.token_log_probs([" ".join(["kalo"] * 20)])
    assert scores.lengths.tolist() == [5]  # 6 tokens with the prefix, the first of which is context only


def test_every_attack_finds_the_memorised_members(world):
    result = audit_text(world["target"], world["members"], world["nonmembers"], reference=world["reference"], n_bootstrap=200, fprs=(0.1,))
    aucs = {r.attack.split("[")[0]: r.metrics.auc for r in result.results}
    assert set(aucs) == {"loss", "zlib", "lowercase", "min_k", "min_k_plus_plus", "reference", "neighbourhood"}
    for name, auc in aucs.items():
        assert auc > 0.8, (name, auc)
    # members and non-members are drawn alike: the blind baseline sees nothing and no warning is given
    assert result.text.blind.metrics.auc_ci[0] < 0.55
    assert result.text.warning is None
    assert all(result.text.beats_blind_baseline(r) for r in result.results)
    # the same result type as a tabular audit: one target answering token log-probabilities, the claim in the text section
    assert [t.output_kind for t in result.targets] == ["token_log_probs"] and result.claims == {} and result.text.claim is not None


def test_shifted_split_triggers_the_distribution_shift_warning(world, tmp_path):
    """Members on one 'topic' (first half of the vocabulary), non-members on another: the texts alone tell them apart."""
    rng = np.random.default_rng(5)
    words = world["words"]
    topic_a, topic_b = sentences(words[:40], 60, rng), sentences(words[40:], 60, rng)
    result = audit_text(world["target"], topic_a, topic_b, attacks=["loss", "min_k"], n_bootstrap=200, fprs=(0.1,))
    assert result.text.blind.metrics.auc_ci[0] > 0.55
    assert result.text.warning is not None and "differ in distribution" in result.text.warning
    files = write_report(result, tmp_path / "shifted")
    document = json.loads(files["json"].read_text())
    assert document["text"]["warning"] == result.text.warning and document["text"]["blind_baseline"]["auc"] > 0.55
    html = files["html"].read_text()
    # the warning comes right after the verdict, before any table of figures
    assert "Member and non-member texts differ in distribution" in html
    assert html.index('id="verdicts"') < html.index("differ in distribution") < html.index('id="targets"')
    from rich.console import Console

    console = Console(record=True, width=200)
    print_summary(result, console)
    assert "differ in distribution" in console.export_text()


def test_canary_exposure_separates_inserted_canaries(world, tmp_path):
    audit = audit_canaries(world["target"], world["canaries"], world["inserted"], repetitions=4, n_candidates=60, seed=0)
    exposure, inserted = audit.exposure, audit.inserted
    assert 0 < inserted.sum() < inserted.size
    # sampled rank: every inserted canary beats all 60 candidates, the most 60 can show (log2 61 = 5.9 bits); a canary never
    # inserted reaches that top by chance once in 61 (here one of 8 does), so the headline never exceeds it
    np.testing.assert_allclose(exposure[inserted], np.log2(61))
    assert exposure.max() <= np.log2(61) + 1e-12 and exposure[~inserted].mean() < 3.0
    extrapolated = np.array([e.exposure_extrapolated for e in audit.exposures])
    assert extrapolated[inserted].min() > extrapolated[~inserted].max()
    assert extrapolated[inserted].mean() > 8.0       # the skew-normal estimate, of log2(10^4) = 13.3 bits possible
    assert extrapolated[~inserted].mean() < 4.0
    assert audit.one_run is not None and audit.one_run.n_correct >= audit.one_run.n_guesses - 1
    assert audit.one_run.group_size == 4 and audit.one_run.epsilon_lb == pytest.approx(audit.one_run.epsilon_lb_group / 4, rel=0.05)
    summary = audit.summary()
    assert summary["inserted"]["n"] == int(inserted.sum())


def test_report_files(world, tmp_path):
    result = audit_text(world["target"], world["members"][:30], world["nonmembers"][:30], attacks=["loss", {"name": "min_k", "k": 0.1}],
                        n_bootstrap=100, fprs=(0.1,))
    result.text.canaries = audit_canaries(world["target"], world["canaries"][:6], world["inserted"][:6], repetitions=4, n_candidates=20)
    files = write_report(result, tmp_path / "report")
    document = json.loads(files["json"].read_text())
    assert document["schema_version"] == "1.2"
    assert [r["attack"] for r in document["results"]] == ["loss", "min_k[k=0.1]"]
    assert len(document["text"]["canaries"]["exposures"]) == 6
    assert set(document["text"]["beats_blind_baseline"]) == {"tiny/loss", "tiny/min_k[k=0.1]"}
    assert document["verdicts"] == {"tiny": result.text.claim.sentence} and document["claims"] == {}
    scores = pd.read_csv(files["scores"])
    assert list(scores.columns) == ["record_id", "membership", "tiny/loss", "tiny/min_k[k=0.1]", "blind_baseline", "text"]
    assert (scores["membership"] == "member").sum() == 30 and scores["text"].tolist() == result.text.texts
    assert len(pd.read_csv(files["canaries"])) == 6
    assert "Canaries" in files["html"].read_text()


def test_saved_model_loads_offline_and_scores_the_same(world, tmp_path):
    folder = tmp_path / "tiny-model"
    world["model"].save_pretrained(folder)
    world["tokenizer"].save_pretrained(folder)
    model, tokenizer = load_causal_lm(folder)
    texts = world["members"][:4]
    a = CausalLMTarget(model, tokenizer, max_length=32).token_log_probs(texts)
    b = world["target"].token_log_probs(texts)
    np.testing.assert_allclose(a.log_probs, b.log_probs, atol=1e-5)
    with pytest.raises(Exception, match="config.json"):
        load_causal_lm(tmp_path)


def run_cli(args, capsys) -> tuple[int, str, str]:
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_text_audit_command(world, tmp_path, capsys):
    folder = tmp_path / "model"
    world["model"].save_pretrained(folder)
    world["tokenizer"].save_pretrained(folder)
    (tmp_path / "members.txt").write_text("\n".join(world["members"][:20]) + "\n")
    (tmp_path / "nonmembers.jsonl").write_text("".join(json.dumps({"body": t}) + "\n" for t in world["nonmembers"][:20]))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["text-audit", "--model", str(folder), "--members", str(tmp_path / "members.txt"),
                                    "--nonmembers", str(tmp_path / "nonmembers.jsonl"), "--text-column", "body", "--attack", "loss",
                                    "--attack", "zlib", "--bootstrap", "100", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "report.html" in stdout
    document = json.loads((out / "report.json").read_text())
    assert {r["attack"] for r in document["results"]} == {"loss", "zlib"}
    assert {k: document["data"][k] for k in ("n_members", "n_nonmembers", "membership_randomized")} == {
        "n_members": 20, "n_nonmembers": 20, "membership_randomized": False}
    assert document["results"][0]["auc"] > 0.8
    # the shortcut wrote the config it ran; `privaudit audit` reruns it to the same figures and the same config hash
    assert (out / "config.yaml").is_file() and (out / "texts.jsonl").is_file()
    assert document["run"]["config"]["targets"][0]["path"] == "../model"  # relative to the config, never absolute
    code, _, stderr = run_cli(["audit", str(out / "config.yaml"), "--out", str(tmp_path / "again"), "-q"], capsys)
    assert code == 0, stderr
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert [r["auc"] for r in again["results"]] == [r["auc"] for r in document["results"]]
    assert again["run"]["config_hash"] == document["run"]["config_hash"] is not None
    assert again["text"]["blind_baseline"]["auc"] == document["text"]["blind_baseline"]["auc"]
    code, _, stderr = run_cli(["text-audit", "--model", str(tmp_path / "nowhere"), "--members", str(tmp_path / "members.txt"),
                               "--nonmembers", str(tmp_path / "nonmembers.jsonl"), "--text-column", "body"], capsys)
    assert code == 2 and "not found" in stderr
    code, _, stderr = run_cli(["text-audit", "--model", str(folder), "--members", str(tmp_path / "members.txt"),
                               "--nonmembers", str(tmp_path / "nonmembers.jsonl"), "--text-column", "body", "--attack", "nope"], capsys)
    assert code == 2 and "unknown text attack 'nope'" in stderr


def test_empty_texts_are_refused(world):
    with pytest.raises(DataError, match="empty"):
        audit_text(world["target"], ["kalo ."], ["  "], blind=False)


def test_sequence_classifier_adapter_runs_the_tabular_audit(world):
    from transformers import GPT2Config, GPT2ForSequenceClassification

    from privaudit import audit
    from privaudit.text.sequence_classifier import SequenceClassifierTarget

    tokenizer = world["tokenizer"]
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2, num_labels=2,
                        pad_token_id=tokenizer.pad_token_id, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    model = GPT2ForSequenceClassification(config)
    texts = world["members"][:20] + world["nonmembers"][:20]
    records = RecordSet(np.array([f"t{i}" for i in range(40)]), pd.DataFrame({"text": texts}), np.arange(40) % 2, ("pos", "neg"))
    target = SequenceClassifierTarget(model, tokenizer, name="classifier", batch_size=8)
    logits = target.predict(records)
    assert logits.shape == (40, 2)
    # data classes ("pos", "neg") are the model's columns (1, 0): the adapter reorders them
    with torch.no_grad():
        ids = tokenizer(texts[0])["input_ids"]
        direct = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    np.testing.assert_allclose(logits[0], direct[[1, 0]], atol=1e-5)
    data = AuditData(records, np.arange(20), np.arange(20, 40), np.array([], dtype=int))
    result = audit(data, [target], ["loss", "confidence"], n_bootstrap=50, fprs=(0.1,))
    assert [r.attack for r in result.results] == ["threshold[loss]", "threshold[confidence]"]
    assert all(np.isfinite(r.scores).all() for r in result.results)


def test_importing_privaudit_text_does_not_import_torch():
    code = "import sys, privaudit, privaudit.text, privaudit.text.attacks, privaudit.text.blind, privaudit.text.canaries; " \
           "print(json.dumps([m for m in ('torch', 'transformers') if m in sys.modules]))"
    completed = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == []


def test_audit_command_runs_a_text_config(world, tmp_path, capsys):
    """`privaudit audit` on a causal_lm config (CSV texts in a named column, ids, reference LM, canaries) gives the figures of
    the same audit run in memory, with the config hash and the redacted config in the report."""
    import yaml

    from privaudit.text.data import canaries_jsonl

    for name, model in (("model", world["model"]), ("reference-model", world["reference_model"])):
        model.save_pretrained(tmp_path / name)
        world["tokenizer"].save_pretrained(tmp_path / name)
    members, nonmembers = world["members"][:30], world["nonmembers"][:30]
    pd.DataFrame({"doc": [f"d{i}" for i in range(60)], "body": members + nonmembers, "split": ["in"] * 30 + ["out"] * 30}).to_csv(
        tmp_path / "texts.csv", index=False)
    (tmp_path / "canaries.jsonl").write_text(canaries_jsonl(world["canaries"][:6], world["inserted"][:6]))
    config = {"seed": 3, "data": {"path": "texts.csv", "text_column": "body", "id_column": "doc", "membership": {"column": "split"}},
              "target": {"type": "causal_lm", "name": "tiny", "path": "model", "reference": "reference-model", "max_length": 32, "batch_size": 8,
                         "canaries": {"path": "canaries.jsonl", "repetitions": 4, "n_candidates": 20, "extrapolate": False}},
              "attacks": ["loss", "reference", {"name": "min_k", "k": 0.1}], "metrics": {"fprs": [0.1], "bootstrap": 100}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    code, stdout, stderr = run_cli(["audit", str(tmp_path / "audit.yaml"), "--out", str(tmp_path / "out")], capsys)
    assert code == 0, stderr
    assert "Blind baseline" in stdout and "Canary exposure" in stdout
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    direct = audit_text(world["target"], members, nonmembers, attacks=["loss", "reference", {"name": "min_k", "k": 0.1}],
                        reference=world["reference"], fprs=(0.1,), n_bootstrap=100, seed=3)
    assert [(r["attack"], r["auc"], r["auc_ci"]) for r in document["results"]] == [
        (r.attack, r.metrics.auc, list(r.metrics.auc_ci)) for r in direct.results]
    assert document["text"]["reference"] == "reference-model" and document["run"]["data_source"] == "texts.csv"
    assert document["run"]["config"]["targets"][0]["path"] == "model" and len(document["run"]["config_hash"]) == 64
    assert len(document["text"]["canaries"]["exposures"]) == 6
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert scores["record_id"].tolist()[:2] == ["d0", "d1"] and scores["text"].tolist() == members + nonmembers


def test_llm_demo_wiring_saves_a_folder_that_privaudit_audit_reruns(tmp_path, monkeypatch, capsys):
    """The LLM demo's plumbing with a tiny GPT-2 standing in for SmolLM2 (the real run is tests/test_text_demo.py, slow):
    the fine-tuned model saved as safetensors with its tokenizer, the 'GGUF' reference copied, texts, canaries and config
    written first, and `privaudit audit <demo>/config.yaml` reproduces the demo's figures."""
    import privaudit.text.causal_lm as causal_lm
    import privaudit.llm_demo as demo

    real_loader = causal_lm.load_causal_lm
    tokenizer = make_tokenizer(["the", "a", "of", "to", "is", "and", "you", "it", "in", "that"])
    fake_gguf = tmp_path / "wheel" / "Tiny.Q4_1.gguf"
    fake_gguf.parent.mkdir()
    fake_gguf.write_bytes(b"GGUF stand-in")

    def loader(path, **kwargs):  # the 'GGUF' file gives the same pretrained tiny model every time, like dequantising one
        return (tiny_gpt2(tokenizer, seed=0), tokenizer) if str(path).endswith(".gguf") else real_loader(path, **kwargs)

    monkeypatch.setattr(demo, "smollm2_gguf_path", lambda: fake_gguf)
    monkeypatch.setattr(causal_lm, "load_causal_lm", loader)
    settings = demo.LLMDemoSettings(pool=60, max_length=16, epochs=2, learning_rate=3e-3, batch_size=8, n_neighbours=1, n_canaries=4,
                                    canary_repetitions=2, n_candidates=10, n_bootstrap=50)
    out = tmp_path / "llm-demo"
    result, files = demo.run_llm_demo(out, settings=settings, seed=1)
    assert (out / "model" / "config.json").is_file() and (out / "model" / "model.safetensors").is_file()
    assert (out / "model" / "tokenizer_config.json").is_file() and (out / "reference" / "Tiny.Q4_1.gguf").is_file()
    assert sorted(files) == ["canaries", "claims", "html", "json", "scores"]
    config = (out / "config.yaml").read_text()
    assert "path: model" in config and "reference: reference/Tiny.Q4_1.gguf" in config and str(tmp_path) not in config
    # membership is one coin flip per author, not per quote: the per-record one-run ε bound does not apply (randomized: false)
    assert result.text.setup["settings"]["pool"] == 60 and not result.membership_randomized
    code, _, stderr = run_cli(["audit", str(out / "config.yaml"), "--out", str(tmp_path / "other"), "-q"], capsys)
    assert code == 0, stderr
    demo_report, again = (json.loads((folder / "report.json").read_text()) for folder in (out, tmp_path / "other"))
    assert [(r["attack"], r["auc"], r["auc_ci"]) for r in again["results"]] == [(r["attack"], r["auc"], r["auc_ci"]) for r in demo_report["results"]]
    assert again["run"]["config_hash"] == demo_report["run"]["config_hash"]
    assert [e["exposure"] for e in again["text"]["canaries"]["exposures"]] == [e["exposure"] for e in demo_report["text"]["canaries"]["exposures"]]
    # a second demo run into the same folder replaces its own files (the folder is privaudit's now)
    demo.run_llm_demo(out, settings=settings, seed=1)
