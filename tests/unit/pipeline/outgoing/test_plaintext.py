"""The text alternative reads like the HTML: paragraphs, breaks, lists, links, quotes, tables."""

from __future__ import annotations

from router.pipeline.outgoing.plaintext import html_to_text


def test_paragraphs_and_line_breaks() -> None:
    html = "<html><head><title>T</title><style>p {}</style></head><body>" \
           "<p>Hello <b>Anna</b>,</p><p>line one<br>line   two &amp; more&nbsp;text</p></body></html>"
    assert html_to_text(html) == "Hello Anna,\n\nline one\nline two & more text"


def test_lists_are_bulleted_and_numbered_with_nesting() -> None:
    html = "<ul><li>a</li><li>b<ol><li>x</li><li>y</li></ol></li><li>c</li></ul>"
    assert html_to_text(html) == "- a\n- b\n  1. x\n  2. y\n- c"


def test_links_show_their_target_unless_it_is_the_text() -> None:
    html = ('<p>See <a href="https://example.com/x">our site</a>, <a href="mailto:a@b.test">a@b.test</a>, '
            '<a href="https://example.com">https://example.com</a> and <a href="#top">top</a>.</p>')
    assert html_to_text(html) == (
        "See our site <https://example.com/x>, a@b.test, https://example.com and top."
    )


def test_quotes_tables_images_and_preformatted_text() -> None:
    html = ("<blockquote><p>quoted</p><p>second</p></blockquote><img src='cid:x' alt='Logo'>"
            "<pre>  code\n    indented</pre><table><tr><td>k</td><td>v</td></tr><tr><th>k2</th><td>v2</td>"
            "</tr></table>")
    assert html_to_text(html) == "> quoted\n>\n> second\n\n[Logo]\n\n  code\n    indented\n\nk\tv\nk2\tv2"


def test_scripts_comments_and_empty_bodies_produce_no_text() -> None:
    assert html_to_text("<script>alert(1)</script><!-- note --><style>x{}</style>") == ""
    assert html_to_text("   ") == ""
    assert html_to_text("<p></p><div> </div>") == ""


def test_plain_text_input_and_divs() -> None:
    assert html_to_text("just text") == "just text"
    assert html_to_text("<div>one</div><div>two<br><br>three</div>") == "one\ntwo\n\nthree"


def test_declarations_and_stale_charsets_do_not_matter() -> None:
    declared = '<?xml version="1.0" encoding="utf-8"?><html><body><p>Grüße</p></body></html>'
    assert html_to_text(declared) == "Grüße"
    assert html_to_text('<meta charset="windows-1252"><p>Grüße</p>') == "Grüße"
    assert html_to_text("<!-- only a comment -->") == ""
