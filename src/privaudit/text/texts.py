"""Texts as sets: writing them as JSON Lines, and refusing a text that is both a member and a non-member.

Reading texts from files is :mod:`privaudit.text.data` (one reader for configs and ``text-audit``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

__all__ = ["write_texts", "shared_texts_error"]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def shared_texts_error(members: Sequence[str], nonmembers: Sequence[str], *, members_name: str = "the members",
                       nonmembers_name: str = "the non-members") -> str | None:
    """The error message when a text is both a member and a non-member (exact string match), else None.

    A text in both sets makes the split meaningless: the same text cannot
    have been trained on and not trained on.

    >>> shared_texts_error(["a", "b"], ["c"]) is None
    True
    >>> shared_texts_error(["a", "b"], ["b", "c"])
    "1 text is in both the members and the non-members (first: 'b'); a text cannot be both: remove it from one of them"
    """
    member_set = set(members)
    shared = [t for t in dict.fromkeys(nonmembers) if t in member_set]
    if not shared:
        return None
    count = f"{len(shared)} text{'s are' if len(shared) != 1 else ' is'}"
    return (f"{count} in both {members_name} and {nonmembers_name} (first: {_short(shared[0])}); "
            f"a text cannot be both: remove {'them' if len(shared) != 1 else 'it'} from one of them")


def write_texts(texts, path: str | Path) -> Path:
    """Write texts as JSON Lines (``{"text": ...}`` per line), the format that keeps any text intact."""
    path = Path(path)
    path.write_text("".join(json.dumps({"text": str(t)}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path
