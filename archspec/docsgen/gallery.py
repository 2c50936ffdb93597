"""The gallery: one Markdown page with, for every spec in a folder, its header comment,
its summary table and its diagram (an SVG beside the page); and the architectures page,
every architecture of the seed documents with its spec text, table and diagram.

The output is deterministic: the same specs give the same bytes (SVGs lose graphviz's
version comment; paths are written relative to the spec folder, never absolute).
Regenerate the architectures page with ``python -m archspec.docsgen.gallery`` (from the repository
root) or ``pytest tests/test_specs.py --update-golden``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from archspec.backends.diagram.render import render
from archspec.backends.diagram.view import MAX_DRAWN, count_drawn
from archspec.docsgen import markdown
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.pipeline import analyze_all, load
from archspec.system.io import Transaction, safe_stem

__all__ = [
    "EXPAND_MAX",
    "SEED_ARCHITECTURES",
    "SpecFailures",
    "header_comment",
    "write_architectures",
    "write_gallery",
]

EXPAND_MAX = 40  # specs that draw more nodes than this fully expanded are drawn collapsed
TABLE_ROWS = 40  # architectures page: tables longer than this fully expanded show fewer levels
MODELINE = "yaml-language-server:"

# The architectures of the seed documents, in the order docs/architectures.md shows them:
# (section title, what the seeds say about it, the specs that show it).
SEED_ARCHITECTURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Perceptron",
        "The earliest and simplest network (seed 003): a weighted sum of the inputs and a binary "
        "threshold (step) activation, for linearly separable two-class problems.",
        ("perceptron",),
    ),
    (
        "Multi-layer perceptron (MLP)",
        "Fully connected layers, every neuron of one layer connected to every neuron of the next "
        "(seed 001's `SimpleMLP`, whose torchinfo table archspec reproduces), for tabular "
        "regression and classification.",
        ("mlp",),
    ),
    (
        "Feedforward network (FNN)",
        "Information flows one way, input to hidden to output, with no cycles (seed 003's Keras "
        "8-12-8-1 binary classifier).",
        ("fnn",),
    ),
    (
        "Convolutional networks (CNN)",
        "Convolutions slide small learned filters over an image and pooling reduces its size, so "
        "features build up from edges to objects (seed 003's Keras CNN; LeNet-5 and VGG-16 as "
        "classic classifiers; a U-Net for segmentation, with skip connections by `concat`).",
        ("cnn", "lenet5", "vgg16", "unet"),
    ),
    (
        "Recurrent networks: RNN, LSTM, GRU",
        "Recurrent layers carry a hidden state along a sequence (seed 003's SimpleRNN and LSTM "
        "classifiers, and a GRU stack forecasting a time series). An LSTM's gates and memory cell "
        "keep long-range context; a GRU does the same with three gates.",
        ("simple_rnn", "lstm_classifier", "gru_forecaster"),
    ),
    (
        "Embeddings for text",
        "Integer token ids index a learned table of vectors (seed 001's \"embeddings and token "
        'representations"), here read by a bidirectional LSTM to classify a text.',
        ("text_classifier",),
    ),
    (
        "Residual networks (ResNet)",
        "Skip connections add a block's input to its output, so very deep networks train (seed "
        "003's Keras ResNet50; ResNet-18 and ResNet-50 as torchvision builds them).",
        ("resnet18", "resnet50"),
    ),
    (
        "Transformers",
        "Attention lets every position look at every other (seed 003's \"attention mechanisms, "
        'popularized by the Transformer"): a BERT-base encoder, GPT-2 small with its LM head tied '
        "to the token embedding, and GPT-3 175B, checked statically without allocating a weight.",
        ("transformer_encoder", "gpt2", "gpt3"),
    ),
    (
        "Generative adversarial networks (GAN)",
        "A generator draws data from noise and a discriminator judges it (seed 003's Keras GAN). "
        "Several models live in one spec; the combined model calls both and freezes the "
        "discriminator (`trainable: false`), sharing its modules. DCGAN does the same with "
        "convolutions.",
        ("gan", "dcgan"),
    ),
    (
        "Echo state network (ESN)",
        "A large fixed random recurrent reservoir maps the input into a rich state; only the "
        "linear readout is trained (seed 003's conceptual `ESN`).",
        ("esn",),
    ),
    (
        "Dropout and regularization",
        "Dropout zeroes random activations in training; L1/L2 penalties on weights (`regularizer`) "
        "keep them small; `init` picks how weights start.",
        ("regularized_mlp",),
    ),
)


Failures = list[tuple[Path | None, ArchspecError]]  # (the spec file, if one, and its error)


class SpecFailures(ArchspecError):
    """Some specs of a folder failed: each one's error, reported together; nothing was written."""

    def __init__(self, failures: Failures, total: int, folder: Path):
        self.failures, self.total, self.folder = failures, total, folder
        super().__init__(
            failures[0][1].code,
            f"{len(failures)} of {total} spec(s) in '{folder}' failed; nothing was written",
        )

    def format(self) -> str:
        each = [e.format() if e.loc or file is None else f"{file}: {e.format()}" for file, e in self.failures]
        return "\n".join([*each, f"error: {self.message}"])


def write_gallery(spec_dir: Path, out_md: Path, assets_dir: Path) -> list[Path]:
    """Draw every spec in ``spec_dir`` (sorted ``*.yaml``, ``*.json``) into ``assets_dir`` as SVG
    and write the page ``out_md``; return the paths written, the page last.

    All or nothing: every spec is checked and drawn first; if any fails (or two would write
    the same SVG), ``SpecFailures`` reports each one and nothing is written."""
    spec_dir, out_md, assets_dir = Path(spec_dir), Path(out_md), Path(assets_dir)
    if not spec_dir.is_dir():
        raise ArchspecError("file-not-found", f"'{spec_dir}' is not a folder of specs")
    files = sorted(p for p in spec_dir.iterdir() if p.suffix in (".yaml", ".json") and p.is_file())
    names, failures = _svg_names(files, spec_dir)
    sections, toc = [], []
    with Transaction(assets_dir, also=[out_md.parent], say=_say) as tx:
        for file in files:
            try:
                analyses = analyze_all(load(file))
                depth = None if _size(analyses) <= EXPAND_MAX else 1
                if file in names:
                    render(analyses, tx.path(names[file], assets_dir), fmt="svg", depth=depth)
            except ArchspecError as e:
                failures.append((file, e))
                continue
            shown = markdown.printable(f"{spec_dir.name}/{file.name}")  # no line breaks
            image = Path(os.path.relpath(assets_dir / names.get(file, ""), out_md.parent)).as_posix()
            name = analyses[0].spec.name
            toc.append(f"- [{markdown.text(name)}](#{_anchor(name)})")
            sections.append(_section(file, name, shown, analyses, image, depth))
        if failures:
            raise SpecFailures(failures, len(files), spec_dir)
        head = [
            "# Gallery",
            "",
            "<!-- generated by `archspec docs`: do not edit by hand -->",
            "",
            f"Every spec in {markdown.code(spec_dir.name + '/')}: what it is, its summary table "
            "and its diagram (small models fully expanded; larger ones with each block, repeat "
            "and model call drawn as one node).",
            "",
            *toc,
        ]
        text = "\n".join(head) + "\n\n" + "\n".join(sections)
        tx.path(out_md.name, out_md.parent).write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return [assets_dir / names[f] for f in files] + [out_md]


def _svg_names(
    files: list[Path], folder: Path
) -> tuple[dict[Path, str], list[tuple[Path | None, ArchspecError]]]:
    """Each spec's SVG file name (its stem, made safe); two specs that would write one name
    (``same.yaml`` and ``same.json``; ``A.yaml`` and ``a.yaml`` on a case-blind disk) fail."""
    by_name: dict[str, list[Path]] = {}
    for file in files:
        by_name.setdefault(safe_stem(file.stem, keep="_-.").casefold(), []).append(file)
    names: dict[Path, str] = {}
    failures: Failures = []
    for group in by_name.values():
        svg = f"{safe_stem(group[0].stem, keep='_-.')}.svg"
        if len(group) == 1:
            names[group[0]] = svg
            continue
        listed = " and ".join(repr(f.name) for f in group)
        failures.append(
            (
                None,
                ArchspecError(
                    "io",
                    f"specs {listed} in '{folder}' would all write the diagram '{svg}'",
                    hint="rename all but one: each spec's diagram is named after its file",
                ),
            )
        )
    return names, failures


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_architectures(
    spec_dir: Path,
    out_md: Path,
    assets_dir: Path,
    order: Sequence[tuple[str, str, Sequence[str]]] = SEED_ARCHITECTURES,
) -> list[Path]:
    """Write the architectures page ``out_md``: for each ``(title, text, spec stems)`` of
    ``order``, the text, then for each spec (``spec_dir/<stem>.yaml``) its source, its summary
    table(s) and its diagram (an SVG in ``assets_dir``). Return the paths written, the page last.
    All or nothing, as ``write_gallery``."""
    spec_dir, out_md, assets_dir = Path(spec_dir), Path(out_md), Path(assets_dir)
    if not spec_dir.is_dir():
        raise ArchspecError("file-not-found", f"'{spec_dir}' is not a folder of specs")
    missing = [stem for _, _, stems in order for stem in stems if not (spec_dir / f"{stem}.yaml").is_file()]
    if missing:
        raise ArchspecError("file-not-found", f"no spec '{spec_dir.name}/{missing[0]}.yaml'")
    svgs: list[Path] = []
    sections: list[str] = []
    failures: Failures = []
    with Transaction(assets_dir, also=[out_md.parent], say=_say) as tx:
        for title, text, stems in order:
            out = [f"## {markdown.text(title)}", "", text, ""]
            for stem in stems:
                file = spec_dir / f"{stem}.yaml"
                name = f"{safe_stem(stem, keep='_-.')}.svg"
                try:
                    analyses = analyze_all(load(file))
                    depth = _diagram_depth(analyses)
                    render(analyses, tx.path(name, assets_dir), fmt="svg", depth=depth)
                except ArchspecError as e:
                    failures.append((file, e))
                    continue
                svgs.append(assets_dir / name)
                image = Path(os.path.relpath(assets_dir / name, out_md.parent)).as_posix()
                out.append(_architecture(file, f"{spec_dir.name}/{file.name}", analyses, image, depth))
            sections.append("\n".join(out))
        if failures:
            raise SpecFailures(failures, sum(len(stems) for _, _, stems in order), spec_dir)
        head = [
            "# The seed architectures",
            "",
            "<!-- generated by `python -m archspec.docsgen.gallery` "
            "(archspec.docsgen.gallery.write_architectures): do not edit by hand -->",
            "",
            "Every architecture the seed documents name, written as an archspec spec: the spec's "
            "text (its header says what it is and where its reference parameter count comes from), "
            "its summary table from `archspec check` and its diagram from `archspec render`. "
            "Every count here is checked against the reference in `tests/test_specs.py`.",
            "",
        ]
        head += [f"- [{markdown.text(title)}](#{_anchor(title)})" for title, _, _ in order]
        page = "\n".join(head) + "\n\n" + "\n".join(sections)
        tx.path(out_md.name, out_md.parent).write_text(page.rstrip("\n") + "\n", encoding="utf-8")
    return [*svgs, out_md]


def _architecture(file: Path, shown: str, analyses: list[Analysis], image: str, depth: int | None) -> str:
    name = markdown.text(analyses[0].spec.name)
    source = file.read_text(encoding="utf-8").rstrip("\n")
    out = [f"### {name}", "", markdown.code(shown), "", markdown.fence(source, "yaml"), ""]
    for a in analyses:
        if len(analyses) > 1:
            out += [f"Model {markdown.code(a.model)}:", ""]
        table = _summary(a, _table_depth(a)).replace(a.spec.path, shown)
        out += [markdown.fence(table.rstrip("\n"), "text"), ""]
    if depth is None:
        view = "fully expanded"
    elif depth == 1:
        view = "collapsed: each block, repeat and model call is one node"
    else:
        view = f"{depth} levels deep: blocks, repeats and model calls below that are one node"
    out += [f"![{name} diagram]({markdown.link(image)})", "", f"*Diagram: {view}.*", ""]
    return "\n".join(out)


def _diagram_depth(analyses: list[Analysis]) -> int | None:
    """The deepest view (fully expanded first) that draws at most ``EXPAND_MAX`` nodes."""
    for depth in (None, 3, 2):
        if _size(analyses, depth) <= EXPAND_MAX:
            return depth
    return 1


def _table_depth(a: Analysis) -> int | None:
    """The deepest table (all rows first) of at most ``TABLE_ROWS`` rows."""
    rows = [d for d, _ in a.graph.walk()]
    for depth in (None, 3, 2):
        if sum(1 for d in rows if depth is None or d < depth) <= TABLE_ROWS:
            return depth
    return 1


def header_comment(file: Path) -> list[str]:
    """The leading ``#`` comment lines of a YAML file, without the ``#`` and the modeline."""
    if file.suffix != ".yaml":
        return []
    lines = []
    for raw in file.read_text(encoding="utf-8", errors="replace").splitlines():
        if not raw.startswith("#"):
            break
        text = raw[1:].removeprefix(" ").rstrip()
        if not text.startswith(MODELINE):
            lines.append(text)
    return lines


def _section(
    file: Path, name: str, shown: str, analyses: list[Analysis], image: str, depth: int | None
) -> str:
    title = markdown.text(name)
    out = [f"## {title}", "", markdown.code(shown), ""]
    comment = _comment(header_comment(file))
    if comment:
        out += [*comment, ""]
    for a in analyses:
        if len(analyses) > 1:
            out += [f"### model {markdown.text(a.model)}", ""]
        table = _summary(a).replace(a.spec.path, shown)
        out += [markdown.fence(table.rstrip("\n"), "text"), ""]
    view = "fully expanded" if depth is None else "collapsed: each block, repeat and model call is one node"
    out += [f"![{title} diagram]({markdown.link(image)})", "", f"*Diagram: {view}.*", ""]
    return "\n".join(out)


def _comment(lines: list[str]) -> list[str]:
    """The header comment as Markdown paragraphs (split at blank lines), every one escaped."""
    out: list[str] = []
    para: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            para.append(line)
        elif para:
            out += [*markdown.paragraph(para), ""]
            para = []
    return out[:-1]


def _summary(a: Analysis, depth: int | None = None) -> str:
    try:
        from archspec.backends.report import summary_text
    except ImportError:  # the report module not there yet: a plain table
        return _fallback_summary(a)
    return summary_text(a, depth)


def _fallback_summary(a: Analysis) -> str:
    rows = [
        (("  " * d) + f"{n.name} ({n.type})", str(n.out), f"{n.counts.params:,}") for d, n in a.graph.walk()
    ]
    w = max([len(r[0]) for r in rows] + [12])
    s = max([len(r[1]) for r in rows] + [12])
    lines = [f"{'Layer (type)':<{w}}  {'Output':<{s}}  Params"]
    lines += [f"{r[0]:<{w}}  {r[1]:<{s}}  {r[2]}" for r in rows]
    lines += [f"Total params: {a.total_params:,}", f"Trainable params: {a.trainable_params:,}"]
    return "\n".join(lines)


def _size(analyses: list[Analysis], depth: int | None = None) -> int:
    drawn = {a.model for a in analyses} if len(analyses) > 1 else set()
    return sum(count_drawn(a.graph, depth, drawn, MAX_DRAWN) for a in analyses)


def _anchor(title: str) -> str:
    """The id GitHub gives a heading: lower case, spaces to hyphens, other punctuation dropped."""
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m archspec.docsgen.gallery [ROOT]``: regenerate ``ROOT/docs/architectures.md`` (and its
    SVGs in ``ROOT/docs/architectures/``) from ``ROOT/specs``; ROOT defaults to ``.``."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path(".")
    docs = root / "docs"
    for path in write_architectures(root / "specs", docs / "architectures.md", docs / "architectures"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
