"""`/handbook` (手册): the handbook in chat, quoted in Chinese, summarised for English readers;
and the parsing that lets a company ship its own edition."""

from __future__ import annotations

from handlers.handbook.book import load, number_of, parse
from tests.support import Chat, build_app


def test_contents_list_every_section_and_subsection(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    text = Chat(app, "alice")("/handbook")
    assert "《外部关系沟通手册》目录" in text
    for line in ("1 一、外部关系沟通概述", "3.2 (二)客户关系维护", "5.2 (二)能力提升方向"):
        assert line in text
    assert "/handbook 3.2" in text


def test_a_keyword_quotes_the_matching_section_in_chinese(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    text = Chat(app, "alice")("/handbook 投诉")
    assert "3.2 (二)客户关系维护" in text
    assert "> (1)24小时内响应客户投诉。" in text
    assert "> (2)记录投诉详情,指定专人跟进。" in text
    # Another section also mentions complaints: named, not quoted.
    assert "其他相关章节:4.2 (二)内部支持资源" in text
    assert "客服团队" not in text
    assert "In English" not in text


def test_the_alias_and_an_english_reader(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/lang en")
    text = alice("手册 投诉")
    assert "> (1)24小时内响应客户投诉。" in text
    assert "In English: Complaints: respond within 24 hours" in text
    assert "Customer relations" in text
    # English words find the same part, through its summary.
    assert "> (1)24小时内响应客户投诉。" in alice("/handbook complaints")
    assert "(二)能力提升方向 — Skills to develop" in alice("/handbook")


def test_a_section_by_number_quotes_it_whole(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    text = alice("/handbook 五")
    assert "> 1.每季度开展外部沟通技巧培训。" in text
    assert "> 4.技术工具应用:掌握新媒体平台的运营技巧。" in text
    assert alice("/handbook 5") == text
    assert "> 1.透明性原则" in alice("/handbook 一(二)")
    assert "> 1.透明性原则" in alice("/handbook 1.2")


def test_what_is_not_there_is_said_politely(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "手册没有第 7 节" in alice("/handbook 7")
    assert "手册中没有找到“火星殖民”" in alice("/handbook 火星殖民")
    alice("/lang en")
    assert "Nothing in the handbook matches “Mars”" in alice("/handbook Mars")
    # Markup in the query stays text on Slack: no broadcast.
    slack = Chat(app, "U1", platform="slack", channel="D1")
    text = slack("/handbook <!channel>")
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_numbers_as_the_reader_writes_them():
    assert [number_of(q) for q in ("3", "3.2", "三", "三、", "三(二)", "十二", "投诉", "0.")] \
        == ["3", "3.2", "3", "3", "3.2", "12", None, None]


def test_a_company_edition_replaces_the_shipped_one(db_url, tmp_path, clock):
    edition = tmp_path / "handbook.md"
    edition.write_text("# 我司手册\n\n## 一、媒体\n### (一)采访\n先报备再受访。\n",
                       encoding="utf-8")
    app, _ = build_app(db_url, tmp_path)
    app.settings.handbook.handbook_file = edition
    text = Chat(app, "alice")("/handbook 受访")
    assert "《我司手册》1.1 (一)采访" in text
    assert "> 先报备再受访。" in text
    assert "(No English summary" not in text


def test_the_shipped_handbook_is_the_source_text():
    book = load()
    assert [p.number for p in book.sections()] == ["1", "2", "3", "4", "5"]
    assert all(p.summary_en for p in book.parts), "every part has an English summary"
    assert parse("# T\n## 一、A\n正文\n").parts[0].lines == ("正文",)
