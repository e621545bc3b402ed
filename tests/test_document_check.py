"""Issue 15, item 3: ``privaudit check CONFIG --documents FILE [--author-column COL]`` for a language-model config.

Statistics on synthetic per-document scores (uniform p-values and FPR ≤ α + 3σ for
held-out documents and for authors of 1, 3 and 5 documents that were never used),
the blind baseline of the check's own null (withholding on a confounded null, not
on documents drawn like the null), the wiring through the CLI with a cheap
stand-in language model, and one-line errors. The end-to-end run on the small
LLM demo is in tests/test_text_demo.py (slow).
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import yaml
from scipy import stats

from privaudit.datasets.fortunes import load_fortunes
from privaudit.datasets.fortunes import quote_author
from privaudit.pipeline.document_check import CONFOUNDED, check_documents, null_blind_baseline
from privaudit.text.token_scores import TokenLogProbs

ALPHA = 0.05


def _fpr_bound(n: int, alpha: float = ALPHA) -> float:
    return alpha + 3 * np.sqrt(alpha * (1 - alpha) / n)


def _texts(prefix: str, n: int) -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


# ------------------------------------------------------------------ documents


def test_document_p_values_of_held_out_documents_are_uniform_and_fpr_at_most_alpha():
    """40 checks of 25 never-used documents against fresh nulls of 200: 1,000 p-values, KS p > 0.01, FPR ≤ α + 3σ."""
    p_values, flagged = [], 0
    for rep in range(40):
        rng = np.random.default_rng(rep)
        null, checked, members = rng.normal(size=200), rng.normal(size=25), rng.normal(1.0, 1.0, size=100)
        result = check_documents(_texts("c", 25), checked, _texts("n", 200), null, members, alpha=ALPHA, blind=False)
        p_values += [d.p_value for d in result.documents]
        flagged += sum(d.p_value <= ALPHA for d in result.documents)
    assert len(p_values) == 1000
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert flagged / 1000 <= _fpr_bound(1000)


def test_member_documents_are_found_with_the_measured_power_and_bh_q_values():
    rng = np.random.default_rng(1)
    null, members = rng.normal(size=400), rng.normal(3.0, 1.0, size=300)
    checked = np.r_[rng.normal(3.0, 1.0, size=10), rng.normal(size=10)]
    result = check_documents(_texts("c", 20), checked, _texts("n", 400), null, members, alpha=ALPHA, blind=False)
    assert 0.8 < result.power < 0.98 and result.power_ci[0] < result.power < result.power_ci[1] and result.n_members == 300
    q = np.array([d.q_value for d in result.documents])
    assert np.all(q >= np.array([d.p_value for d in result.documents]) - 1e-12)
    assert sum(d.significant for d in result.documents[:10]) >= 5 and sum(d.significant for d in result.documents[10:]) <= 1
    evidence = next(d.verdict for d in result.documents if d.significant)
    assert evidence.startswith(("Strong evidence this document was used", "Moderate evidence this document was used"))
    assert "record" not in evidence and "exchangeable with the null documents" in evidence
    nothing = next(d.verdict for d in result.documents if not d.significant)
    assert nothing.startswith("No evidence this document was used") and "training documents" in nothing


def test_a_checked_document_that_is_a_held_out_document_is_left_out_of_its_own_null():
    null = np.arange(10.0)
    result = check_documents(["n 9", "new"], [9.0, 9.0], _texts("n", 10), null, np.array([5.0]), blind=False)
    assert result.documents[0].p_value == pytest.approx(1 / 10)    # (1 + 0 others ≥ 9) / 10
    assert result.documents[1].p_value == pytest.approx(2 / 11)    # (1 + 1) / 11
    assert any("left out of their own null" in n for n in result.notes)


# ------------------------------------------------------------------ authors


@pytest.mark.parametrize("size", [1, 3, 5])
def test_author_p_values_of_unused_authors_are_uniform_and_fpr_at_most_alpha(size):
    """Author effects (documents of one author alike): 40 checks of 20 unused authors against 150 null authors of the config."""
    p_values = []
    for rep in range(40):
        rng = np.random.default_rng([rep, size])
        def corpus(prefix, n_authors):
            effect = np.repeat(rng.normal(size=n_authors), size)
            return effect + rng.normal(0, 0.7, size=effect.size), np.repeat([f"{prefix}{a}" for a in range(n_authors)], size)
        null, null_authors = corpus("null-", 150)
        checked, checked_authors = corpus("checked-", 20)
        members, member_authors = corpus("member-", 30)
        result = check_documents(_texts("c", checked.size), checked, _texts("n", null.size), null, members + 1.0, alpha=ALPHA,
                                 checked_authors=checked_authors, null_authors=null_authors, member_authors=member_authors, blind=False, seed=rep)
        assert [a.n_records for a in result.authors] == [size] * 20 and all(a.n_null_persons == 150 for a in result.authors)
        p_values += [a.p_value for a in result.authors]
    assert len(p_values) == 800
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_values) <= ALPHA) <= _fpr_bound(800)


def test_an_author_of_only_non_member_documents_is_never_evidence_beyond_alpha():
    """A checked author whose documents are held-out (non-member) texts: left out of her own null, flagged at most α + 3σ."""
    flagged = 0
    for rep in range(300):
        rng = np.random.default_rng([rep, 99])
        effect = np.repeat(rng.normal(size=120), 3)
        null, null_authors = effect + rng.normal(0, 0.7, size=360), np.repeat([f"a{i}" for i in range(120)], 3)
        texts = _texts("n", 360)
        result = check_documents(texts[:3], null[:3], texts, null, null + 2, alpha=ALPHA, checked_authors=null_authors[:3],
                                 null_authors=null_authors, member_authors=null_authors, blind=False, seed=rep)
        (author,) = result.authors
        assert author.n_null_persons == 119
        flagged += author.significant
    assert flagged / 300 <= _fpr_bound(300)


def test_member_author_is_found_and_too_few_null_authors_give_no_verdict():
    rng = np.random.default_rng(5)
    null, null_authors = rng.normal(size=300), np.repeat([f"a{i}" for i in range(100)], 3)
    members, member_authors = rng.normal(2.0, 1.0, size=150), np.repeat([f"m{i}" for i in range(50)], 3)
    result = check_documents(_texts("c", 3), members[:3], _texts("n", 300), null, members, checked_authors=member_authors[:3],
                             null_authors=null_authors, member_authors=member_authors, blind=False)
    (author,) = result.authors
    assert author.power is not None and author.power > 0.6 and author.n_member_persons == 50
    assert author.significant and "this author's documents were used" in author.verdict
    few = check_documents(_texts("c", 3), members[:3], _texts("n", 30), null[:30], members, checked_authors=member_authors[:3],
                          null_authors=null_authors[:30], member_authors=member_authors, blind=False)
    assert few.authors[0].verdict.startswith("No verdict possible: only 10 null author(s) with 3 documents")
    assert not few.authors[0].significant


# ------------------------------------------------------------------ blind baseline of the null


@pytest.fixture(scope="module")
def quotes():
    return load_fortunes()["text"].tolist()


def test_checked_documents_of_another_style_are_confounded_and_evidence_is_withheld(quotes):
    """Checked documents from another corpus (clinical notes) against fortune quotes: the blind baseline withholds evidence."""
    rng = np.random.default_rng(0)
    null_texts = [quotes[i] for i in rng.choice(len(quotes), 200, replace=False)]
    notes = [f"Patient {i} admitted with {w} pain; blood pressure {120 + i} over {80 + i % 7}, discharged on day {1 + i % 5}."
             for i, w in enumerate(["chest", "abdominal", "back", "joint", "head"] * 4)]
    null = rng.normal(size=200)
    checked = np.full(len(notes), 4.0)   # member-like scores that only reflect the other source
    result = check_documents(notes, checked, null_texts, null, rng.normal(1, 1, size=100), alpha=ALPHA, n_bootstrap=100)
    assert result.blind.ran and result.blind.confounded and result.blind.auc > 0.9 and result.blind.p_value <= ALPHA
    assert all(d.verdict.startswith(CONFOUNDED) and not d.significant for d in result.documents)
    assert "confounded" in result.blind.sentence


def test_checked_documents_drawn_like_the_null_are_rarely_called_confounded(quotes):
    """40 random draws of 20 checked and 200 null quotes from one corpus: the baseline calls at most α + 3σ of them confounded."""
    confounded = 0
    for seed in range(40):
        rng = np.random.default_rng([seed, 3])
        picked = [quotes[i] for i in rng.choice(len(quotes), 220, replace=False)]
        baseline = null_blind_baseline(picked[:20], picked[20:], alpha=ALPHA, seed=seed, n_bootstrap=50)
        assert baseline.ran
        confounded += baseline.confounded
    assert confounded / 40 <= _fpr_bound(40)


@pytest.mark.slow
def test_authors_kept_apart_make_the_baseline_valid_when_authors_sign_their_quotes(quotes):
    """Checked = quotes of 4 authors, null = quotes of 60 others (each quote ends '-- Name'). With each author in one fold the
    baseline is rarely confounded (≤ α + 3σ over 60 draws); ignoring authors, it learns the names and calls it confounded often."""
    authors = np.asarray([quote_author(q) or "" for q in quotes], dtype=object)
    names, counts = np.unique(authors[authors != ""], return_counts=True)
    eligible = names[counts >= 3]
    grouped, ungrouped, runs = 0, 0, 60
    for seed in range(runs):
        rng = np.random.default_rng([seed, 5])
        chosen = rng.choice(eligible, 64, replace=False)
        take = {name: rng.choice(np.flatnonzero(authors == name), 3, replace=False) for name in chosen}
        texts = {name: [quotes[i] for i in take[name]] for name in chosen}
        checked = [t for name in chosen[:4] for t in texts[name]]
        null = [t for name in chosen[4:] for t in texts[name]]
        checked_authors, null_authors = np.repeat(chosen[:4], 3), np.repeat(chosen[4:], 3)
        grouped += null_blind_baseline(checked, null, alpha=ALPHA, seed=seed, checked_authors=checked_authors, null_authors=null_authors,
                                       n_bootstrap=50).confounded
        ungrouped += null_blind_baseline(checked, null, alpha=ALPHA, seed=seed, n_bootstrap=50).confounded
    assert grouped / runs <= _fpr_bound(runs)
    assert ungrouped > grouped


def test_too_few_checked_documents_or_one_author_say_the_baseline_was_not_run(quotes):
    one = null_blind_baseline(quotes[:2], quotes[10:60], alpha=ALPHA)
    assert not one.ran and not one.confounded and "only 2 checked document(s)" in one.sentence and "unchecked" in one.sentence
    single = null_blind_baseline(quotes[:5], quotes[10:60], alpha=ALPHA, checked_authors=["ann"] * 5, null_authors=[f"a{i}" for i in range(50)])
    assert not single.ran and "all by one author" in single.sentence


# ------------------------------------------------------------------ CLI with a stand-in language model


class WordLM:
    """A stand-in causal LM: each word's log-probability is −3 plus a per-word jitter, plus ``bonus`` for texts it 'trained' on."""

    def __init__(self, name, trained=(), bonus=0.0):
        self.name, self.trained, self.bonus = name, set(trained), bonus

    def token_log_probs(self, texts, *, vocab_stats=False):
        rows = []
        for text in texts:
            words = str(text).split()
            jitter = [(zlib.crc32(w.encode()) % 1000) / 1000 for w in words]
            rows.append([-3.0 + j + (self.bonus if text in self.trained else 0.0) for j in jitter])
        means = [np.full(len(r), -4.0) for r in rows] if vocab_stats else None
        return TokenLogProbs.from_arrays(rows, means, None if means is None else [np.ones(len(r)) for r in rows])


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory, quotes):
    folder = tmp_path_factory.mktemp("documents")
    authors = np.asarray([quote_author(q) or "" for q in quotes], dtype=object)
    names, counts = np.unique(authors[authors != ""], return_counts=True)
    chosen = np.random.default_rng(0).choice(names[counts >= 3], 60, replace=False)
    rows = []
    for k, name in enumerate(chosen):
        for i in np.flatnonzero(authors == name)[:3]:
            rows.append({"id": f"q{i}", "text": quotes[i], "member": "member" if k % 2 == 0 else "nonmember", "writer": str(name)})
    (folder / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"data": {"path": "texts.jsonl", "text_column": "text", "id_column": "id", "person_column": "writer", "membership": {"column": "member"}},
              "targets": [{"name": "lm", "type": "causal_lm", "path": "model", "reference": "base"}]}
    (folder / "model").mkdir()
    (folder / "base").mkdir()
    (folder / "lm.yaml").write_text(yaml.safe_dump(config))
    member_rows = [r for r in rows if r["member"] == "member"]
    nonmember_rows = [r for r in rows if r["member"] == "nonmember"]
    checked = [{"id": r["id"], "text": r["text"], "author": r["writer"]} for r in member_rows[:3] + nonmember_rows[:3]]
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in checked))
    (folder / "docs.txt").write_text("\n".join(r["text"] for r in checked) + "\n")
    frame = "a,b,label,split\n1,2,0,member\n2,3,1,nonmember\n"
    (folder / "table.csv").write_text(frame)
    (folder / "tabular.yaml").write_text(yaml.safe_dump({"data": {"path": "table.csv", "label": "label", "membership": {"column": "split"}},
                                                          "targets": [{"name": "t", "type": "sklearn", "path": "t.skops"}]}))
    return folder, {r["text"] for r in member_rows}


def _run(capsys, *args):
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.fixture
def stand_in_lm(monkeypatch, text_folder):
    import privaudit.text.target_config as target_config

    trained = text_folder[1]
    monkeypatch.setattr(target_config, "load_causal_lm_targets", lambda spec, base_dir: (WordLM("lm", trained, 0.8), WordLM("base")))


def test_check_documents_and_authors_through_the_cli(text_folder, stand_in_lm, capsys, tmp_path):
    folder, _ = text_folder
    code, out, err = _run(capsys, "check", str(folder / "lm.yaml"), "--documents", str(folder / "docs.jsonl"), "--author-column", "author",
                          "--json", "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    result = json.loads(out)
    assert result["attack"] == "reference" and "reference model" in result["attack_reason"]
    assert result["n_null"] == 90 and result["power"]["n_members"] == 90 and result["power"]["value"] > 0.5
    assert len(result["documents"]) == 6 and all(d["author"] for d in result["documents"])
    assert all(d["significant"] for d in result["documents"][:3]) and not any(d["significant"] for d in result["documents"][3:])
    persons = result["persons"]
    assert [p["n_records"] for p in persons] == [3, 3] and set(persons[0]) >= {"person", "n_records", "statistic", "p_value", "q_value", "verdict", "power"}
    assert persons[0]["p_value"] <= 1 / 29 + 1e-12 and persons[1]["p_value"] > ALPHA  # 28 null authors: the checked non-member one is left out
    assert result["blind_baseline"]["ran"] and not result["blind_baseline"]["confounded"]
    assert any("left out of their own null" in n for n in result["notes"])
    assert json.loads((tmp_path / "out" / "check.json").read_text()) == result


def test_check_documents_from_a_txt_file_prints_a_table(text_folder, stand_in_lm, capsys):
    folder, _ = text_folder
    code, out, err = _run(capsys, "check", str(folder / "lm.yaml"), "--documents", str(folder / "docs.txt"), "--attack", "loss", "-q")
    assert code == 0, err
    assert "line-1" in out and "blind baseline of the null" in out and "power at α = 0.05" in out and "loss: chosen with --attack" in out


@pytest.mark.parametrize("args, expected", [
    (["lm.yaml", "--documents", "missing.jsonl"], "missing.jsonl: documents file not found; check --documents"),
    (["lm.yaml", "--documents", "docs.jsonl", "--author-column", "writer"], "no 'writer' field (--author-column"),
    (["lm.yaml", "--documents", "docs.txt", "--author-column", "author"], "--author-column cannot apply"),
    (["lm.yaml"], "config checks documents: give --documents FILE"),
    (["lm.yaml", "--documents", "docs.jsonl", "--attack", "rmia"], "--attack: 'rmia' is not a text attack"),
    (["tabular.yaml", "--documents", "docs.jsonl"], "--documents: tabular.yaml audits a tabular target"),
    (["lm.yaml", "--documents", "docs.jsonl", "--null", "fabricated"], "--null fabricated: documents are tested against held-out documents"),
    (["tabular.yaml", "--author-column", "author", "--records", "x.csv"], "--author-column: names the author field of --documents"),
    (["lm.yaml", "--documents", "docs.jsonl", "--author-column", "author", "--person-column", "writer"],
     "--author-column author and --person-column writer both name"),
])
def test_document_check_errors_are_one_line_with_exit_2(text_folder, stand_in_lm, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(text_folder[0])
    code, out, err = _run(capsys, "check", *args)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("privaudit: error: ") and expected in err, err


def test_text_data_reads_the_person_column_and_refuses_an_empty_person(tmp_path):
    from privaudit.exceptions import DataError
    from privaudit.text.data import load_text_data, read_documents

    rows = [{"id": "a", "text": "one", "m": "member", "who": "ann"}, {"id": "b", "text": "two", "m": "nonmember", "who": 7},
            {"id": "c", "text": "three", "m": "", "who": ""}]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_text_data(path, id_column="id", membership_column="m", person_column="who")
    assert data.member_persons.tolist() == ["ann"] and data.nonmember_persons.tolist() == ["7"]  # a left-out text may have none
    rows[1]["who"] = " "
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"line 2: the person \(data.person_column\) is empty"):
        load_text_data(path, id_column="id", membership_column="m", person_column="who")
    with pytest.raises(DataError, match=r"line 2: the person \(--author-column\) is empty"):
        read_documents(path, author_column="who")
    documents = read_documents(path)
    assert documents.ids.tolist() == ["a", "b", "c"] and documents.authors is None
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("second\n")
    (folder / "a.txt").write_text("first document\nover two lines\n")
    (folder / "notes.md").write_text("not a document")
    from_folder = read_documents(folder)
    assert from_folder.ids.tolist() == ["a.txt", "b.txt"] and from_folder.texts == ["first document\nover two lines", "second"]
    with pytest.raises(DataError, match="no author fields"):
        read_documents(folder, author_column="who")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="and it has none; put the documents there as .txt files"):  # (said: give a .jsonl for --author-column)
        read_documents(tmp_path / "empty")
    no_ids = tmp_path / "d.jsonl"
    no_ids.write_text(json.dumps({"text": "x"}) + "\n\n" + json.dumps({"text": "y"}) + "\n")
    assert read_documents(no_ids).ids.tolist() == ["line-1", "line-3"]


def test_a_text_audit_with_membership_per_author_keeps_authors_apart_in_its_blind_baseline(text_folder):
    """Signed quotes, a coin flip per author: ignoring authors the baseline learns the names; kept apart, it sits at chance."""
    from privaudit.pipeline.text_audit import audit_text

    rows = [json.loads(line) for line in (text_folder[0] / "texts.jsonl").read_text().splitlines()]
    members = [r["text"] for r in rows if r["member"] == "member"]
    nonmembers = [r["text"] for r in rows if r["member"] == "nonmember"]
    persons = [r["writer"] for r in rows if r["member"] == "member"] + [r["writer"] for r in rows if r["member"] == "nonmember"]
    lm = WordLM("lm")  # no trace of training: any separation is the texts'
    kept = audit_text(lm, members, nonmembers, attacks=["loss"], n_bootstrap=100, persons=persons)
    ignored = audit_text(lm, members, nonmembers, attacks=["loss"], n_bootstrap=100)
    assert "each person's texts in one fold" in kept.text.blind.description and kept.text.blind.p_value > ALPHA
    assert ignored.text.blind.p_value <= ALPHA and ignored.text.blind.metrics.auc > kept.text.blind.metrics.auc + 0.2


def test_author_verdicts_are_withheld_without_real_null_authors():
    """Regression: without null authors (no data.person_column) the null was random groups of documents, and unused authors with an author
    effect were flagged about twice as often as α; now no author verdict is given (p kept for information)."""
    flagged_p = flagged = 0
    for rep in range(100):
        rng = np.random.default_rng([rep, 7])
        null = np.repeat(rng.normal(size=150), 3) + rng.normal(0, 0.7, size=450)
        checked = np.repeat(rng.normal(size=1), 3) + rng.normal(0, 0.7, size=3)
        result = check_documents(_texts("c", 3), checked, _texts("n", 450), null, null + 1, alpha=ALPHA, checked_authors=["x"] * 3,
                                 null_authors=None, blind=False, seed=rep)
        (author,) = result.authors
        flagged_p += author.p_value <= ALPHA
        flagged += author.significant
        assert author.verdict.startswith("No verdict possible: the data names no authors")
    assert flagged == 0 and flagged_p / 100 > ALPHA  # the random-groups null is too narrow: its p-values are not to be trusted


def test_cli_author_check_needs_the_configs_person_column(text_folder, stand_in_lm, capsys, monkeypatch):
    folder, _ = text_folder
    monkeypatch.chdir(folder)
    config = yaml.safe_load((folder / "lm.yaml").read_text())
    del config["data"]["person_column"]
    (folder / "lm_no_authors.yaml").write_text(yaml.safe_dump(config))
    code, out, err = _run(capsys, "check", "lm_no_authors.yaml", "--documents", "docs.jsonl", "--author-column", "author")
    assert code == 2 and err.count("\n") == 1 and "--author-column: the config names no data.person_column" in err, err


def test_a_document_given_twice_for_an_author_check_is_refused(text_folder, stand_in_lm, capsys, monkeypatch, tmp_path):
    """Regression: a repeated document counted twice in its author's statistic (against null authors of distinct documents)."""
    monkeypatch.chdir(text_folder[0])
    line = json.dumps({"id": "a", "text": "the same words", "author": "x"}) + "\n"
    (tmp_path / "twice.jsonl").write_text(line + line.replace('"a"', '"b"'))
    code, out, err = _run(capsys, "check", "lm.yaml", "--documents", str(tmp_path / "twice.jsonl"), "--author-column", "author")
    assert code == 2 and err.count("\n") == 1 and "twice.jsonl, line 2: the same text as line 1" in err, err


def test_document_power_and_bh_floor_are_the_hand_counts():
    """Null scores 0..198 (199 documents); 20 member texts placed so that j null documents score higher: p = (1 + j)/200."""
    null = np.arange(199, dtype=float)
    members = 198.5 - np.repeat([0, 4, 9, 50], 5)  # p = 0.005, 0.025, 0.05, 0.255
    five = check_documents(_texts("c", 5), np.full(5, 100.5), _texts("n", 199), null, members, alpha=ALPHA, blind=False)
    # power: p ≤ 0.05 for 15 of 20; floor: p ≤ 0.05/5 = 0.01 for 5 of 20
    assert (five.power, five.power_floor) == (15 / 20, 5 / 20)
    assert five.power_floor_ci == pytest.approx(stats.beta.ppf([0.025, 0.975], [5, 6], [16, 15]))
    silent = five.documents[0].verdict
    assert silent.startswith("No evidence this document was used")
    assert ("detects about 75 % of training documents at α = 0.05 checked alone; checked with the other 4, "
            "between 25 % (p ≤ α/5 = 0.01) and 75 %") in silent
    from privaudit.report.document_report import document_check_to_dict

    assert document_check_to_dict(five)["power"]["bh_floor"]["alpha"] == pytest.approx(ALPHA / 5)
    one = check_documents(_texts("c", 1), np.full(1, 100.5), _texts("n", 199), null, members, alpha=ALPHA, blind=False)
    assert one.power_floor == one.power == 15 / 20 and "α/" not in one.documents[0].verdict


def test_the_share_of_member_documents_bh_calls_used_lies_between_the_floor_and_the_power():
    """600 checks of m = 40 documents, 10 of them members (score N(2.5, 1) against a N(0, 1) null of 2,000)."""
    rng = np.random.default_rng(3)
    m, n_members, reps = 40, 10, 600
    null, members = rng.normal(size=2000), rng.normal(2.5, 1.0, size=20_000)
    rates, first = [], None
    for _ in range(reps):
        checked = np.r_[rng.normal(2.5, 1.0, size=n_members), rng.normal(size=m - n_members)]
        result = check_documents(_texts("c", m), checked, _texts("n", 2000), null, members, alpha=ALPHA, blind=False)
        first = first or result
        rates.append(np.mean([d.significant for d in result.documents[:n_members]]))
    rate, se = np.mean(rates), np.std(rates) / np.sqrt(reps)
    assert first.power_floor + 0.2 < first.power  # bounds far apart (about 21 % and 81 %; BH gives about 53 %), so the check can fail
    assert first.power_floor - 3 * se <= rate <= first.power + 3 * se
    assert rate > first.power_floor + 0.1 and rate < first.power - 0.1  # strictly inside: neither bound is BH's power


def test_author_verdict_with_several_authors_quotes_the_bh_floor():
    rng = np.random.default_rng(4)
    null, null_authors = rng.normal(size=600), np.repeat([f"n{i}" for i in range(200)], 3)
    members, member_authors = rng.normal(0.8, 1.0, size=150), np.repeat([f"m{i}" for i in range(50)], 3)
    checked, checked_authors = rng.normal(size=12), np.repeat([f"c{i}" for i in range(4)], 3)
    result = check_documents(_texts("c", 12), checked, _texts("n", 600), null, members, alpha=ALPHA, blind=False,
                             checked_authors=checked_authors, null_authors=null_authors, member_authors=member_authors)
    author = next(a for a in result.authors if not a.significant)
    assert author.power_floor is not None and author.power_floor <= author.power
    assert (f"checked with the other 3, between {100 * author.power_floor:.0f} % (p ≤ α/4 = 0.013) and "
            f"{100 * author.power:.0f} %") in author.verdict and "training authors" in author.verdict
