"""Finding talking points: the same answers on SQLite and PostgreSQL for any query length
(two-character Chinese included), ranked by where the words occur, never an expired one as
approved."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers.talking_points import records
from handlers.talking_points.models import TalkingPoint, fold
from handlers.talking_points.records import Content
from handlers.talking_points.search import search
from tests.support import SCHEMA_CHANGED, build_app

REVIEW = timedelta(days=90)


def _point(topic, question="", answer="", tags=(), language="zh") -> Content:  # noqa: ANN001
    return Content(topic, question or f"{topic}?", answer or f"{topic}。", list(tags), language)


def seed(app, *contents: Content, at: datetime | None = None) -> list[int]:  # noqa: ANN001
    now = at or datetime.now(UTC)
    ids = []
    with app.db.session() as s:
        for content in contents:
            point, version = records.propose(s, content, actor="console:alice", name="alice",
                                             now=now)
            records.approve(s, point, version, actor="console:bob", name="bob", now=now,
                            review=REVIEW)
            ids.append(point.id)
    return ids


def find(app, query: str, locale: str = "zh", limit: int = 3):  # noqa: ANN001, ANN201
    with app.db.session() as s:
        return search(s, query, now=datetime.now(UTC), locale=locale, limit=limit)


def ids(hits) -> list[int]:  # noqa: ANN001
    return [h.id for h in hits]


CORPUS = [
    _point("退款政策", "产品有质量问题可以退款吗?", "收到商品7天内可无理由退款。",
           ["退款", "投诉"]),
    _point("环保政策", "公司在环保方面做了什么?", "我们每年发布社会责任报告。", ["环保"]),
    _point("数据隐私", "你们会出售用户数据吗?", "不会。我们不出售个人信息。", ["隐私"]),
    _point("产品召回", "召回批次怎么处理?", "免费更换或全额退款。", ["召回"]),
    _point("Refund policy", "Can customers get a refund?", "Yes, within 7 days.",
           ["refund", "complaint"], "en"),
    _point("Data privacy", "Do you sell customer data?", "No. We do not sell personal data.",
           ["privacy"], "en"),
    _point("Press contact", "Who do journalists call?", "The press office: 100% of requests "
           "answered in one working day.", ["press"], "en"),
]


def test_two_character_chinese_and_short_english_queries(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    refund, green, privacy, recall, en_refund, en_privacy, press = seed(app, *CORPUS)
    assert ids(find(app, "退款").approved) == [refund, recall]
    assert ids(find(app, "环保").approved) == [green]
    assert ids(find(app, "隐私").approved) == [privacy]
    assert ids(find(app, "召").approved) == [recall]  # one character works too
    assert ids(find(app, "退款政策").approved) == [refund]
    assert ids(find(app, "data", locale="en").approved) == [en_privacy]
    assert ids(find(app, "7天").approved) == [refund]
    assert find(app, "罚款").approved == [] and find(app, "zz").approved == []


def test_case_width_and_wildcards_mean_what_they_say(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    seed(app, *CORPUS)
    assert [h.topic for h in find(app, "REFUND").approved] == ["Refund policy"]
    assert [h.topic for h in find(app, "ｒｅｆｕｎｄ").approved] == ["Refund policy"]  # full width
    assert [h.topic for h in find(app, "100%").approved] == ["Press contact"]
    assert find(app, "10_%").approved == []  # LIKE wildcards are literal characters here
    assert find(app, "r_fund").approved == []
    assert [h.topic for h in find(app, '"refund"').approved] == []  # quotes are characters
    # Every word must occur; order and distance do not matter.
    assert [h.topic for h in find(app, "sell personal").approved] == ["Data privacy"]
    assert find(app, "sell refund").approved == []


def test_any_substring_of_any_length_is_found_exactly_as_a_scan_would(db_url, tmp_path, clock):
    """The FTS/trigram path (3+ characters) and the LIKE path (1-2) agree with a plain scan."""
    app, _ = build_app(db_url, tmp_path)
    seed(app, *CORPUS)
    with app.db.session() as s:
        texts = {p.id: p.search_text for p in s.exec(select(TalkingPoint)).all()}
    rng = random.Random(7)
    queries = ["不存在的词", "xyz", "质量问题可以", "of requests", "政策", "al"]
    # Chinese broken by punctuation (pg_trgm finds no trigram inside; the bigram index serves).
    queries += ["退款。", "会。我们", "。我们不", "。罘罘", "信息。 退款"]
    for _ in range(80):
        text = rng.choice(list(texts.values())).replace("\n", " ")
        size = rng.randint(1, 8)
        start = rng.randint(0, max(0, len(text) - size))
        queries.append(text[start:start + size])
    for query in queries:
        words = fold(query).split()
        if not words:
            continue
        expected = sorted(i for i, t in texts.items() if all(w in t for w in words))
        got = find(app, query, limit=100)
        assert sorted(ids(got.approved)) == expected, query


def test_ranking_topic_then_question_then_tags_then_answer(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    in_answer, in_tag, in_question, in_topic, exact_tag = seed(
        app,
        _point("Quality", "Is it safe?", "We issued a recall last year.", [], "en"),
        _point("Safety", "Is it safe to use?", "Yes.", ["recalls"], "en"),
        _point("Batches", "Is my batch in the recall?", "Check the page.", [], "en"),
        _point("Product recall", "What should I do?", "Stop using it.", [], "en"),
        _point("Batches again", "Which ones?", "See the list.", ["recall"], "en"),
    )
    got = find(app, "recall", locale="en", limit=10).approved
    assert ids(got) == [in_topic, exact_tag, in_question, in_tag, in_answer]
    assert [h.score for h in got] == [8, 5, 4, 2, 1]
    assert ids(find(app, "recall", locale="en").approved) == [in_topic, exact_tag, in_question]


def test_a_phrase_and_an_exact_topic_rank_first(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    scattered, phrase, exact = seed(
        app,
        _point("Data and privacy notes", "What data?", "privacy", [], "en"),
        _point("Customer data privacy", "Q", "A", [], "en"),
        _point("Data privacy", "Q2", "A2", [], "en"),
    )
    assert ids(find(app, "data privacy", locale="en").approved) == [exact, phrase, scattered]


def test_ties_go_to_the_askers_language(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    english, chinese = seed(app, _point("ESG report", "Q", "A", [], "en"),
                            _point("ESG 报告", "问", "答", [], "zh"))
    assert ids(find(app, "esg", locale="zh").approved) == [chinese, english]
    assert ids(find(app, "esg", locale="en").approved) == [english, chinese]


def test_expired_points_are_apart_and_retired_or_pending_ones_absent(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    now = datetime.now(UTC)
    old = seed(app, _point("退款旧口径"), at=now - REVIEW - timedelta(hours=1))[0]
    fresh, retired = seed(app, _point("退款新口径"), _point("退款已停用"))
    with app.db.session() as s:
        records.retire(s, s.get(TalkingPoint, retired), actor="console:bob", now=now)
        records.propose(s, _point("退款待审"), actor="console:alice", name="alice", now=now)
    found = find(app, "退款")
    assert ids(found.approved) == [fresh]
    assert ids(found.expired) == [old]


def test_the_index_follows_a_new_approved_version(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    point_id = seed(app, _point("Layoffs", "Are you cutting jobs?", "No comment.", [], "en"))[0]
    now = datetime.now(UTC)
    with app.db.session() as s:
        point = s.get(TalkingPoint, point_id)
        version = records.edit(s, point, _point("Restructuring", "Are you cutting jobs?",
                                                "We are reorganising two teams.", [], "en"),
                               actor="console:carol", name="carol", now=now)
    assert ids(find(app, "layoffs").approved) == [point_id]  # pending edit: old text serves
    assert find(app, "reorganising").approved == []
    with app.db.session() as s:
        records.approve(s, s.get(TalkingPoint, point_id), version, actor="console:bob",
                        name="bob", now=now, review=REVIEW)
    assert find(app, "layoffs").approved == []
    assert ids(find(app, "reorganising").approved) == [point_id]


def test_without_the_index_the_answers_are_the_same(db_url, tmp_path, clock):
    """pg_trgm may be missing (no right to create it), SQLite may lack the trigram tokenizer
    or FTS5 (the two-character index): searching then reads the table, and finds exactly the
    same."""
    with_index, _ = build_app(db_url, tmp_path / "a")
    seed(with_index, *CORPUS)
    queries = ["退款", "环保", "召", "退款政策", "refund", "sell personal", "100%", "zz"]

    def topics(app, query):  # noqa: ANN001, ANN202
        found = find(app, query)
        return [h.topic for h in found.approved], [h.topic for h in found.expired]

    expected = {q: topics(with_index, q) for q in queries}
    with with_index.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for trigger in ("ai", "ad", "au"):
                conn.exec_driver_sql(f"DROP TRIGGER talkingpoint_fts_{trigger}")
            conn.exec_driver_sql("DROP TABLE talkingpoint_fts")
            for trigger in ("ai", "ad", "au"):
                conn.exec_driver_sql(f"DROP TRIGGER talkingpoint_bigram_{trigger}")
            conn.exec_driver_sql("DROP TABLE talkingpoint_bigram")
        else:
            SCHEMA_CHANGED.add(db_url)
            conn.exec_driver_sql("DROP INDEX ix_talkingpoint_search_trgm")
            conn.exec_driver_sql("DROP INDEX ix_talkingpoint_search_bigram")
            for lang in ("zh", "en"):  # its partial copies per language (0021)
                conn.exec_driver_sql(f"DROP INDEX ix_talkingpoint_search_bigram_{lang}")
    plain, _ = build_app(db_url, tmp_path / "b")  # a new engine: the FTS table is looked up anew
    assert [topics(plain, q) for q in queries] == [expected[q] for q in queries]


def test_chinese_words_rank_by_place_and_mixed_ones_ignore_case(db_url, tmp_path, clock):
    """A query without cased letters is ranked with a plain comparison on PostgreSQL (faster
    than ILIKE); the ranking is the same as for any other query, and one with Latin letters
    still ranks without regard to case."""
    app, _ = build_app(db_url, tmp_path)
    in_answer, in_tag, in_question, in_topic, exact_tag = seed(
        app,
        _point("质量说明", "安全吗?", "去年发起过召回。"),
        _point("安全说明", "可以放心使用吗?", "可以。", ["召回批次"]),
        _point("批次查询", "我的批次在召回范围内吗?", "请查看页面。"),
        _point("产品召回", "我该怎么做?", "停止使用。"),
        _point("批次清单", "是哪些批次?", "见清单。", ["召回"]),
    )
    got = find(app, "召回", limit=10).approved
    assert ids(got) == [in_topic, exact_tag, in_question, in_tag, in_answer]
    assert [h.score for h in got] == [8, 5, 4, 2, 1]
    in_text, upper_topic = seed(app, _point("年度说明", "哪里有?", "见esg报告。"),
                                _point("ESG报告", "哪里有?", "官网。"))
    got = find(app, "esg报告", limit=10).approved
    assert ids(got) == [upper_topic, in_text]
    assert [h.score for h in got] == [18, 1]


def test_which_queries_have_no_case() -> None:
    from handlers.talking_points.search import caseless

    assert caseless("退款 100% 2026-11")
    assert not caseless("esg报告")
    assert not caseless("ß") and not caseless("ǅ") and not caseless("Ⓐ")


def test_the_early_stop_ranks_exactly_as_ranking_every_match(db_url, tmp_path, clock,
                                                            monkeypatch):
    """A one-word query stops at the first points whose topic holds the word (in tie-break
    order) instead of ranking every match: for common and rare words, Chinese and English,
    in either language and with several k, the answer is the one ranking every match gives."""

    app, _ = build_app(db_url, tmp_path)
    rng = random.Random(22)
    zh = ["退款", "环保", "隐私", "召回", "数据", "我们", "公司", "政策", "产品", "罕见词"]
    en = ["refund", "privacy", "recall", "data", "the", "policy", "Product", "rare", "we"]
    now = datetime.now(UTC)
    contents: list[tuple[Content, datetime]] = []
    for i in range(160):
        chinese = i % 2 == 0
        words = zh if chinese else en
        common = words[:6]

        def text(n: int, common=common, words=words, chinese=chinese) -> str:  # noqa: ANN001
            picked = [rng.choice(common if rng.random() < 0.8 else words) for _ in range(n)]
            return ("" if chinese else " ").join(picked)

        topic = rng.choice(words) if i % 9 == 0 else text(2)  # some topics are one word
        if not chinese and i % 4 == 1:
            topic = topic.upper()
        content = _point(topic, text(5), text(12), rng.sample(words, 2),
                         "zh" if chinese else "en")
        # Verified at a few distinct times (ties decided by id), a few lapsed.
        at = now - timedelta(days=rng.choice([1, 2, 3]) + (REVIEW.days + 1 if i % 13 == 0 else 0))
        contents.append((content, at))
    for content, at in contents:
        seed(app, content, at=at)
    queries = [*zh, *en, "REFUND", "Data", "款", "e", "罘罘", "xq", "退款政策", "icy"]
    queries += ["".join(rng.sample(w, len(w))) for w in rng.sample(zh + en, 6)]  # rare/miss
    # Often not enough walked, sometimes a whole language; the place indexes trusted with
    # nothing (every place walked), or with a few candidates, or with many.
    early, every = _as_ranking_every_match(
        app, monkeypatch, queries, (1, 3, 7),
        [{"WALK": walk, "PLACE_MAX": place_max, "QUICK_WALK": quick}
         for walk, place_max, quick in ((5, 0, 300), (40, 3, 2), (10_000, 0, 300),
                                        (40, 300, 0))])
    # Both ways were compared: many searches stopped early, many ranked every match.
    assert early > 50 and every > 50, (early, every)


def test_the_place_indexes_rank_exactly_as_ranking_every_match(db_url, tmp_path, clock,
                                                               monkeypatch):
    """Words found only in topics, only in questions, only in tags or only in answers, in one
    language or both, lapsed or not: gathered place by place from the indexes of migration
    0018 (or walked), the top k are those ranking every match gives, for any k, with the
    indexes trusted with few candidates or many."""

    app, _ = build_app(db_url, tmp_path)
    rng = random.Random(18)
    places = {  # words, per language, that occur in one place only; then some in every place
        "topic": (["政策", "声明稿"], ["Policy", "statement"]),
        "question": (["怎么办", "为什么"], ["how", "why"]),
        "tags": (["标签", "环保"], ["esg", "tagged"]),
        "answer": (["热线", "官网联系", "KPI"], ["hotline", "website", "KPI"]),
    }
    common = (["退款", "数据"], ["refund", "data"])
    now = datetime.now(UTC)
    for i in range(150):
        chinese = i % 3 != 0  # twice as many Chinese points
        lang = 0 if chinese else 1
        glue = "" if chinese else " "

        def words(place: str, n: int, lang=lang) -> list[str]:  # noqa: ANN001
            own = places[place][lang] + common[lang]
            return [rng.choice(own) for _ in range(n)]

        topic = glue.join(words("topic", rng.choice([1, 2])))
        tags = [w.lower() for w in words("tags", 2)]
        content = _point(topic, glue.join(words("question", 4)), glue.join(words("answer", 8)),
                         list(dict.fromkeys(tags)), "zh" if chinese else "en")
        # Lapsed: a few Chinese points, more English ones.
        lapsed = i % 10 == 1 if chinese else i % 2 == 0
        at = now - timedelta(days=rng.choice([1, 2]) + (REVIEW.days + 1 if lapsed else 0))
        seed(app, content, at=at)
    queries = [w for place in places.values() for lang in place for w in lang]
    queries += [*common[0], *common[1], "REFUND", "策", "款数", "ot", "tline", "罘罘", "qq",
                "line", "怎么", "ebsi", "kpi"]
    # Chinese lapsed points are about 10, English ones 25: with PLACE_MAX 15 only the Chinese
    # ones are few enough to be ranked all.
    early, every = _as_ranking_every_match(
        app, monkeypatch, queries, (1, 3, 8),
        [{"WALK": walk, "PLACE_MAX": place_max, "LAPSED_SCAN": scan}
         for walk, place_max, scan in ((3, 0, 0), (3, 2, 5), (10_000, 300, 5000), (20, 40, 60),
                                       (30, 15, 40))])
    assert early > 200 and every > 20, (early, every)


def _as_ranking_every_match(app, monkeypatch, queries: list[str], limits: tuple[int, ...],  # noqa: ANN001
                            settings: list[dict[str, int]]) -> tuple[int, int]:
    """Search each query in both languages for each k under each of `settings` (the search
    module's limits: WALK, PLACE_MAX, LAPSED_SCAN), with the indexes trusted even where they
    find few points (FEW 0); then check every answer against ranking every match. Returns how
    many searches found their top k early and how many ranked every match."""
    from handlers.talking_points import search as module

    early = module._top_by_place
    taken: list[bool] = []

    def counting(*args):  # noqa: ANN002, ANN202
        chosen = early(*args)
        taken.append(chosen is not None)
        return chosen

    monkeypatch.setattr(module, "_top_by_place", counting)
    monkeypatch.setattr(module, "FEW", 0)
    results = {}
    for setting in settings:
        for name, value in setting.items():
            monkeypatch.setattr(module, name, value)
        for query in queries:
            for locale in ("zh", "en"):
                for limit in limits:
                    results[tuple(setting.items()), query, locale, limit] = find(
                        app, query, locale, limit)
    monkeypatch.setattr(module, "_top_by_place", lambda *args: None)  # rank every match
    monkeypatch.setattr(module, "RANK_TOGETHER", False)  # in-date and lapsed apart, as before
    for (setting, query, locale, limit), got in results.items():
        assert got == find(app, query, locale, limit), (setting, query, locale, limit)
    return sum(taken), len(taken) - sum(taken)


def _pg_only(db_url: str) -> None:
    import pytest

    if not db_url.startswith("postgresql"):
        pytest.skip("a psycopg pipeline: PostgreSQL only")


def test_a_statement_timing_out_in_a_pipeline_leaves_its_pooled_connection_sound(
        db_url, tmp_path, clock):
    """A statement sent in one psycopg pipeline with its SET LOCAL enable_seqscan times out
    (the table locked by another connection): the request fails as the database's being
    unavailable, and the connection, back in the pool, is in no aborted transaction, has
    sequential scans on, and answers the next search."""
    import pytest
    from sqlalchemy import create_engine

    from bot.errors import StorageError

    _pg_only(db_url)
    app, _ = build_app(db_url, tmp_path)
    seed(app, *CORPUS)
    query = "产品有质量"  # four Chinese characters or more: every match ranked, index preferred
    expected = ids(find(app, query).approved)
    assert expected
    locker = create_engine(db_url)
    try:
        with locker.connect() as other:
            other.exec_driver_sql("LOCK TABLE talkingpoint IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StorageError) as raised, app.db.session() as s:
                s.connection().exec_driver_sql("SET LOCAL statement_timeout = 300")
                failed = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
                search(s, query, now=datetime.now(UTC))
            other.rollback()
    finally:
        locker.dispose()
    assert "statement timeout" in str(raised.value.__cause__)
    seen = set()
    for _ in range(12):  # the pool hands out its idle connections in turn
        with app.db.session() as s:
            conn = s.connection()
            seen.add(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
            assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
            assert ids(search(s, query, now=datetime.now(UTC)).approved) == expected
    assert failed in seen


def test_a_connection_lost_in_a_pipeline_is_not_used_again(db_url, tmp_path, clock):
    """The server ends the connection before a pipeline: the request fails as the database's
    being unavailable, the connection is invalidated, and the next request gets a sound one."""
    import pytest
    from sqlalchemy import create_engine

    from bot.errors import StorageError

    _pg_only(db_url)
    app, _ = build_app(db_url, tmp_path)
    seed(app, *CORPUS)
    query = "产品有质量"
    expected = ids(find(app, query).approved)
    admin = create_engine(db_url)
    try:
        with pytest.raises(StorageError) as raised, app.db.session() as s:
            lost = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(lost)})")
            search(s, query, now=datetime.now(UTC))
    finally:
        admin.dispose()
    assert raised.value.__cause__.connection_invalidated
    for _ in range(12):
        with app.db.session() as s:
            conn = s.connection()
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != lost
            assert ids(search(s, query, now=datetime.now(UTC)).approved) == expected


def test_wildcards_case_and_width_rank_exactly_as_ranking_every_match(db_url, tmp_path, clock,
                                                                      monkeypatch):
    """Words holding %, _ or a backslash, in mixed case or full width, in topics, questions,
    tags and answers of both languages, some lapsed, and in a language crowded with lapsed
    points: gathered by place (walked ahead for ASCII words on PostgreSQL), the top k are
    those ranking every match gives, and a word nothing holds finds nothing."""
    app, _ = build_app(db_url, tmp_path)
    rng = random.Random(7)
    words = ["100%", "snake_case", "back\\slash", "ＦＵＬＬ", "MiXeD", "退款%", "数_据", "Ab"]
    fillers = ["policy", "data", "退款", "政策", "the", "数据"]
    now = datetime.now(UTC)
    for i in range(120):
        chinese = i % 2 == 0

        def text(n: int, chinese=chinese) -> str:  # noqa: ANN001
            picked = [rng.choice(words if rng.random() < 0.3 else fillers) for _ in range(n)]
            return ("" if chinese else " ").join(picked)

        content = _point(text(2), text(4), text(8), [rng.choice(words).lower()],
                         "zh" if chinese else "en")
        lapsed = i % 3 == 0 if chinese else i % 11 == 0  # Chinese crowded with lapsed points
        at = now - timedelta(days=rng.choice([1, 2]) + (REVIEW.days + 1 if lapsed else 0))
        seed(app, content, at=at)
    queries = ["100%", "0%", "%", "_", "e_c", "\\", "k\\s", "full", "ＦＵＬＬ", "mixed",
               "MIXED", "退款%", "款%", "数_", "_据", "ab", "AB", "%%", "x_y", "罘%"]
    early, every = _as_ranking_every_match(
        app, monkeypatch, queries, (1, 3),
        [{"WALK": walk, "PLACE_MAX": place_max, "LAPSED_SCAN": scan}
         for walk, place_max, scan in ((3, 0, 0), (10_000, 300, 5000), (20, 10, 30))])
    assert early > 50 and every > 10, (early, every)
    assert find(app, "x_y").approved == [] and find(app, "x_y").expired == []


def test_a_search_sees_its_own_sessions_unsaved_change(db_url, tmp_path) -> None:
    """A point retired in this session, not flushed yet, is no longer served by a search in
    the same session, on both databases (PostgreSQL's statements run on the driver, which
    does not autoflush as the session's own execution does)."""
    from handlers.talking_points.models import PointStatus

    app, _ = build_app(db_url, tmp_path)
    now = datetime.now(UTC)
    with app.db.session() as s:
        point, version = records.propose(s, _point("退款政策", tags=["退款"]), actor="console:a",
                                         name="a", now=now)
        s.flush()
        records.approve(s, point, version, actor="console:b", name="b", now=now, review=REVIEW)
        s.flush()
        assert [h.id for h in search(s, "退款政策", now=now).approved] == [point.id]
        point.status = PointStatus.RETIRED  # not flushed
        assert [h.id for h in search(s, "退款政策", now=now).approved] == []
