"""Training settings and their command-line options, apart from the training itself so that
``booth``'s command line can offer them without importing torch."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from photometric.errors import InputError

#: The brightness factors of augmentation: the export's darker and brighter copies, and the
#: range training draws from on the fly.
BRIGHTNESS = (0.7, 1.3)


@dataclass
class Settings:
    """How ``booth train`` trains (each field is the option of the same name)."""

    preset: str = "small"
    epochs: int = 20
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # share of all steps spent warming up
    angular: float = 0.0  # weight of the angle (radians) added to 1 − cos
    seed: int = 0
    workers: int = 2  # threads gathering batches ahead (learning.loader)
    device: str = "auto"
    compile: bool = False
    augment: bool = True

    def validate(self) -> Settings:
        if self.epochs < 1 or self.batch < 1:
            raise InputError(f"--epochs and --batch: expected at least 1, got {self.epochs} "
                             f"and {self.batch}")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.warmup < 1:
            raise InputError("--lr must be positive, --weight-decay >= 0, warm-up in [0, 1)")
        if not 0 <= self.workers <= 64:
            raise InputError(f"--workers: expected 0..64 threads gathering batches (0: in the "
                             f"training loop), got {self.workers}")
        if self.seed < 0:
            raise InputError(f"--seed: expected a whole number of at least 0, got {self.seed}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"--device: expected auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise InputError("--device cuda: no CUDA device is available here")
        return self


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of hours, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of hours, got {text}")
    return value


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``booth train`` and ``python -m learning.trainer``."""
    d = Settings()
    p.add_argument("dataset", help="a dataset folder made by 'booth export'")
    p.add_argument("--out", required=True, help="the run folder (new or empty; with --resume "
                   "the run to continue)")
    p.add_argument("--preset", choices=("small", "paper"), default=d.preset)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch", type=int, default=d.batch, help="images per step per process")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--angular", type=float, default=d.angular,
                   help="weight of the angle (radians) added to 1 - cos (default 0)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers,
                   help="threads gathering batches ahead (0: in the training loop)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device)
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--no-augment", action="store_true", help="no flips or brightness changes")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--hours", type=_positive, default=None, metavar="H",
                   help="stop after the first epoch that ends later than H hours after the "
                   "start, its checkpoint saved; --resume continues exactly from it")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(preset=args.preset, epochs=args.epochs, batch=args.batch, lr=args.lr,
                    angular=args.angular, seed=args.seed, workers=args.workers,
                    device=args.device, compile=args.compile, augment=not args.no_augment)


