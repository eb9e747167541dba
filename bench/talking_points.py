"""Talking-point lookup with 10,000 approved points, half Chinese and half English.

For queries of 2 to 8 characters in each language (substrings of the stored texts, so they
hit, plus some that miss), the time of one `search()` in its own transaction, as `/tp <words>`
runs it: p50/p99 per language and length, on SQLite (FTS5 trigram + LIKE under 3 characters)
and on PostgreSQL (pg_trgm GIN index). Also the plans, to show the index in use.

    .venv/bin/python bench/talking_points.py [--points 10000] [--queries 100]
        [--databases sqlite,pg] [--pg-database NAME]

--pg-database keeps the PostgreSQL database (filled on first use): two checkouts of the same
schema then compare, run after run, on the same rows without filling them again.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common  # noqa: F401
from _common import PG_URL, percentile, temporary_postgres
from sqlalchemy import insert, text

from bot.db import Database, upgrade
from handlers.talking_points import search as search_module
from handlers.talking_points.models import PointStatus, TalkingPoint, TalkingPointVersion
from handlers.talking_points.search import search

ZH_WORDS = (
    "退款 投诉 环保 隐私 数据 召回 产品 质量 安全 合作 伙伴 供应商 合同 纠纷 调解 媒体 采访 新闻稿 "
    "客户 满意度 调查 问卷 服务 售后 物流 配送 价格 促销 会员 积分 发票 保修 维修 更换 赔偿 责任 "
    "排放 能耗 废弃物 回收 包装 社区 公益 员工 福利 培训 招聘 裁员 重组 财务 业绩 季度 股价 上市 "
    "融资 并购 监管 政府 许可 合规 审计 网络 攻击 泄露 加密 存储 第三方 授权 同意 儿童 健康 食品 "
    "过敏 成分 标签 进口 出口 关税 疫情 停工 延期 交付 工厂 事故 调查 声明 道歉 致歉 补偿"
).split()
ZH_GLUE = ("我们", "公司", "已经", "将会", "目前", "正在", "承诺", "按照", "相关", "规定", "请",
           "您", "可以", "通过", "官网", "热线", "联系", "处理", "提供", "说明", "的", "和", "在")
EN_WORDS = (
    "refund complaint environment privacy data recall product quality safety partner "
    "supplier contract dispute mediation media interview press release customer satisfaction "
    "survey service delivery shipping price promotion member invoice warranty repair "
    "replacement compensation emissions energy waste recycling packaging community charity "
    "employee benefits training hiring layoffs restructuring financial results quarter share "
    "listing funding acquisition regulator government licence compliance audit network breach "
    "encryption storage consent children health food allergy ingredients import export tariff "
    "factory accident investigation statement apology"
).split()
EN_GLUE = ("we", "the", "our", "will", "have", "are", "is", "to", "and", "of", "for", "with",
           "within", "please", "contact", "through", "website", "hotline", "customers", "team")


def zh_text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        parts.append(rng.choice(ZH_WORDS) if rng.random() < 0.45 else rng.choice(ZH_GLUE))
    return "".join(parts) + "。"


def en_text(rng: random.Random, words: int) -> str:
    parts = [rng.choice(EN_WORDS) if rng.random() < 0.45 else rng.choice(EN_GLUE)
             for _ in range(words)]
    return " ".join(parts).capitalize() + "."


def make_points(count: int, now: datetime, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(count):
        zh = i % 2 == 0
        make, words = (zh_text, ZH_WORDS) if zh else (en_text, EN_WORDS)
        topic = (make(rng, 2).rstrip("。.") if zh else " ".join(rng.sample(words, 2)).title())
        version = TalkingPointVersion(
            point_id=0, number=1, topic=topic[:120], question=make(rng, 8)[:500],
            answer=make(rng, rng.randint(20, 45))[:2000],
            tags=",".join(rng.sample(words, 3)), language="zh" if zh else "en",
            proposed_by="bench",
        )
        point = TalkingPoint(status=PointStatus.APPROVED, created_by="bench", created_at=now,
                             updated_at=now, verified_by="console:bench",
                             verified_by_name="bench", verified_at=now)
        point.serve(version)
        # One in twenty lapsed: they are found, and shown apart.
        point.verified_until = now + timedelta(days=-1 if i % 20 == 0 else 60)
        rows.append(point.model_dump(exclude={"id"}))
    return rows


def make_queries(rows: list[dict], language: str, length: int, n: int,
                 rng: random.Random) -> list[str]:
    texts = [r["search_text"] for r in rows if r["language"] == language]
    queries = []
    while len(queries) < n:
        source = rng.choice(texts)
        if language == "zh":
            flat = "".join(source.split())
            start = rng.randint(0, max(0, len(flat) - length))
            query = flat[start:start + length]
        else:
            words = [w.strip(".,") for w in source.split() if len(w.strip(".,")) >= length]
            if not words:
                continue
            word = rng.choice(words)
            start = rng.randint(0, len(word) - length)
            query = word[start:start + length]
        if len(query) == length:
            queries.append(query)
    # A tenth that miss: absent characters of the same length.
    miss = "罘" if language == "zh" else "q"
    for i in range(0, n, 10):
        queries[i] = (miss * length)[:length]
    return queries


def fill(db: Database, rows: list[dict]) -> None:
    with db.session() as session:
        if db.dialect == "postgresql":
            # Each row feeds several GIN indexes: on a loaded machine a batch of 2,000
            # outlasts the bot's statement timeout (10 s).
            session.execute(text("SET LOCAL statement_timeout = 0"))
        for start in range(0, len(rows), 2000):
            session.execute(insert(TalkingPoint.__table__), rows[start:start + 2000])
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            # ANALYZE computes the bigram index's expression over every row: at 100,000
            # points on a loaded machine that outlasts the bot's statement timeout.
            conn.exec_driver_sql("SET statement_timeout = 0")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def time_queries(db: Database, queries: list[str], now: datetime, *,
                 full: bool = False):  # noqa: ANN201
    """Wall-clock and this thread's CPU time per search. On SQLite the database work runs in
    this thread, so CPU time is the cost without other processes' noise; on PostgreSQL it is
    only the client's share. `full`: rank every match (the search before the early stop)."""
    wall, cpu, hits = [], [], 0
    early = search_module._top_by_place
    if full:
        search_module._top_by_place = lambda *args: None
    try:
        for query in queries:
            with db.session() as session:
                start, start_cpu = time.perf_counter(), time.thread_time()
                found = search(session, query, now=now, locale="zh")
                wall.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
                hits += len(found.approved)
    finally:
        search_module._top_by_place = early
    return wall, cpu, hits


def plan(db: Database, now: datetime) -> str:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM talkingpoint WHERE id IN (SELECT rowid FROM "
                "talkingpoint_fts WHERE talkingpoint_fts MATCH '\"refund\"') "
                "AND search_text LIKE '%refund%'")).all()
            return " | ".join(r[-1] for r in rows)
        # As search() asks for a query of 3+ character words: the trigram index preferred.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        rows = conn.execute(text(
            "EXPLAIN ANALYZE SELECT id FROM talkingpoint WHERE (status || '') = 'approved' "
            "AND search_text LIKE '%refund apology%'")).all()
        return " | ".join(r[0].strip() for r in rows if "Scan" in r[0] or "Execution" in r[0])


def kept_postgres(name: str) -> str | None:
    """The URL of database `name` on the local PostgreSQL, created when absent and kept."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"(PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}; skipped)")
        return None
    finally:
        admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def run(name: str, url: str, rows: list[dict], queries: dict, now: datetime) -> None:
    upgrade(url)
    db = Database(url)
    with db.engine.connect() as conn:
        filled = conn.exec_driver_sql("SELECT count(*) FROM talkingpoint").scalar_one()
    if filled != len(rows):  # a kept database (--pg-database) is filled once
        if filled:
            raise SystemExit(f"{url} holds {filled} points, not {len(rows)}")
        fill(db, rows)
    time_queries(db, [q for qs in queries.values() for q in qs[:5]], now)  # warm up
    load = os.getloadavg()[0]
    size = sum(len(r["search_text"]) for r in rows) // len(rows)
    print(f"\n{name}: {len(rows):,} approved points ({size} characters each on average); "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"  plan: {plan(db, now)}")
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            trgm = conn.exec_driver_sql(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_talkingpoint_search_trgm'"
            ).first()
        print(f"  pg_trgm index: {'present' if trgm else 'absent (ILIKE-style scan)'}")
    print("  before = every match ranked (the search until now), after = early stop; "
          "interleaved per class")
    print(f"  {'language':<9}{'length':>6}{'before p50':>11}{'p99':>9}{'after p50':>11}"
          f"{'p99':>9}{'cpu p99':>9}{'hits/q':>8}")
    classes = {"zh 2": ([], []), "zh 3-8": ([], []), "en 2-8": ([], [])}
    for (language, length), qs in queries.items():
        key = "zh 2" if language == "zh" and length == 2 else (
            "zh 3-8" if language == "zh" else "en 2-8")
        before, _, _ = time_queries(db, qs, now, full=True)
        wall, cpu, hits = time_queries(db, qs, now)
        classes[key][0].extend(before)
        classes[key][1].extend(wall)
        b, w, c = ([x * 1000 for x in xs] for xs in (before, wall, cpu))
        print(f"  {language:<9}{length:>6}{percentile(b, 50):>11.2f}{percentile(b, 99):>9.2f}"
              f"{percentile(w, 50):>11.2f}{percentile(w, 99):>9.2f}{percentile(c, 99):>9.2f}"
              f"{hits / len(qs):>8.1f}")
    for key, (before, after) in classes.items():
        b, a = [x * 1000 for x in before], [x * 1000 for x in after]
        print(f"  {key:<7} before p50 {percentile(b, 50):.2f} p99 {percentile(b, 99):.2f} ms;"
              f" after p50 {percentile(a, 50):.2f} p99 {percentile(a, 99):.2f} ms "
              f"(goal p99 < 10: {'met' if percentile(a, 99) < 10 else 'NOT met'}; n={len(a)})")
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100, help="per language and length")
    parser.add_argument("--databases", default="sqlite,pg")
    parser.add_argument("--pg-database", help="keep (and reuse) this PostgreSQL database")
    args = parser.parse_args()
    rng = random.Random(20261126)
    now = datetime.now(UTC)
    rows = make_points(args.points, now, rng)
    queries = {(lang, length): make_queries(rows, lang, length, args.queries, rng)
               for lang in ("zh", "en") for length in range(2, 9)}
    wanted = args.databases.split(",")
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", rows, queries, now)
    if "pg" in wanted and args.pg_database:
        url = kept_postgres(args.pg_database)
        if url:
            run("PostgreSQL", url, rows, queries, now)
    elif "pg" in wanted:
        with temporary_postgres() as url:
            if url:
                run("PostgreSQL", url, rows, queries, now)


if __name__ == "__main__":
    main()
