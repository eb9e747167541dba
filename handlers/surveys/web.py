"""The survey pages: `/s/<token>`, where a customer answers the survey they were invited to,
with no login: the link's token is the key (stored only as its hash), it works once and
until it expires. The page is in the language recorded with the invitation, readable on a
phone, without script or outside assets; every value is escaped (Jinja autoescape).

A GET shows the form and spends nothing (link previews fetch links too). A POST validates
as the chat does (handlers/surveys/rules.py) and shows the form again with polite errors and
the answers kept; valid answers are stored in the transaction that marks the link used
(handlers/surveys/store.py), so a double submit writes once. A used, expired or closed link
answers 410 and an unknown one 404, with a polite page; neither writes anything."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

from bot.core import Liaison
from handlers.surveys import rules, store

PATH = "/s"
log = logging.getLogger(__name__)


def install(app: Flask, liaison: Liaison, pages: Any) -> None:  # noqa: ANN401 (bot.web.app.Pages)
    db, zone = liaison.db, liaison.settings.timezone
    default = liaison.settings.default_locale

    def now() -> datetime:
        return datetime.now(UTC)

    def page(name: str, locale: str, status: int = 200, **values: Any) -> Response:
        body = pages.render(name, locale, zone, viewer=None, **values)
        response = pages.response(body, status)  # no Referer carries the token anywhere
        response.headers["X-Robots-Tag"] = "noindex, nofollow"  # nor does a search engine
        return response

    def gone(link: store.Link | None) -> Response:
        if link is None:
            return page("survey_gone.html.j2", default, 404, state="unknown")
        return page("survey_gone.html.j2", link.invitation.locale, 410, state=link.state)

    def form(link: store.Link, status: int = 200, given: dict[str, str] | None = None,
             errors: dict[str, tuple[str, dict[str, Any]]] | None = None,
             retry: bool = False) -> Response:
        locale = link.invitation.locale
        survey = link.survey
        title = survey.title
        if survey.template in rules.TEMPLATES:
            title = rules.shipped(survey.template)["title"].get(locale, title)
        questions = [{"id": q["id"], "type": q["type"], "required": q["required"],
                      "text": rules.said(q["text"], locale),
                      "options": [rules.said(o, locale) for o in q.get("options", [])]}
                     for q in survey.questions]
        return page("survey.html.j2", locale, status, title=title, questions=questions,
                    person=link.invitation.name, given=given or {}, errors=errors or {},
                    expires=link.invitation.expires_at, retry=retry,
                    max_text=rules.MAX_TEXT_ANSWER)

    def unavailable() -> Response:
        log.exception("survey page: could not be served")
        response = page("survey_gone.html.j2", default, 503, state="unavailable")
        response.headers["Retry-After"] = "60"
        return response

    @app.get(f"{PATH}/<token>")
    def survey_page(token: str) -> Response:
        try:
            with db.session() as session:
                link = store.find_link(session, token, now())
                if link is None or link.state != "open":
                    return gone(link)
                return form(link)
        except Exception:  # noqa: BLE001 (the database away: a polite page, not a bare 500)
            return unavailable()

    @app.post(f"{PATH}/<token>")
    def survey_answer(token: str) -> Response:
        given = dict(request.form.items())  # bounded by MAX_CONTENT_LENGTH
        retry: Response | None = None
        try:
            with db.session() as session:
                link = store.find_link(session, token, now())
                if link is None or link.state != "open":
                    return gone(link)
                answers, errors = rules.read_answers(link.survey.questions, given)
                if errors:
                    return form(link, 422, given, errors)
                # Shown if storing fails (the database, or the follow-up a low score makes):
                # in the customer's language, their answers still in the form.
                retry = form(link, 503, given, retry=True)
                retry.headers["Retry-After"] = "60"
                if store.submit(liaison, session, link, answers, now()) is None:
                    session.rollback()  # spent meanwhile (a double submit): nothing is written
                    return page("survey_gone.html.j2", link.invitation.locale, 410,
                                state="used")
                locale = link.invitation.locale
        except Exception:  # noqa: BLE001 (rolled back: nothing written, the link still open)
            if retry is None:
                return unavailable()
            log.exception("survey answers could not be stored; the customer may try again")
            return retry
        return page("survey_done.html.j2", locale)
