"""An echo state network reservoir: fixed random weights, a leaky tanh recurrence."""

import torch
from torch import nn


class Reservoir(nn.Module):
    """``h_t = (1 - leak) h_{t-1} + leak * tanh(W_in x_t + W_res h_{t-1})`` from ``h_0 = 0``.

    ``weight_in`` (uniform in ``±input_scaling``) and ``weight_res`` (uniform, a
    ``sparsity`` fraction of it zero, scaled to ``spectral_radius``) are parameters with
    ``requires_grad=False``, drawn from a local generator seeded with ``seed``: the same
    seed gives the same weights on every build. Input ``[batch, seq, in_features]``;
    output ``[batch, seq, size]``, or ``[batch, size]`` (the last state) for ``output="last"``.
    """

    def __init__(
        self,
        in_features: int,
        size: int,
        spectral_radius: float = 0.9,
        sparsity: float = 0.9,
        leak: float = 1.0,
        input_scaling: float = 1.0,
        seed: int = 0,
        output: str = "sequence",
    ) -> None:
        super().__init__()
        self.size, self.leak, self.output = size, leak, output
        g = torch.Generator(device="cpu").manual_seed(seed)

        def uniform(rows: int, cols: int) -> torch.Tensor:  # in [-1, 1), float64 on the CPU
            return torch.rand(rows, cols, generator=g, dtype=torch.float64, device="cpu") * 2 - 1

        w_in = uniform(size, in_features) * input_scaling
        w_res = uniform(size, size)
        n_zero = round(sparsity * size * size)
        w_res.view(-1)[torch.randperm(size * size, device="cpu", generator=g)[:n_zero]] = 0.0
        radius = torch.linalg.eigvals(w_res).abs().max().item()
        if radius > 0:  # an all-zero matrix (tiny and very sparse) stays zero
            w_res *= spectral_radius / radius
        dtype = torch.get_default_dtype()
        self.weight_in = nn.Parameter(w_in.to(dtype), requires_grad=False)
        self.weight_res = nn.Parameter(w_res.to(dtype), requires_grad=False)

    def _step(self, h: torch.Tensor, u_t: torch.Tensor, w_res: torch.Tensor) -> torch.Tensor:
        pre = torch.tanh(u_t + nn.functional.linear(h, w_res))
        return pre if self.leak == 1.0 else (1.0 - self.leak) * h + self.leak * pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = nn.functional.linear(x, self.weight_in)  # W_in x_t for every step at once
        h = u.new_zeros(u.shape[0], self.size)
        if torch.compiler.is_exporting():
            return self._scan(h, u)
        steps = []
        for t in range(u.shape[1]):
            h = self._step(h, u[:, t], self.weight_res)
            steps.append(h)
        return h if self.output == "last" else torch.stack(steps, dim=1)

    def _scan(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The loop as one scan op, for torch.export: seq stays dynamic (an ONNX Scan)."""
        from torch._higher_order_ops.scan import scan, scan_op

        def step(h: torch.Tensor, u_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self._step(h, u_t, self.weight_res)
            return h, h.clone()

        def body(h: torch.Tensor, u_t: torch.Tensor, w_res: torch.Tensor) -> list[torch.Tensor]:
            h = self._step(h, u_t, w_res)
            return [h, h.clone()]

        if torch.compiler.is_dynamo_compiling():  # strict export: dynamo traces scan()
            last, states = scan(step, h, u, dim=1)
        else:
            # Non-strict export calls the operator itself: scan() compiles its body with a
            # cache that can pin seq to the size of an earlier static export.
            last, states = scan_op(body, [h], [u.movedim(1, 0)], (self.weight_res,))
            states = states.movedim(0, 1)
        return last if self.output == "last" else states

    def extra_repr(self) -> str:
        return f"{self.weight_in.shape[1]}, {self.size}, leak={self.leak}, output={self.output!r}"
