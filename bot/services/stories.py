"""Grouping articles that report one event into one Story.

Two articles are one story when they share rare words and, above all, the
same names (people, places, organisations), and appeared within two days of
each other. Word rarity is measured against a background of recent articles,
not just the candidates, so a brief on "ukraine" does not find every Ukraine
story alike. Cheap, explainable, and no model is needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from bot.domain import Article, Story
from bot.services.similarity import Vector, background_idf, dot, normalised, weighted
from bot.text import stem, terms

SAME_STORY_SIMILARITY = 0.27
SAME_STORY_WINDOW = timedelta(hours=48)
# Capitalised words that do not open a sentence: a cheap stand-in for named entities.
_NAME = re.compile(r"(?<![.!?\"“]\s)(?<!^)\b[A-Z][\w'-]{2,}")


def _words_profile(article: Article) -> list[str]:
    return terms(article.title) * 2 + terms(article.text)


def _names_profile(article: Article) -> list[str]:
    text = f"{article.title}. {article.text}"
    return [stem(n.lower()) for n in _NAME.findall(text)]


def _vectors(profiles: Sequence[list[str]], background: Sequence[list[str]]) -> list[Vector]:
    idf, unseen = background_idf(background)
    return [normalised(weighted(p, idf, unseen)) for p in profiles]


def similarity_matrix(
    articles: Sequence[Article], background: Sequence[Article] = ()
) -> list[list[float]]:
    """Pairwise similarity: the mean of word and name cosine similarity."""
    pool = list({a.id: a for a in [*articles, *background]}.values())
    word_vectors = _vectors(
        [_words_profile(a) for a in articles], [_words_profile(a) for a in pool]
    )
    name_vectors = _vectors(
        [_names_profile(a) for a in articles], [_names_profile(a) for a in pool]
    )
    n = len(articles)
    return [
        [
            (dot(word_vectors[i], word_vectors[j]) + dot(name_vectors[i], name_vectors[j])) / 2
            for j in range(n)
        ]
        for i in range(n)
    ]


def group_stories(articles: Sequence[Article], background: Sequence[Article] = ()) -> list[Story]:
    """Stories in the order of their first article; the first article leads its story.

    An article joins the first story whose lead it resembles; only leads are
    compared, so one loose match cannot chain unrelated stories together.
    """
    if not articles:
        return []
    sims = similarity_matrix(articles, background)
    groups: list[list[int]] = []
    for i, article in enumerate(articles):
        for group in groups:
            lead = articles[group[0]]
            close_in_time = abs(article.published_at - lead.published_at) <= SAME_STORY_WINDOW
            same_outlet = any(articles[j].source == article.source for j in group)
            if close_in_time and not same_outlet and sims[group[0]][i] >= SAME_STORY_SIMILARITY:
                group.append(i)
                break
        else:
            groups.append([i])
    return [Story(articles=tuple(articles[i] for i in group)) for group in groups]
