"""Language models: membership inference on text, canary exposure, and model targets.

Importing this package (and its attacks, signals, canary maths and blind
baseline) does not import torch or transformers; the model targets
(:mod:`privaudit.text.causal_lm`, :mod:`privaudit.text.sequence_classifier`)
and fine-tuning (:mod:`privaudit.text.finetune`) import them when used
(extra ``privaudit[llm]``).
"""

from __future__ import annotations

from privaudit.text.attacks import TEXT_ATTACKS, TextAttack, TextQuery, build_text_attack, default_text_attacks
from privaudit.text.token_scores import TokenLogProbs

__all__ = ["TEXT_ATTACKS", "TextAttack", "TextQuery", "TokenLogProbs", "build_text_attack", "default_text_attacks"]
