"""Finding talking points: a substring match that means the same on every database and for
every query length, made fast per database.

What matches is defined once, portably: every word of the query (NFKC, case folded) occurs in
the served copy's `search_text`, tested with LIKE. The indexes only make that quicker:
- SQLite: an FTS5 table with the trigram tokenizer over `search_text` (external content, kept
  in step by triggers) narrows the rows for words of three or more characters; the LIKE test
  then runs on those few. Trigrams cannot find shorter words (`退款`, `环保`), so those rely on
  LIKE alone.
- PostgreSQL: a pg_trgm GIN index on `search_text`, which serves LIKE '%..%' for words of
  three or more characters; without the extension (it needs the right to create it) the same
  LIKE reads the table, and the answers are the same.
- Two-character words, on both: an index of every two-character substring (migration
  0012_talking_point_bigrams): a contentless FTS5 table of hex tokens on SQLite
  (bot.db.bigram_tokens), a GIN index over `liaison_bigrams(search_text)` on PostgreSQL.
  A word of one character still reads the table.
- Ranking, for a one-word query: a common word matches tens of thousands of points, and
  ranking them all is what costs. The top k are then found among the points whose topic is
  the word and the first k, in tie-break order, whose topic holds it (`_top_by_topic`, over
  ix_talkingpoint_walk and ix_talkingpoint_topic_lower, migration 0017_talking_point_walk);
  when that cannot be shown within WALK points of a language, every match is ranked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, String, bindparam, column, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session, SQLModel

from bot.db import BIGRAMS, bigram_tokens
from handlers.talking_points.models import LANGUAGES, PointStatus, TalkingPoint, fold, tag_list

FTS_TABLE = "talkingpoint_fts"
TRGM_INDEX = "ix_talkingpoint_search_trgm"
BIGRAM_TABLE = "talkingpoint_bigram"  # SQLite
BIGRAM_INDEX = "ix_talkingpoint_search_bigram"  # PostgreSQL
# Objects no SQLModel model describes on purpose; autogenerate must leave them alone.
UNMANAGED = frozenset({
    FTS_TABLE, f"{FTS_TABLE}_data", f"{FTS_TABLE}_idx", f"{FTS_TABLE}_docsize",
    f"{FTS_TABLE}_config", f"{FTS_TABLE}_content", TRGM_INDEX,
    BIGRAM_TABLE, f"{BIGRAM_TABLE}_data", f"{BIGRAM_TABLE}_idx", f"{BIGRAM_TABLE}_docsize",
    f"{BIGRAM_TABLE}_config", BIGRAM_INDEX,
})
SQLModel.metadata.info.setdefault("unmanaged", set()).update(UNMANAGED)
MAX_TERMS = 8
MAX_TERM = 100
TRIGRAM = 3
BIGRAM = 2

# Ranking, per query word (a point must contain every word somewhere to be found at all), by
# the best place it occurs: in the topic 8, equal to one of the tags 5, in the question 4,
# inside a tag 2, otherwise (so in the answer) 1.
# Then, for a query of several words, the whole phrase as typed: in the topic +6, in the
#   question +3; and a topic that is exactly the query +10.
# The topic names what a point is about, tags are the approvers' own keywords, the question is
#   how people ask it, and the answer mentions many things in passing, hence the order. The
#   best place only, not a sum, so the long answer is never scanned a second time: a common
#   word can match thousands of rows, and each is scored.
# Ties: the asker's language first, then the most recently verified, then the oldest point.
W_TOPIC, W_TAG_EXACT, W_QUESTION, W_TAG, W_ANSWER = 8, 5, 4, 2, 1
W_PHRASE_TOPIC, W_PHRASE_QUESTION, W_TOPIC_EXACT = 6, 3, 10


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


def caseless(text: str) -> bool:
    """Whether no character of `text` has a case (Chinese, digits, punctuation): then no
    other character lower-cases to one of them, and a case-insensitive comparison with it is
    the same as a plain one."""
    return all(unicodedata.category(c) not in ("Lu", "Ll", "Lt") and c.lower() == c == c.upper()
               for c in text)


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_PRESENT: dict[tuple[int, str, str], bool] = {}


def _present(session: Session, what: str, sql: str) -> bool:
    engine = session.get_bind()
    key = (id(engine), str(engine.url), what)
    if key not in _PRESENT:
        # On the session's own connection: a second one would wait for its write lock.
        found = session.connection().exec_driver_sql(sql, (what,)).first()
        _PRESENT[key] = found is not None
    return _PRESENT[key]


def has_fts(session: Session) -> bool:
    """The migration skips the FTS table where SQLite lacks the trigram tokenizer (< 3.34)."""
    return _present(session, FTS_TABLE,
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")


def has_bigrams(session: Session, dialect: str) -> bool:
    """The two-character index (absent where SQLite has no FTS5, or before the migration)."""
    if dialect == "sqlite":
        return _present(session, BIGRAM_TABLE,
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    return _present(session, BIGRAM_INDEX, "SELECT 1 FROM pg_indexes WHERE indexname = %s")


def search(
    session: Session, query: str, *, now: datetime, locale: str = "zh", limit: int = 3
) -> Found:
    terms = terms_of(query)
    if not terms:
        return Found([], [])
    dialect = session.get_bind().dialect.name
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    # Two-character words with a Chinese (non-ASCII) character: in English such a word (`we`,
    # `th`) is in nearly every point, and reading the index costs more than it saves.
    short_terms = [t for t in terms if len(t) == BIGRAM and not t.isascii()]
    use_fts = bool(long_terms) and dialect == "sqlite" and has_fts(session)
    use_bigrams = bool(short_terms) and has_bigrams(session, dialect)
    phrase = " ".join(terms)
    params: dict[str, Any] = {
        "status": str(PointStatus.APPROVED), "now": now, "locale": locale, "limit": limit,
        "phrase": _like(phrase), "exact": _like(phrase)[1:-1],
        "fts": " AND ".join(_fts_phrase(t) for t in long_terms),
        "bigrams": (" AND ".join(_fts_phrase(bigram_tokens(t)) for t in short_terms)
                    if dialect == "sqlite" else short_terms),
    }
    for i, term in enumerate(terms):
        params[f"t{i}"] = _like(term)
        params[f"x{i}"] = f"%,{_like(term)[1:-1]},%"
    # PostgreSQL's cost model prices a pg_trgm GIN scan above reading a table of some
    # thousands of rows, though the index answers a three-character word several times
    # faster; with words that short or longer, the index is preferred for this query only.
    # (Shorter words yield no trigrams, so for them the table is read, as the planner wants.)
    # Two-character words are served by the bigram index, when there is one.
    indexed = len(long_terms) + (len(short_terms) if use_bigrams else 0)
    prefer_index = dialect == "postgresql" and indexed == len(terms)
    plain = dialect == "postgresql" and caseless(phrase)
    # On PostgreSQL pg_trgm finds a word of three or more characters quickly enough that the
    # walk (which reads up to WALK points when topics rarely hold the word) costs more than
    # it saves (bench/talking_points.py): it is for shorter words there.
    few = len(terms) == 1 and (
        _few(session, use_fts, use_bigrams, dialect, params)
        or (dialect == "postgresql" and len(terms[0]) >= TRIGRAM))
    found = []
    for lapsed in (False, True):
        if not lapsed and not few and (
                chosen := _top_by_topic(session, terms, params, dialect, plain)):
            # The few candidates that must hold the top k, ranked by the same statement.
            rows = session.execute(_statement(len(terms), False, dialect, False, plain=plain,
                                              only=True), {**params, "ids": chosen}).all()
            found.append([_hit(r) for r in rows])
            continue
        trigram = prefer_index and not lapsed
        # Lapsed points (a few thousand at most) are read through (status, verified_until):
        # for a common word that costs less than the tens of thousands of candidates the
        # text index names; for a rare word (SQLite's index says few) the index is quicker.
        narrow = not (lapsed and dialect == "sqlite" and len(terms) == 1 and not few)
        statement = _statement(len(terms), use_fts and narrow, dialect, lapsed, trigram,
                               use_bigrams and narrow and (dialect == "sqlite" or not lapsed),
                               plain)
        if trigram:
            session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = session.execute(statement, params).all()
        if trigram:
            session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))
        found.append([_hit(r) for r in rows])
    return Found(*found)


def _hit(r: Any) -> Hit:  # noqa: ANN401
    return Hit(r.id, r.topic, r.question, r.answer, tag_list(r.tags), r.language,
               r.verified_by_name, r.verified_until, int(r.score))


# Below this many candidates from the SQLite index, ranking every match is the quicker way.
FEW = 300


def _few(session: Session, use_fts: bool, use_bigrams: bool, dialect: str,
         params: dict[str, Any]) -> bool:
    """Whether SQLite's full-text index holds so few candidates for the word that ranking
    them all costs less than walking for the top k (counted up to FEW, so a common word costs
    no more than a rare one)."""
    if dialect != "sqlite" or not (use_fts or use_bigrams):
        return False
    table, query = (FTS_TABLE, params["fts"]) if use_fts else (BIGRAM_TABLE, params["bigrams"])
    count = session.connection().exec_driver_sql(
        f"SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?)",
        (query, FEW + 1)).scalar_one()
    return count <= FEW


# How many served points of one language a search walks, in tie-break order, looking for the
# first k whose topic holds the query, before it ranks every match instead.
WALK = 1500
# More points than this whose topic is the query itself: rank every match instead.
EXACT_MAX = 50


def _top_by_topic(session: Session, terms: list[str], params: dict[str, Any], dialect: str,
                  plain: bool) -> list[int] | None:
    """The ids of a few in-date matches that surely include the top k, or None when that
    cannot be shown cheaply (then every match is ranked, as before).

    For a one-word query a point's score is 18 if its topic is the word, 8 if its topic holds
    it, and at most 5 otherwise. Ties go to the asker's language, then the most recently
    verified, then the oldest point: the order of `ix_talkingpoint_walk` within a language.
    So the top k are among (a) the points whose topic is the word (`ix_talkingpoint_topic_
    lower`) and (b) the first k points, in that order, whose topic holds the word: walked in
    the asker's language first, then the other, as long as k of them turn up. A common word
    (matched by thousands of points) is then ranked over a handful instead of all of them."""
    limit = params["limit"]
    other = [lang for lang in LANGUAGES if lang != params["locale"]]
    if len(terms) != 1 or limit < 1 or len(other) != 1:
        return None
    like = "ILIKE" if dialect == "postgresql" and not plain else "LIKE"
    conn = session.connection()
    exact = [r[0] for r in conn.execute(
        text("SELECT id FROM talkingpoint WHERE lower(topic) = lower(:word) LIMIT :cap"),
        {"word": terms[0], "cap": EXACT_MAX + 1})]
    if len(exact) > EXACT_MAX:
        return None
    if exact and _in_top(session, exact, params, dialect, plain) >= limit:
        return exact
    chosen = set(exact)
    walk = _walk_statement(like, dialect)
    count = text("SELECT count(*) FROM (SELECT 1 FROM talkingpoint WHERE status = :status "
                 "AND language = :language LIMIT :cap) AS w")
    for language in (params["locale"], *other):
        values = {**params, "language": language, "cap": WALK}
        ids = [r[0] for r in conn.execute(walk, values)]
        chosen.update(ids)
        if len(ids) >= limit:
            return sorted(chosen)
        if conn.execute(count, {**values, "cap": WALK + 1}).scalar_one() > WALK:
            return None  # not all of this language was walked: a later point may hold it
    # Every point of both languages walked and fewer than k topics hold the word: lower
    # places decide the rest.
    return None


def _in_top(session: Session, ids: list[int], params: dict[str, Any], dialect: str,
            plain: bool) -> int:
    rows = session.execute(_statement(1, False, dialect, False, plain=plain, only=True),
                           {**params, "ids": ids}).all()
    return sum(1 for r in rows if int(r.score) >= W_TOPIC + W_TOPIC_EXACT)


@lru_cache(maxsize=4)
def _walk_statement(like: str, dialect: str) -> TextClause:
    """The first k in-date points of one language, in tie-break order, whose text holds the
    word and whose topic holds it (as the ranking compares it), reading at most :cap."""
    esc = "ESCAPE '\\'"
    # PostgreSQL keeps the order with an outer ORDER BY at no cost (the plan stays an index
    # scan under two limits, no sort). SQLite would sort all :cap rows for it, so there the
    # walked rows are taken in the order its co-routine hands them on, the subquery's; the
    # equivalence test holds both to the full ranking.
    order = "ORDER BY w.verified_at DESC, w.id\n        " if dialect == "postgresql" else ""
    sql = f"""
        SELECT w.id FROM (
            SELECT id, verified_at, verified_until, topic, search_text FROM talkingpoint
            WHERE status = :status AND language = :language
            ORDER BY verified_at DESC, id
            LIMIT :cap
        ) AS w
        WHERE w.verified_until > :now AND w.search_text LIKE :t0 {esc}
          AND w.topic {like} :t0 {esc}
        {order}LIMIT :limit"""
    when = TalkingPoint.__table__.c.verified_until.type
    return text(sql).bindparams(bindparam("now", type_=when))


@lru_cache(maxsize=64)
def _statement(count: int, use_fts: bool, dialect: str, lapsed: bool,
               trigram: bool = False, bigrams: bool = False, plain: bool = False,
               only: bool = False) -> TextClause:
    """One statement per shape (number of words, FTS or not, database), built once: the query
    runs on every `/tp`, and building it as expression objects cost more than running it.

    In-date and lapsed points are asked for separately: the first is a top-3 over the matches
    (a bounded sort, keeping only small columns; the text of the three is fetched after), the
    second reads only lapsed points, through the (status, verified_until) index. A common
    word matches thousands of rows, and sorting those with their answers attached, or ranking
    them all, is what would cost."""
    # Case-insensitive on the raw columns for ranking: SQLite's LIKE already is (for ASCII,
    # the only case these two languages have); PostgreSQL's needs ILIKE. Matching itself is
    # on the folded search_text, where LIKE is exact on both and pg_trgm's index serves it.
    # A query with no cased character (most Chinese ones) ranks the same with a plain LIKE,
    # which PostgreSQL runs several times faster than ILIKE on UTF-8 text (ILIKE lower-cases
    # both sides of every comparison, and a common word is compared on thousands of rows).
    like = "ILIKE" if dialect == "postgresql" and not plain else "LIKE"
    esc = "ESCAPE '\\'"
    if lapsed:  # few rows: the (status, verified_until) index finds them
        where = ["status = :status", "verified_until <= :now"]
    elif dialect == "sqlite":  # most rows: `+` keeps SQLite from reading them via the index
        where = ["+status = :status", "+verified_until > :now"]
    else:  # the same, written so PostgreSQL reaches for the trigram index instead
        where = ["(status || '') = :status", "(verified_until > :now) IS TRUE"]
    # The indexes narrow first (on SQLite also among lapsed points: LIKE over all of them
    # was most of a search at 100,000 points), then LIKE decides.
    if use_fts:
        where.append(f"id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts)")
    if bigrams and dialect == "sqlite":
        where.append(f"id IN (SELECT rowid FROM {BIGRAM_TABLE} WHERE {BIGRAM_TABLE} "
                     "MATCH :bigrams)")
    elif bigrams:
        where.append(f"{BIGRAMS}(search_text) @> CAST(:bigrams AS text[])")
    if only:  # a few ids known to hold the top k (_top_by_topic)
        where.append("id IN :ids")
    where += [f"search_text LIKE :t{i} {esc}" for i in range(count)]
    score = [
        f"CASE WHEN topic {like} :t{i} {esc} THEN {W_TOPIC}"
        f" WHEN (',' || tags || ',') {like} :x{i} {esc} THEN {W_TAG_EXACT}"
        f" WHEN question {like} :t{i} {esc} THEN {W_QUESTION}"
        f" WHEN tags {like} :t{i} {esc} THEN {W_TAG} ELSE {W_ANSWER} END"
        for i in range(count)
    ]
    if count > 1:
        score.append(f"CASE WHEN topic {like} :phrase {esc} THEN {W_PHRASE_TOPIC} ELSE 0 END")
        score.append(
            f"CASE WHEN question {like} :phrase {esc} THEN {W_PHRASE_QUESTION} ELSE 0 END")
    score.append(f"CASE WHEN topic {like} :exact {esc} THEN {W_TOPIC_EXACT} ELSE 0 END")
    order = "score DESC, same_language DESC, verified_at DESC, id"
    # The driver prepares a statement run often, and PostgreSQL may then keep one generic plan
    # for it. A plan made for a two-character word reads the table; the trigram-preferring
    # run therefore has its own text, so it gets (and keeps) a plan that uses the index.
    marker = "/* trigram */" if trigram else ""
    sql = f"""{marker}
        SELECT p.id, p.topic, p.question, p.answer, p.tags, p.language, p.verified_by_name,
               p.verified_until, top.score
        FROM (
            SELECT id, verified_at,
                   CASE WHEN language = :locale THEN 1 ELSE 0 END AS same_language,
                   {" + ".join(score)} AS score
            FROM talkingpoint
            WHERE {" AND ".join(where)}
            ORDER BY {order}
            LIMIT :limit
        ) AS top
        JOIN talkingpoint AS p ON p.id = top.id
        ORDER BY top.score DESC, top.same_language DESC, top.verified_at DESC, top.id"""
    when = TalkingPoint.__table__.c.verified_until.type
    binds = [bindparam("now", type_=when)]
    if only:
        binds.append(bindparam("ids", expanding=True))
    if bigrams and dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # loaded with PostgreSQL's engine

        binds.append(bindparam("bigrams", type_=ARRAY(String)))
    return text(sql).bindparams(*binds).columns(
        column("id", Integer), column("topic", String), column("question", String),
        column("answer", String), column("tags", String), column("language", String),
        column("verified_by_name", String), column("verified_until", when),
        column("score", Integer),
    )
