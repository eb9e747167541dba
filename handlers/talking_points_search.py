"""Finding talking points: a substring match that means the same on every database and for
every query length, made fast per database.

What matches is defined once, portably: every word of the query (NFKC, case folded) occurs in
the served copy's `search_text`, tested with LIKE. The indexes only make that quicker:
- SQLite: an FTS5 table with the trigram tokenizer over `search_text` (external content, kept
  in step by triggers) narrows the rows for words of three or more characters; the LIKE test
  then runs on those few. Trigrams cannot find shorter words (`退款`, `环保`), so those rely on
  LIKE alone.
- PostgreSQL: a pg_trgm GIN index on `search_text`, which the planner uses for LIKE '%..%' by
  itself; without the extension the same LIKE scans the table, and the answers are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, column, func, literal, select, text
from sqlmodel import Session, SQLModel

from handlers.talking_points_models import PointStatus, TalkingPoint, fold, tag_list

FTS_TABLE = "talkingpoint_fts"
TRGM_INDEX = "ix_talkingpoint_search_trgm"
# Objects no SQLModel model describes on purpose; autogenerate must leave them alone.
UNMANAGED = frozenset({
    FTS_TABLE, f"{FTS_TABLE}_data", f"{FTS_TABLE}_idx", f"{FTS_TABLE}_docsize",
    f"{FTS_TABLE}_config", f"{FTS_TABLE}_content", TRGM_INDEX,
})
SQLModel.metadata.info.setdefault("unmanaged", set()).update(UNMANAGED)
MAX_TERMS = 8
MAX_TERM = 100
TRIGRAM = 3

# Ranking, per query word (a point must contain every word somewhere to be found at all):
#   in the topic 8, in the question 4, equal to one of its tags 5 (else inside a tag 2),
#   in the answer 1.
# Then, for a query of several words, the whole phrase as typed: in the topic +6, in the
#   question +3, in the answer +1; and a topic that is exactly the query +10.
# The topic names what a point is about, the question is how people ask it, tags are the
#   approvers' own keywords, and the answer mentions many things in passing, hence the order.
# Ties: the asker's language first, then the most recently verified, then the oldest point.
W_TOPIC, W_QUESTION, W_TAG_EXACT, W_TAG, W_ANSWER = 8, 4, 5, 2, 1
W_PHRASE_TOPIC, W_PHRASE_QUESTION, W_PHRASE_ANSWER, W_TOPIC_EXACT = 6, 3, 1, 10


@dataclass(frozen=True)
class Hit:
    id: int
    topic: str
    question: str
    answer: str
    tags: list[str]
    language: str
    approved_by: str
    until: datetime | None
    score: int

    def as_values(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "question": self.question,
                "answer": self.answer, "tags": self.tags, "language": self.language,
                "approved_by": self.approved_by, "until": self.until}


@dataclass(frozen=True)
class Found:
    approved: list[Hit]  # in date: what may be said
    expired: list[Hit]  # verification lapsed: shown apart, never as approved


def terms_of(query: str) -> list[str]:
    words: list[str] = []
    for word in fold(query).split():
        word = word[:MAX_TERM]
        if word not in words:
            words.append(word)
    return words[:MAX_TERMS]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_FTS_PRESENT: dict[tuple[int, str], bool] = {}


def has_fts(session: Session) -> bool:
    """The migration skips the FTS table where SQLite lacks the trigram tokenizer (< 3.34)."""
    engine = session.get_bind()
    key = (id(engine), str(engine.url))
    if key not in _FTS_PRESENT:
        # On the session's own connection: a second one would wait for its write lock.
        found = session.connection().exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
        ).first()
        _FTS_PRESENT[key] = found is not None
    return _FTS_PRESENT[key]


def search(
    session: Session, query: str, *, now: datetime, locale: str = "zh", limit: int = 3
) -> Found:
    terms = terms_of(query)
    if not terms:
        return Found([], [])
    c = TalkingPoint.__table__.c
    where = [c.status == PointStatus.APPROVED]
    where += [c.search_text.like(_like(term), escape="\\") for term in terms]
    engine = session.get_bind()
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    if long_terms and engine.dialect.name == "sqlite" and has_fts(session):
        narrowed = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")
        narrowed = narrowed.bindparams(fts=" AND ".join(_fts_phrase(t) for t in long_terms))
        where.append(c.id.in_(narrowed.columns(column("rowid", Integer))))

    score = _score(c, terms)
    in_date = case((c.verified_until > now, 1), else_=0)
    same_language = case((c.language == locale, 1), else_=0)
    rank = func.row_number().over(
        partition_by=in_date,
        order_by=(score.desc(), same_language.desc(), c.verified_at.desc(), c.id),
    )
    inner = select(
        c.id, c.topic, c.question, c.answer, c.tags, c.language, c.verified_by_name,
        c.verified_until, in_date.label("in_date"), score.label("score"), rank.label("rank"),
    ).where(and_(*where)).subquery()
    rows = session.execute(
        select(inner).where(inner.c.rank <= limit).order_by(inner.c.in_date.desc(),
                                                           inner.c.rank)
    ).all()
    approved, expired = [], []
    for row in rows:
        hit = Hit(row.id, row.topic, row.question, row.answer, tag_list(row.tags),
                  row.language, row.verified_by_name, row.verified_until, int(row.score))
        (approved if row.in_date else expired).append(hit)
    return Found(approved, expired)


def _score(c: Any, terms: list[str]) -> Any:  # noqa: ANN401
    def has(col: Any, term: str) -> Any:  # noqa: ANN401
        return func.lower(col).like(_like(term), escape="\\")

    def points(condition: Any, weight: int) -> Any:  # noqa: ANN401
        return case((condition, weight), else_=0)

    total: Any = literal(0)
    tags = literal(",") + func.lower(c.tags) + literal(",")
    for term in terms:
        escaped = _like(term)[1:-1]
        total = (total + points(has(c.topic, term), W_TOPIC)
                 + points(has(c.question, term), W_QUESTION)
                 + case((tags.like(f"%,{escaped},%", escape="\\"), W_TAG_EXACT),
                        (has(c.tags, term), W_TAG), else_=0)
                 + points(has(c.answer, term), W_ANSWER))
    phrase = " ".join(terms)
    if len(terms) > 1:
        total = (total + points(has(c.topic, phrase), W_PHRASE_TOPIC)
                 + points(has(c.question, phrase), W_PHRASE_QUESTION)
                 + points(has(c.answer, phrase), W_PHRASE_ANSWER))
    return total + points(func.lower(c.topic) == phrase, W_TOPIC_EXACT)
