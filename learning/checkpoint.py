"""Checkpoints: weights as safetensors with a YAML beside them; training state for an exact
resume. Nothing here unpickles anything: safetensors holds only tensors, YAML is read safely.

``NAME.safetensors`` + ``NAME.yaml``: the model's weights (BatchNorm statistics included) and
what a reader needs to use them: the preset, input channels, the dataset's encoding and crop
size, the training settings, the epoch, metrics and the software version.

``state-EPOCH.safetensors`` + ``state.yaml``: the model's weights, the optimizer's tensors
(AdamW's moments and steps), the random generators' states, and in YAML the optimizer's
hyper-parameters, the schedule's step and the epoch reached, so that a resumed run continues
where it stopped. ``state.yaml`` names its tensors' file and is written last (the commit
point): a run killed while saving resumes from a matching pair.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from learning.model import UNet
from photometric.errors import InputError
from photometric.io.files import atomic_write, parse_yaml, write_text

SOFTWARE_VERSION = "0.1.0"
MAX_YAML_BYTES = 1 << 20


def _read_yaml(path: Path) -> dict:
    try:
        raw = path.read_bytes()[: MAX_YAML_BYTES + 1]
    except FileNotFoundError:
        raise InputError(f"{path}: not found; a checkpoint is NAME.safetensors with "
                         "NAME.yaml beside it") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(f"{path}: larger than {MAX_YAML_BYTES >> 10} kB; not a checkpoint's YAML")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; not a checkpoint's YAML") from None
    data = parse_yaml(text, str(path))  # the one reader with depth and alias limits
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def save_model(path: str | Path, model: UNet, info: dict, half: bool = False) -> Path:
    """``path`` (.safetensors) and its ``.yaml``, each written whole or not at all; with
    ``half`` the floating-point tensors stored as float16 (half the size; loading makes them
    float32 again)."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {"model": {"in_channels": model.in_channels, "base": model.base,
                      "depth": model.depth, "outputs": model.outputs, **info.pop("model", {})},
            "software_version": SOFTWARE_VERSION, **info}
    atomic_write(path, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    write_text(path.with_suffix(".yaml"), yaml.safe_dump(meta, sort_keys=False))
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[UNet, dict]:
    """The model at ``path`` (``NAME.safetensors``, or a run folder: its ``best``) and its
    YAML. A truncated or foreign file is an InputError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / "best.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: not found; expected a run folder of 'booth train' or a "
                         "NAME.safetensors with NAME.yaml beside it")
    meta = _read_yaml(path.with_suffix(".yaml"))
    m = meta.get("model")
    if not isinstance(m, dict) or not all(isinstance(m.get(k), int) and m[k] > 0
                                          for k in ("in_channels", "base", "depth")):
        raise InputError(f"{path.with_suffix('.yaml')}: model: expected in_channels, base and "
                         "depth (positive integers); not a checkpoint of this tool")
    try:
        state = load_file(str(path), device=str(device))
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable safetensors file ({exc})") from None
    outputs = m.get("outputs", 3)  # models saved before the mask output had none
    if outputs not in (3, 4):
        raise InputError(f"{path.with_suffix('.yaml')}: model: outputs: expected 3 or 4, got "
                         f"{outputs!r}")
    model = UNet(m["in_channels"], m["base"], m["depth"], outputs)
    want = model.state_dict()
    # torch's own message is a page of every tensor; one line names the first misfit
    missing = [k for k in want if k not in state]
    shape = [k for k in want if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    if missing or shape or len(state) != len(want):
        described = (f"in_channels {m['in_channels']}, base {m['base']}, depth {m['depth']}, "
                     f"outputs {outputs}")
        if shape:
            k = shape[0]
            why = (f"{k} is {tuple(state[k].shape)}, the model wants {tuple(want[k].shape)}")
        elif missing:
            why = f"{len(missing)} tensor(s) missing, the first {missing[0]}"
        else:
            extra = [k for k in state if k not in want]
            why = f"{len(extra)} tensor(s) the model has no place for, the first {extra[0]}"
        raise InputError(f"{path}: the weights do not fit the model its YAML describes "
                         f"({described}): {why}")
    model.load_state_dict(state, strict=True)
    return model.to(device), meta


def save_state(folder: Path, optimizer: torch.optim.Optimizer, info: dict,
               model: torch.nn.Module | None = None) -> None:
    """The model's weights, the optimizer's tensors and the random generators in
    ``state-EPOCH.safetensors``; its hyper-parameters and ``info`` (epoch, schedule step, best
    metric) in ``state.yaml``, which names that file and is written last: the commit point.
    A process killed anywhere in here leaves ``state.yaml`` naming a whole, matching file
    (the previous epoch's, or this one's), so a resume never pairs one epoch's weights with
    another's optimizer."""
    from safetensors.torch import save_file

    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    if model is not None:
        for name, value in model.state_dict().items():
            tensors[f"model.{name}"] = value.detach().cpu().contiguous()
    for idx, st in sd["state"].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"opt.{idx}.{name}"] = t.detach().cpu().contiguous()
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    for g in groups:
        if "betas" in g:
            g["betas"] = list(g["betas"])
    name = f"state-{int(info.get('epoch', 0)):04d}.safetensors"
    atomic_write(folder / name,
                 lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))
    write_text(folder / "state.yaml",
               yaml.safe_dump({**info, "tensors": name,
                               "param_groups": json.loads(json.dumps(groups))},
                              sort_keys=False))
    for old in [*folder.glob("state-*.safetensors"), folder / "state.safetensors"]:
        if old.name != name:
            old.unlink(missing_ok=True)


def load_state(folder: Path, optimizer: torch.optim.Optimizer,
               model: torch.nn.Module | None = None) -> dict:
    """Restore the model's weights, the optimizer and the random generators from
    :func:`save_state`'s files; returns ``state.yaml``'s data. (Runs saved before the weights
    were kept with the state: the weights of ``last.safetensors``.)"""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    info = _read_yaml(folder / "state.yaml")
    name = info.get("tensors", "state.safetensors")
    if not isinstance(name, str) or "/" in name or not name.endswith(".safetensors"):
        raise InputError(f"{folder / 'state.yaml'}: tensors: expected a file name "
                         f"STATE.safetensors beside it, got {name!r}")
    path = folder / name
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: not found; nothing to resume") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable ({exc})") from None
    if model is not None:
        weights = {k[len("model."):]: t for k, t in tensors.items() if k.startswith("model.")}
        if not weights:
            weights = load_model(folder / "last.safetensors")[0].state_dict()
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError:
            raise InputError(f"{path}: the saved weights do not fit this model") from None
    state: dict[int, dict] = {}
    for key, t in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = t
    groups = info.get("param_groups")
    if not isinstance(groups, list):
        raise InputError(f"{folder / 'state.yaml'}: param_groups: expected a list")
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise InputError(f"{folder}: the saved optimizer does not fit this model ({exc})") from None
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return info
