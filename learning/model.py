"""The normal-map generator: the U-Net of Ronneberger, Fischer & Brox (2015).

Four downsamplings (2×2 max-pooling), two 3×3 convolutions per level, learned 2×2 transposed
convolutions up, skip connections by concatenation, as in the paper; with batch
normalisation after each convolution (the paper predates it; every maintained U-Net has it,
and it lets the net train at the learning rates training uses) and zero padding, so the
output has the input's size. The last 1×1 convolution gives three channels, normalised to
unit normals, and (``outputs=4``, every model trained since the ``person`` framing) a fourth:
the logit of the mask, where the sitter is and normals hold, trained on the target's mask,
so that a prediction says where it may be pasted into the photo.

Presets (``PRESETS``): ``paper``, base width 64 (64-128-256-512-1024 channels, 31.0 M
parameters at 5 input channels); ``small``, base width 24 (24-...-384, 4.4 M parameters,
17.5 MB of float32 weights), the CPU default and the fast GPU preset. Widths are multiples
of 8, which tensor cores want.

Only torch: the training path imports no MediaPipe, camera or UI.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (torch's own convention)

from photometric.errors import InputError


@dataclass(frozen=True)
class Preset:
    base: int  # channels of the first level; each level down doubles them
    depth: int = 4  # downsamplings


PRESETS: dict[str, Preset] = {"paper": Preset(64), "small": Preset(24)}
#: Input channels per dataset encoding: RGB, plus the two landmark channels.
CHANNELS = {"none": 3, "points": 5, "dense": 5}


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True))


class UNet(nn.Module):
    """(N, in_channels, H, W) -> (N, outputs, H, W): unit normals, then the mask's logit when
    ``outputs`` is 4; H and W multiples of 2**depth."""

    def __init__(self, in_channels: int = 5, base: int = 24, depth: int = 4,
                 outputs: int = 4):
        super().__init__()
        if in_channels < 1 or base < 1 or depth < 1:
            raise ValueError(f"UNet: in_channels, base and depth must be positive, got "
                             f"{in_channels}, {base}, {depth}")
        if outputs not in (3, 4):
            raise ValueError(f"UNet: outputs must be 3 (normals) or 4 (normals and mask), "
                             f"got {outputs}")
        self.in_channels, self.base, self.depth, self.outputs = in_channels, base, depth, outputs
        widths = [base * 2**k for k in range(depth + 1)]
        self.down = nn.ModuleList([_block(in_channels, widths[0])])
        self.down.extend(_block(widths[k - 1], widths[k]) for k in range(1, depth + 1))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2)
                                for k in reversed(range(depth)))
        self.merge = nn.ModuleList(_block(2 * widths[k], widths[k])
                                   for k in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], outputs, 1)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (one halving per level)."""
        return 2**self.depth

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise InputError(f"the model takes (N, {self.in_channels}, H, W) inputs, got shape "
                             f"{tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple or h < self.multiple or w < self.multiple:
            raise InputError(f"the model takes sides that are multiples of {self.multiple} "
                             f"(it halves them {self.depth} times), got {h}×{w}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        y = self.head(x).float()
        normals = F.normalize(y[:, :3], dim=1, eps=1e-6)
        return normals if self.outputs == 3 else torch.cat([normals, y[:, 3:]], dim=1)


def build(preset: str, in_channels: int) -> UNet:
    """The U-Net of ``preset`` (``PRESETS``) for ``in_channels`` inputs."""
    if preset not in PRESETS:
        raise InputError(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    return UNet(in_channels, p.base, p.depth)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
