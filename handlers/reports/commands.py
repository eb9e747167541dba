"""`/reports` (报告): a team library of industry reports and background documents.
`/reports add URL title #tag…` files one; `/reports search WORDS` finds them the way talking
points are found (every word, NFKC and case folded, in the title, tags or address);
`/reports` alone lists the newest."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from bot.context import Ctx
from bot.domain import family_menu
from bot.errors import UserError
from bot.messages import Audience, Reply
from bot.router import Args
from handlers.reports import DOMAIN
from handlers.reports.models import TAGS_MAX, TITLE_MAX, URL_MAX, Report
from handlers.talking_points.models import fold
from handlers.talking_points.search import terms_of

LIST_LIMIT = 10
FOUND_LIMIT = 5
OFFER_LIMIT = 3
OFFER_SCAN = 200


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def view(row: Report) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "title": row.title,
            "tags": [t for t in row.tags.split(",") if t], "by": row.added_by_name,
            "at": row.created_at}


def find(session: Session, words: str, limit: int = FOUND_LIMIT) -> list[Report]:
    """Reports holding every word; those with more words in the title first, then newest."""
    terms = terms_of(words)
    if not terms:
        return []
    query = select(Report)
    for term in terms:
        query = query.where(col(Report.search_text).like(_like(term), escape="\\"))
    rows = session.exec(query.order_by(col(Report.created_at).desc(), col(Report.id).desc())
                        .limit(200)).all()
    return sorted(rows, key=lambda r: -sum(t in fold(r.title) for t in terms))[:limit]


def offered(session: Session, *texts: str, limit: int = OFFER_LIMIT) -> list[dict[str, Any]]:
    """The reports that fit what a plan is about (the audience, the topic, the goal): those
    whose title or a tag occurs in those words, or holding one of their words. Newest first,
    among the most recent OFFER_SCAN."""
    about = fold(" ".join(texts))
    words = [w for w in terms_of(" ".join(texts)) if len(w) >= 2]
    if not about.strip():
        return []
    rows = session.exec(select(Report).order_by(col(Report.created_at).desc(),
                                                col(Report.id).desc()).limit(OFFER_SCAN)).all()
    fits = []
    for row in rows:
        keys = [fold(row.title), *(fold(t) for t in row.tags.split(",") if t)]
        if any(k in about for k in keys) or any(w in row.search_text for w in words):
            fits.append(view(row))
    return fits[:limit]


@DOMAIN.command("reports", None, usage="reports.cmd.main")
def reports_list(ctx: Ctx, args: Args) -> Reply:
    if args.positional:
        return family_menu(ctx, "reports", args.get(0))
    rows = ctx.session.exec(select(Report).order_by(col(Report.created_at).desc(),
                                                    col(Report.id).desc())
                            .limit(LIST_LIMIT)).all()
    return Reply("reports/list", {"rows": [view(r) for r in rows]}, audience=Audience.USER)


@DOMAIN.command("reports", "add", aliases=("添加", "新增"), usage="reports.cmd.add")
def reports_add(ctx: Ctx, args: Args) -> Reply:
    words = list(args.positional)
    url = words.pop(0) if words else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > URL_MAX:
        raise UserError("reports/add_usage", url=url[:80])
    tags = [w.lstrip("#＃") for w in words if w[:1] in "#＃" and len(w) > 1]
    tags += [t for t in args.keywords.get("tags", "").replace("，", ",").split(",") if t]
    title = " ".join(w for w in words if not (w[:1] in "#＃" and len(w) > 1)).strip()
    joined = ",".join(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if not title or len(title) > TITLE_MAX or len(joined) > TAGS_MAX:
        raise UserError("reports/add_usage", url=url[:80])
    existing = ctx.session.exec(select(Report).where(Report.url == url)).first()
    if existing is not None:
        raise UserError("reports/duplicate", id=existing.id, title=existing.title)
    row = Report(url=url, title=title, tags=joined,
                 search_text=fold(f"{title} {joined} {url}"), added_by=ctx.actor,
                 added_by_name=ctx.member.display_name, created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("report", str(row.id), "add", {"url": url, "title": title, "tags": joined})
    return Reply("reports/added", {"r": view(row)}, audience=Audience.USER)


@DOMAIN.command("reports", "search", aliases=("搜索", "查找", "find"),
                usage="reports.cmd.search")
def reports_search(ctx: Ctx, args: Args) -> Reply:
    words = " ".join(args.positional).strip()[:200]
    if not words:
        raise UserError("reports/search_usage")
    rows = find(ctx.session, words)
    return Reply("reports/found", {"query": words, "rows": [view(r) for r in rows]},
                 audience=Audience.USER)
