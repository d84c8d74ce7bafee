"""The U-Net: the paper's size, unit normals out, any size it can take, a clear error else."""

from __future__ import annotations

import pytest
import torch

from learning.model import PRESETS, UNet, build, parameters
from photometric.errors import InputError


def test_presets_have_the_stated_sizes():
    # Ronneberger et al.'s U-Net: about 31 M parameters; the small preset about 4.4 M.
    assert round(parameters(build("paper", 5)) / 1e6, 1) == 31.0
    assert round(parameters(build("small", 5)) / 1e6, 1) == 4.4
    assert set(PRESETS) == {"paper", "small"}


@pytest.mark.parametrize("channels", [3, 5])
def test_outputs_are_unit_normals_of_the_input_size(channels):
    torch.manual_seed(0)
    net = UNet(channels, base=8).eval()
    with torch.no_grad():
        y = net(torch.rand(2, channels, 48, 80))
    # three normal channels, then the mask's logit (any real number)
    assert y.shape == (2, 4, 48, 80) and y.dtype == torch.float32
    torch.testing.assert_close(y[:, :3].norm(dim=1), torch.ones(2, 48, 80))
    assert y[:, 3].std() > 0
    old = UNet(channels, base=8, outputs=3).eval()  # a model saved before the mask output
    with torch.no_grad():
        assert old(torch.rand(1, channels, 32, 32)).shape == (1, 3, 32, 32)


def test_inputs_it_cannot_take_are_clear_errors():
    net = UNet(5, base=8)
    with pytest.raises(InputError, match="multiples of 16.*got 50×64"):
        net(torch.rand(1, 5, 50, 64))
    with pytest.raises(InputError, match=r"\(N, 5, H, W\).*\(1, 3, 64, 64\)"):
        net(torch.rand(1, 3, 64, 64))
    with pytest.raises(InputError, match="--preset"):
        build("huge", 5)


def test_gradients_reach_the_first_layer():
    net = UNet(5, base=8)
    y = net(torch.rand(1, 5, 32, 32))
    (1 - y[:, 2]).mean().backward()
    first = net.down[0][0].weight.grad
    assert first is not None and first.abs().sum() > 0
