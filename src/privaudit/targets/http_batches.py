"""One batch of an HTTP target's query: what is sent, how its answer is read, and how failures are told (no network).

:class:`Batch` is one request body and its cache key; :func:`outputs_from_answer` turns a 2xx answer into
outputs or a :class:`BatchFailed` (refusing an answer that echoes a configured secret before anything reads
it); :func:`failure_message` is the one line that names the first failed batch, the count of the others and
what was kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

from privaudit.exceptions import TargetError
from privaudit.redaction import find_secret
from privaudit.targets.http_responses import ResponseFormatError, decode_outputs, extract

__all__ = ["Batch", "BatchFailed", "one_line", "refuse_secret", "outputs_from_answer", "failure_message"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass
class Batch:
    """Records ``start…stop-1`` (0-based) of a query, batch number ``index``; ``body`` is sent, ``key`` names its cached answer."""

    index: int
    start: int
    stop: int
    body: bytes
    key: str
    ids: list

    @property
    def size(self) -> int:
        return self.stop - self.start

    def describe(self, n_batches: int) -> str:
        span = f"ids {self.ids[0]}…{self.ids[-1]}" if self.size > 1 else f"id {self.ids[0]}"
        return f"batch {self.index + 1} of {n_batches} (records {self.start + 1}–{self.stop}, {span})"


class BatchFailed(TargetError):
    """One batch could not be answered; the message names the problem; ``limit``: a deadline, size cap or secret.

    The target catches it and raises one :class:`~privaudit.exceptions.TargetError` (or
    :class:`~privaudit.exceptions.LimitExceededError`) naming the batch, the endpoint and what was kept.
    """

    def __init__(self, message: str, limit: bool = False) -> None:
        super().__init__(one_line(message))
        self.limit = limit


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes (``\\n``), so a message stays one line."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def refuse_secret(content: bytes, secrets: dict[str, str]) -> None:
    """Raise :class:`BatchFailed` (a limit) if ``content`` holds any of ``secrets`` in any encoding; the message names it, never shows it."""
    found = find_secret(content, secrets)
    if found is not None:
        raise BatchFailed(
            f"the answer contains {found[0]} ({found[1]}), so it was neither cached nor shown; the server echoes credentials: "
            "fix the server, or rotate the secret if this answer was logged elsewhere", limit=True)


def outputs_from_answer(content: bytes, *, steps: Sequence[tuple], response_path: str, n_records: int, output_kind: str,
                        classes: Sequence, secrets: dict[str, str]):
    """The outputs in a 2xx answer's body (as :func:`~privaudit.targets.http_responses.decode_outputs` gives them).

    Raises :class:`BatchFailed` for an answer holding a secret, one that is not JSON, or one that does not fit
    the response path and output kind; no secret is ever in the message.
    """
    refuse_secret(content, secrets)
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        excerpt = content[:80].decode("utf-8", "replace")
        raise BatchFailed(f"the answer is not valid JSON (starts {excerpt!r})") from None
    try:
        outputs = decode_outputs(extract(document, steps), n_records=n_records, output_kind=output_kind, classes=classes)
    except (ResponseFormatError, RecursionError, ValueError, TypeError, OverflowError) as exc:  # untrusted input: every way it can be wrong
        problem = exc if isinstance(exc, ResponseFormatError) else f"it cannot be read as {output_kind} ({type(exc).__name__})"
        raise BatchFailed(f"the answer does not fit response path {response_path} and outputs: {output_kind}: {problem}") from None
    if output_kind == "labels":
        refuse_secret("\n".join(outputs).encode("utf-8", "replace"), secrets)
    return outputs


def failure_message(failures: list[str], answers: list, n_records: int, cache_root=None) -> str:
    """``"<first failure> (and k more failed batches); answered a of b batches (r of n records)<what was kept>"``."""
    done = [a for a in answers if a is not None]
    answered = sum(len(a) for a in done)
    if not done:
        kept = ""
    elif cache_root is not None:
        kept = f"; the answers are kept in the cache {cache_root} and a rerun sends only the rest"
    else:
        kept = "; set cache: FOLDER in the target's config to keep answers across runs"
    more = f" (and {len(failures) - 1} more failed batch{'es' if len(failures) > 2 else ''})" if len(failures) > 1 else ""
    return f"{failures[0]}{more}; answered {len(done)} of {len(answers)} batches ({answered:,} of {n_records:,} records){kept}"
