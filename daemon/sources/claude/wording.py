"""What a reply's last words say about the turn: pure, no I/O.

Claude 2.0–2.1.4x write a text's `stop_reason` as null before it is known, so a text
alone says nothing certain about the end of the turn. Its wording does, often: a text
that introduces a tool call ("Now let me write the tests:", "Let me create the filter
package.") is followed by the call, sometimes only after its input has streamed for many
seconds; a text that hands over ("Shall I open the pull request?", "Let me know if…")
ends the turn. Measured on the corpus (`python -m bench --only accuracy`).
"""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["preamble", "conclusion", "neutral"]

# The last sentence announces what the agent does next.
_ANNOUNCES = re.compile(
    r"^(?:now,?\s+|next,?\s+|first,?\s+|then,?\s+|ok(?:ay)?,?\s+|great,?\s+|good,?\s+|perfect[.!]?\s+)*"
    r"(?:let me|let's|i'll|i will|i'm going to|i am going to|i need to|i'm gonna|i should|"
    r"now i|next i|going to)\b",
    re.IGNORECASE,
)
# Words that hand the turn back to the user.
_HANDS_OVER = re.compile(
    r"\blet me know\b|\bwould you like\b|\bshall i\b|\bshould i\b|\bdo you want\b|\banything else\b|"
    r"\bfeel free\b|\bhappy to\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def last_sentence(text: str) -> str:
    tail = text.strip().splitlines()[-1].strip() if text.strip() else ""
    parts = [p for p in _SENTENCE_END.split(tail) if p.strip()]
    return parts[-1].strip() if parts else ""


def intent(text: str) -> Intent:
    """Does this reply introduce a tool call, hand the turn over, or neither?"""
    stripped = text.strip().rstrip("*_` ")
    if not stripped:
        return "neutral"
    sentence = last_sentence(stripped)
    if _HANDS_OVER.search(sentence) or stripped.endswith("?"):
        return "conclusion"
    if stripped.endswith(":") or _ANNOUNCES.match(sentence.lstrip("-*# ")):
        return "preamble"
    return "neutral"
