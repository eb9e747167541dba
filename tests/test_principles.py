"""The principles check reads its word lists from data files and gives hints that name the
principle and the words found."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.principles import Hint, WordLists, check


def _found(text: str, lists: WordLists | None = None) -> dict[str, tuple[str, ...]]:
    return {h.category: h.words for h in check(text, lists)}


def test_chinese_banned_and_vague_words_are_found_in_order():
    hints = check("行业最佳、第一品牌,相关部门已确认,保证 100％ 满意")
    assert [(h.category, h.principle) for h in hints] == [
        ("absolute", "transparency"), ("vague", "transparency")]
    assert hints[0].words == ("最佳", "第一", "100%")  # full-width ％ read as %
    assert hints[1].words == ("相关部门",)


def test_allowed_phrases_and_parts_of_words_are_not_hints():
    assert _found("第一季度收入增长,我们第一时间回应。") == {}
    assert _found("Whenever you call, best regards") == {}
    assert _found("The BEST offer, GUARANTEED, from certain parties") == {
        "absolute": ("best", "guaranteed"), "vague": ("certain parties",)}


def test_emotional_and_discriminatory_words_serve_their_principles():
    hints = {h.category: h.principle for h in check("这种说法荒谬。They called him crippled.")}
    assert hints == {"emotional": "professionalism", "discriminatory": "respect"}


def test_an_admin_list_extends_and_a_bad_list_names_itself(tmp_path: Path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("absolute: [行业标杆]\nallow: [最佳实践]\n", encoding="utf-8")
    data = Path(__file__).parents[1] / "handlers" / "principles" / "data"
    lists = WordLists.read([data / "zh.yaml", extra])
    assert _found("行业标杆,分享最佳实践", lists) == {"absolute": ("行业标杆",)}
    bad = tmp_path / "bad.yaml"
    bad.write_text("superlatives: [最]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.yaml: unknown lists"):
        WordLists.read([bad])


def test_glossary_pairs_give_one_hint_per_preferred_term():
    hints = check("支持无条件退款和包退", glossary=[("无条件退款", "无理由退款"),
                                              ("包退", "无理由退款"), ("AI", "人工智能")])
    assert hints == [Hint("glossary", "professionalism", ("无条件退款", "包退"), "无理由退款")]


def test_an_admin_imports_words_from_the_command_line_and_drafts_show_them(tmp_path: Path):
    from tests.support import Chat, build_app, liaison

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    words = tmp_path / "words.yaml"
    words.write_text("absolute: [行业标杆, 最佳]\n", encoding="utf-8")

    done = liaison("principles", "import", str(words), DATABASE_URL=url, HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "1 words added to the principles check (1 already listed)" in done.stderr
    words.write_text("superlatives: [最]\n", encoding="utf-8")
    done = liaison("principles", "import", str(words), DATABASE_URL=url, HOME=str(tmp_path))
    assert done.returncode == 1 and "Nothing imported: words.yaml: unknown lists" in done.stderr

    app, _ = build_app(url, tmp_path)
    alice = Chat(app, "alice")
    for line in ("/press new", "行业标杆产品今日发布", "背景", "事实", "完成", "王敏 13800138000",
                 "跳过", "跳过", "跳过"):
        alice(line)
    assert "绝对化或最高级用语:行业标杆" in alice("跳过")


def test_a_talking_point_proposal_shows_hints_and_is_still_submitted(sqlite_url, tmp_path):
    from tests.support import Chat, build_app

    app, _ = build_app(sqlite_url, tmp_path)
    alice = Chat(app, "alice")
    for line in ("/tp propose", "产品质量", "产品质量怎么样?",
                 "我们的质量是行业第一,有关方面已认可。", "质量"):
        alice(line)
    summary = alice("中文")
    assert "透明性原则:绝对化或最高级用语:第一" in summary
    assert "透明性原则:掩盖事实的模糊说法:有关方面" in summary
    assert "口径提议 #1已保存" in alice("确认")
