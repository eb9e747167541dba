"""The web app: one Flask application serving the read-only dashboard under /dash/ and the
customers' survey pages domains declare (the surveys' /s/<token>), in the bot's HTTP server
(waitress, see bot/web/server.py and Slack's HTTP mode in bot/adapters/slack.py), behind the
guard that hands Slack's endpoint (POST /slack/events) to Bolt's own WSGI adapter; the route
here keeps the other methods on that path a 405.

Pages are plain HTML rendered from templates/web/ (autoescaped: what people typed is text,
never markup), in the viewer's language (templates/web/labels.<locale>.yaml), readable on a
phone and without JavaScript. Every page but the sign-in ones needs the session cookie
(bot/web/auth.py): without one, or with a forged or stale one, the answer is a 302 to the
"link expired" page, never the data; a record the viewer may not see is a 404, like one that
does not exist.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from flask import Flask, Response, abort, g, redirect, request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.exceptions import HTTPException

from bot.adapters.http_guard import MAX_BODY
from bot.core import Liaison
from bot.export import csv_bytes, safe_cell
from bot.render import LOCALES, templates_root

log = logging.getLogger(__name__)

PREFIX = "/dash"


@lru_cache(maxsize=4)
def labels(locale: str) -> dict[str, Any]:
    path = templates_root() / "web" / f"labels.{locale}.yaml"
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    # the review's figure names, as the chat says them
    review = templates_root() / locale / "review" / "labels.yaml"
    words = yaml.safe_load(review.read_text(encoding="utf-8"))
    table["fig"], table["chart"] = words["fig"], words["chart"]
    return table


def show(name: str, value: Any) -> str:  # noqa: ANN401
    """A review figure as the page shows it."""
    if value is None:
        return "—"
    if name.startswith("first_response"):
        minutes = int(value) // 60
        return f"{minutes // 60}:{minutes % 60:02d}"
    if name.endswith("_pct"):
        return f"{value}%"
    return str(value)


def _lookup(table: dict[str, Any], key: str) -> str | None:
    node: Any = table
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


class Pages:
    """The Jinja environment for HTML, built once per app."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_root() / "web")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )
        # Chinese shown as itself in a record's JSON fields, not as \uXXXX
        self.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}

    def render(self, name: str, locale: str, zone: str, **values: Any) -> str:
        table = labels(locale)
        tz = ZoneInfo(zone)

        def t(key: str, **kw: Any) -> str:
            text = _lookup(table, key)
            if text is None:
                text = _lookup(labels("en"), key) or key
            return text.format(**kw) if kw else text

        def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
            return value.astimezone(tz).strftime(fmt) if value is not None else ""

        return self.env.get_template(name).render(t=t, when=when, locale=locale, zone=zone,
                                                  prefix=PREFIX, **values)

    @staticmethod
    def response(body: str, status: int = 200, *, images: bool = False) -> Response:
        """An HTML page as every page of the web app goes out: never cached, no Referer
        (addresses may carry a token), no script, no outside asset, no framing."""
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; "
            + ("img-src 'self'; " if images else "")
            + "form-action 'self'; frame-ancestors 'none'")
        return response


def create_app(liaison: Liaison, *, bolt: Any = None) -> Flask:  # noqa: ANN401, C901
    """The Flask app: the Slack endpoint when `bolt` is given, the dashboard when the
    settings turn it on (LIAISON_DASHBOARD), the survey pages when LIAISON_PUBLIC_URL is set."""
    settings = liaison.settings
    app = Flask("liaison", static_folder=None, template_folder=None)
    # The guard limits Slack's bodies before us; the dashboard's forms get the same bound.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.get("/healthz")
    @app.route("/healthz", methods=["HEAD"])
    def healthz() -> Response:
        return Response("ok\n", content_type="text/plain; charset=utf-8")

    @app.get("/readyz")
    def readyz() -> Response:
        # (with Slack's endpoint, the guard in front answers this, with a time limit)
        ready = liaison.db.ready()
        return Response("ready\n" if ready else "database unavailable\n",
                        status=200 if ready else 503, content_type="text/plain; charset=utf-8")

    if bolt is not None:
        # Behind the guard (bot/web/server.py, always in front when Bolt is given), POST
        # /slack/events never reaches Flask: this route is there for the 405 (Allow: POST)
        # that GET, HEAD and PUT get.
        from slack_bolt.adapter.flask import SlackRequestHandler

        slack = SlackRequestHandler(bolt)

        @app.post("/slack/events")
        def slack_events() -> Response:
            return slack.handle(request)

    if settings.dashboard:
        _dashboard(app, liaison)
    for web in settings.web_served():  # the pages domains declare (bot.domain.WebPages)
        web.install(app, liaison, Pages())
    return app


def _dashboard(app: Flask, liaison: Liaison) -> None:  # noqa: C901 (the routes, in one place)
    # Imported with the dashboard (LIAISON_DASHBOARD), not by every web app: Slack's endpoint
    # and the survey pages need neither.
    from bot.web import auth, data

    settings = liaison.settings
    db = liaison.db
    pages = Pages()
    sessions = auth.Sessions(settings.web_secret)
    secure = urlsplit(settings.public_url).scheme == "https"
    zone_default = settings.timezone

    def now() -> datetime:
        return datetime.now(UTC)

    def page(name: str, status: int = 200, **values: Any) -> Response:
        viewer = g.get("viewer")
        locale = request.args.get("lang") if request.args.get("lang") in LOCALES else None
        locale = locale or (viewer.locale if viewer else settings.default_locale)
        zone = viewer.zone if viewer else zone_default
        body = pages.render(name, locale, zone, viewer=viewer, now=now(),
                            kinds=list(data.KINDS), absent=list(data.ABSENT), **values)
        return pages.response(body, status, images=True)

    def signed_in(view: Callable[..., Response]) -> Callable[..., Response]:
        def wrapper(**kw: Any) -> Response:
            member_id = sessions.member_id(request.cookies.get(auth.COOKIE))
            if member_id is None:
                return redirect(f"{PREFIX}/expired", code=302)
            with db.session() as session:
                viewer = auth.viewer(session, member_id, settings.admin_ids,
                                     settings.default_locale, zone_default)
                if viewer is None:
                    return redirect(f"{PREFIX}/expired", code=302)
                g.viewer = viewer
                g.session = session
                return view(**kw)

        wrapper.__name__ = view.__name__
        return wrapper

    def kind_or_404(name: str) -> data.Kind:
        kind = data.KINDS.get(name)
        if kind is None:
            abort(404)
        return kind

    @app.errorhandler(404)
    def not_found(_: HTTPException) -> Response:
        if request.path.startswith(PREFIX):
            return page("not_found.html.j2", status=404)
        return Response("not found\n", status=404, content_type="text/plain; charset=utf-8")

    @app.get(f"{PREFIX}/login/<token>")
    def login_page(token: str) -> Response:
        # A GET spends nothing: link previews and prefetchers fetch links too.
        with db.session() as session:
            fresh = auth.link_is_fresh(session, token, now())
        if not fresh:
            return redirect(f"{PREFIX}/expired", code=302)
        return page("login.html.j2", token=token)

    @app.post(f"{PREFIX}/login/<token>")
    def login(token: str) -> Response:
        with db.session() as session:
            member_id = auth.spend(session, token, now())
        if member_id is None:
            return redirect(f"{PREFIX}/expired", code=302)
        response = redirect(f"{PREFIX}/", code=302)
        response.set_cookie(auth.COOKIE, sessions.cookie_for(member_id),
                            max_age=int(auth.SESSION_VALID.total_seconds()), path=PREFIX,
                            httponly=True, samesite="Lax", secure=secure)
        return response

    @app.post(f"{PREFIX}/logout")
    def logout() -> Response:
        response = redirect(f"{PREFIX}/expired", code=302)
        response.delete_cookie(auth.COOKIE, path=PREFIX)
        return response

    @app.get(f"{PREFIX}/expired")
    def expired() -> Response:
        return page("expired.html.j2")

    @app.get(f"{PREFIX}/")
    @signed_in
    def overview() -> Response:
        boxes = data.overview(g.session, g.viewer, now(), settings.comm.review)
        return page("overview.html.j2", boxes=boxes, overdue=data.overdue,
                    complaint_kind=data.KINDS["complaints"])

    def period_arg() -> str:
        """`?period=week|month|A..B`, or `?from=A&to=B` (the page's two date fields)."""
        first, last = request.args.get("from", ""), request.args.get("to", "")
        if first and last:
            return f"{first[:10]}..{last[:10]}"
        return request.args.get("period", "week")[:40]

    def review_zone() -> ZoneInfo:
        """The review's weeks are the team's, as `/review` counts them: the viewer's first
        team by name with a zone, else LIAISON_TIMEZONE."""
        from bot import teams

        return teams.person_zone(g.session, *g.viewer.key, ZoneInfo(settings.timezone))

    @app.get(f"{PREFIX}/review")
    @signed_in
    def review() -> Response:
        from handlers.review import figures

        chosen = period_arg()
        period = figures.period_from(chosen, now(), review_zone())
        if period is None:
            abort(404)
        numbers = figures.compute(g.session, period, settings, now=min(now(), period.end))
        return page("review.html.j2", review=numbers, show=show, period_arg=chosen)

    @app.get(f"{PREFIX}/review.png")
    @signed_in
    def review_chart() -> Response:
        from handlers.review import chart, figures

        period = figures.period_from(period_arg(), now(), review_zone())
        if period is None:
            abort(404)
        trend = figures.trend(g.session, period.end, ZoneInfo(period.zone))
        png = chart.render(trend, figures.response_times(g.session, period),
                           labels(g.viewer.locale)["chart"])
        return Response(png, content_type="image/png")

    @app.get(f"{PREFIX}/<name>")
    @signed_in
    def listing(name: str) -> Response:
        if name in data.ABSENT:
            return page("absent.html.j2", name=name)
        kind = kind_or_404(name)
        q = request.args.get("q", "").strip()[:100]
        status = request.args.get("status", "")
        try:
            number = int(request.args.get("page", "1"))
        except ValueError:
            number = 1
        result = data.list_page(g.session, kind, g.viewer, q=q, status=status, page=number)
        return page("list.html.j2", kind=kind, result=result, q=q, chosen=status,
                    overdue=data.overdue)

    @app.get(f"{PREFIX}/<name>.csv")
    @signed_in
    def export_csv(name: str) -> Response:
        kind = kind_or_404(name)
        rows = _export(kind)
        header, values = _table(kind, rows, g.viewer.locale)
        return _download(csv_bytes(header, values), f"{name}-{date.today():%Y%m%d}.csv",
                         "text/csv; charset=utf-8")

    @app.get(f"{PREFIX}/<name>.xlsx")
    @signed_in
    def export_xlsx(name: str) -> Response:
        kind = kind_or_404(name)
        rows = _export(kind)
        header, values = _table(kind, rows, g.viewer.locale)
        return _download(xlsx_bytes(name, header, values), f"{name}-{date.today():%Y%m%d}.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.get(f"{PREFIX}/<name>/<key>")
    @signed_in
    def record_page(name: str, key: str) -> Response:
        kind = kind_or_404(name)
        row = data.record(g.session, kind, g.viewer, key)
        if row is None:
            abort(404)
        return page("record.html.j2", kind=kind, row=row,
                    fields=_fields(row), events=data.timeline(g.session, kind, row),
                    overdue=data.overdue)

    def _export(kind: data.Kind) -> list[Any]:
        return data.export_rows(g.session, kind, g.viewer,
                                q=request.args.get("q", "").strip()[:100],
                                status=request.args.get("status", ""))

    def _table(kind: data.Kind, rows: list[Any], locale: str) -> tuple[list[str], list[list]]:
        table = labels(locale)
        header = [_lookup(table, f"col.{c.name}") or c.name for c in kind.columns]
        zone = ZoneInfo(g.viewer.zone)
        values = [[_cell(c.value(row), zone) for c in kind.columns] for row in rows]
        return header, values


def _cell(value: Any, zone: ZoneInfo) -> Any:  # noqa: ANN401
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return value


def _fields(row: Any) -> list[tuple[str, Any]]:  # noqa: ANN401
    """A record's columns as they are stored (the record page shows them all)."""
    return [(name, getattr(row, name)) for name in type(row).model_fields
            if name not in ("id", "search_text")]


def xlsx_bytes(title: str, header: list[str], rows: list[list[Any]]) -> bytes:
    """An Excel workbook of one sheet; text that a spreadsheet would run as a formula is
    kept as text, as in the CSV export (openpyxl would otherwise store `=...` as a formula)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([safe_cell(h) for h in header])
    for row in rows:
        sheet.append(["" if v is None else safe_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _download(body: bytes, filename: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


__all__ = ["create_app", "xlsx_bytes"]
