"""`/survey` (满意度调查): the handbook's 客户 满意度调查 — a questionnaire, invitations by
e-mail or SMS text with one private link each, answers on the bot's own web page, and the
results (with the scores recorded on complaints) that feed the follow-up."""

from typing import Any

from bot.domain import Domain, WebPages
from handlers.surveys.settings import SurveySettings

MAIL_JOB = "surveys.mail"  # the domain job (bot.domain.Job) that e-mails invitations


def _pages_served(settings: Any) -> bool:  # noqa: ANN401
    """The answer pages are on when links can point at them: LIAISON_PUBLIC_URL is set."""
    return str(settings.public_url).startswith(("http://", "https://"))


def _install_pages(app: Any, liaison: Any, pages: Any) -> None:  # noqa: ANN401
    from handlers.surveys import web  # Flask, only when the web app is built

    web.install(app, liaison, pages)


def _mail(app: Any) -> None:  # noqa: ANN401
    """E-mail the invitations queued (handlers/surveys/mailer.py), outside any command's
    transaction, and tell the inviter."""
    from handlers.surveys import mailer

    mailer.run(app)


DOMAIN = Domain(
    "surveys",
    slash="/survey",
    roles=("surveys",),
    settings=SurveySettings,
    web=WebPages("/s/", _pages_served, _install_pages),
    code="handlers.surveys.commands",
)
DOMAIN.family("survey", aliases=("满意度调查", "问卷", "调查"), label="surveys.family")
DOMAIN.job(MAIL_JOB)(_mail)

__all__ = ["DOMAIN", "MAIL_JOB"]
