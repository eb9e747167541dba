"""A release as a Word document (python-docx) and as Markdown, as bytes the chat delivers as
files: the headline, the logo, the handbook's three sections (背景、事实、联系方式) and the
images. The headings come from the reader's labels; what the author typed is written as text,
never as markup (Markdown's special characters are escaped). The company logo
(LIAISON_PRESS_LOGO, an image file on the bot's host) is placed at the top of the document,
unless the release has its own uploaded logo (PNG or JPEG), which takes its place; the
release's own logo link, which the bot does not fetch, is named under it. Uploaded
high-resolution images are placed under their heading, each named; linked ones are listed."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.export import markdown_text as _md

LABELS = ("background", "facts", "contact", "logo", "images", "planned")


LOGO_WIDTH_CM = 4
IMAGE_WIDTH_CM = 12


IMAGE_TYPES = ("image/png", "image/jpeg")  # what an uploaded logo may be


def image_type(data: bytes) -> str | None:
    """"image/png" or "image/jpeg" when python-docx can read the bytes as such an image (its
    header parses), else None: what an uploaded logo must be to be placed in the document."""
    from docx.image.image import Image

    if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return None
    try:
        found = Image.from_blob(data).content_type
    except Exception:  # noqa: BLE001  (python-docx raises several kinds for a broken header)
        return None
    return found if found in IMAGE_TYPES else None


def docx_bytes(content: dict[str, Any], labels: dict[str, str], planned: datetime | None,
               logo: Path | bytes | None = None,
               pictures: dict[int, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    document(content, labels, planned, logo, pictures).save(buffer)
    return buffer.getvalue()


def document(content: dict[str, Any], labels: dict[str, str], planned: datetime | None,
             logo: Path | bytes | None = None,
             pictures: dict[int, bytes] | None = None) -> Any:  # noqa: ANN401 (python-docx's Document)
    from docx import Document  # with lxml, a quarter second: imported on the first export
    from docx.shared import Cm

    doc = Document()
    if logo is not None:  # inline, first in the body
        image = io.BytesIO(logo) if isinstance(logo, bytes) else str(logo)
        doc.add_picture(image, width=Cm(LOGO_WIDTH_CM))
    if content["logo"]:
        # The logo is a link the bot does not fetch; the document names it at the top.
        doc.add_paragraph(f"{labels['logo']}: {content['logo']}")
    doc.add_heading(content["headline"], level=0)
    if planned is not None:
        doc.add_paragraph(f"{labels['planned']}: {planned:%Y-%m-%d %H:%M}")
    doc.add_heading(labels["background"], level=1)
    for paragraph in content["background"].splitlines():
        if paragraph.strip():
            doc.add_paragraph(paragraph.strip())
    doc.add_heading(labels["facts"], level=1)
    for fact in content["facts"]:
        doc.add_paragraph(fact, style="List Bullet")
    doc.add_heading(labels["contact"], level=1)
    doc.add_paragraph(content["contact"])
    if content["images"]:
        doc.add_heading(labels["images"], level=1)
        for item in content["images"]:
            if not isinstance(item, dict):
                doc.add_paragraph(item, style="List Bullet")
            else:  # an uploaded image: placed, then named
                if item.get("id") in (pictures or {}):
                    doc.add_picture(io.BytesIO((pictures or {})[item["id"]]),
                                    width=Cm(IMAGE_WIDTH_CM))
                doc.add_paragraph(item["name"])
    return doc


def markdown(content: dict[str, Any], labels: dict[str, str], planned: datetime | None) -> str:
    lines = []
    if content.get("logo_file"):  # an uploaded logo travels in the Word document only
        lines += [f"{_md(labels['logo'])}: {_md(content['logo_file']['name'])}", ""]
    if content["logo"]:
        lines += [f"![{_md(labels['logo'])}](<{content['logo']}>)", ""]
    lines += [f"# {_md(content['headline'])}", ""]
    if planned is not None:
        lines += [f"{_md(labels['planned'])}: {planned:%Y-%m-%d %H:%M}", ""]
    lines += [f"## {_md(labels['background'])}", ""]
    lines += [_md(p.strip()) + "\n" for p in content["background"].splitlines() if p.strip()]
    lines += [f"## {_md(labels['facts'])}", ""]
    lines += [f"- {_md(fact)}" for fact in content["facts"]]
    lines += ["", f"## {_md(labels['contact'])}", "", _md(content["contact"]), ""]
    if content["images"]:
        lines += [f"## {_md(labels['images'])}", ""]
        lines += [f"- {_md(i['name'])}" if isinstance(i, dict) else f"- <{i}>"
                  for i in content["images"]] + [""]
    return "\n".join(lines)

