"""The language server's diagnostics (``archspec.lsp.collect``): the first is ``archspec check``'s
error, and every other one is the error ``check`` reports once the others are fixed."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from archspec.errors import ArchspecError
from archspec.lsp.collect import check_text
from archspec.pipeline import load_text

ROOT = Path(__file__).resolve().parents[1]
BROKEN = sorted((ROOT / "tests" / "broken").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "broken").glob("*.json")
)
SHIPPED = sorted((ROOT / "specs").glob("*.yaml"))


def check_error(text: str) -> ArchspecError | None:
    try:
        load_text(text, name="t.yaml")
    except ArchspecError as e:
        return e
    return None


def key(e: ArchspecError | None) -> tuple[str, int, int, str]:
    assert e is not None and e.loc is not None
    return e.code, e.loc.line, e.loc.col, e.message


def assert_independent(text: str, fixes: list[tuple[str, str]]) -> None:
    """``text`` has one error per fix; the server reports exactly the error that ``check``
    reports when every other error is fixed, and the first is ``check``'s own."""
    want = []
    for i in range(len(fixes)):
        fixed = text
        for j, (old, new) in enumerate(fixes):
            assert old in fixed
            fixed = fixed.replace(old, new) if j != i else fixed
        want.append(key(check_error(fixed)))
    everything = text
    for old, new in fixes:
        everything = everything.replace(old, new)
    assert check_error(everything) is None
    got = check_text(text, "t.yaml")
    assert sorted(key(p.error) for p in got.problems) == sorted(want)
    first = check_error(text)
    assert first is not None and got.problems[0].error is not None
    assert got.problems[0].error.format() == first.format()


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_corpus_first_error_is_checks(path: Path) -> None:
    """Each broken spec has one mistake: the server reports it, as `check` does, and nothing else."""
    text = path.read_bytes().decode("utf-8", "replace")
    fmt = "json" if path.suffix == ".json" else None
    try:
        load_text(text, name=str(path), fmt=fmt)
        raise AssertionError("a broken spec loads")
    except ArchspecError as e:
        want = e
    got = check_text(text, str(path), fmt).problems
    assert len(got) == 1 and got[0].error is not None
    assert got[0].error.format() == want.format()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_are_clean(path: Path) -> None:
    checked = check_text(path.read_text(), str(path))
    assert checked.problems == [] and checked.spec is not None and checked.runs == 1


def test_errors_in_independent_models() -> None:
    text = """\
models:
  generator:
    inputs: {z: [batch, 100]}
    layers:
      - {name: hidden, linear: 256}
      - {name: bad, conv2d: {out: 8, kernel: 3}}
      - tanh
  discriminator:
    inputs: {image: [batch, 784]}
    layers:
      - {name: hidden, linear: 1024}
      - {name: joined, add: [hidden, nope]}
      - sigmoid
  gan:
    inputs: {z: [batch, 100]}
    layers:
      - {name: generator, generator}
      - {name: discriminator, discriminator, trainable: false}
"""
    assert_independent(
        text,
        [("{name: bad, conv2d: {out: 8, kernel: 3}}", "{name: bad, linear: 784}"), ("nope", "hidden")],
    )


def test_errors_in_independent_branches() -> None:
    text = """\
inputs: {x: [batch, 16]}
layers:
  - {name: a1, linear: 8}
  - {name: a2, max_pool2d: {kernel: 2}}
  - {name: b1, linear: 8, inputs: x}
  - {name: b2, conv1d: {out: 4, kernel: 3}}
  - {name: c, concat: [a2, b2]}
"""
    assert_independent(
        text,
        [
            ("{name: a2, max_pool2d: {kernel: 2}}", "{name: a2, relu}"),
            ("conv1d: {out: 4, kernel: 3}", "relu"),
        ],
    )


def test_typos_after_an_error_are_reported_alone() -> None:
    text = """\
inputs: {x: [batch, 16]}
layers:
  - {name: a, linear: {out: 8, kernal: 3}}
  - relu
  - {name: b, linaer: 4}
  - {name: c, linear: {out: 4, bias: "no"}}
  - dropout
"""
    assert_independent(
        text, [("kernal: 3", "bias: true"), ("linaer", "linear"), ('bias: "no"', "bias: false")]
    )


def test_error_in_a_block_and_in_the_model() -> None:
    text = (ROOT / "specs" / "resnet18.yaml").read_text()
    broken = text.replace("{name: bn2, batch_norm}", "{name: bn2, batch_norm: {eps: -1.0}}").replace(
        "{name: fc, linear: $classes}", "{name: fc, linear: {out: 10, bais: false}}"
    )
    assert_independent(
        broken,
        [
            ("{name: bn2, batch_norm: {eps: -1.0}}", "{name: bn2, batch_norm}"),
            ("bais: false", "bias: false"),
        ],
    )


def test_no_follow_on_errors() -> None:
    """What depends on a failing entry is not reported: here the add would mismatch, the
    output would change and an automatic name (`linear2`) would shift if the entry were
    simply dropped."""
    text = """\
inputs: {x: [batch, 16]}
layers:
  - {linear: {out: 16, kernal: 3}}
  - relu
  - {linear: 16, inputs: x}
  - {name: y, relu, inputs: linear2}
  - {name: out, add: [relu1, y]}
"""
    assert_independent(text, [("kernal: 3", "bias: true")])
    checked = check_text(text, "t.yaml")
    assert checked.spec is not None  # what is left checks: hover works on it
    assert checked.off[("layers", 4)] == "depends on an entry with an error"


def test_unused_node_first() -> None:
    text = """\
inputs: {x: [batch, 16]}
layers:
  - {name: a, linear: 8}
  - {name: b, linear: 8, inputs: x}
  - {name: c, linear: 4, inputs: b}
"""
    assert_independent(text, [("{name: c, linear: 4, inputs: b}", "{name: c, concat: [a, b]}")])


def test_syntax_error_only() -> None:
    checked = check_text("inputs: {x: [batch, 16]\nlayers:\n  - relu\n  - {linaer: 3}\n", "t.yaml")
    assert [p.code for p in checked.problems] == ["syntax"]
    assert checked.spec is None and checked.source is None


def test_ranges() -> None:
    text = "inputs: {x: [batch, 16]}\nlayers:\n  - {name: a, linear: {out: -8}}\n  - relu\n"
    (p,) = check_text(text, "t.yaml").problems
    assert (p.code, p.span.start, p.span.end) == ("schema", (2, 28), (2, 30))  # the value `-8`
    text = "inputs: {x: [batch, 16]}\nlayers:\n  - name: a\n    linear:\n      out: 8\n      kernal: 3\n"
    (p,) = check_text(text, "t.yaml").problems
    assert (p.code, p.span.start, p.span.end) == ("unknown-field", (5, 6), (5, 12))  # the key `kernal`


def _defined(text: str) -> tuple[set[str], set[str]]:
    """The block and model names, and the input and node names, a spec text defines."""
    from archspec.lsp import units as u
    from archspec.spec.loader import load_text as parse

    try:
        data = parse(text, "t.yaml").data
    except ArchspecError:  # not even YAML: the server reports one error
        return set(), set()
    types: set[str] = set()
    nodes: set[str] = set()
    for unit in u.units(data):
        types |= {unit[1]} if unit else set()
        inputs = u.at(data, (*unit, "inputs"))
        nodes |= set(inputs) if isinstance(inputs, dict | list) else set()
        nodes |= {n for n in map(u.entry_name, u.entries(data, unit)) if n}
    return types, nodes


def _mutate(rng: random.Random, text: str, row: int) -> str | None:
    lines = text.splitlines(keepends=True)
    line = lines[row].rstrip("\n")
    words = list(re.finditer(r"[a-z_]{3,}|\d+", line))
    if not words:
        return None
    m = rng.choice(words)
    new = rng.choice([m.group()[:-1], m.group() + "x", "3" if m.group().isdigit() else "relu"])
    lines[row] = line[: m.start()] + new + line[m.end() :] + "\n"
    return "".join(lines)


@pytest.mark.parametrize("name", ["resnet18", "gan", "transformer_encoder", "unet"])
def test_two_random_mistakes_give_no_follow_on_errors(name: str) -> None:
    """Two mistakes on two lines: every error the server reports is `check`'s error with only one
    of them, or is on a line that was changed, or names what a change renamed away."""
    rng = random.Random(name)
    original = (ROOT / "specs" / f"{name}.yaml").read_text()
    rows = [
        i
        for i, line in enumerate(original.splitlines())
        if line.strip() and not line.lstrip().startswith("#")
    ]
    tried = 0
    while tried < 12:
        a, b = sorted(rng.sample(rows, 2))
        one, two = _mutate(rng, original, a), _mutate(rng, original, b)
        if one is None or two is None:
            continue
        e1, e2 = check_error(one), check_error(two)
        if e1 is None or e2 is None or "syntax" in (e1.code, e2.code):
            continue
        both = "".join(
            two.splitlines(keepends=True)[i] if i == b else line
            for i, line in enumerate(one.splitlines(keepends=True))
        )
        first = check_error(both)
        if first is None:
            continue
        tried += 1
        got = check_text(both, "t.yaml").problems
        assert got[0].error is not None and got[0].error.format() == first.format()
        (types, nodes), (types_now, nodes_now) = _defined(original), _defined(both)
        renamed = {"unknown-layer": types - types_now, "undefined-reference": nodes - nodes_now}
        for p in got[1:]:
            assert p.error is not None and p.error.loc is not None
            quoted = set(re.findall(r"'([^']*)'", p.error.message))
            assert (
                key(p.error) in (key(e1), key(e2))
                or p.error.loc.line in (a + 1, b + 1)
                or quoted & renamed.get(p.error.code, set())
            ), (a + 1, b + 1, key(p.error), key(e1), key(e2))
