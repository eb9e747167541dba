"""`/handbook` (手册): the handbook in chat. `/handbook` lists its sections, `/handbook 3.2` or
`/handbook 三` quotes a part, `/handbook 投诉` quotes the part that best matches the words and
names the others that match; English readers get an English summary beside the quote."""

from __future__ import annotations

from bot.context import Ctx
from bot.messages import Audience, Reply
from bot.router import Args
from handlers.handbook import DOMAIN
from handlers.handbook.book import Handbook, Part, load, number_of
from handlers.handbook.settings import HandbookSettings

ALSO_LIMIT = 4
QUERY_MAX = 100


def handbook(ctx: Ctx) -> Handbook:
    settings: HandbookSettings = ctx.settings.handbook
    return load(settings.handbook_file, settings.summaries_file)


@DOMAIN.command("handbook", None, usage="handbook.cmd.main")
def read(ctx: Ctx, args: Args) -> Reply:
    book = handbook(ctx)
    query = " ".join([*args.positional, *(f"{k}={v}" for k, v in args.keywords.items())])
    query = query.strip()[:QUERY_MAX]
    if not query:
        return Reply("handbook/contents", {
            "book": book.title,
            "sections": [{**s.as_values(), "children": [c.as_values() for c in book.children(s)]}
                         for s in book.sections()]}, audience=Audience.USER)
    number = number_of(query)
    if number is not None:
        part = book.get(number)
        if part is None:
            return Reply("handbook/no_part", {"number": number}, audience=Audience.USER)
        return _quote(book, part, query, [])
    found = book.search(query)
    if not found:
        return Reply("handbook/none", {"query": query}, audience=Audience.USER)
    return _quote(book, found[0], query, found[1:ALSO_LIMIT + 1])


def _quote(book: Handbook, part: Part, query: str, also: list[Part]) -> Reply:
    parts = [part, *book.children(part)] if part.is_section else [part]
    return Reply("handbook/part", {
        "book": book.title, "query": query, "parts": [p.as_values() for p in parts],
        "also": [p.as_values() for p in also]}, audience=Audience.USER)
