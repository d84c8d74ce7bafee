"""``booth flash hello`` and ``booth flash fire``: talk to the flash controller over its serial
port (:mod:`booth.hardware.flashlink`)."""

from __future__ import annotations

import argparse

from booth import options
from booth.commands.shared import (
    port_required,
)
from photometric.lights import CHANNELS


def register(sub: argparse._SubParsersAction) -> None:
    fl = sub.add_parser("flash", help="talk to the flash controller",
                        description="Commands to the flash controller over its serial port.")
    flsub = fl.add_subparsers(dest="what", required=True, metavar="WHAT")
    h = flsub.add_parser("hello", help="handshake; print firmware version and channels",
                         parents=[port_required()])
    h.set_defaults(handler=cmd_flash_hello)
    f = flsub.add_parser("fire", help="fire one flash and print its FIRED event",
                         parents=[port_required()])
    f.add_argument("channel", choices=CHANNELS)
    f.add_argument("--timeout", type=options.positive_seconds, default=1.0,
                   help="seconds to wait for FIRED, (0, 3600] (default 1)")
    f.set_defaults(handler=cmd_flash_fire)


def cmd_flash_hello(args: argparse.Namespace) -> int:
    from booth.hardware.flashlink import FlashController

    with FlashController(args.port) as fc:
        info = fc.info
        st = fc.status()
        ready = [c for i, c in enumerate(CHANNELS) if st.ready_mask >> i & 1]
        print(f"flash controller on {args.port}: firmware "
              f"{'.'.join(map(str, info.firmware))}, protocol {info.version}, "
              f"{info.channels} channels ({', '.join(CHANNELS)}); "
              f"ready: {', '.join(ready) or 'none'}")
    return 0


def cmd_flash_fire(args: argparse.Namespace) -> int:
    from booth.hardware.flashlink import FlashController

    with FlashController(args.port) as fc:
        fc.clear_events()
        fc.fire(args.channel)
        ev = fc.wait_fired(args.channel, args.timeout)
        print(f"FIRED {args.channel} at t={ev.t_us} us (controller clock)")
    return 0
