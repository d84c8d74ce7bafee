"""``booth calibrate``: fit the lights, the simplified coefficients and the camera response on a
white-sphere capture (:func:`booth.workflows.calibrate_folder`)."""

from __future__ import annotations

import argparse

from booth.commands.shared import (
    out_file,
)
from photometric.errors import InputError


def circle(text: str) -> str:
    """``--circle``, checked by :meth:`photometric.calibration.Circle.parse` when parsed (an
    empty value was taken for no value); kept as text for :func:`calibrate_folder`."""
    from photometric.calibration import Circle

    try:
        Circle.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--circle: ")) from None
    return text


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("calibrate", help="fit lights and coefficients from a sphere capture",
                       parents=[out_file("calibrate", "FILE.yaml")],
                       description="Find the white sphere, fit each flash's direction and "
                       "intensity and the simplified method's coefficients; write YAML.")
    c.add_argument("sphere_dir", metavar="SPHERE_DIR")
    c.add_argument("--circle", metavar="CX,CY,R", type=circle,
                   help="sphere outline in pixels: centre and radius > 0 (skip detection)")
    c.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from booth.workflows import calibrate_folder

    cal = calibrate_folder(args.sphere_dir, args.out, args.circle)
    c = cal.circle
    print(f"sphere at ({c.cx:.1f}, {c.cy:.1f}), radius {c.r:.1f} px")
    for ch in cal.rig.directions:
        d = cal.rig.direction(ch)
        print(f"  {ch:<7} direction [{d[0]:+.4f} {d[1]:+.4f} {d[2]:+.4f}]  "
              f"intensity {cal.rig.intensity(ch):.4f}")
    r = cal.residuals
    print(f"residual on the sphere: lambertian {r['lambertian_mean_deg']:.3f}° mean, "
          f"simplified {r['simplified_mean_deg']:.3f}° mean "
          f"({r['simplified_median_deg']:.3f}° median)")
    print(f"camera response: {cal.response.describe()}"
          + ("" if cal.response_fitted else " (not fitted)"))
    if cal.response_fitted:
        before, after = r["response_rms_srgb"], r["response_rms_fitted"]
        print(f"  sphere's departure from Lambertian (RMS of its code values): "
              f"{before:.5f} ({255 * before:.2f}/255) with sRGB's inverse, "
              f"{after:.5f} ({255 * after:.2f}/255) with the fitted curve")
    for note in cal.notes:
        print(f"  note: {note}")
    print(f"wrote {args.out}")
    return 0
