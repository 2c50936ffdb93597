"""`archspec docs` with hostile specs: escaped Markdown, no stem collisions, all or nothing."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from archspec.backends.diagram.render import find_dot
from archspec.cli import main
from archspec.docsgen import markdown

needs_dot = pytest.mark.skipif(find_dot() is None, reason="no dot program")
SMALL = "inputs: {x: [batch, 4]}\nlayers:\n  - {name: fc, linear: 2}\n"

# Text that tries every way out of a line, a code span or a fence.
HOSTILE = [
    "a`b``c```d",
    "`</code><script>alert(1)</script>`",
    "x\n# Injected heading\n![img](http://evil.example/p.png)\n```",
    "x\r\n===",
    "<img src=x onerror=alert(1)>",
    "[link](javascript:alert(1)) ![i](x.png) <http://a.b> [r]: http://c.d",
    "| a | b |\n|---|---|",
    "- item\n1. item\n> quote\n    code\n~~~\n***\n---",
    "&lt;script&gt; &#60; \\` \\\\",
    "line\u2028sep\u2029para\x00nul\x1b[31mred",
    "lone \udc80 surrogate",
    "*em* _em_ **strong** ~~strike~~ snake_case_name",
]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# markdown: each helper on its own -------------------------------------------------------------


@pytest.mark.parametrize("s", HOSTILE)
def test_text_is_one_line_with_no_raw_markup(s: str) -> None:
    out = markdown.text(s)
    assert "\n" not in out and "\r" not in out
    outside_code = re.sub(r"(?<!\\)(`+)(?!`).*?(?<!`)\1(?!`)", "", out)
    assert "<" not in outside_code and ">" not in outside_code
    assert not re.match(r"\s*([#>=+-]|\d+[.)]|```|~~~)", out)
    assert "\u2028" not in out and "\x00" not in out and "\udc80" not in out
    out.encode("utf-8")  # writable


@pytest.mark.parametrize("s", HOSTILE)
def test_code_span_fence_is_longer_than_any_backtick_run(s: str) -> None:
    out = markdown.code(s)
    ticks = re.match(r"`+", out)
    assert ticks is not None and out.endswith(ticks.group())
    inner = out[len(ticks.group()) : -len(ticks.group())]
    assert all(len(run) != len(ticks.group()) for run in re.findall(r"`+", inner))
    assert "\n" not in out


def test_fence_cannot_be_closed_from_inside() -> None:
    body = "a\n```\n````\n# heading\n```````"
    out = markdown.fence(body, "text").split("\n")
    assert out[0] == "`" * 8 + "text" and out[-1] == "`" * 8
    assert all(not line.startswith("`" * 8) for line in out[1:-1])


def test_comment_code_spans_stay_code_only_within_safe_lines() -> None:
    # a span over two lines is kept when the second line starts with a letter ...
    assert markdown.paragraph(["the seed's `ESN(a,", "b)`: a reservoir"]) == [
        "the seed's `ESN(a,",
        "b)`: a reservoir",
    ]
    # ... and dropped (backticks escaped) when a line inside it could start a block
    out = markdown.paragraph(["see `x", "# not a heading`"])
    assert out == ["see \\`x", "\\# not a heading\\`"]


def test_link_is_percent_encoded() -> None:
    assert markdown.link("gallery/a b(1)<x>.svg") == "gallery/a%20b%281%29%3Cx%3E.svg"


@pytest.mark.parametrize("s", HOSTILE)
def test_commonmark_renders_exactly_the_text(s: str) -> None:
    """With a real CommonMark parser: the text is one paragraph of plain text (and code spans
    it paired itself), nothing else; the shown characters are the input's."""
    markdown_it = pytest.importorskip("markdown_it")
    parser = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough")
    tokens = parser.parse("## " + markdown.text(s) + "\n\n" + markdown.code(s) + "\n")
    kinds = [t.type for t in tokens]
    assert kinds == [
        "heading_open",
        "inline",
        "heading_close",
        "paragraph_open",
        "inline",
        "paragraph_close",
    ], kinds
    for inline in (tokens[1], tokens[4]):
        kinds = {c.type for c in inline.children or []}
        assert kinds <= {"text", "code_inline", "softbreak"}, kinds
    # what shows: the text, where a code span shows its content (its backticks put back here)
    parts = tokens[1].children or []
    ticks = ["" if c.type != "code_inline" else c.markup for c in parts]
    heading = "".join(f"{t}{c.content}{t}" for t, c in zip(ticks, parts, strict=True))
    assert heading == markdown.printable(s).replace("\t", " ").strip()
    shown = tokens[4].children[0].content  # type: ignore[index]
    assert shown == markdown.printable(s)


# the gallery -------------------------------------------------------------------------------


@pytest.fixture
def hostile_page(tmp_path: Path) -> tuple[str, list[str]]:
    """A gallery of a spec whose file name, and one whose name and comment, try to break out."""
    if find_dot() is None:
        pytest.skip("no dot program")
    specs = tmp_path / "specs"
    specs.mkdir()
    evil_file = "x`` ` <img src=x onerror=alert(1)>`\n# Injected ![i](p.png).yaml"  # no '/' in a name
    (specs / evil_file).write_text(SMALL)
    name = "n\\n# Injected heading\\n![pixel](http://evil.example/p.png)\\n```\\n<script>alert(1)</script>"
    (specs / "named.yaml").write_text(
        "# A comment with <b>html</b>\n# # not a heading\n# ```\n" + f'name: "{name}"\n' + SMALL
    )
    page = tmp_path / "gallery.md"
    code, _, err = run(["docs", str(specs), "-o", str(tmp_path / "gallery"), "--page", str(page)])
    assert code == 0, err
    return page.read_text(), sorted(p.name for p in (tmp_path / "gallery").iterdir())


def test_hostile_names_cannot_break_the_page(hostile_page: tuple[str, list[str]]) -> None:
    text, svgs = hostile_page
    outside, fenced = outside_fences(text)
    assert fenced == 2  # the two summary tables, each closed
    headings = [line for line in outside if line.startswith("#")]
    assert headings[0] == "# Gallery" and all(h.startswith("## ") for h in headings[1:])
    assert len(headings) == 3  # the page's title and one per spec, nothing injected
    assert "<script" not in text and "<b>" not in text
    assert all("<img" not in line for line in outside if "`" not in line)  # only inside code spans
    assert sum(line.startswith("![") for line in outside) == 2  # the two diagrams
    assert svgs == ["named.svg", "x______img_src_x_onerror_alert_1______Injected___i__p.png.svg"]


def test_hostile_page_under_commonmark(hostile_page: tuple[str, list[str]]) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    text, svgs = hostile_page
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    kinds = [t.type for t in tokens]
    assert kinds.count("heading_open") == 3 and kinds.count("fence") == 2
    html = [t.content for t in tokens if t.type == "html_block"]
    assert len(html) == 1 and html[0].startswith("<!-- generated by `archspec docs`")  # our own
    assert "table_open" not in kinds
    inline = [c for t in tokens if t.children for c in t.children]
    assert not [c for c in inline if c.type == "html_inline"]
    images = [c.attrs["src"] for c in inline if c.type == "image"]
    assert images == ["gallery/named.svg", "gallery/" + markdown.link(svgs[1])]


def outside_fences(text: str) -> tuple[list[str], int]:
    """The lines of ``text`` outside fenced code blocks, and how many blocks were closed."""
    outside, fence, closed = [], "", 0
    for line in text.splitlines():
        ticks = re.match(r"`{3,}", line)
        if fence:
            if ticks and line.strip() == ticks.group() and len(ticks.group()) >= len(fence):
                fence, closed = "", closed + 1
        elif ticks and "`" not in line[ticks.end() :]:
            fence = ticks.group()
        else:
            outside.append(line)
    assert not fence, "a fence is left open"
    return outside, closed


@needs_dot
def test_stem_collision_is_a_clean_error(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "same.yaml").write_text(SMALL)
    (specs / "same.json").write_text('{"inputs": {"x": ["batch", 4]}, "layers": [{"linear": 2}]}')
    (specs / "other.yaml").write_text(SMALL)
    code, _, err = run(["docs", str(specs), "-o", str(tmp_path / "g")])
    assert code == 1 and "Traceback" not in err
    assert "specs 'same.json' and 'same.yaml'" in err and "'same.svg'" in err
    assert "1 of 3 spec(s)" in err and "nothing was written" in err
    assert not (tmp_path / "g").exists() and not (tmp_path / "g.md").exists()


@needs_dot
def test_every_failing_spec_is_reported_and_nothing_changes(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "tests" / "diagram_specs", specs)
    shutil.copy(ROOT / "specs" / "mlp.yaml", specs / "mlp.yaml")
    docs = tmp_path / "docs"
    assert run(["docs", str(specs), "-o", str(docs / "gallery")])[0] == 0
    before = snapshot(docs)
    assert set(before) == {"gallery.md", "gallery/gan.svg", "gallery/mlp.svg", "gallery/resmlp.svg"}
    # a changed spec that is fine, then two broken ones (sorted before and after it)
    (specs / "mlp.yaml").write_text(SMALL)
    shutil.copy(ROOT / "tests" / "broken" / "cycle.yaml", specs / "a_cycle.yaml")
    shutil.copy(ROOT / "tests" / "broken" / "add_mismatch.yaml", specs / "z_mismatch.yaml")
    code, out, err = run(["docs", str(specs), "-o", str(docs / "gallery")])
    assert code == 1 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    for file, code_name in (("a_cycle.yaml", "cycle"), ("z_mismatch.yaml", "shape-mismatch")):
        assert any(ln.startswith(f"{specs}/{file}:") and f"error[{code_name}]" in ln for ln in lines)
    assert lines[-1] == f"error: 2 of 5 spec(s) in '{specs}' failed; nothing was written"
    assert snapshot(docs) == before  # not one SVG replaced, the page as it was
    assert not [p for p in docs.rglob(".archspec*")]


@needs_dot
def test_docs_failure_in_a_new_folder_leaves_no_folder(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(ROOT / "tests" / "broken" / "cycle.yaml", specs / "cycle.yaml")
    assert run(["docs", str(specs), "-o", str(tmp_path / "new" / "gallery")])[0] == 1
    assert not (tmp_path / "new").exists()
