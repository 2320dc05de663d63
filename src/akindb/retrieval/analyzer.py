"""The keyword analyzer: how query text becomes the terms BM25 looks for.

Text is cut into terms the way SQLite FTS5's ``unicode61`` tokenizer cuts it (runs of letters
and digits, lower-cased; ``_`` and punctuation separate), English stop words are dropped, and
the FTS5 ``porter`` tokenizer stems both the chunks and the query terms.

Stop words: NLTK's 179-word English list (what ``bm25s``' "en+" list is), not Lucene's 33:
question words and auxiliaries ("how", "does", "should", "can", "what") carry no topic in a
search query, and with the short list they were matched and even highlighted (issue 12, item 7:
"does" scored 3.60). Chosen by measurement on the development splits (``bench/analyzers.py``,
docs/benchmarks.md "Finding the right passage"): on NFCorpus dev BM25 nDCG@10 goes from the
Lucene list to the NLTK list, stemming with FTS5's Porter is as good as Snowball (PyStemmer),
so the built-in tokenizer stays and nothing outside SQLite is needed.
"""

from __future__ import annotations

import re

LUCENE_STOP_WORDS: frozenset[str] = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with",
    ]
)
"""Lucene's English stop words (33): akindb's list before the ``english`` analyzer."""

STOP_WORDS_EN: frozenset[str] = frozenset(
    [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
        "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself",
        "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
        "who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be",
        "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an",
        "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for",
        "with", "about", "against", "between", "into", "through", "during", "before", "after",
        "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under",
        "again", "further", "then", "once", "here", "there", "when", "where", "why", "how", "all",
        "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
        "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don",
        "should", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "couldn", "didn",
        "doesn", "hadn", "hasn", "haven", "isn", "ma", "mightn", "mustn", "needn", "shan",
        "shouldn", "wasn", "weren", "won", "wouldn",
    ]
)
"""NLTK's English stop words (179; the apostrophe forms are split as the tokenizer splits them:
"don't" is "don" + "t", both in the list)."""

_TERM = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased runs of letters/digits: the tokens FTS5's ``unicode61`` tokenizer makes.

    >>> words("Don't copy_list(x) -- use copy.deepcopy!")
    ['don', 't', 'copy', 'list', 'x', 'use', 'copy', 'deepcopy']
    """
    return [m.group(0).lower() for m in _TERM.finditer(text)]
