"""How a predicted normal map is scored against the measured one, inside the mask: the loss
training minimises and the figures evaluation reports. One definition for both.

The paper's metric is the cosine similarity; the loss is ``1 − cos`` averaged over the masked
pixels, optionally plus a weight × the angle itself (radians). The angle's gradient,
``-1 / sqrt(1 − cos²)``, is infinite where the prediction is exact: the cosine is clamped to
``1 − 1e-6`` first, which bounds the gradient (at about 700) and changes the angle by less
than 0.1°.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.nn import functional as F  # noqa: N812 (torch's own convention)

#: Thresholds of the "share of pixels within" figures, degrees (as in the normal-estimation
#: literature since Fouhey et al. 2013).
WITHIN = (11.25, 22.5, 30.0)
#: Weight of the mask's cross-entropy beside the normals' ``1 − cos``: ``1 − cos`` is about
#: 0.005 at 6°, a learnt mask's cross-entropy a few hundredths; at 0.1 neither swamps the
#: other.
MASK_WEIGHT = 0.1
_CLAMP = 1.0 - 1e-6


def cosine(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel cosine of (N, 3, H, W) unit normal maps: (N, H, W). A prediction's fourth
    channel (the mask's logit) is not a normal's."""
    return (pred[:, :3] * target).sum(dim=1)


def loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
         angular: float = 0.0) -> torch.Tensor:
    """Masked mean of ``1 − cos`` (+ ``angular`` × the angle in radians); ``mask`` (N, 1, H, W)
    or (N, H, W) bool. Zero, with a gradient, when the mask is empty. A prediction with a
    mask channel adds ``MASK_WEIGHT`` × its binary cross-entropy against ``mask`` over every
    pixel."""
    m = mask.reshape(pred.shape[0], *pred.shape[2:])
    cos = cosine(pred.float(), target.float())
    per = 1.0 - cos
    if angular > 0:
        per = per + angular * torch.acos(cos.clamp(-_CLAMP, _CLAMP))
    count = m.sum()
    out = (per * m).sum() / count.clamp(min=1)
    if pred.shape[1] > 3:
        out = out + MASK_WEIGHT * F.binary_cross_entropy_with_logits(pred[:, 3].float(),
                                                                     m.float())
    return out


def mask_of(pred: torch.Tensor) -> torch.Tensor | None:
    """Where a prediction says the sitter is (N, H, W) bool, or None without a mask channel."""
    return pred[:, 3] > 0 if pred.shape[1] > 3 else None


def angles_deg(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel angle between two normal maps, degrees (N, H, W)."""
    return cos_to_deg(cosine(pred.float(), target.float()))


def cos_to_deg(cos: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


@torch.no_grad()
def per_pixel(model: torch.nn.Module, batches, amp: bool = False,
              on_device: bool = False) -> Iterator[tuple]:
    """The model in eval mode over ``batches`` (:class:`learning.loader.Batches`): per batch
    (batch, prediction, cosine (N, H, W), angle in degrees, mask (N, H, W)), on the CPU but
    the first two (on the batches' device with ``on_device``: nothing waits for a GPU).
    Validation and evaluation score through this one loop."""
    model.eval()
    for b in batches:
        with torch.autocast(b["input"].device.type, torch.bfloat16, enabled=amp):
            pred = model(b["input"]).float()
        cos = cosine(pred, b["normals"])
        ang, m = cos_to_deg(cos), b["mask"][:, 0]
        if not on_device:
            cos, ang, m = cos.cpu(), ang.cpu(), m.cpu()
        yield b, pred, cos, ang, m


def summary(cos: torch.Tensor, angle: torch.Tensor) -> dict[str, float]:
    """The reported figures over a set of pixels (1-D tensors of their cosine and angle):
    mean cosine, mean and median angle, and the share within each of ``WITHIN``."""
    if cos.numel() == 0:
        nan = float("nan")
        return {"cosine": nan, "mean_deg": nan, "median_deg": nan,
                **{f"within_{t:g}": nan for t in WITHIN}, "pixels": 0}
    out = {"cosine": float(cos.double().mean()), "mean_deg": float(angle.double().mean()),
           "median_deg": float(angle.double().median())}
    for t in WITHIN:
        out[f"within_{t:g}"] = float((angle <= t).double().mean())
    out["pixels"] = int(cos.numel())
    return out


class Tally:
    """The reported figures' ingredients over pixels added batch by batch, kept as sums that
    add across processes (:meth:`merge` with ``torch.distributed``): the pixel count, the
    sums of cosine and angle, and the angles' histogram in 0.01° bins, from which the
    median (to 0.01°) and the shares within ``WITHIN`` (exactly: their bounds are bin
    edges) come. Validation sharded over ranks reports the same figures as one process,
    without gathering every pixel."""

    STEP = 0.01  # degrees a bin

    def __init__(self, device: torch.device | str = "cpu"):
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)  # pixels, cos, angle
        self.hist = torch.zeros(int(round(180.0 / self.STEP)) + 1, dtype=torch.float64,
                                device=device)

    def add(self, cos: torch.Tensor, angle: torch.Tensor) -> None:
        """Pixels' cosines and angles (1-D, the same length), on the tally's device."""
        self.sums += torch.stack([torch.full((), float(cos.numel()), dtype=torch.float64,
                                             device=cos.device),
                                  cos.double().sum(), angle.double().sum()]).to(self.sums)
        bins = torch.clamp(torch.ceil(angle.double() / self.STEP), 0, len(self.hist) - 1)
        self.hist += torch.bincount(bins.long(), minlength=len(self.hist)).to(self.hist)

    def merge(self) -> None:
        """Sum the tallies of every process (``torch.distributed``'s default group)."""
        import torch.distributed as dist

        dist.all_reduce(self.sums)
        dist.all_reduce(self.hist)

    def summary(self) -> dict[str, float]:
        """:func:`summary`'s figures; the median and shares from the histogram (a pixel
        counts in the bin whose upper edge is its angle rounded up)."""
        n = float(self.sums[0])
        if n == 0:
            return summary(torch.empty(0), torch.empty(0))
        cum = torch.cumsum(self.hist, 0)
        median_bin = int(torch.searchsorted(cum, torch.tensor(n / 2, dtype=cum.dtype,
                                                               device=cum.device)))
        out = {"cosine": float(self.sums[1]) / n, "mean_deg": float(self.sums[2]) / n,
               "median_deg": median_bin * self.STEP}
        for t in WITHIN:
            out[f"within_{t:g}"] = float(cum[int(round(t / self.STEP))]) / n
        out["pixels"] = int(n)
        return out
