"""Reading texts to audit, and the fortune corpus (parser, length filter, shipped extract)."""

from __future__ import annotations

import json

import pytest

from privaudit.datasets import fortunes
from privaudit.exceptions import DataError
from privaudit.text.data import read_text_file as read_texts
from privaudit.text.texts import write_texts


def test_read_texts_formats(tmp_path):
    (tmp_path / "a.txt").write_text("first text\n\n  \nsecond text\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "line\nbreak"}) + "\n\n" + json.dumps({"text": "two"}) + "\n")
    (tmp_path / "c.csv").write_text("id,text\n1,hello\n3,world\n")
    assert read_texts(tmp_path / "a.txt") == ["first text", "second text"]
    assert read_texts(tmp_path / "b.jsonl") == ["line\nbreak", "two"]
    assert read_texts(tmp_path / "c.csv") == ["hello", "world"]
    written = write_texts(["x\ny", "z"], tmp_path / "d.jsonl")
    assert read_texts(written) == ["x\ny", "z"]


def test_read_texts_refuses_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found; check data.path"):
        read_texts(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="not found; check --members"):
        read_texts(tmp_path / "missing.txt", option="--members")
    (tmp_path / "e.docx").write_text("")
    with pytest.raises(DataError, match=".jsonl, .txt, .csv"):
        read_texts(tmp_path / "e.docx")
    (tmp_path / "blank.csv").write_text("id,text\n1,hello\n2,\n")
    with pytest.raises(DataError, match="blank.csv"):  # an empty text is refused, as in a config's texts (was dropped silently)
        read_texts(tmp_path / "blank.csv")
    (tmp_path / "f.jsonl").write_text('{"body": "no text field"}\n')
    with pytest.raises(DataError, match="line 1"):
        read_texts(tmp_path / "f.jsonl")
    (tmp_path / "g.txt").write_text("\n\n")
    with pytest.raises(DataError, match="no texts"):
        read_texts(tmp_path / "g.txt")


def test_fortune_files_are_parsed_filtered_and_deduplicated(tmp_path):
    (tmp_path / "wisdom").write_text("A short one.\n%\nA longer quote that spans\n\ttwo lines of the file.\n%\nA short one.\n%\n")
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    (tmp_path / "ascii-art").write_text("  /\\_/\\ a cat drawn in characters, long enough to pass\n%\n")
    frame = fortunes.load_fortunes(tmp_path, min_chars=5, max_chars=100)
    assert frame["text"].tolist() == ["A longer quote that spans two lines of the file.", "A short one."]
    assert set(frame["category"]) == {"wisdom"} and frame.attrs["source"] == str(tmp_path)
    assert fortunes.load_fortunes(tmp_path, min_chars=20, max_chars=100)["text"].tolist() == ["A longer quote that spans two lines of the file."]


def test_missing_corpus_falls_back_to_the_shipped_extract(tmp_path, monkeypatch):
    monkeypatch.setattr(fortunes, "FORTUNES_DIR", tmp_path / "not-installed")
    frame = fortunes.load_fortunes()
    assert len(frame) == 2000 and frame["text"].str.len().between(40, 120).all()
    assert "apt-get install fortunes" in frame.attrs["source"]
    with pytest.raises(DataError, match="apt-get install fortunes"):
        fortunes.load_fortunes(allow_extract=False)
    assert (fortunes.EXTRACT_PATH.parent / "FORTUNES_LICENSE.txt").read_text().count("Regents of the University of California") == 1
