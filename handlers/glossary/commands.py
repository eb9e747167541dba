"""`/glossary` (术语): the approved terms, and the forms a draft should not use. A press draft
that uses an avoided form gets a hint naming the preferred one (`pairs` feeds
handlers.principles.check)."""

from __future__ import annotations

import re
import shlex
import unicodedata

from sqlmodel import Session, col, select

from bot.context import Ctx
from bot.errors import UserError
from bot.messages import Audience, Reply
from bot.router import Args
from handlers.glossary import DOMAIN
from handlers.glossary.models import TERM_MAX, GlossaryTerm

RECORD = "glossary"
AVOID_MAX = 10
_AVOID = re.compile(r"(?:^|\s)(?:avoid|避免|不用)\s*[:：]", re.IGNORECASE)
_SPLIT = re.compile(r"[,，、;；]+")


def key_of(term: str) -> str:
    return unicodedata.normalize("NFKC", term).strip().casefold()


def pairs(session: Session) -> list[tuple[str, str]]:
    """(avoided form, preferred term) of every glossary entry."""
    return [(avoid, t.preferred) for t in session.exec(select(GlossaryTerm)).all()
            for avoid in t.avoid]


@DOMAIN.command("glossary", None, usage="glossary.cmd.main")
def glossary_main(ctx: Ctx, args: Args) -> Reply:
    word = args.rest.strip()
    if not word:
        rows = ctx.session.exec(select(GlossaryTerm).order_by(col(GlossaryTerm.key))).all()
        return Reply("glossary/list", {"rows": [_values(t) for t in rows]},
                     audience=Audience.USER)
    key = key_of(word.strip("\"'“”"))
    found = ctx.session.exec(select(GlossaryTerm).where(GlossaryTerm.key == key)).first()
    if found is None:
        found = next((t for t in ctx.session.exec(select(GlossaryTerm)).all()
                      if key in (key_of(a) for a in [t.preferred, *t.avoid])), None)
    if found is None:
        return Reply("glossary/not_found", {"term": word[:TERM_MAX]}, audience=Audience.USER)
    return Reply("glossary/term", _values(found), audience=Audience.USER)


@DOMAIN.command("glossary", "add", aliases=("添加",), roles=("pr", "admin"),
                usage="glossary.cmd.add")
def glossary_add(ctx: Ctx, args: Args) -> Reply:
    head, avoid_text = _AVOID.split(args.rest, maxsplit=1) if _AVOID.search(args.rest) \
        else (args.rest, "")
    try:
        words = shlex.split(head)
    except ValueError:
        words = []
    avoid = list(dict.fromkeys(w.strip() for w in _SPLIT.split(avoid_text) if w.strip()))
    if len(words) not in (1, 2):
        raise UserError("glossary/add_usage")
    term, preferred = words[0], words[-1]
    too_long = [w for w in (term, preferred, *avoid) if len(w) > TERM_MAX]
    if too_long or len(avoid) > AVOID_MAX:
        raise UserError("glossary/too_long", limit=TERM_MAX, count=AVOID_MAX)
    key = key_of(term)
    row = ctx.session.exec(select(GlossaryTerm).where(GlossaryTerm.key == key)).first()
    changed = row is not None
    if row is None:
        row = GlossaryTerm(key=key, term=term, preferred=preferred, avoid=avoid,
                           added_by=ctx.actor, added_by_name=ctx.member.display_name,
                           created_at=ctx.now, updated_at=ctx.now)
    else:
        row.term, row.preferred, row.avoid, row.updated_at = term, preferred, avoid, ctx.now
    ctx.session.add(row)
    ctx.audit(RECORD, key, "update" if changed else "add",
              {"term": term, "preferred": preferred, "avoid": avoid})
    return Reply("glossary/added", {**_values(row), "changed": changed})


def _values(t: GlossaryTerm) -> dict[str, object]:
    return {"term": t.term, "preferred": t.preferred, "avoid": list(t.avoid),
            "by": t.added_by_name}
