"""A dispute's whole written file as a Word document (python-docx) and as Markdown, as bytes
the chat delivers as files: what it is about, every point with both sides' positions (the
superseded ones too, marked), proposals and agreements, the mediation, the log and the
linked records. Headings come from the reader's labels; what people typed is written as text,
never as markup (Markdown's special characters are escaped)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.export import markdown_text as _md

LABELS = ("title", "partner", "subject", "stake", "owner", "status", "next", "points", "ours",
          "theirs", "proposals", "agreements", "mediation", "mediator", "mediation_at", "log",
          "linked", "outcome", "superseded_by", "supersedes", "none", "entries", "by")
KINDS = ("point", "position", "proposal", "agreement", "escalation", "log", "attachment",
         "mediator", "next_step", "link", "close")


def _when(value: datetime | str | None, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"


def _stamp(e: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> str:
    """`#5 · 2026-11-26 10:00 · alice`, and what supersedes or is superseded."""
    labels = words["labels"]
    text = f"#{e['n']} · {_when(e['at'], zone)} · {e['by']}"
    if e["supersedes"]:
        text += f" · {labels['supersedes']} #{e['supersedes']}"
    if e["superseded_by"]:
        text += f" · {labels['superseded_by']} #{e['superseded_by']}"
    return text


def _summary(data: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> list[tuple[str, str]]:
    d, labels = data["d"], words["labels"]
    rows = [(labels["partner"], d["partner"]), (labels["subject"], d["subject"])]
    if d["stake"]:
        rows.append((labels["stake"], d["stake"]))
    rows += [(labels["owner"], d["owner"]), (labels["status"], words["dispute_status"])]
    if d["next_step"] and d["status"] == "open":
        rows.append((labels["next"], f"{d['next_step']} ({_when(d['next_at'], zone)})"))
    if d["outcome"]:
        rows.append((labels["outcome"], d["outcome"]))
    return rows


def _linked_lines(data: dict[str, Any]) -> list[str]:
    return [f"{r['ref']} {r['title']}" for kind in ("meeting", "comm", "complaint")
            for r in data["linked"].get(kind, [])]


def docx_bytes(data: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> bytes:
    buffer = io.BytesIO()
    document(data, words, zone).save(buffer)
    return buffer.getvalue()


def document(data: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> Any:  # noqa: ANN401
    labels, kinds = words["labels"], words["kinds"]
    from docx import Document  # with lxml, a quarter second and 15 MB: on the first export

    doc = Document()
    doc.add_heading(labels["title"].format(ref=data["d"]["ref"]), level=0)
    table = doc.add_table(rows=0, cols=2)
    for key, value in _summary(data, words, zone):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = key, value
    doc.add_heading(labels["points"], level=1)
    for p in data["points"]:
        doc.add_heading(f"P{p['n']} {p['text']} ({words['statuses'][p['status']]})", level=2)
        for key in ("ours", "theirs", "proposals", "agreements"):
            if not p[key]:
                continue
            doc.add_paragraph(labels[key])
            for e in p[key]:
                doc.add_paragraph(f"{e['text']} ({_stamp(e, words, zone)})", style="List Bullet")
    doc.add_heading(labels["mediation"], level=1)
    if not data["mediators"]:
        doc.add_paragraph(labels["none"])
    for e in data["mediators"]:
        at = _when(e["extra"].get("at"), zone)
        line = f"{e['text']}" + (f" · {labels['mediation_at']} {at}" if at else "")
        doc.add_paragraph(f"{line} ({_stamp(e, words, zone)})", style="List Bullet")
    doc.add_heading(labels["log"], level=1)
    for e in data["entries"]:
        doc.add_paragraph(f"{_stamp(e, words, zone)} · {kinds[e['kind']]}"
                          + (f" P{e['point']}" if e["point"] else "")
                          + (f" ({words['sides'][e['side']]})" if e["side"] else "")
                          + f": {e['text']}")
    doc.add_heading(labels["linked"], level=1)
    lines = _linked_lines(data)
    for line in lines or [labels["none"]]:
        doc.add_paragraph(line, style="List Bullet" if lines else None)
    return doc


def markdown(data: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> str:
    labels, kinds = words["labels"], words["kinds"]
    lines = [f"# {_md(labels['title'].format(ref=data['d']['ref']))}", ""]
    lines += [f"- **{_md(k)}**: {_md(v)}" for k, v in _summary(data, words, zone)]
    lines += ["", f"## {_md(labels['points'])}", ""]
    for p in data["points"]:
        lines += [f"### P{p['n']} {_md(p['text'])} ({_md(words['statuses'][p['status']])})", ""]
        for key in ("ours", "theirs", "proposals", "agreements"):
            if p[key]:
                lines += [f"{_md(labels[key])}:", ""]
                lines += [f"- {_md(e['text'])} ({_md(_stamp(e, words, zone))})" for e in p[key]]
                lines.append("")
    lines += [f"## {_md(labels['mediation'])}", ""]
    if not data["mediators"]:
        lines.append(_md(labels["none"]))
    for e in data["mediators"]:
        at = _when(e["extra"].get("at"), zone)
        line = e["text"] + (f" · {labels['mediation_at']} {at}" if at else "")
        lines.append(f"- {_md(line)} ({_md(_stamp(e, words, zone))})")
    lines += ["", f"## {_md(labels['log'])}", ""]
    for e in data["entries"]:
        head = _stamp(e, words, zone) + f" · {kinds[e['kind']]}" + (
            f" P{e['point']}" if e["point"] else "") + (
            f" ({words['sides'][e['side']]})" if e["side"] else "")
        lines.append(f"- {_md(head)}: {_md(e['text'])}")
    lines += ["", f"## {_md(labels['linked'])}", ""]
    linked = _linked_lines(data)
    lines += [f"- {_md(x)}" for x in linked] or [_md(labels["none"])]
    return "\n".join(lines) + "\n"

