"""`/survey` (满意度调查): the handbook's 客户 满意度调查 — a questionnaire, invitations by
e-mail or SMS text with one private link each, answers on the bot's own web page, and the
results (with the scores recorded on complaints) that feed the follow-up."""

from handlers.surveys.commands import DOMAIN

__all__ = ["DOMAIN"]
