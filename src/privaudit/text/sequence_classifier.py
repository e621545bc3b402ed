"""Hugging Face sequence-classification models as ordinary probability targets.

A thin adapter: it reads one text column of the records, runs the model in
length-bucketed batches and returns logits ``(n, n_classes)`` in the order of
``records.classes``. It satisfies the :class:`privaudit.targets.Target`
protocol, so every tabular signal and attack (LOSS, confidence, LiRA with
precomputed reference outputs, ...) applies to a text classifier unchanged::

    from privaudit import audit
    target = SequenceClassifierTarget(model, tokenizer, text_column="text")
    result = audit(data, [target])        # data: AuditData whose features hold a "text" column

torch is imported when :meth:`predict` runs.
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import DataError, TargetError, require
from privaudit.targets.base import check_outputs
from privaudit.text.batching import length_buckets
from privaudit.text.causal_lm import pad_batch

__all__ = ["SequenceClassifierTarget"]


class SequenceClassifierTarget:
    """Wrap ``AutoModelForSequenceClassification`` (any model whose output has ``.logits`` of shape (B, C)).

    Parameters
    ----------
    model, tokenizer
        The classifier and its tokenizer (special tokens are added as the tokenizer does by default).
    name : str
    text_column : str
        Feature column holding the texts.
    max_length, batch_size : int
    device : str
    class_order : sequence, optional
        The model's output column of each data class, as data class values
        in model-column order. Default: the model's ``config.id2label`` when
        its labels match ``records.classes`` (as strings), else the identity.
    """

    output_kind = "logits"

    def __init__(self, model, tokenizer, *, name: str = "text_classifier", text_column: str = "text", max_length: int = 256,
                 batch_size: int = 32, device: str = "cpu", class_order=None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.text_column = text_column
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.device = device
        self.class_order = None if class_order is None else list(class_order)

    def _columns(self, classes: tuple) -> np.ndarray | slice:
        order = self.class_order
        if order is None:
            id2label = getattr(getattr(self.model, "config", None), "id2label", None) or {}
            labels = [str(id2label[i]) for i in sorted(id2label)] if id2label else []
            order = labels if sorted(labels) == sorted(map(str, classes)) else None
        if order is None:
            return slice(None)
        lookup = {str(c): i for i, c in enumerate(order)}
        missing = [c for c in classes if str(c) not in lookup]
        if missing:
            raise TargetError(f"target '{self.name}': classes {missing} are not among the model's labels {order}")
        return np.array([lookup[str(c)] for c in classes])

    def predict(self, records) -> np.ndarray:
        """Logits (n, n_classes), columns in ``records.classes`` order."""
        torch = require("torch", "llm")
        if self.text_column not in records.features.columns:
            raise DataError(f"target '{self.name}': records have no text column '{self.text_column}' (columns: {', '.join(map(str, records.features.columns))})")
        texts = [str(t) for t in records.features[self.text_column]]
        encoded = [np.asarray(ids, dtype=np.int64) for ids in self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]]
        lengths = np.array([e.size for e in encoded])
        pad_id = getattr(self.tokenizer, "pad_token_id", None)
        pad_id = int(pad_id) if pad_id is not None else 0
        outputs = None
        self.model.eval()
        with torch.inference_mode():
            for batch in length_buckets(lengths, batch_size=self.batch_size):
                ids, mask = pad_batch([encoded[i] for i in batch], pad_id)
                logits = self.model(input_ids=torch.from_numpy(ids).to(self.device), attention_mask=torch.from_numpy(mask).to(self.device)).logits
                logits = logits.double().cpu().numpy()
                if outputs is None:
                    outputs = np.empty((len(texts), logits.shape[1]))
                outputs[batch] = logits
        if outputs is None:
            outputs = np.empty((0, len(records.classes)))
        return check_outputs(outputs[:, self._columns(records.classes)], records, self)
