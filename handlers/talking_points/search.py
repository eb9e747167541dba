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
  ranking them all is what costs. The top k are then gathered place by place, topic first
  (`_top_by_place`): from indexes of the two- and three-character substrings of each topic,
  question, tags (and, on SQLite, whole text) per language when they name few points
  (migration 0018_talking_point_places: one FTS5 table of tokens naming place and language
  on SQLite, partial GIN indexes on PostgreSQL), else by walking the tie-break order for the
  first k (ix_talkingpoint_walk, ix_talkingpoint_topic_lower, 0017_talking_point_walk).
  When neither can show the top k, every match is ranked, as before (on PostgreSQL the
  lapsed matches in the same statement as the in-date ones). Lapsed points on PostgreSQL:
  a language's text is searched through its own partial pg_trgm index
  (0019_talking_point_text_lang), where an English word names no Chinese point.
- Round trips, PostgreSQL: statements that do not wait for each other's answer go out in one
  psycopg pipeline (bot.db.Direct.pipelined): a trigram-preferring statement with its two
  SET LOCALs, the first statements of the in-date and the lapsed pass, the tags' and the
  question's candidates. Under load each round trip is a chance to wait for the CPU. Every
  statement on PostgreSQL runs as a bot.db.Direct one (_direct).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Integer, String, bindparam, column, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session, SQLModel

from bot.db import BIGRAMS, GRAMS, Direct, bigram_tokens, place_token, word_grams
from handlers.talking_points.models import LANGUAGES, PointStatus, TalkingPoint, fold, tag_list

FTS_TABLE = "talkingpoint_fts"
TRGM_INDEX = "ix_talkingpoint_search_trgm"
BIGRAM_TABLE = "talkingpoint_bigram"  # SQLite
BIGRAM_INDEX = "ix_talkingpoint_search_bigram"  # PostgreSQL
# Where a word ranks: the two- and three-character substrings of each topic and question (a
# column, or a partial index, per language), of the tags, and (SQLite) of the whole text per
# language (migration 0018_talking_point_places).
PLACE_TABLE = "talkingpoint_place"  # SQLite
PLACE_INDEXES = tuple(f"ix_talkingpoint_{column}_grams_{lang}"  # PostgreSQL
                      for column in ("topic", "question", "tags") for lang in LANGUAGES)
# PostgreSQL: pg_trgm over the text, one partial index per language (migration 0019).
TEXT_INDEXES = tuple(f"{TRGM_INDEX}_{lang}" for lang in LANGUAGES)
# PostgreSQL: the bigram index of the text, one partial index per language (migration 0021).
BIGRAM_INDEXES = tuple(f"{BIGRAM_INDEX}_{lang}" for lang in LANGUAGES)
# Objects no SQLModel model describes on purpose; autogenerate must leave them alone.
UNMANAGED = frozenset({
    FTS_TABLE, f"{FTS_TABLE}_data", f"{FTS_TABLE}_idx", f"{FTS_TABLE}_docsize",
    f"{FTS_TABLE}_config", f"{FTS_TABLE}_content", TRGM_INDEX,
    BIGRAM_TABLE, f"{BIGRAM_TABLE}_data", f"{BIGRAM_TABLE}_idx", f"{BIGRAM_TABLE}_docsize",
    f"{BIGRAM_TABLE}_config", BIGRAM_INDEX,
    *(f"{PLACE_TABLE}{suffix}" for suffix in ("", "_data", "_idx", "_docsize", "_config")),
    *PLACE_INDEXES, *TEXT_INDEXES, *BIGRAM_INDEXES,
})
SQLModel.metadata.info.setdefault("unmanaged", set()).update(UNMANAGED)
MAX_TERMS = 8
MAX_TERM = 100
TRIGRAM = 3
BIGRAM = 2
LONG = 4

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
    engine = session.get_bind().engine  # the session's bind may be a Connection (a read's)
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


def has_places(session: Session, dialect: str) -> bool:
    """The indexes of topics, questions and tags (absent without FTS5, or before 0018)."""
    if dialect == "sqlite":
        return _present(session, PLACE_TABLE,
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    return _present(session, PLACE_INDEXES[-1], "SELECT 1 FROM pg_indexes WHERE indexname = %s")


def has_text_languages(session: Session) -> bool:
    """PostgreSQL: the text's trigram indexes per language (absent without pg_trgm, or
    before 0019)."""
    return _present(session, TEXT_INDEXES[-1], "SELECT 1 FROM pg_indexes WHERE indexname = %s")


def search(
    session: Session, query: str, *, now: datetime, locale: str = "zh", limit: int = 3
) -> Found:
    terms = terms_of(query)
    if not terms:
        return Found([], [])
    if session.autoflush and (session.new or session.dirty or session.deleted):
        # The statements below run on the driver (bot.db.Direct), which does not autoflush as
        # session.execute does: this session's own changes are searched on both databases.
        session.flush()
    dialect = session.get_bind().dialect.name
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    # Two-character words with a Chinese (non-ASCII) character: in English such a word (`we`,
    # `th`) is in nearly every point, and reading the index costs more than it saves. Unless
    # it is the only word and there are place indexes: a word every match is ranked for has
    # then been found rare in topics, questions and tags (_top_by_place), so rare in all.
    placed = len(terms) == 1 and has_places(session, dialect)
    short_terms = [t for t in terms if len(t) == BIGRAM and (placed or not t.isascii())]
    use_fts = bool(long_terms) and dialect == "sqlite" and has_fts(session)
    # PostgreSQL: pg_trgm takes trigrams only inside runs of letters and digits, so for a
    # Chinese word broken by punctuation (`。公司`) it names thousands of points that hold a
    # run starting `公司`; its two-character substrings narrow it through the bigram index.
    broken = [g for t in long_terms if dialect == "postgresql" and _trigram_blind(t)
              for g in bigrams_of(t)]
    use_bigrams = bool(short_terms or broken) and has_bigrams(session, dialect)
    phrase = " ".join(terms)
    params: dict[str, Any] = {
        "status": str(PointStatus.APPROVED), "now": now, "locale": locale, "limit": limit,
        "phrase": _like(phrase), "exact": _like(phrase)[1:-1],
        "fts": " AND ".join(_fts_phrase(t) for t in long_terms),
        "bigrams": (" AND ".join(_fts_phrase(bigram_tokens(t)) for t in short_terms)
                    if dialect == "sqlite" else [*short_terms, *broken]),
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
    # Without the place indexes, on PostgreSQL pg_trgm finds a word of three or more
    # characters quickly enough that the walk (which reads up to WALK points when topics
    # rarely hold the word) costs more than it saves (bench/talking_points.py). Nor does
    # gathering by place for a Chinese word of LONG characters or more: few points hold one,
    # and ranking every match (in-date and lapsed in one statement) took p50 1.8 ms, p99
    # 2-6 ms at 100,000 points against 4 and 10-15 ms by place; at three characters a
    # common word made it p99 30 ms against 15.
    few = len(terms) == 1 and (
        _few(session, use_fts, use_bigrams, dialect, params)
        or (dialect == "postgresql" and len(terms[0]) >= TRIGRAM
            and not has_places(session, dialect))
        or (dialect == "postgresql" and len(terms[0]) >= LONG and not terms[0].isascii()))
    # PostgreSQL: the first statement of each pass (the topics, the lapsed points) in one
    # round trip (_prefetched).
    finders = {} if few or dialect != "postgresql" else _prefetched(session, terms, params,
                                                                    plain)
    found = []
    for lapsed in (False, True):
        # Lapsed points (a few thousand at most) are read through (status, verified_until):
        # for a common word that costs less than the tens of thousands of candidates the
        # text index names; for a rare word (SQLite's index says few, or the place indexes
        # found it rare in topics, questions and tags) the index is quicker.
        rare = placed and dialect == "postgresql"
        trigram = prefer_index and (not lapsed or rare)
        narrow = not (lapsed and dialect == "sqlite" and len(terms) == 1 and not few)
        bigrams = use_bigrams and narrow and (dialect == "sqlite" or not lapsed or rare)
        rows = None if few else _top_by_place(session, terms, params, dialect, plain, lapsed,
                                              (trigram, bigrams), finders.get(lapsed))
        if rows is not None:
            found.append([_hit(r) for r in rows])
            continue
        if not lapsed and dialect == "postgresql" and RANK_TOGETHER:
            # Every match ranked: the lapsed ones in the same statement (they add a twentieth
            # or so to it), instead of a lapsed pass of its own, which for a word rare in
            # topics, questions and tags took seven round trips more.
            statement = _statement(len(terms), False, dialect, False, trigram, bigrams, plain,
                                   together=True)
            rows = _ranked(session, statement, params, trigram)
            found += [[_hit(r) for r in rows if not r["lapsed"]],
                      [_hit(r) for r in rows if r["lapsed"]]]
            break
        statement = _statement(len(terms), use_fts and narrow, dialect, lapsed, trigram,
                               bigrams, plain)
        found.append([_hit(r) for r in _ranked(session, statement, params, trigram)])
    return Found(*found)


# PostgreSQL: when the in-date points are all ranked, rank the lapsed ones in the same
# statement (a switch for the tests, which compare it with the two statements apart).
RANK_TOGETHER = True


def _ranked(session: Session, statement: TextClause, params: dict[str, Any],
            trigram: bool) -> list[Any]:
    """The rows of a ranking statement, as mappings by column (`_hit`). PostgreSQL: run as
    a Direct statement (bot.db), and with `trigram` planned with sequential scans off (the
    index preferred, above), the setting put back after it, both SETs sent with it in one
    round trip instead of three. Under load each round trip is a chance to wait for the CPU
    (a SET took up to 170 ms at load 7 on 2 CPUs)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return session.execute(statement, params).mappings().all()
    if not trigram:
        return _direct(statement).rows(conn, params)
    return Direct.pipelined(conn, [(_direct(statement), params)],
                            before=(_SEQSCAN_OFF,), after=(_SEQSCAN_BACK,))[0]


# Planner settings for one statement: sent with it, in the same round trip.
_SEQSCAN_OFF = "SET LOCAL enable_seqscan = off"
_SEQSCAN_BACK = "SET LOCAL enable_seqscan TO DEFAULT"


@lru_cache(maxsize=256)
def _direct(statement: TextClause, prepare: bool = False) -> Direct:
    """PostgreSQL: `statement` (one of the lru_cache'd ones below, so the same object each
    time) as a Direct statement (bot.db), compiled once. Not prepared, unless `prepare`: the
    best plan of a search statement depends on its values (bot.db.make_engine)."""
    return Direct(statement, prepare=prepare)


def _trigram_blind(term: str) -> bool:
    """A word with Chinese (non-ASCII) characters whose runs of letters and digits are all
    shorter than three characters: pg_trgm finds no trigram inside it."""
    runs = "".join(c if c.isalnum() else " " for c in term).split()
    return not term.isascii() and all(len(run) < TRIGRAM for run in runs)


def bigrams_of(term: str) -> list[str]:
    return list(dict.fromkeys(term[i:i + BIGRAM] for i in range(len(term) - 1)))


def _hit(r: Any) -> Hit:  # noqa: ANN401
    return Hit(r["id"], r["topic"], r["question"], r["answer"], tag_list(r["tags"]),
               r["language"], r["verified_by_name"], r["verified_until"], int(r["score"]))


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


# More candidates than this from a place index: walk instead of ranking them all.
PLACE_MAX = 300
# Lapsed points are found among a place index's candidates (SQLite) when it names at most this
# many points in all; with more, every lapsed match is ranked.
LAPSED_SCAN = 5000


def _top_by_place(session: Session, terms: list[str], params: dict[str, Any], dialect: str,
                  plain: bool, lapsed: bool,
                  indexes: tuple[bool, bool] = (False, False),
                  finder: _PlaceFinder | None = None) -> list[Any] | None:
    """The top k (in-date or lapsed) ranked over a few candidates that surely include them,
    or None when that cannot be shown cheaply (then every match is ranked).

    For a one-word query a point's score is 18 if its topic is the word, 8 if its topic holds
    it, 5 if a tag is the word, 4 if the question holds it, 2 if a tag does, and 1 if only the
    answer does. Ties go to the asker's language, then the most recently verified, then the
    oldest point: the order of `ix_talkingpoint_walk` within a language. So the candidates
    are gathered place by place, best first (topic, tags, question, then the whole text),
    until they must hold the top k. For each place and language, the asker's first:
    - when the place index (migration 0018) names few points (PLACE_MAX) whose place may
      hold the word, all of them; for lapsed points, all of a language's when it has few;
    - otherwise (a word common there) the first k points in tie-break order whose place holds
      it, found by walking that order (ix_talkingpoint_walk): those beat every later point of
      that place or a lower one, so the gathering stops (with, for topics, the points whose
      topic is the word, ix_talkingpoint_topic_lower). Tags are never walked: a tag that is
      the word outranks one holding it.
    After each place every point that place or a better one scores is gathered; if the best
    k of them score that much, no other point can enter. A common word (matched by thousands
    of points) is then ranked over a few hundred at most instead of all of them."""
    limit = params["limit"]
    other = [lang for lang in LANGUAGES if lang != params["locale"]]
    if len(terms) != 1 or limit < 1 or len(other) != 1:
        return None
    word = terms[0]
    if finder is None and _placeable(session, dialect, word):
        finder = _PlaceFinder(session, dialect, word, params, lapsed, plain)
    conn = session.connection()
    chosen: set[int] = set()

    def gather(column: str) -> bool | None:
        """Adds the points of each language that `column` may rank: True when they now hold
        the top k, False when they are all of them, None when neither can be shown."""
        for language in (params["locale"], *other):
            if finder and lapsed and (few := finder.few_lapsed(language)) is not None:
                chosen.update(few)  # so few lapsed points in this language: rank them all
                continue
            ids = finder.find(column, language) if finder else None
            if ids is not None:
                chosen.update(ids)
                continue
            if column == "search_text" and finder and dialect == "postgresql":
                # Rare in topics, questions and tags, so likely in the text: ranking every
                # match through pg_trgm's or the bigram index costs less than walking.
                if not (lapsed and has_text_languages(session)):
                    return None
                # Lapsed: this language's matches ranked through its own trigram index
                # (0019), not through the index of every text, which for a common word
                # names thousands of points of the other language too. The top k of this
                # language among them, and all of those languages with few (above).
                trigram, bigrams = indexes
                statement = _statement(1, False, dialect, True, trigram, bigrams, plain,
                                       language=language)
                chosen.update(r["id"] for r in _ranked(session, statement, params, trigram))
                continue
            rows = finder.walked(column, language) if finder else None
            if rows is None:
                rows = _rows(conn, *_walk(params, dialect, plain, column, lapsed, language,
                                          word))
            walked = [point for kind, point in rows if kind == "walked"]
            # The walk finds the first k points whose topic holds the word; one whose topic is
            # the word (scoring 18) may come later: those join them.
            exact = [point for kind, point in rows if kind == "exact"]
            if len(exact) > EXACT_MAX:
                return None
            chosen.update(walked, exact)
            if len(walked) >= limit:  # they beat every later point of this place or below
                return True
            if next(point for kind, point in rows if kind == "count") > WALK:
                return None  # not all of this language was walked: a later point may hold it
        return False

    for place, floor in (("topic", W_TOPIC), ("tags", None), ("question", W_TAG),
                         ("search_text", None)):
        if place == "tags":  # not walked: a tag that is the word scores more than one holding it
            for language in (params["locale"], *other):
                ids = None
                if finder and lapsed:
                    ids = finder.few_lapsed(language)
                if finder and ids is None:
                    ids = finder.find("tags", language)
                if ids is None:
                    return None
                chosen.update(ids)
            continue
        every = gather(place)
        if every is None:
            return None
        rows = _rank(session, chosen, params, dialect, plain, lapsed)
        # Every point this place or a better one ranks is chosen: the rest score below floor.
        if every or floor is None or _enough(rows, limit, floor):
            return rows
    return None  # not reached: the answer's walk decides


def _walk(params: dict[str, Any], dialect: str, plain: bool, column: str, lapsed: bool,
          language: str, word: str) -> tuple[TextClause, dict[str, Any]]:
    """The walk of `language`'s points for the first k whose `column` holds `word`
    (_walk_statement), with its values."""
    like = "ILIKE" if dialect == "postgresql" and not plain else "LIKE"
    return (_walk_statement(like, dialect, column, lapsed), {
        **params, "language": language, "cap": WALK, "counted": WALK + 1, "word": word,
        "exact": EXACT_MAX + 1})


# PostgreSQL: for a word of ASCII letters the English topics (questions) are walked in the
# statement that finds the topics' (questions') candidates, when those are too many
# (_place_then_walk): in bench/talking_points.py nine English words in ten are then walked,
# and each waits for a round trip fewer.
WALK_AHEAD = "en"
# ... and the walk goes first, over this many English points: a word common there (`with`,
# `st`) is then found in the first few dozen, and the English candidates, which for it are
# too many, are not looked for at all. That look cost up to 3 ms at 100,000 points (a GIN
# bitmap of some 10,000 entries, then PLACE_MAX + 1 rows read, only to find them too many),
# against a few hundredths of a millisecond for the walk; a rare word, for which the look is
# quick, first costs this short walk in vain (~0.3 ms). 0: the candidates first, as before.
# (At most WALK.)
QUICK_WALK = 300


@lru_cache(maxsize=8)
def _place_then_walk(column: str, plain: bool, quick: int = 0) -> TextClause:
    """PostgreSQL: the in-date candidates whose `column` (topic, question) may hold the word,
    per language (_place_statement: rows 'place', language, id), and, only when the English
    ones are too many (a one-time filter: otherwise the walk is not run), the walk of the
    English points for it (_walk_statement: rows 'walk', kind, id).

    With `quick` (QUICK_WALK), the walk of the first :quick_cap English points comes first:
    when it finds k, those ('walk', 'walked', id) with the points whose topic is the word
    ('walk', 'exact', id) are the English rows, and the English candidates are named too
    many ('place', 'en', NULL) without being looked for. The first k of the first :quick_cap
    are the first k of the first :walk_cap. Otherwise the statement answers as without."""
    like = "LIKE" if plain else "ILIKE"
    walk = re.sub(r":cap\b", ":walk_cap", _walk_statement(like, "postgresql", column, False).text)
    if not quick:
        places = _place_statement(column, False, plain, LANGUAGES)
        sql = (f"WITH place(language, id) AS MATERIALIZED ({places.text}) "
               "SELECT 'place' AS what, language, id FROM place "
               f"UNION ALL SELECT 'walk', kind, id FROM ({walk}) AS walk(kind, id) "
               f"WHERE EXISTS (SELECT 1 FROM place WHERE language = '{WALK_AHEAD}' "
               "AND id IS NULL)")
        return text(sql).bindparams(_grams_bind(), bindparam("now", type_=_WHEN))
    others = tuple(lang for lang in LANGUAGES if lang != WALK_AHEAD)
    first, exact, _ = _walk_parts(like, "postgresql", column, False)
    first = re.sub(r":cap\b", ":quick_cap", first).replace(":language", f"'{WALK_AHEAD}'")
    exact = exact.replace("UNION ALL", "UNION ALL SELECT 'walk', * FROM (", 1)
    # Each part below is read only under its one-time filter (an InitPlan on `found`), so a
    # part not needed is not run, its materialised CTE not filled.
    sql = (f"WITH quick AS MATERIALIZED ({first}), "
           "found AS MATERIALIZED (SELECT count(*) >= :limit AS enough FROM quick), "
           f"place(language, id) AS MATERIALIZED ("
           f"{_place_statement(column, False, plain, others).text}), "
           f"ahead(language, id) AS MATERIALIZED ("
           f"{_place_statement(column, False, plain, (WALK_AHEAD,)).text}) "
           "SELECT 'place' AS what, language, id FROM place "
           "UNION ALL SELECT 'place', language, id FROM ahead "
           "WHERE NOT (SELECT enough FROM found) "
           f"UNION ALL SELECT 'place', '{WALK_AHEAD}', NULL WHERE (SELECT enough FROM found) "
           "UNION ALL SELECT 'walk', 'walked', id FROM quick WHERE (SELECT enough FROM found) "
           + (f"{exact}) AS e WHERE (SELECT enough FROM found) " if exact else "")
           + f"UNION ALL SELECT 'walk', kind, id FROM ({walk}) AS walk(kind, id) "
           "WHERE NOT (SELECT enough FROM found) "
           "AND EXISTS (SELECT 1 FROM ahead WHERE id IS NULL)")
    return text(sql).bindparams(_grams_bind(), bindparam("now", type_=_WHEN))


def _placeable(session: Session, dialect: str, word: str) -> bool:
    """The place indexes hold the grams of lower(text): a word of two or more characters whose
    case lower() and the ranking's LIKE/ILIKE treat alike (ASCII, or none at all)."""
    return (len(word) >= BIGRAM and (word.isascii() or caseless(word))
            and has_places(session, dialect))


def _prefetched(session: Session, terms: list[str], params: dict[str, Any],
                plain: bool) -> dict[bool, _PlaceFinder]:
    """PostgreSQL, a one-word query gathered by place: the place finders of the in-date
    (False) and the lapsed pass (True), with the first statement of each (the points whose
    topic may hold the word; the few lapsed points, or the lapsed ones by topic) already run,
    both in one pipeline: the lapsed pass's first statement does not depend on the in-date
    pass, and a search then waits for one round trip fewer. (When the in-date pass ranks
    every match, with the lapsed ones, the second was for nothing: about a tenth of searches
    in bench/talking_points.py, for 0.5-1 ms of the server's time.)"""
    other = [lang for lang in LANGUAGES if lang != params["locale"]]
    if (len(terms) != 1 or params["limit"] < 1 or len(other) != 1
            or not _placeable(session, "postgresql", terms[0])):
        return {}
    finders = {lapsed: _PlaceFinder(session, "postgresql", terms[0], params, lapsed, plain)
               for lapsed in (False, True)}
    topics, lapsed = _pipelined(session.connection(), [
        finders[False].places("topic", LANGUAGES), finders[True].lapsed_query()])
    finders[False].found("topic", topics)
    finders[True].lapsed_found(lapsed)
    return finders


def _pipelined(conn: Any, batch: list[tuple[TextClause, dict[str, Any]]]) -> list[list[Any]]:  # noqa: ANN401
    """PostgreSQL: the rows of each (statement, values) in one round trip
    (bot.db.Direct.pipelined), prepared but for the lapsed points' statement. The place
    statements (_place_statement) read an index fixed by the statement itself (a partial index
    per literal language), so their generic plan, which PostgreSQL takes after five runs, is
    the custom one, and planning them for every search cost more than running most of them.
    The walk-first statement (_place_then_walk) keeps custom plans (PostgreSQL judges its
    generic plan dearer): prepared, it is only not parsed again. The statements ranking every
    match are not prepared (their plans depend on the word: bot.db.make_engine)."""
    return Direct.pipelined(conn, [(_direct(statement, prepare=_preparable(statement)), params)
                                   for statement, params in batch])


def _preparable(statement: TextClause) -> bool:
    """Not the lapsed points' statement: its best plan depends on :now (how many points have
    lapsed). A generic plan guesses a third of them and reads the whole table: 24-49 ms at
    100,000 points against 1-2 ms (found by review, with plan_cache_mode =
    force_generic_plan; PostgreSQL kept custom plans only by its cost estimate's margin)."""
    return not any(statement is _lapsed_statement(plain) for plain in (False, True))


def _rows(conn: Any, statement: TextClause, params: dict[str, Any]) -> list[Any]:  # noqa: ANN401
    """The rows of a statement without declared columns, tuples: on PostgreSQL as a Direct
    statement (bot.db), on SQLite through SQLAlchemy."""
    if conn.dialect.name == "postgresql":
        return _direct(statement).rows(conn, params)
    return conn.execute(statement, params).all()


def _enough(rows: list[Any], limit: int, score: int) -> bool:
    """Whether all of the top k scored at least `score` (then no point below it can enter)."""
    return len(rows) >= limit and all(int(r["score"]) >= score for r in rows)


def _rank(session: Session, ids: set[int], params: dict[str, Any], dialect: str, plain: bool,
          lapsed: bool) -> list[Any]:
    if not ids:
        return []
    statement = _statement(1, False, dialect, lapsed, plain=plain, only=True)
    if dialect == "postgresql":
        # Its plan does not depend on the values (the ids through the primary key, a few
        # hundred at most): prepared, PostgreSQL plans it once per connection (a custom plan
        # for each of the first five runs, then the generic one), where planning it for each
        # search cost about as much as running it (~0.3 ms).
        return _direct(statement, prepare=True).rows(session.connection(),
                                                     {**params, "ids": sorted(ids)})
    return session.execute(statement, {**params, "ids": sorted(ids)}).mappings().all()


class _PlaceFinder:
    """The points of one language whose topic, question, tags or (SQLite) whole text may hold
    a word, from the indexes of migration 0018: all of them, or None when there are more than
    PLACE_MAX. In-date and lapsed points alike (a few more candidates are harmless: the
    ranking's own comparison decides), or, for the lapsed pass, only the lapsed ones."""

    def __init__(self, session: Session, dialect: str, word: str, params: dict[str, Any],
                 lapsed: bool, plain: bool) -> None:
        self.session, self.conn = session, session.connection()
        self.dialect, self.word, self.params = dialect, word, params
        self.lapsed, self.plain = lapsed, plain
        self._few: dict[str, list[int] | None] = {}
        self._found: dict[str, dict[str, list[int] | None]] = {}
        # Walks run ahead (_prefetched): their rows by place and language.
        self.walks: dict[tuple[str, str], list[Any]] = {}

    def walked(self, column: str, language: str) -> list[Any] | None:
        return self.walks.get((column, language))

    def find(self, column: str, language: str) -> list[int] | None:
        if self.dialect == "postgresql":
            ids = self._postgresql(column, language)
        else:
            ids = self._sqlite(column, language)
        return ids if ids is not None and len(ids) <= PLACE_MAX else None

    def _sqlite(self, column: str, language: str) -> list[int] | None:
        # Every gram of the word, in this place and language: one short list per gram.
        match = " AND ".join(place_token(column, language, g) for g in word_grams(self.word))
        if not self.lapsed:
            return [r[0] for r in self.conn.exec_driver_sql(
                f"SELECT rowid FROM {PLACE_TABLE} WHERE {PLACE_TABLE} MATCH ? LIMIT ?",
                (match, PLACE_MAX + 1))]
        count = self.conn.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT rowid FROM {PLACE_TABLE} WHERE {PLACE_TABLE} "
            "MATCH ? LIMIT ?)", (match, LAPSED_SCAN + 1)).scalar_one()
        if count == 0 or count > LAPSED_SCAN:
            return [] if count == 0 else None
        return [r[0] for r in self.conn.execute(_LAPSED_AMONG, {
            **self.params, "language": language, "match": match, "cap": PLACE_MAX + 1})]

    def _postgresql(self, column: str, language: str) -> list[int] | None:
        if column == "search_text":
            return None  # no index of the text per language (see gather)
        if self.lapsed:
            self.few_lapsed(language)  # which also finds the topics (one round trip)
        if column not in self._found:  # every language at once: one round trip, not two
            # (Not those whose few lapsed points are all taken.)
            languages = tuple(lang for lang in LANGUAGES
                              if not self.lapsed or self.few_lapsed(lang) is None)
            if not languages:
                return []
            # The tags are asked for only when the topics did not settle the top k, and
            # the question nearly always follows them (unless a language's tags name too
            # many points): both in one round trip.
            columns = [column, *(["question"] if column == "tags"
                                 and "question" not in self._found else [])]
            rows = _pipelined(self.conn, [self.places(c, languages) for c in columns])
            for c, found in zip(columns, rows, strict=True):
                self.found(c, found)
        return self._found[column][language]

    def places(self, column: str,
               languages: tuple[str, ...]) -> tuple[TextClause, dict[str, Any]]:
        """PostgreSQL: the statement finding the candidates in `column` (_place_statement);
        in-date, for a word of ASCII letters, with the walk of the English points
        (_place_then_walk, WALK_AHEAD) when those are too many."""
        params = {**self.params, "grams": word_grams(self.word), "cap": PLACE_MAX + 1}
        if self._ahead(column, languages):
            walk = _walk(self.params, "postgresql", self.plain, column, False, WALK_AHEAD,
                         self.word)[1]
            return (_place_then_walk(column, self.plain, QUICK_WALK),
                    {**params, **walk, "walk_cap": walk["cap"], "cap": params["cap"],
                     "quick_cap": min(QUICK_WALK, WALK)})
        return _place_statement(column, self.lapsed, self.plain, languages), params

    def _ahead(self, column: str, languages: tuple[str, ...]) -> bool:
        return (column in ("topic", "question") and not self.lapsed and self.word.isascii()
                and languages == LANGUAGES and WALK_AHEAD in LANGUAGES)

    def found(self, column: str, rows: Any) -> None:  # noqa: ANN401
        """The rows of `places(column, ...)`."""
        if self._ahead(column, LANGUAGES):
            walked = [(kind, point) for what, kind, point in rows if what == "walk"]
            rows = [(language, point) for what, language, point in rows if what == "place"]
            if walked:
                self.walks[(column, WALK_AHEAD)] = walked
        self._found[column] = _by_language(rows)

    def few_lapsed(self, language: str) -> list[int] | None:
        """The lapsed points of a language when there are at most PLACE_MAX (from
        `ix_talkingpoint_lapsed` alone), else None."""
        if not self._few:
            if self.dialect == "postgresql":
                self.lapsed_found(_rows(self.conn, *self.lapsed_query()))
            else:
                found = _by_language(self.conn.execute(
                    _FEW_LAPSED, {**self.params, "cap": PLACE_MAX + 1}))
                self._few_of({"few": found})
        return self._few[language]

    def lapsed_query(self) -> tuple[TextClause, dict[str, Any]]:
        """PostgreSQL: the lapsed points of each language when few, with those whose topic
        may hold the word: one round trip, not two. (Not the tags and question too: for a
        common Chinese word those cost more than the round trips, and the topics often
        suffice.)"""
        return (_lapsed_statement(self.plain), {**self.params, "cap": PLACE_MAX + 1,
                                                "grams": word_grams(self.word)})

    def lapsed_found(self, rows: Any) -> None:  # noqa: ANN401
        found = _by_kind(rows)
        self._found = {"topic": found["topic"]}
        self._few_of(found)

    def _few_of(self, found: dict[str, dict[str, list[int]]]) -> None:
        many = found.get("many", {})
        self._few = {lang: ids if len(ids) <= PLACE_MAX and not many.get(lang) else None
                     for lang, ids in found["few"].items()}


def _by_language(rows: Any) -> dict[str, list[int] | None]:  # noqa: ANN401
    """Rows of (language, id) as the ids of each language; None for a language whose only
    row has no id: more than a capped statement counts (_per_language)."""
    found: dict[str, list[int] | None] = {lang: [] for lang in LANGUAGES}
    for language, point in rows:
        if point is None:
            found[language] = None
        else:
            found[language].append(point)
    return found


def _by_kind(rows: Any) -> dict[str, dict[str, list[int]]]:  # noqa: ANN401
    """Rows of (kind, language, id), as _by_language per kind."""
    found: dict[str, dict[str, list[int]]] = {}
    for kind, language, point in rows:
        found.setdefault(kind, {lang: [] for lang in LANGUAGES})[language].append(point)
    for kind in ("few", "topic"):
        found.setdefault(kind, {lang: [] for lang in LANGUAGES})
    return found


def _per_language(sql: str, languages: tuple[str, ...] = LANGUAGES, *,
                  capped: bool = False) -> str:
    """`sql` (selecting id, with `{language}` where a literal language goes) for each language,
    capped per language, as one statement: one round trip instead of one a language.
    `capped`: a language that reaches :cap rows answers one row with a NULL id instead of its
    :cap ids, which would be read, sent and fetched only to be found too many."""
    assert set(languages) <= set(LANGUAGES)
    if capped:
        return " UNION ALL ".join(
            f"SELECT '{lang}', CASE WHEN n < :cap THEN id END FROM ("
            f"SELECT id, count(*) OVER () AS n, row_number() OVER () AS r FROM ("
            f"{sql.format(language=lang)} LIMIT :cap) AS capped) AS {lang} "
            "WHERE n < :cap OR r = 1"
            for lang in languages)
    return " UNION ALL ".join(
        f"SELECT '{lang}', id FROM ({sql.format(language=lang)} LIMIT :cap) AS {lang}"
        for lang in languages)


_WHEN = TalkingPoint.__table__.c.verified_until.type
_FEW_LAPSED_SQL = ("SELECT id FROM talkingpoint WHERE status = :status "
                   "AND verified_until <= :now AND language = '{language}'")
_FEW_LAPSED = text(_per_language(_FEW_LAPSED_SQL)).bindparams(bindparam("now", type_=_WHEN))


# SQLite: which of the points the place index names have lapsed, from ix_talkingpoint_lapsed
# alone (it holds the rowid): its range of lapsed points is read and each compared with the
# candidates, no row is. (`+` keeps SQLite from probing that index once per candidate, which
# it otherwise plans, several times slower.)
_LAPSED_AMONG = text(
    "SELECT id FROM talkingpoint INDEXED BY ix_talkingpoint_lapsed WHERE status = :status "
    "AND verified_until <= :now AND +language = :language "
    f"AND +id IN (SELECT rowid FROM {PLACE_TABLE} WHERE {PLACE_TABLE} MATCH :match) LIMIT :cap"
).bindparams(bindparam("now", type_=_WHEN))


def _place_sql(column: str, lapsed: bool, plain: bool) -> str:
    """PostgreSQL: the points of one language whose topic, question or tags hold the word.
    The expression is that of the GIN indexes of migration 0018 (partial per language, hence
    the literal language), so the planner answers from them;
    lapsed points are then the few that both such an index and (status, verified_until)
    name. The index names a superset (grams, not their order): the ranking's own comparison
    makes the count exact."""
    esc = "ESCAPE '\\'"
    like = "LIKE" if plain else "ILIKE"
    where = [f"{GRAMS}(lower({column})) @> CAST(:grams AS text[])", f"{column} {like} :t0 {esc}",
             "language = '{language}'"]
    if lapsed:
        where += ["status = :status", "verified_until <= :now"]
    return f"SELECT id FROM talkingpoint WHERE {' AND '.join(where)}"


def _grams_bind():  # noqa: ANN202
    from sqlalchemy.dialects.postgresql import ARRAY  # loaded with PostgreSQL's engine

    return bindparam("grams", type_=ARRAY(String))


@lru_cache(maxsize=64)
def _place_statement(column: str, lapsed: bool, plain: bool,
                     languages: tuple[str, ...]) -> TextClause:
    """PostgreSQL: the candidates in one place, per language (_place_sql)."""
    binds = [_grams_bind()]
    if lapsed:
        binds.append(bindparam("now", type_=_WHEN))
    sql = _per_language(_place_sql(column, lapsed, plain), languages, capped=True)
    return text(sql).bindparams(*binds)


@lru_cache(maxsize=2)
def _lapsed_statement(plain: bool) -> TextClause:
    """PostgreSQL: for the lapsed pass, in one statement, the lapsed points of each language
    up to :cap ('few'), and, for each language with more (where few_lapsed says None), those
    whose topic may hold the word ('topic', _place_sql), and each language with
    more ('many', id 0). Rows: kind, language, id. A language
    with few is skipped by a one-time filter: its place index may name thousands of in-date
    points, each read to find it not lapsed."""
    few = " UNION ALL ".join(
        f"SELECT '{lang}' AS language, id FROM ("
        f"{_FEW_LAPSED_SQL.format(language=lang)} LIMIT :cap) AS {lang}"
        for lang in LANGUAGES)
    many = "(SELECT count(*) FROM few WHERE language = '{language}') = :cap"
    places = " UNION ALL ".join(
        f"SELECT 'topic', '{lang}', id FROM ("
        f"{(_place_sql('topic', True, plain) + ' AND ' + many).format(language=lang)}"
        f" LIMIT :cap) AS {lang}"
        for lang in LANGUAGES)
    # A language with more than PLACE_MAX lapsed points is named once ('many'), not sent
    # with the :cap ids read to count them (for nothing: those are then found by place).
    sql = (f"WITH few AS MATERIALIZED ({few}), "
           "crowded AS MATERIALIZED (SELECT language FROM few GROUP BY language "
           "HAVING count(*) = :cap) "
           "SELECT 'few', language, id FROM few "
           "WHERE language NOT IN (SELECT language FROM crowded) "
           f"UNION ALL SELECT 'many', language, 0 FROM crowded UNION ALL {places}")
    return text(sql).bindparams(_grams_bind(), bindparam("now", type_=_WHEN))


@lru_cache(maxsize=16)
def _walk_statement(like: str, dialect: str, column: str, lapsed: bool) -> TextClause:
    """The first k in-date (or lapsed) points of one language, in tie-break order, whose text
    holds the word and whose `column` (topic, question, or search_text itself) holds it (as
    the ranking compares it), reading at most :cap ('walked'); for topics, also the points
    whose topic is the word ('exact', ix_talkingpoint_topic_lower); and how many points of
    the language there are, up to :counted ('count'). One statement: one round trip."""
    walk, exact, count = _walk_parts(like, dialect, column, lapsed)
    if dialect == "postgresql":
        # The count only matters when fewer than k were walked: counting up to WALK points
        # otherwise took most of the statement (a one-time filter skips it; 0 is then sent).
        sql = f"""
        WITH walked AS ({walk}
        )
        SELECT 'walked' AS kind, id FROM walked{exact}
        UNION ALL{count}
        WHERE (SELECT count(*) FROM walked) < :limit"""
    else:
        sql = f"""
        SELECT 'walked' AS kind, id FROM ({walk}
        ) AS walked{exact}
        UNION ALL{count}"""
    return text(sql).bindparams(bindparam("now", type_=_WHEN))


def _walk_parts(like: str, dialect: str, column: str, lapsed: bool) -> tuple[str, str, str]:
    """The SQL of _walk_statement's walk (its ids), of its 'exact' rows (after a UNION ALL;
    empty but for topics), and of its 'count' row."""
    esc = "ESCAPE '\\'"
    # PostgreSQL keeps the order with an outer ORDER BY at no cost (the plan stays an index
    # scan under two limits, no sort). SQLite would sort all :cap rows for it, so there the
    # walked rows are taken in the order its co-routine hands them on, the subquery's; the
    # equivalence test holds both to the full ranking.
    order = "ORDER BY w.verified_at DESC, w.id\n            " if dialect == "postgresql" else ""
    state = "<=" if lapsed else ">"
    selected, place = "", ""
    if column != "search_text":
        selected, place = f"{column}, ", f"\n              AND w.{column} {like} :t0 {esc}"
    exact = ("" if column != "topic" else """
        UNION ALL
        SELECT 'exact', id FROM (
            SELECT id FROM talkingpoint WHERE lower(topic) = lower(:word) LIMIT :exact
        ) AS x""")
    walk = f"""
            SELECT w.id FROM (
                SELECT id, verified_at, verified_until, {selected}search_text FROM talkingpoint
                WHERE status = :status AND language = :language
                ORDER BY verified_at DESC, id
                LIMIT :cap
            ) AS w
            WHERE w.verified_until {state} :now AND w.search_text LIKE :t0 {esc}{place}
            {order}LIMIT :limit"""
    count = """
        SELECT 'count', count(*) FROM (
            SELECT 1 FROM talkingpoint WHERE status = :status AND language = :language
            LIMIT :counted
        ) AS c"""
    return walk, exact, count


@lru_cache(maxsize=64)
def _statement(count: int, use_fts: bool, dialect: str, lapsed: bool,
               trigram: bool = False, bigrams: bool = False, plain: bool = False,
               only: bool = False, language: str | None = None,
               together: bool = False) -> TextClause:
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
    if lapsed and only and dialect == "sqlite":  # the ids are fewer: look them up instead
        where = ["+status = :status", "+verified_until <= :now"]
    elif lapsed:  # few rows: the (status, verified_until) index finds them
        where = ["status = :status", "verified_until <= :now"]
    elif dialect == "sqlite":  # most rows: `+` keeps SQLite from reading them via the index
        where = ["+status = :status", "+verified_until > :now"]
    elif together:  # PostgreSQL: in-date and lapsed points (verified_until set), apart below
        where = ["(status || '') = :status", "verified_until IS NOT NULL"]
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
    if only and dialect == "postgresql":  # one text for any number of ids (_rank)
        where.append("id = ANY(:ids)")
    elif only:  # a few ids known to hold the top k (_top_by_topic)
        where.append("id IN :ids")
    if language:  # a literal, so PostgreSQL may use that language's partial index (0019)
        assert language in LANGUAGES
        where.append(f"language = '{language}'")
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
    selected = f"""id, verified_at,
                   CASE WHEN language = :locale THEN 1 ELSE 0 END AS same_language,
                   {" + ".join(score)} AS score"""
    if together:
        # The matches scored once; the top k of the in-date ones and of the lapsed ones.
        sql = f"""{marker}
        WITH scored AS MATERIALIZED (
            SELECT {selected}, (verified_until <= :now) AS lapsed
            FROM talkingpoint
            WHERE {" AND ".join(where)}
        )
        SELECT p.id, p.topic, p.question, p.answer, p.tags, p.language, p.verified_by_name,
               p.verified_until, top.score, top.lapsed
        FROM (
            (SELECT * FROM scored WHERE NOT lapsed ORDER BY {order} LIMIT :limit)
            UNION ALL
            (SELECT * FROM scored WHERE lapsed ORDER BY {order} LIMIT :limit)
        ) AS top
        JOIN talkingpoint AS p ON p.id = top.id
        ORDER BY top.score DESC, top.same_language DESC, top.verified_at DESC, top.id"""
    else:
        sql = f"""{marker}
        SELECT p.id, p.topic, p.question, p.answer, p.tags, p.language, p.verified_by_name,
               p.verified_until, top.score
        FROM (
            SELECT {selected}
            FROM talkingpoint
            WHERE {" AND ".join(where)}
            ORDER BY {order}
            LIMIT :limit
        ) AS top
        JOIN talkingpoint AS p ON p.id = top.id
        ORDER BY top.score DESC, top.same_language DESC, top.verified_at DESC, top.id"""
    when = TalkingPoint.__table__.c.verified_until.type
    binds = [bindparam("now", type_=when)]
    if only and dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # loaded with PostgreSQL's engine

        binds.append(bindparam("ids", type_=ARRAY(Integer)))
    elif only:
        binds.append(bindparam("ids", expanding=True))
    if bigrams and dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # loaded with PostgreSQL's engine

        binds.append(bindparam("bigrams", type_=ARRAY(String)))
    return text(sql).bindparams(*binds).columns(
        column("id", Integer), column("topic", String), column("question", String),
        column("answer", String), column("tags", String), column("language", String),
        column("verified_by_name", String), column("verified_until", when),
        column("score", Integer), *([column("lapsed", Boolean)] if together else []),
    )
