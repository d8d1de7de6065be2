"""Figure titles: a title above its subtitle, wrapped between phrases to fit a figure's width."""

from __future__ import annotations

import re
import textwrap


def title_lines(title: str, subtitle: str = "", width: float | None = None) -> str:
    """Title above subtitle; with ``width`` (inches), each wrapped to fit it at the grid's 9-point font."""
    lines = [t for t in (title, subtitle) if t]
    if width is not None:
        chars = max(20, int(width * 14))
        lines = [wrap_phrases(t, chars) for t in lines]
    return "\n".join(lines)


def wrap_phrases(text: str, chars: int) -> str:
    """``text`` in lines of at most ``chars``, broken after a comma or semicolon (whole phrases), else at spaces."""
    out: list[str] = []
    for phrase in re.split(r"(?<=[;,])\s+", text):
        if out and len(out[-1]) + 1 + len(phrase) <= chars:
            out[-1] += " " + phrase
        else:
            out += textwrap.wrap(phrase, chars) or [""]
    return "\n".join(out)
