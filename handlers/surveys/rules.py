"""The rules of a survey, with no session, chat or web: ids, the shipped questionnaires, a
question as typed in chat, a recipient line or CSV row, an answer as the page or the chat
validates it, the token of a private link, and the figures of the results."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.export import csv_text, read_cell
from bot.records import RecordIds

IDS = RecordIds("S")  # S-2026-0001
COMPLAINT_IDS = RecordIds("C")  # a complaint a recipient's answer follows up
LOCALES = ("zh", "en")
TEMPLATES = ("complaint", "partner")
TYPES = ("rating", "choice", "text")
MAX_QUESTIONS = 20
MAX_OPTIONS = 10
MAX_QUESTION = 300
MAX_OPTION = 100
MAX_TEXT_ANSWER = 2000
MAX_RECIPIENTS = 200
MAX_NAME = 100
LOW_SCORE = 2  # a rating of 1 or 2 in a complaint's survey: its owner follows up

_DATA = Path(__file__).resolve().parent / "questionnaires"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_EMAIL_IN = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MOBILE = re.compile(r"^\+?\d{7,15}$")
# A last field like this after a name reads as a language code (de, fr, jpn), not a name.
_LANG_LIKE = re.compile(r"^[A-Za-z]{2,3}$")

TYPE_WORDS = {
    "rating": ("rating", "rate", "score", "评分", "打分", "评级"),
    "choice": ("choice", "single", "option", "单选", "选择", "选项"),
    "text": ("text", "free", "comment", "文字", "文本", "开放", "意见"),
}
TEMPLATE_WORDS = {
    "complaint": ("complaint", "complaints", "投诉", "投诉回访"),
    "partner": ("partner", "partners", "伙伴", "合作伙伴"),
    "custom": ("custom", "blank", "own", "自定义", "空白"),
}
LANG_WORDS = {"zh": ("zh", "cn", "中文", "汉语", "chinese"), "en": ("en", "英文", "english")}


def norm(word: str | None) -> str:
    return unicodedata.normalize("NFKC", word or "").strip().lower()


def template_of(word: str | None) -> str | None:
    low = norm(word)
    return next((t for t, words in TEMPLATE_WORDS.items() if low in words), None)


def lang_of(word: str | None) -> str | None:
    low = norm(word)
    return next((t for t, words in LANG_WORDS.items() if low in words), None)


@lru_cache(maxsize=4)
def shipped(name: str) -> dict[str, Any]:
    """A shipped questionnaire: its title and questions in both languages, with ids."""
    import yaml  # on first use, not at start-up

    data = yaml.safe_load((_DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    questions = [{"id": f"q{i}", "type": q["type"], "text": dict(q["text"]),
                  "options": [dict(o) for o in q.get("options", [])],
                  "required": bool(q.get("required", q["type"] != "text")),
                  "chat_scores": bool(q.get("chat_scores", False))}
                 for i, q in enumerate(data["questions"], start=1)]
    return {"title": dict(data["title"]), "questions": questions}


def said(text: dict[str, str] | str, locale: str) -> str:
    """A question, an option or a title in `locale` (a shipped one has both languages; one
    typed in chat is what was typed)."""
    if isinstance(text, str):
        return text
    return text.get(locale) or next(iter(text.values()), "")


class Invalid(ValueError):
    """A typed question, a recipient or an answer that does not do: `key` names the
    template of the polite answer, `params` its values."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def parse_question(line: str) -> dict[str, Any]:
    """`rating: How satisfied…?`, `choice: Solved? | Yes | Partly | No`, `text: Anything
    else?` (评分: / 单选: / 文字:), one question a line; a choice needs two options at least."""
    text = unicodedata.normalize("NFKC", line).strip()
    head, sep, rest = text.partition(":")
    kind = next((t for t, words in TYPE_WORDS.items() if norm(head) in words), None) if sep \
        else None
    if kind is None:
        raise Invalid("question_form")
    parts = [" ".join(p.split()) for p in rest.split("|")]
    question, options = parts[0], [p for p in parts[1:] if p]
    if not question:
        raise Invalid("question_form")
    if len(question) > MAX_QUESTION:
        raise Invalid("too_long", limit=MAX_QUESTION, length=len(question))
    if kind == "choice":
        if len(options) < 2:
            raise Invalid("choice_options")
        if len(options) > MAX_OPTIONS or any(len(o) > MAX_OPTION for o in options):
            raise Invalid("choice_options")
        seen: set[str] = set()
        for option in options:  # "A | a": the customer could not tell them apart
            if option.casefold() in seen:
                raise Invalid("choice_duplicate", option=option)
            seen.add(option.casefold())
    elif options:
        raise Invalid("options_only_choice")
    return {"type": kind, "text": {loc: question for loc in LOCALES},
            "options": [{loc: o for loc in LOCALES} for o in options],
            "required": kind != "text", "chat_scores": False}


def numbered(questions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**q, "id": f"q{i}"} for i, q in enumerate(questions, start=1)]


# -- recipients ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str = ""
    mobile: str = ""
    locale: str = ""  # "" for the inviter's language
    complaint: str = ""  # the complaint it follows up (C-2026-0001), given on its line

    @property
    def channel(self) -> str:
        return "email" if self.email else "sms"


def email_in(text: str) -> str:
    """The first e-mail address in a free-text contact field, or ""."""
    match = _EMAIL_IN.search(unicodedata.normalize("NFKC", text or ""))
    return match.group(0) if match and len(match.group(0)) <= 254 else ""


def _mobile(word: str) -> str:
    digits = re.sub(r"[\s\-().]", "", word)
    return digits if _MOBILE.match(digits) else ""


def recipient(fields: list[str], columns: Sequence[str] = ()) -> Recipient:
    """A name, an e-mail address or a mobile number (or both), a language (zh/en) and the
    complaint it follows up (C-2026-0001): in any order, as a line's comma-separated fields
    or a CSV row's cells. `columns`: what a CSV file's header says each cell is (name,
    email, mobile, lang; "" for a column it does not name, read like a typed field)."""
    name_parts: list[str] = []
    email = mobile = locale = complaint = ""
    cells = [(" ".join(unicodedata.normalize("NFKC", read_cell(raw)).split()),
              columns[n] if n < len(columns) else "") for n, raw in enumerate(fields)]
    cells = [(w, c) for w, c in cells if w]
    for place, (word, column) in enumerate(cells):
        if column == "email" and (not _EMAIL.match(word) or len(word) > 254):
            raise Invalid("bad_email", value=word[:80])
        if column == "mobile" and not _mobile(word):
            raise Invalid("bad_mobile", value=word[:80])
        if column == "lang" and not lang_of(word):
            raise Invalid("bad_lang", value=word[:20])
        if column == "name":
            name_parts.append(word)
        elif "@" in word:
            if not _EMAIL.match(word) or len(word) > 254:
                raise Invalid("bad_email", value=word[:80])
            email = email or word
        elif COMPLAINT_IDS.parse(word):
            complaint = COMPLAINT_IDS.parse(word) or ""
        elif _mobile(word):
            mobile = mobile or _mobile(word)
        elif lang_of(word) and not locale:
            locale = lang_of(word) or ""
        elif place == len(cells) - 1 and name_parts and _LANG_LIKE.match(word):
            # "Li, li@example.com, de": a language code we do not have, not part of the name
            raise Invalid("bad_lang", value=word)
        else:
            name_parts.append(word)
    name = " ".join(name_parts)
    if not email and not mobile:
        raise Invalid("no_address")
    if len(name) > MAX_NAME:
        raise Invalid("too_long", limit=MAX_NAME, length=len(name))
    return Recipient(name=name, email=email, mobile=mobile, locale=locale, complaint=complaint)


def recipient_line(line: str) -> Recipient:
    fields = re.split(r"[,，;；\t]", line)
    if len(fields) == 1:
        fields = line.split()
    return recipient(fields)


_HEADERS = {"name": ("name", "姓名", "名称", "客户"), "email": ("email", "e-mail", "mail", "邮箱",
            "电子邮件"), "mobile": ("mobile", "phone", "手机", "电话", "手机号"),
            "lang": ("lang", "language", "locale", "语言")}


def recipients_csv(data: bytes) -> list[tuple[int, list[str], tuple[str, ...]]]:
    """The rows of a CSV file (UTF-8, with or without a BOM, or GB18030 as Chinese Excel
    saves it) as (line number, cells, columns). A first row with no address in it is a
    header naming the columns, in either language (`columns`, "" for one it does not name);
    one that names none of them is refused, as is a file with no recipients."""
    try:
        text = csv_text(data)
    except UnicodeDecodeError:
        raise Invalid("csv_encoding") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise Invalid("csv_broken") from None
    out = []
    columns: tuple[str, ...] = ()
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if not out and not columns and not any("@" in c or _mobile(c) for c in cells):
            columns = tuple(next((k for k, names in _HEADERS.items() if norm(c) in names), "")
                            for c in cells)
            if not any(columns):
                raise Invalid("csv_no_columns")
            continue
        out.append((number, cells, columns))
    if not out:
        raise Invalid("csv_empty")
    return out


# -- tokens ------------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def mail_token(secret: str, invitation_id: int, nonce: str) -> str:
    """An e-mailed invitation's link token: the same on every try of its e-mail (a retry after
    a slow server took the first one mails the same working link), reproducible only with
    the secret, so neither it nor anything that gives it away is stored."""
    digest = hmac.new(secret.encode("utf-8"), f"survey-link:{invitation_id}:{nonce}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible_token(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{20,100}", token or ""))


# -- answers -------------------------------------------------------------------------------


_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_text(value: str) -> str:
    """A free-text answer as the chat keeps typed text: NFC, line breaks as \\n, no control
    characters (but line breaks and tabs) and no bidi overrides that would reorder it."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = "".join(c for c in value.translate(_BIDI)
                    if c in "\n\t" or unicodedata.category(c) != "Cc")
    return value.strip()


def read_answers(questions: list[dict[str, Any]], form: dict[str, str]
                 ) -> tuple[dict[str, Any], dict[str, tuple[str, dict[str, Any]]]]:
    """The answers of a filled form (`q1` … as the page posts them) and the errors per
    question (a template key and its values); the chat and the page read answers alike."""
    answers: dict[str, Any] = {}
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    for q in questions:
        raw = unicodedata.normalize("NFKC", form.get(q["id"], "") or "").strip()
        if not raw:
            if q.get("required"):
                errors[q["id"]] = ("required", {})
            continue
        if q["type"] == "rating":
            if not raw.isdigit() or not 1 <= int(raw) <= 5:
                errors[q["id"]] = ("rating", {})
            else:
                answers[q["id"]] = int(raw)
        elif q["type"] == "choice":
            if not raw.isdigit() or not 0 <= int(raw) < len(q["options"]):
                errors[q["id"]] = ("choice", {})
            else:
                answers[q["id"]] = int(raw)
        else:
            text = clean_text(form.get(q["id"]) or "")
            if len(text) > MAX_TEXT_ANSWER:
                errors[q["id"]] = ("text_long", {"limit": MAX_TEXT_ANSWER,
                                                  "length": len(text)})
            else:
                answers[q["id"]] = text
    return answers, errors


def low_scores(questions: list[dict[str, Any]], answers: dict[str, Any]) -> list[int]:
    return [answers[q["id"]] for q in questions
            if q["type"] == "rating" and isinstance(answers.get(q["id"]), int)
            and answers[q["id"]] <= LOW_SCORE]


def figures(questions: list[dict[str, Any]], responses: list[dict[str, Any]],
            chat_scores: list[int]) -> list[dict[str, Any]]:
    """Per question: a rating's count, average and distribution 1..5 (with the chat's scores
    where the question gathers them), a choice's count per option, the free texts."""
    out = []
    for q in questions:
        given = [r[q["id"]] for r in responses if q["id"] in r]
        row: dict[str, Any] = {"id": q["id"], "type": q["type"], "text": q["text"]}
        if q["type"] == "rating":
            extra = list(chat_scores) if q.get("chat_scores") else []
            scores = [v for v in given if isinstance(v, int)] + extra
            row.update(n=len(scores), chat=len(extra),
                       average=round(sum(scores) / len(scores), 2) if scores else None,
                       distribution=[scores.count(v) for v in range(1, 6)])
        elif q["type"] == "choice":
            row.update(n=len(given), options=[
                {"label": o, "count": sum(1 for v in given if v == i)}
                for i, o in enumerate(q["options"])])
        else:
            row.update(n=len([v for v in given if v]), texts=[v for v in given if v])
        out.append(row)
    return out
