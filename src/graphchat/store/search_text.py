"""The text side of search: the words of a query, the query languages they are quoted into,
and the highlighted snippet.

The caller's text never reaches a query language: it is cut into words (letters and digits), each
quoted as a literal term, all required, the last one also matching as a prefix.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Sequence

MAX_TERMS = 16
# Only the caller's newest matches are ranked, at most this many (see store/search.py).
RANKED_CANDIDATES = 1_000
_ELLIPSIS = "…"
_SNIPPET_CHARS = 200
_WORD = re.compile(r"[^\W_]+")


def search_terms(text: str) -> list[str]:
    """The words searched for: letters and digits only, at most `MAX_TERMS`."""
    return _WORD.findall(text)[:MAX_TERMS]


def folded(word: str) -> str:
    """`word` lower-cased without diacritics, as FTS5's unicode61 tokenizer indexes it."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fts5_query(terms: Sequence[str], last: Sequence[str] = ()) -> str:
    """An FTS5 MATCH of every term; the last one as a prefix, or as any of the words in `last`
    (the indexed words that start with it)."""
    quoted = [_fts5_literal(term) for term in terms]
    if last:
        quoted[-1] = "(" + " OR ".join(_fts5_literal(word) for word in last) + ")"
    else:
        quoted[-1] += " *"  # a prefix, so a word still being typed matches
    return " AND ".join(quoted)


def _fts5_literal(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def tsquery(terms: Sequence[str]) -> str:
    """A PostgreSQL tsquery of every term, the last one as a prefix."""
    quoted = ["'" + term.replace("'", "''") + "'" for term in terms]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def _folded_alike(text: str) -> str:
    """`text` folded character by character, so that it keeps its length: a position in it is
    the same position in `text`."""
    return text.lower() if text.isascii() else "".join(map(_folded_char, text))


@functools.lru_cache(maxsize=4096)
def _folded_char(char: str) -> str:
    """`char` folded, or as it is when it folds to several characters."""
    folded_char = folded(char)
    return folded_char if len(folded_char) == 1 else char


def snippet(text: str, terms: Sequence[str]) -> str:
    """About `_SNIPPET_CHARS` of `text` around its first hit, HTML-escaped, hits in <mark>;
    accents and case are ignored when finding hits, as the indexes ignore them."""
    words = "|".join(re.escape(_folded_alike(term)) for term in terms[:-1])
    last = re.escape(_folded_alike(terms[-1])) + r"[^\W_]*"  # the last term matches as a prefix
    pattern = re.compile(rf"(?<![^\W_])(?:{words + '|' if words else ''}{last})(?![^\W_])")
    first = pattern.search(_folded_alike(text))
    begin = max(0, (first.start() if first else 0) - _SNIPPET_CHARS // 4)
    if begin > 0:
        begin = text.find(" ", begin, begin + 20) + 1 or begin  # start on a word
    window = text[begin : begin + _SNIPPET_CHARS]
    parts, at = [], 0
    for hit in pattern.finditer(_folded_alike(window)):
        parts += [html.escape(window[at : hit.start()], quote=False), "<mark>"]
        parts += [html.escape(window[hit.start() : hit.end()], quote=False), "</mark>"]
        at = hit.end()
    parts.append(html.escape(window[at:], quote=False))
    before = _ELLIPSIS if begin > 0 else ""
    after = _ELLIPSIS if begin + _SNIPPET_CHARS < len(text) else ""
    return before + "".join(parts).replace("\n", " ") + after
