"""Untrusted text into Markdown (CommonMark, and GitHub's tables and strikethrough): it shows
as the same characters and forms no other construct.

- ``text``: one line of prose. Control characters, line breaks and lone surrogates become
  visible escapes (``\\n``), so the text cannot start a new line (no headings, lists, quotes,
  fences, tables or setext underlines); ``& < >`` become entities (no raw HTML, no
  autolinks); ``\\ * [ ] | ~`` and ``_`` (except between letters) are backslash-escaped (no
  emphasis, links, images or table cells); a leading ``#``, ``+``, ``-``, ``=`` or ``1.`` is
  escaped too. Backticks that pair up within the line stay code spans (that is how spec
  comments quote code); any other backtick is escaped, so no span reaches another line.
- ``code``: a code span that holds any text: a backtick fence longer than any run of
  backticks inside it.
- ``fence``: a fenced block that holds any text: a fence longer than any run of backticks in
  it, so no line of the text can close it.
- ``link``: a link destination: percent-encoded.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["code", "fence", "link", "paragraph", "printable", "text"]

_SPECIAL = re.compile(r"[\\*\[\]|~]|(?<![^\W_])_|_(?![^\W_])")
_BACKTICKS = re.compile(r"`+")
_ORDERED = re.compile(r"\d+(?=[.)])")


def printable(s: str) -> str:
    """``s`` with every control character, line or paragraph separator, and lone surrogate
    written as a visible escape (``\\n``, ``\\x1b``, ``\\u2028``, ``\\udc80``)."""
    return "".join(ch if _plain(ch) else _escape(ch) for ch in s)


def _plain(ch: str) -> bool:
    return ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")


def _escape(ch: str) -> str:
    named = {"\n": "\\n", "\r": "\\r"}
    if ch in named:
        return named[ch]
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def text(s: str) -> str:
    """One line of Markdown that shows ``s`` (see the module's docstring)."""
    return paragraph([s])[0]


def paragraph(lines: list[str]) -> list[str]:
    """Lines of one Markdown paragraph that show ``lines``, each escaped as ``text`` does; a
    code span may run over several lines when every line it reaches into starts with a
    letter or digit (such a line cannot start a block)."""
    body = "\n".join(printable(line).replace("\t", " ").strip() for line in lines)
    out, pos = [], 0
    for start, end in _code_spans(body):
        out += [_plain_text(body[pos:start]), body[start:end]]
        pos = end
    out.append(_plain_text(body[pos:]))
    return [_line_start(line) for line in "".join(out).split("\n")]


def _code_spans(body: str) -> list[tuple[int, int]]:
    """Where CommonMark sees code spans in ``body`` (a run of backticks up to the next run of
    the same length), leaving out a span that would open a fence (3+ backticks starting a
    line) or reach a line that could start a block."""
    runs = list(_BACKTICKS.finditer(body))
    spans, i = [], 0
    while i < len(runs):
        opener, n = runs[i], len(runs[i].group())
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == n), None)
        at_line_start = opener.start() == 0 or body[opener.start() - 1] == "\n"
        if (
            close is None
            or (at_line_start and n >= 3)
            or not _safe_inside(body[opener.end() : runs[close].start()])
        ):
            i += 1
            continue
        spans.append((opener.start(), runs[close].end()))
        i = close + 1
    return spans


def _safe_inside(content: str) -> bool:
    """Every line that starts inside a code span's content starts with a letter, or a digit
    that does not begin an ordered-list marker."""
    starts = content.split("\n")[1:]
    return all(line[:1].isalnum() and _ORDERED.match(line) is None for line in starts)


def _plain_text(part: str) -> str:
    part = _SPECIAL.sub(lambda m: "\\" + m.group(), part).replace("`", "\\`")
    return part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line_start(line: str) -> str:
    """Escape what would make the line a heading, list item or setext underline."""
    if line[:1] in ("#", "+", "-", "="):
        return "\\" + line
    m = _ORDERED.match(line)
    return line[: m.end()] + "\\" + line[m.end() :] if m else line


def code(s: str) -> str:
    """An inline code span showing ``s`` (made printable: a code span cannot hold a line break).

    Even at the start of a line it cannot open a fence: 3 or more backticks are used only when
    ``s`` holds backticks, and a fence's info string may not."""
    body = printable(s)
    ticks = "`" * (max((len(r) for r in _BACKTICKS.findall(body)), default=0) + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def fence(body: str, info: str = "") -> str:
    """A fenced code block showing ``body`` (its lines made printable)."""
    lines = [printable(line) for line in body.split("\n")]
    longest = max((len(r) for line in lines for r in _BACKTICKS.findall(line)), default=0)
    ticks = "`" * max(3, longest + 1)
    return "\n".join([ticks + info, *lines, ticks])


def link(path: str) -> str:
    """A link destination for a relative path: every byte outside ``A-Za-z0-9/._-~``
    percent-encoded."""
    return quote(path, safe="/._-~")
