"""Graph networks on dense adjacency, in PyTorch Geometric's parameter layout.

GCN (Kipf & Welling, 2017, "Semi-Supervised Classification with Graph Convolutional Networks"):
each layer is ``H' = A_hat (H W) + b`` where ``A_hat = D^-1/2 (A + I) D^-1/2`` is given as an
input [N, N] (see ``normalize_adjacency``). Cora config: 1433 features -> 16 hidden (ReLU, dropout
0.5 before each layer) -> 7 classes: 23,063 parameters. The model returns logits; the paper's
row-wise softmax belongs to the loss.

GAT (Velickovic et al., 2018, "Graph Attention Networks"): each head projects ``h = x W``, scores
every edge ``e_ij = LeakyReLU_0.2(a_dst . h_i + a_src . h_j)``, softmaxes the scores over the
neighbours j of i (non-edges masked to -inf; self-loops added), drops attention weights (0.6) and
sums ``alpha_ij h_j``; heads are concatenated (hidden layer) or averaged (output layer), then a bias
is added. Cora config: dropout 0.6 on the input, 8 heads x 8 features (concat, 64), ELU, dropout 0.6,
one head of 7 classes: 92,373 parameters (91,904 + 469).

Keys follow ``torch_geometric.nn.GCNConv``/``GATConv`` (2.x), so their state_dicts load here:
``conv{1,2}.bias`` [out] and ``conv{1,2}.lin.weight`` [out, in] for GCN; ``conv{1,2}.att_src``
and ``att_dst`` [1, heads, out], ``bias`` [heads*out or out], ``lin.weight`` [heads*out, in] for GAT.
``adj[i, j] != 0`` means j sends to i (row i lists i's neighbours); for undirected graphs it is
symmetric.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

GCN_CORA_PARAMS = 23_063
GAT_CORA_PARAMS = 92_373


def normalize_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """The GCN propagation matrix ``D^-1/2 (A + I) D^-1/2`` of a dense 0/1 (or weighted) adjacency."""
    a = adj + torch.eye(adj.shape[0], dtype=adj.dtype, device=adj.device)
    d = a.sum(dim=1).pow(-0.5)
    d = torch.where(torch.isinf(d), torch.zeros_like(d), d)
    return d[:, None] * a * d[None, :]


class GCNConv(nn.Module):
    """``a_hat @ lin(x) + bias``; Glorot-uniform weight, zero bias."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        return a_hat @ self.lin(x) + self.bias


class GCN(nn.Module):
    def __init__(
        self, features: int = 1433, hidden: int = 16, classes: int = 7, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.dropout = dropout
        self.conv1 = GCNConv(features, hidden)
        self.conv2 = GCNConv(hidden, classes)

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        """``x`` [N, features], ``a_hat`` [N, N] (already normalised) -> logits [N, classes]."""
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.conv1(x, a_hat))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, a_hat)


class GATConv(nn.Module):
    """One multi-head graph attention layer over a dense adjacency."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.out_channels = out_channels
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.zeros(heads * out_channels if concat else out_channels))
        for w in (self.lin.weight, self.att_src, self.att_dst):
            nn.init.xavier_uniform_(w)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        h = self.lin(x).view(n, self.heads, self.out_channels)  # [N, H, C]
        score_src = (h * self.att_src).sum(-1)  # [N, H]: a_src . h_j
        score_dst = (h * self.att_dst).sum(-1)  # [N, H]: a_dst . h_i
        e = score_dst.t()[:, :, None] + score_src.t()[:, None, :]  # [H, i, j]
        e = F.leaky_relu(e, self.negative_slope)
        edges = adj != 0
        if self.add_self_loops:
            edges = edges | torch.eye(n, dtype=torch.bool, device=adj.device)
        e = e.masked_fill(~edges, float("-inf"))
        alpha = F.dropout(torch.softmax(e, dim=-1), self.dropout, self.training)
        out = torch.einsum("hij,jhc->ihc", alpha, h)  # [N, H, C]
        out = out.reshape(n, -1) if self.concat else out.mean(dim=1)
        return out + self.bias


class GAT(nn.Module):
    def __init__(
        self,
        features: int = 1433,
        hidden: int = 8,
        heads: int = 8,
        classes: int = 7,
        output_heads: int = 1,
        dropout: float = 0.6,
    ) -> None:
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(features, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, classes, heads=output_heads, concat=False, dropout=dropout)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``x`` [N, features], ``adj`` [N, N] (nonzero = edge) -> logits [N, classes]."""
        x = F.dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, adj))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, adj)


def gcn(features: int = 1433, hidden: int = 16, classes: int = 7) -> GCN:
    """Kipf & Welling's two-layer GCN, Cora sizes by default: 23,063 parameters."""
    return GCN(features, hidden, classes)


def gat(features: int = 1433, hidden: int = 8, heads: int = 8, classes: int = 7) -> GAT:
    """Velickovic et al.'s two-layer GAT, Cora config by default: 92,373 parameters."""
    return GAT(features, hidden, heads, classes)
