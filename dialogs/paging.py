"""Splitting long text into USSD pages that fit the screen budget."""

from __future__ import annotations

from collections.abc import Sequence


def _wrap(line: str, width: int) -> list[str]:
    """A line cut at spaces into pieces no longer than `width`."""
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        while len(word) > width:
            if current:
                out.append(current)
                current = ""
            out.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
        else:
            out.append(current)
            current = word
    out.append(current)
    return out


def _fill(page: str, line: str, budget: int) -> tuple[str, str]:
    """`page` with as many of `line`'s first words as fit after it, and the rest of `line`."""
    words = line.split(" ")
    taken = 0
    while taken < len(words) and len(page) + 1 + len(" ".join(words[: taken + 1])) <= budget:
        taken += 1
    if taken == 0:
        return page, line
    return page + "\n" + " ".join(words[:taken]), " ".join(words[taken:])


def paginate(blocks: Sequence[str], budget: int) -> list[str]:
    """Pages of at most `budget` characters; each block starts on a new page."""
    pages: list[str] = []
    for block in blocks:
        page = ""
        for raw in block.split("\n"):
            if page and len(raw) > budget:
                # A line that is cut anyway starts in the room left on this page, or a page
                # would show one word ("Alta") before it.
                page, raw = _fill(page, raw, budget)
            for line in _wrap(raw, budget):
                candidate = f"{page}\n{line}" if page else line
                if len(candidate) <= budget:
                    page = candidate
                else:
                    pages.append(page)
                    page = line
        if page:
            pages.append(page)
    return pages or [""]
