"""The language's structure, end to end: nodes with several outputs (`name.output`), blocks and
repeats of several inputs and outputs, tensors as nodes (parameters, buffers), settings that
read inferred dims (`$x.shape[1]`), per-model `vars:`, channels-last inputs. Each spec is checked
statically, built, emitted as standalone source and run both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.backends.torch.pysrc import emit
from archspec.errors import ArchspecError

torch = pytest.importorskip("torch")

MULTI = """
blocks:
  two:
    inputs: [a, b]
    layers:
      - {name: s, add: [a, b]}
      - {name: t, linear: 8, inputs: s}
    outputs: [t, s]
inputs: {x: [batch, 8], y: [batch, 8]}
layers:
  - {name: p, parameter: [3, 8], init: {normal: {std: 0.02}}}
  - {name: mask, buffer: {fill: causal_mask, size: 4}}
  - {name: st, two: {}, inputs: [x, y], repeat: 3}
  - {name: one, two: {}, inputs: [x, st.s]}
  - {name: out, add: [st.t, one.s]}
outputs: [out, p, mask, one.t]
"""

SHAPES = """
inputs: {x: [batch, 6, 10, 10]}
layers:
  - {name: dw, conv2d: {out: $x.channels, kernel: 3, padding: 1, groups: $x.channels}}
  - name: pw
    conv2d: {out: "$2 * dw.shape[1]", kernel: 1}
"""

MODEL_VARS = """
vars: {width: 8}
models:
  small:
    vars: {hidden: $width * 2}
    inputs: {x: [batch, $width]}
    layers: [{linear: $hidden}, relu, {linear: $width}]
  big:
    vars: {hidden: $width * 4}
    inputs: {x: [batch, $width]}
    layers: [{linear: $hidden}, relu, {linear: $width}]
"""

CHANNELS_LAST = """
inputs: {image: {shape: [batch, 12, 12, 3], layout: channels_last}}
layers:
  - {conv2d: {out: 4, kernel: 3}}
  - global_avg_pool
"""


def _run_both(text: str, model: str | None = None) -> tuple[Any, Any]:
    spec = archspec.load_text(text)
    name = spec.pick(model)[0]
    built = archspec.build(spec, name, seed=0).eval()
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(emit([archspec.analyze(spec, name)]), "emitted.py", "exec"), namespace)
    cls = next(c for c in namespace["__all__"] if c.lower() == name.replace("_", "").lower())
    clone = namespace[cls]().eval()
    clone.load_state_dict(built.state_dict())
    inputs = archspec.example_inputs(spec, name, seed=3)
    with torch.no_grad():
        return built(*inputs), clone(*inputs)


def _flat(y: Any) -> list[Any]:
    return list(y) if isinstance(y, tuple) else [y]


@pytest.mark.parametrize("text", [MULTI, SHAPES, CHANNELS_LAST], ids=["multi", "shapes", "channels_last"])
def test_built_and_emitted_agree_with_the_static_types(text: str) -> None:
    a = archspec.analyze(archspec.load_text(text), sizes={"batch": 4})
    got, again = _run_both(text)
    for y, z, (_, t) in zip(_flat(got), _flat(again), a.outputs.items(), strict=True):
        assert torch.equal(y, z)
        want = [d if isinstance(d, int) else 4 for d in t.shape]
        assert list(y.shape) == want and str(y.dtype).removeprefix("torch.") == t.dtype


def test_multi_output_counts_and_state_dict_keys() -> None:
    spec = archspec.load_text(MULTI)
    a = archspec.analyze(spec)
    model = archspec.build(spec, seed=0)
    keys = set(model.state_dict())
    assert {"p", "mask", "st.0.t.weight", "st.2.t.bias", "one.t.weight"} <= keys
    assert a.total_params == sum(p.numel() for p in model.parameters()) == 3 * 8 + 4 * (8 * 8 + 8)
    assert a.buffers == sum(b.numel() for b in model.buffers()) == 16
    assert list(a.outputs) == ["out", "p", "mask", "t"]
    assert torch.equal(model.mask, torch.ones(4, 4, dtype=torch.bool).tril())


def test_settings_read_inferred_dims() -> None:
    a = archspec.analyze(archspec.load_text(SHAPES))
    assert a.node("dw").counts.params == 6 * 9 + 6  # depthwise: groups = in = out = 6
    assert a.node("pw").out.shape[1] == 12


def test_each_model_has_its_own_vars() -> None:
    spec = archspec.load_text(MODEL_VARS)
    assert archspec.analyze(spec, "small").total_params == (8 * 16 + 16) + (16 * 8 + 8)
    assert archspec.analyze(spec, "big").total_params == (8 * 32 + 32) + (32 * 8 + 8)
    for model in ("small", "big"):
        y, z = _run_both(MODEL_VARS, model)
        assert torch.equal(y, z)


def test_channels_last_input_is_fed_as_declared() -> None:
    spec = archspec.load_text(CHANNELS_LAST)
    a = archspec.analyze(spec)
    assert a.inputs["image"].shape == ("batch", 12, 12, 3)
    (x,) = archspec.example_inputs(spec, sizes={"batch": 2})
    assert tuple(x.shape) == (2, 12, 12, 3)
    model = archspec.build(spec, seed=0).eval()
    conv = model.get_submodule("conv2d1")
    with torch.no_grad():
        want = conv(x.permute(0, 3, 1, 2)).mean(dim=(2, 3))
        assert torch.allclose(model(x), want)


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        (
            "inputs: {x: [batch, 4]}\nlayers:\n  - {name: a, linear: 4}\n  - {linear: 2, inputs: a.h}\n",
            "undefined-reference",
            4,
        ),
        ("inputs: {x: [batch, 4]}\nlayers:\n  - {linear: $y.features}\n", "expression", 3),
        ("inputs: {x: [batch, 4]}\nlayers:\n  - linear: $x.shape[5]\n", "expression", 3),
        ("inputs: {x: {shape: [batch, 4], layout: channels_last}}\nlayers: [relu]\n", "shape-mismatch", 1),
    ],
)
def test_structural_mistakes_are_located(text: str, code: str, line: int) -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="s.yaml")
    assert err.value.code == code and err.value.loc is not None and err.value.loc.line == line, err.value


def test_repeat_of_a_multi_output_block_needs_enough_inputs(tmp_path: Path) -> None:
    text = (
        "blocks:\n  fan:\n    layers: [{name: a, linear: 4}, {name: b, linear: 4, inputs: input}]\n"
        "    outputs: [a, b]\n"
        "inputs: {x: [batch, 4]}\nlayers:\n  - {name: f, fan: {}, repeat: 2}\n  - {add: [f.a, f.b]}\n"
    )
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text)
    assert err.value.code == "arity" and "feed the next copy" in (err.value.hint or "")


NAMED_COPIES = """
blocks:
  enc:
    layers:
      - {name: ln_1, layer_norm}
      - {name: "0", linear: 8}
      - {name: "1", relu}
inputs: {x: [batch, 8]}
layers:
  - {name: layers, enc: {}, repeat: 3, copies: "encoder_layer_{index}"}
  - {name: head, linear: 2}
"""


def test_state_dict_keys_can_follow_a_reference_layout() -> None:
    """Digit node names (as nn.Sequential's children) and named repeat copies."""
    spec = archspec.load_text(NAMED_COPIES)
    keys = list(archspec.build(spec, seed=0).state_dict())
    assert keys[:4] == [
        "layers.encoder_layer_0.ln_1.weight",
        "layers.encoder_layer_0.ln_1.bias",
        "layers.encoder_layer_0.0.weight",
        "layers.encoder_layer_0.0.bias",
    ]
    y, z = _run_both(NAMED_COPIES)
    assert torch.equal(y, z)


@pytest.mark.parametrize("pattern", ["layer", "1{index}x", "input_{index}", "a b{index}"])
def test_bad_copy_names_are_refused(pattern: str) -> None:
    text = f'inputs: {{x: [batch, 4]}}\nlayers:\n  - {{linear: 4, repeat: 2, copies: "{pattern}"}}\n'
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text)
    assert err.value.code == "bad-name" and err.value.loc is not None and err.value.loc.line == 3


INIT_SPEC = (
    "inputs: {{x: [2, 8]}}\nlayers:\n"
    "  - {{name: p, parameter: [8, 8], init: {init}}}\n  - {{matmul: [x, p]}}\n"
)
INIT_REFUSED = {
    "{normal: {std: -1}}": "needs std >= 0",
    "{uniform: {a: 1.0, b: 0.0}}": "needs a <= b",
    "{trunc_normal: {std: 0.02, a: 5.0, b: -5.0}}": "needs a < b",
    "{trunc_normal: {std: 0}}": "needs std > 0",
    "{xavier_uniform: {gain: 1.0e300}}": "magnitude at most",
    "{kaiming_normal: {nonlinearity: gelu}}": "must be one of",
    "{kaiming_uniform: {mode: fan_middle}}": "must be one of",
    "{normal: {std: abc}}": "must be a number",
    "{constant: {value: 1}}": "takes no setting 'value'",
}


@pytest.mark.parametrize(("init", "message"), INIT_REFUSED.items(), ids=list(INIT_REFUSED))
def test_init_settings_torch_would_refuse_are_errors_at_check(init: str, message: str) -> None:
    """Before this check each of these passed `check` and ended in torch's RuntimeError at build."""
    text = INIT_SPEC.format(init=init)
    with pytest.raises(ArchspecError, match=message) as e:
        archspec.load_text(text)
    assert e.value.loc is not None and e.value.loc.line == 3


@pytest.mark.parametrize(
    "init",
    [
        "{kaiming_uniform: {mode: fan_out, nonlinearity: relu}}",
        "{trunc_normal: {std: 0.02}}",
        "{uniform: {a: -1, b: 1}}",
    ],
)
def test_init_settings_torch_takes_build_and_emit(init: str) -> None:
    text = INIT_SPEC.format(init=init)
    spec = archspec.load_text(text)
    model = archspec.build(spec, seed=0)
    assert model.get_parameter("p").abs().sum() > 0
    compile(emit([archspec.analyze(spec)]), "generated.py", "exec")
