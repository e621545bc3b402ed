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

__all__ = [
    "FORTUNES_DIR", "EXTRACT_PATH", "INSTALL_HINT", "parse_fortunes", "load_fortunes", "normalise_quote", "quote_author",
    "authors_with_quotes",
]

FORTUNES_DIR = Path("/usr/share/games/fortunes")
EXTRACT_PATH = Path(__file__).parent / "data" / "fortunes-extract.csv.gz"
INSTALL_HINT = "install the full corpus (about 15,000 quotes) with: sudo apt-get install fortunes"

#: Category files left out: pictures drawn in characters, and untranslated quotes.
EXCLUDED_CATEGORIES = ("ascii-art", "translate-me")

_SEPARATOR = re.compile(r"^%[ \t]*$", flags=re.MULTILINE)
#: The last " -- Name" / " — Name" / " ― Name" of a normalised quote (dash with a space before it).
_ATTRIBUTION = re.compile(r"\s(?:--|\u2014|\u2015)\s*([^\s-][^\u2014\u2015]*?)\s*$")
#: What follows the name: a work (after a comma), an address (" in <...>"), a note in brackets, an "@" or a date.
_AFTER_NAME = re.compile(r",|;|\s+in\s+<|\s*[(<\[]|\s+\d{4}\b")
_MAX_NAME_WORDS = 5


def normalise_quote(text: str) -> str:
    """One line: runs of whitespace (newlines, tabs) become one space; ends stripped.

    >>> normalise_quote("To err is human.\\n\\t\\t-- Alexander Pope")
    'To err is human. -- Alexander Pope'
    """
    return " ".join(str(text).split())


def quote_author(text: str) -> str | None:
    """The attributed author of a quote (its trailing ``-- Name``), normalised; ``None`` when there is none.

    The name is what follows the last dash (``--``, ``—`` or ``―``, with a
    space before it) up to a comma, ``in <address>``, a bracket or a year;
    surrounding quotes and a final full stop are stripped. Text that does not
    read as a name (empty, starting in lower case, more than five words,
    holding ``?``, ``!``, ``:`` or ``"``) is no attribution: ``None``.

    >>> quote_author("To err is human. -- Alexander Pope")
    'Alexander Pope'
    >>> quote_author('Buy land. -- Mark Twain, "Following the Equator"')
    'Mark Twain'
    >>> quote_author("The Linux way -- everything is a filesystem :)") is None
    True
    """
    match = _ATTRIBUTION.search(normalise_quote(text))
    if match is None:
        return None
    name = _AFTER_NAME.split(match.group(1), maxsplit=1)[0].strip().strip("'\"").rstrip(".").strip()
    words = name.split()
    if not words or not name[0].isupper() or len(words) > _MAX_NAME_WORDS or any(c in name for c in '?!:"'):
        return None
    return " ".join(words)


def authors_with_quotes(frame: pd.DataFrame, min_quotes: int = 3) -> pd.DataFrame:
    """Rows of :func:`load_fortunes` whose ``author`` has at least ``min_quotes`` quotes, sorted by author.

    Quotes without an attribution are left out. For person-level checks of
    documents: the author is the person, the quotes their documents.
    """
    if min_quotes < 1:
        raise ValueError(f"min_quotes must be at least 1, got {min_quotes}")
    attributed = frame[frame["author"].notna()]
    counts = attributed["author"].map(attributed["author"].value_counts())
    return attributed[counts >= min_quotes].sort_values(["author", "text"], kind="stable").reset_index(drop=True)


def parse_fortunes(text: str) -> list[str]:
    """Quotes of one fortune file (``%``-separated), normalised, empty ones dropped.

    >>> parse_fortunes("First quote\\n%\\nSecond\\nquote\\n%\\n")
    ['First quote', 'Second quote']
    """
    return [q for q in (normalise_quote(part) for part in _SEPARATOR.split(text)) if q]


def load_fortunes(path: str | Path | None = None, *, min_chars: int = 40, max_chars: int = 120, allow_extract: bool = True) -> pd.DataFrame:
    """Quotes with ``min_chars ≤ length ≤ max_chars`` as a frame (``category``, ``text``, ``author``), duplicates removed, sorted.

    ``author`` is :func:`quote_author` of the text (``None`` without an
    attribution); the text keeps its attribution.

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
    frame["author"] = [quote_author(text) for text in frame["text"]]
    frame.attrs["source"] = source
    return frame
