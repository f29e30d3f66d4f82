"""The description: every inline text part in order, one representation per alternative."""

from __future__ import annotations

from router.pipeline.incoming.body_parts import BodyPart, description_html, group_of
from router.pipeline.incoming.parse import parse_message


def test_parts_outside_alternatives_are_all_shown_in_order() -> None:
    parts = [BodyPart("a <b>", False), BodyPart("<p>c</p>", True), BodyPart("d\ne", False)]
    assert description_html(parts) == "a &lt;b&gt;\n<p>c</p>\nd<br>\ne"


def test_an_alternative_shows_its_html_child_else_its_first_text_child() -> None:
    html_chosen = [BodyPart("plain", False, ("1", 1)), BodyPart("<p>rich</p>", True, ("1", 2)),
                   BodyPart("after", False)]
    assert description_html(html_chosen) == "<p>rich</p>\nafter"
    text_only = [BodyPart("one", False, ("", 1)), BodyPart("two", False, ("", 2))]
    assert description_html(text_only) == "one"
    assert description_html([]) is None


def test_group_is_the_nearest_alternative_ancestor() -> None:
    assert group_of("1.2.1", {"1", ""}) == ("1", 2)
    assert group_of("2", {""}) == ("", 2)
    assert group_of("2", set()) is None


def test_a_later_inline_text_part_is_marked_as_shown_in_the_description() -> None:
    raw = (b'From: a@b.c\r\nContent-Type: multipart/mixed; boundary="X"\r\n\r\n'
           b'--X\r\nContent-Type: text/plain\r\n\r\none\r\n'
           b'--X\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--X--\r\n')
    parsed = parse_message(raw)
    assert parsed.body_text == "one" and [p.text for p in parsed.body_parts] == ["one", "two"]
    [later] = parsed.attachments
    assert later.in_description
