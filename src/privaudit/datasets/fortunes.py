"""The BSD ``fortune`` quotes (Debian package ``fortunes``, BSD licence): a real text corpus for the language-model demo.

``apt-get install fortunes`` puts about 15,000 quotes in
``/usr/share/games/fortunes``: one file per category, quotes separated by
lines holding a single ``%``. :func:`load_fortunes` reads them; when the
package is not installed it falls back to an extract shipped with privaudit
(``datasets/data/fortunes-extract.csv.gz``: 2,000 quotes of 40–120
characters drawn at random from the full corpus, with the licence in
``FORTUNES_LICENSE.txt``), and says so in the frame's ``attrs["source"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from privaudit.exceptions import DataError

__all__ = ["FORTUNES_DIR", "EXTRACT_PATH", "INSTALL_HINT", "parse_fortunes", "load_fortunes", "normalise_quote"]

FORTUNES_DIR = Path("/usr/share/games/fortunes")
EXTRACT_PATH = Path(__file__).parent / "data" / "fortunes-extract.csv.gz"
INSTALL_HINT = "install the full corpus (about 15,000 quotes) with: sudo apt-get install fortunes"

#: Category files left out: pictures drawn in characters, and untranslated quotes.
EXCLUDED_CATEGORIES = ("ascii-art", "translate-me")

_SEPARATOR = re.compile(r"^%[ \t]*$", flags=re.MULTILINE)


def normalise_quote(text: str) -> str:
    """One line: runs of whitespace (newlines, tabs) become one space; ends stripped.

    >>> normalise_quote("To err is human.\\n\\t\\t-- Alexander Pope")
    'To err is human. -- Alexander Pope'
    """
    return " ".join(str(text).split())


def parse_fortunes(text: str) -> list[str]:
    """Quotes of one fortune file (``%``-separated), normalised, empty ones dropped.

    >>> parse_fortunes("First quote\\n%\\nSecond\\nquote\\n%\\n")
    ['First quote', 'Second quote']
    """
    return [q for q in (normalise_quote(part) for part in _SEPARATOR.split(text)) if q]


def load_fortunes(path: str | Path | None = None, *, min_chars: int = 40, max_chars: int = 120, allow_extract: bool = True) -> pd.DataFrame:
    """Quotes with ``min_chars ≤ length ≤ max_chars`` as a frame (``category``, ``text``), duplicates removed, sorted.

    Parameters
    ----------
    path : str or Path, optional
        Folder of fortune files (default ``/usr/share/games/fortunes``).
    min_chars, max_chars : int
        Length filter on the normalised quote.
    allow_extract : bool
        Without the folder, use the shipped extract (True) or raise
        :class:`DataError` with the install hint (False).

    ``frame.attrs["source"]`` names the folder or the extract.
    """
    folder = Path(path) if path is not None else FORTUNES_DIR
    rows = []
    if folder.is_dir():
        for file in sorted(folder.iterdir()):
            if file.suffix in (".dat", ".u8") or file.is_symlink() or not file.is_file() or file.name in EXCLUDED_CATEGORIES:
                continue
            for quote in parse_fortunes(file.read_text(encoding="utf-8", errors="replace")):
                rows.append((file.name, quote))
        source = str(folder)
    elif allow_extract and path is None and EXTRACT_PATH.is_file():
        extract = pd.read_csv(EXTRACT_PATH)
        rows = list(zip(extract["category"], extract["text"]))
        source = f"{EXTRACT_PATH.name} (extract shipped with privaudit; {INSTALL_HINT})"
    else:
        raise DataError(f"no fortune files in {folder}: {INSTALL_HINT}")
    frame = pd.DataFrame(rows, columns=["category", "text"])
    frame = frame[frame["text"].str.len().between(min_chars, max_chars)]
    frame = frame.drop_duplicates("text").sort_values(["category", "text"]).reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no quotes of {min_chars}–{max_chars} characters")
    frame.attrs["source"] = source
    return frame
