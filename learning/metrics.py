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

#: Thresholds of the "share of pixels within" figures, degrees (as in the normal-estimation
#: literature since Fouhey et al. 2013).
WITHIN = (11.25, 22.5, 30.0)
_CLAMP = 1.0 - 1e-6


def cosine(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel cosine of (N, 3, H, W) unit normal maps: (N, H, W)."""
    return (pred * target).sum(dim=1)


def loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
         angular: float = 0.0) -> torch.Tensor:
    """Masked mean of ``1 − cos`` (+ ``angular`` × the angle in radians); ``mask`` (N, 1, H, W)
    or (N, H, W) bool. Zero, with a gradient, when the mask is empty."""
    m = mask.reshape(pred.shape[0], *pred.shape[2:])
    cos = cosine(pred.float(), target.float())
    per = 1.0 - cos
    if angular > 0:
        per = per + angular * torch.acos(cos.clamp(-_CLAMP, _CLAMP))
    count = m.sum()
    return (per * m).sum() / count.clamp(min=1)


def angles_deg(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel angle between two normal maps, degrees (N, H, W)."""
    return cos_to_deg(cosine(pred.float(), target.float()))


def cos_to_deg(cos: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


@torch.no_grad()
def per_pixel(model: torch.nn.Module, batches, amp: bool = False) -> Iterator[tuple]:
    """The model in eval mode over ``batches`` (:class:`learning.loader.Batches`): per batch
    (batch, prediction, cosine (N, H, W), angle in degrees, mask (N, H, W)), on the CPU but
    the first two. Validation and evaluation score through this one loop."""
    model.eval()
    for b in batches:
        with torch.autocast(b["input"].device.type, torch.bfloat16, enabled=amp):
            pred = model(b["input"]).float()
        cos = cosine(pred, b["normals"])
        yield b, pred, cos.cpu(), cos_to_deg(cos).cpu(), b["mask"][:, 0].cpu()


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
