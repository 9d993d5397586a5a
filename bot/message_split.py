"""Long replies cut into Discord-sized messages without breaking their markdown.

Discord refuses messages over 2,000 characters, so a long backend reply goes out in several. A cut must
not break the markdown: a code block cut in two is closed at the cut and reopened (same language) in the
next message; a quote line cut mid-line keeps its "> " (a ">>> " quote its ">>> "); a cut never lands
inside a link, a mention, an emoji, a timestamp or inline code, and never leaves a message starting with
text that would turn into markup ("- ", "> ", "# " from the middle of a line). Cuts prefer paragraph
breaks, then line ends (so list items stay whole), then spaces; only a word longer than a message is cut
inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

MESSAGE_LIMIT = 2000

FENCE = "```"
# Spans a cut must not enter: [label](url), <@id> <@&id> <#id> <:emoji:id> <t:…> </cmd:id> <url>, `code`.
_ATOM = (
    r"\[[^\]\n]*\]\(<?[^)\s>]*>?\)"
    r"|<(?:@[!&]?\d+|#\d+|a?:\w+:\d+|t:-?\d+(?::[tTdDfFR])?|/[^<>\n:]+:\d+|https?://[^\s>]+)>"
    r"|`[^`\n]+`"
)
_WORD = re.compile(rf"(?:{_ATOM}|\S)+\s*")
_CODE_WORD = re.compile(r"\S+\s*")
# A line's leading markup stays glued to its first word, so no message ends in a bare "- " or "> ".
_MARKER = re.compile(r"(?:>>>|>|[-*+]|\d{1,9}[.)]|#{1,3}|-#)")
# A word that would become markup at the start of a message: never cut right before it mid-line.
_STARTS_BLOCK = re.compile(r"(?:>|[-*+]\s|#{1,3}\s|-#\s|\d{1,9}[.)]\s)")
_LANG = re.compile(r"[\w+#.-]{1,32}")

# How good a cut right after a piece is: the highest rank in a message's second half wins.
_PARAGRAPH, _LINE, _CODE_LINE, _SPACE, _HARD, _NEVER = 5, 4, 3, 2, 1, 0


class Part(NamedTuple):
    """One message: `opener + body + closer`. `body` is a slice of the text (stripped at the cut); the
    opener ("> ", ">>> ", "```lang\\n") and closer ("\\n```") are the markup the cut needed."""

    opener: str
    body: str
    closer: str

    @property
    def text(self) -> str:
        return self.opener + self.body + self.closer


@dataclass(frozen=True, slots=True)
class _Piece:
    """A word (with the spaces or the newline after it) and the markdown state around it."""

    text: str
    rank: int
    """How good a cut right after this piece is."""
    fence_before: str | None
    fence: str | None
    """The open code block after this piece, as the line that reopens it ("```py"); None outside code."""
    carry: str
    """What the next message starts with after a cut here: ">>> " or "> " (a quote goes on), or ""."""
    carry_inside: str
    """`carry` for a cut inside this piece (a single word longer than a message)."""


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as messages of at most `limit` characters (see the module docstring); [] for blank text."""
    return [part.text for part in split_parts(text, limit)]


def split_parts(text: str, limit: int = MESSAGE_LIMIT) -> list[Part]:
    text = text.replace("\r\n", "\n").strip()
    if len(text) <= limit:
        return [Part("", text, "")] if text else []
    pieces = _pieces(text)
    parts: list[Part] = []
    start = 0
    while start < len(pieces):
        opener = _opener(pieces[start - 1]) if start else ""
        end = _choose_end(pieces, start, limit, len(opener))
        if end is None:
            _cut_inside(pieces, start, limit, len(opener))
            continue
        body = "".join(piece.text for piece in pieces[start:end]).rstrip()
        if body.strip():
            parts.append(Part(opener, body, _closer(pieces[end - 1].fence)))
        start = end
        while start < len(pieces) and not pieces[start].text.strip() and pieces[start].fence_before is None:
            start += 1  # blank lines at a cut
    return parts


def _pieces(text: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    fence: str | None = None
    quote_region = False  # after a ">>> ", which quotes the rest of the message
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(">>> "):
            quote_region = True
        line_quote = "> " if fence is None and stripped.startswith("> ") else ""
        inside = ">>> " if quote_region else line_quote  # what a cut inside this line must carry over
        words = [m.group() for m in (_CODE_WORD if fence is not None else _WORD).finditer(stripped)]
        if fence is None:
            while len(words) > 1 and _MARKER.fullmatch(words[0].strip()):
                words[:2] = [words[0] + words[1]]
        indent = line[: len(line) - len(stripped)]
        words = [indent + words[0], *words[1:]] if words else [indent]
        opened_here = False
        for index, word in enumerate(words):
            before = fence
            fences = word.count(FENCE)
            for occurrence in range(fences):
                if fence is None:
                    rest = stripped.rsplit(FENCE, 1)[-1].strip() if occurrence == fences - 1 else ""
                    fence = FENCE + (rest if _LANG.fullmatch(rest) else "")
                    opened_here = True
                else:
                    fence, opened_here = None, False
            if index < len(words) - 1:
                following = words[index + 1]
                rank = _NEVER if fence is None and _STARTS_BLOCK.match(following) else _SPACE
                pieces.append(_Piece(word, rank, before, fence, inside, inside))
                continue
            if fence is not None:
                rank = _NEVER if opened_here else _CODE_LINE  # never end a message in an empty code block
            else:
                rank = _LINE if line.strip() else _PARAGRAPH
            pieces.append(_Piece(word + "\n", rank, before, fence, ">>> " if quote_region else "", inside))
    return pieces


def _opener(after: _Piece) -> str:
    return after.carry + (after.fence + "\n" if after.fence is not None else "")


def _closer(fence: str | None) -> str:
    return "\n" + FENCE if fence is not None else ""


def _choose_end(pieces: list[_Piece], start: int, limit: int, opener: int) -> int | None:
    """Where this message ends: everything left if it fits, else the best cut in its second half (the
    highest rank, then the latest), else the latest allowed cut; None when no allowed cut fits."""
    length = opener
    fitting: list[tuple[int, int]] = []  # (rank, end)
    for end in range(start + 1, len(pieces) + 1):
        piece = pieces[end - 1]
        length += len(piece.text)
        size = length - (len(piece.text) - len(piece.text.rstrip())) + len(_closer(piece.fence))
        if size > limit:
            break
        if end == len(pieces):
            return end
        if piece.rank > _NEVER:
            fitting.append((piece.rank if size >= limit // 2 else 0, end))
    return max(fitting)[1] if fitting else None


def _cut_inside(pieces: list[_Piece], start: int, limit: int, opener: int) -> None:
    """No allowed cut fits: cut the first piece that overflows (a word longer than a message, say a huge
    URL) where it must. A run of backticks is cut only after a multiple of three, so the code-block
    count stays right on both sides."""
    used, index = opener, start
    while index < len(pieces) - 1 and used + len(pieces[index].text) + len(_closer(pieces[index].fence)) <= limit:
        used += len(pieces[index].text)
        index += 1
    piece = pieces[index]
    room = limit - used - len(_closer(piece.fence_before))
    if room < 1 and index > start:
        # What fits is only pieces nothing may follow (a code block's first line): cut after them anyway.
        previous = pieces[index - 1]
        pieces[index - 1] = _Piece(
            previous.text, _HARD, previous.fence_before, previous.fence, previous.carry, previous.carry_inside
        )
        return
    text = piece.text
    room = max(1, min(room, len(text) - 1))
    if text[room - 1] == "`" == text[room]:
        run = room
        while run > 0 and text[run - 1] == "`":
            run -= 1
        room = run + (room - run) // 3 * 3 or 3
    fence = piece.fence_before
    for _ in range(text[:room].count(FENCE)):
        fence = FENCE if fence is None else None
    head = _Piece(text[:room], _HARD, piece.fence_before, fence, piece.carry_inside, piece.carry_inside)
    tail = _Piece(text[room:], piece.rank, fence, piece.fence, piece.carry, piece.carry_inside)
    pieces[index : index + 1] = [head, tail]
