"""Multi-record real data: RAND HIE person-years (derivation checked against the one-row file) and fortunes authors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from privaudit.datasets import fortunes, load_rand_hie, load_rand_hie_years
from privaudit.datasets.rand_hie import derive_rand_hie_years, write_rand_hie_years


def test_first_year_rows_reproduce_the_one_row_per_person_file_exactly():
    years = load_rand_hie_years()
    people = load_rand_hie()
    first = years.groupby("person_id", sort=False).head(1).reset_index(drop=True)
    pd.testing.assert_frame_equal(first, people)
    assert len(years) == 20186 and years["person_id"].nunique() == 5908
    sizes = years.groupby("person_id").size()
    assert sizes.min() == 1 and sizes.max() == 5 and (sizes >= 3).sum() > 5000
    assert (years.groupby("person_id")["study_year"].apply(lambda s: s.is_monotonic_increasing and s.is_unique)).all()


def _raw_rows() -> pd.DataFrame:
    """Three statsmodels-style rows: an imputed fraction, a missing education, a fair-health admitted year."""
    base = {"plan": 1, "site": 2, "coins": 25, "female": 1, "child": 0, "num": 3, "idp": 0, "totadm": 0,
            "hlthg": 0, "hlthf": 0, "hlthp": 0, "mdvis": 4}
    rows = [
        {**base, "zper": 7, "year": 2, "xage": 30.126, "black": 0.511, "income": 1234.567, "educdec": 12.76,
         "mhi": 80.12345, "disea": 13.73189, "physlm": 0.144, "hlthf": 1, "totadm": 2},
        {**base, "zper": 7, "year": 1, "xage": 29.126, "black": 1.0, "income": 1234.567, "educdec": 12.0,
         "mhi": 80.0, "disea": 13.0, "physlm": 1.0},
        {**base, "zper": 5, "year": 1, "xage": 50.0, "black": 0.0, "income": 9.0, "educdec": np.nan,
         "mhi": 70.0, "disea": 10.0, "physlm": 0.0},
    ]
    return pd.DataFrame(rows)


def test_derivation_truncates_imputed_fractions_rounds_and_drops_missing_education(tmp_path):
    frame = derive_rand_hie_years(_raw_rows())
    assert frame["person_id"].tolist() == ["7", "7"] and frame["study_year"].tolist() == [1, 2]
    second = frame.iloc[1]
    assert (second["black"], second["education_years"], second["physical_limitation"]) == (0, 12, 0)
    assert (second["age"], second["income"], second["mental_health_index"]) == (30.13, 1234.57, 80.123)
    assert second["self_rated_health"] == "fair" and second["admitted"] == "yes"
    assert frame.iloc[0]["self_rated_health"] == "excellent" and frame.iloc[0]["admitted"] == "no"
    assert list(frame.columns) == list(load_rand_hie().columns)
    src = tmp_path / "randhie.csv"
    _raw_rows().to_csv(src, index=False)
    a, b = write_rand_hie_years(src, tmp_path / "a.csv.gz"), write_rand_hie_years(src, tmp_path / "b.csv.gz")
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()).decode().splitlines()[0].startswith("person_id,site,study_year,age")


@pytest.mark.parametrize(("text", "author"), [
    ("To err is human. -- Alexander Pope", "Alexander Pope"),
    ("To err is human.\n\t\t-- Alexander Pope", "Alexander Pope"),
    ("Buy land. -- Mark Twain, \"Pudd'nhead Wilson's Calendar\"", "Mark Twain"),
    ("Sometimes we don't. -- Larry Wall in <199709032332.QAA21669@wall.org>", "Larry Wall"),
    ("An em dash too. \u2014 Dorothy Parker.", "Dorothy Parker"),
    ("Quote. -- H. L. Mencken (1920)", "H. L. Mencken"),
    ("The Linux way -- everything is a filesystem :)", None),
    ("Nobody said it. -- unidentified source", None),
    ("No attribution at all.", None),
    ("A well-known quote-with-hyphens", None),
    ("Too long to be a name. -- This Is A Whole Sentence Not A Name", None),
    ("Ends on a dash --", None),
])
def test_quote_author_parses_the_trailing_attribution(text, author):
    assert fortunes.quote_author(text) == author


def test_shipped_extract_has_authors_and_authors_with_three_quotes(monkeypatch, tmp_path):
    monkeypatch.setattr(fortunes, "FORTUNES_DIR", tmp_path / "not-installed")
    frame = fortunes.load_fortunes()
    assert list(frame.columns) == ["category", "text", "author"] and len(frame) == 2000
    attributed = frame["author"].notna()
    assert 0.3 < attributed.mean() < 0.7
    assert (frame.loc[frame["author"] == "Mark Twain", "text"].str.contains("Twain")).all()
    prolific = fortunes.authors_with_quotes(frame, 3)
    counts = prolific["author"].value_counts()
    assert counts.min() >= 3 and len(counts) >= 20 and "Mark Twain" in counts.index
    everyone = frame["author"].value_counts()
    assert set(counts.index) == set(everyone[everyone >= 3].index)
    with pytest.raises(ValueError, match="min_quotes"):
        fortunes.authors_with_quotes(frame, 0)
