"""Simulated people: an upper body per person from the ``anny`` parametric human model.

A *person* (a subject id) fixes who sits in the booth: phenotype (gender, age, muscle,
weight, height, proportions and the African / Asian / European mix that MakeHuman's data
exposes), the face's local changes (nose, mouth, chin, cheeks, eyes, ears, brows, forehead,
head shape) and the skin (:mod:`photometric.sim.skin`). A *sitting* is one capture of that
person: the head turned and tilted on the neck, a slight expression (ARKit facial actions)
and a small shift, as a real sitter moves between shots. :func:`mesh` gives the triangles:
head, neck, shoulders and chest (anny's whole body, posed by its skeleton, arms lowered from
its A-pose and cut below the chest), the head part painted in its UV layout
(:func:`template`), the rest labelled ``BODY``.

This is the only module of ``photometric`` that imports torch (through anny), and only when
a mesh is built: the rest stays numpy and numba. anny's first model build takes about a
two minutes (3.7 GB of memory at its peak); ``python -m photometric.warmup`` pays it at
install, and the built model is kept in :func:`cache_dir` (about 290 MB; anny's intermediate
files, about 900 MB, are removed).

Distributions: phenotypes come from anny's own ``SimpleShapeDistribution`` (height, weight,
muscle and proportions conditioned on age and sex, calibrated on WHO growth data), with
ages ``AGES`` (10 to 85 years); skin types I-VI equally often, the ethnic mix a Dirichlet
draw leaning toward the groups where that type is common. Local changes are small Gaussian draws
(clipped), mirrored left/right with a little asymmetry: at their extremes anny's local
changes give egg-shaped heads and eyes out of their sockets, so the head-shape ones are
drawn tighter still.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from photometric.errors import InputError

#: Face-related local changes (anny has 256, most for the body); the prefix decides the
#: spread of its draw (standard deviation, clip), head shape the tightest.
_LOCAL_SPREAD: dict[str, tuple[float, float]] = {
    "nose": (0.35, 0.8), "mouth": (0.3, 0.7), "chin": (0.3, 0.7), "cheek": (0.3, 0.7),
    "eye": (0.25, 0.6), "eyebrows": (0.3, 0.7), "ear": (0.35, 0.8), "forehead": (0.25, 0.6),
    "head": (0.15, 0.35), "neck": (0.2, 0.5),
}

#: Facial actions a sitter shows a little of between shots (ARKit names), and how much at
#: most: a hint of a smile, raised brows, a slightly open jaw, a glance. Not a grimace.
_EXPRESSIONS: dict[str, float] = {
    "mouthSmileLeft": 0.45, "mouthSmileRight": 0.45, "jawOpen": 0.15, "browInnerUp": 0.4,
    "browOuterUpLeft": 0.3, "browOuterUpRight": 0.3, "mouthPucker": 0.2, "cheekSquintLeft": 0.2,
    "cheekSquintRight": 0.2, "eyeLookUpLeft": 0.15, "eyeLookUpRight": 0.15,
    "eyeLookInLeft": 0.1, "eyeLookInRight": 0.1, "eyeSquintLeft": 0.25,
    "eyeSquintRight": 0.25, "mouthPressLeft": 0.2, "mouthPressRight": 0.2,
}

#: The ages people are drawn from (years, uniformly): children to the elderly.
AGES = (10.0, 85.0)

#: Triangle labels (anny's body-part segmentation): the head's skin, eyeballs and cavities
#: (painted in the head's UV layout), and the rest of the body.
SKIN, EYE, CAVITY, BODY = 0, 1, 2, 3

#: anny's segmentation labels of the head (as anny's own head model takes them, less the
#: eyeballs' backs, which no camera sees and of which anny's head model kept one).
_HEAD_PARTS = ("head", "eye_cavity.R", "eye_cavity.L", "mouth_cavity", "eye_front.L",
               "eye_front.R")

#: The frame the skin is painted in (:mod:`photometric.sim.uvbake` and
#: :mod:`photometric.sim.skin` place features in mm in it: the frame of anny's head model,
#: which the painting was drawn on): where the neutral head's eye midpoint lies, and the rows
#: of its face frame (eye line, eyes-to-mouth up, toward the viewer) there.
PAINT_MID = np.array([-0.323186, 166.11903, 76.509292])
PAINT_FRAME = np.array([[0.999963, 0.005134, -0.006923],
                        [-0.007932, 0.862315, -0.50631],
                        [0.00337, 0.506346, 0.862324]])

#: anny's world (x to the body's left as the camera sees it, y backward, z up, metres)
#: to the booth's subject frame (x right, y up, z toward the camera): a rotation.
_TO_BOOTH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: What of the body is kept: triangles above this far below the eyes (mm, neutral adult).
_CUT_BELOW_EYES = 520.0

#: A sitter's natural head posture against the template's (degrees of pitch): anny's head,
#: as its rest pose holds it, is tilted back, its chin as far forward as its nose tip (the
#: line from the forehead 20 mm above the eyes to the chin leans 15° forward of vertical),
#: so people faced the camera with their chins up. In a natural posture that line is near
#: vertical; 12° down, checked by eye in profile and face-on.
_POSTURE_PITCH = -12.0

#: The arms hang this far below anny's A-pose (degrees, at the shoulder).
_ARMS_DOWN = 38.0

#: How a turn of the head is shared along the neck (neck01, neck02, neck03; the head and
#: everything on it take the whole turn).
_NECK_SHARE = {"neck01": 0.25, "neck02": 0.5, "neck03": 0.75}


#: anny's age parameter against age in years: the anchors of the morphological-age mapping
#: of anny's ``SimpleShapeDistribution`` (anny 0.6.2), which :func:`person` draws ages
#: ``AGES`` through (so 10 to 85 years are about 0.4 to 0.9). MakeHuman's own reading of
#: the parameter (0.5 is 25 years, 1 is 90) does not apply to those draws.
_ANNY_AGE = (0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0)
_YEARS = (0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0)


def years(age: float) -> float:
    """anny's age parameter (0..1) in years (see ``_ANNY_AGE``)."""
    return float(np.interp(age, _ANNY_AGE, _YEARS))


def cache_dir() -> Path:
    """Where the built body model is kept: ``$BOOTH_PEOPLE_CACHE``, else
    ``~/.cache/photometric-booth/anny-body`` (``anny`` beside it held the head-only model of
    earlier versions, and may be removed)."""
    env = os.environ.get("BOOTH_PEOPLE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "photometric-booth" / "anny-body"


def stable_seed(*parts: object) -> int:
    """A stable 64-bit seed from a tuple (Python's hash() of a string changes per run)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")


#: Person ids below this are ``booth simulate people``'s (``--seed`` is 0..2^32-1); the
#: simulated booth's subjects have theirs above (:func:`subject_id`), so the two never meet.
SUBJECT_IDS = 2**32


def subject_id(name: str, seed: int = 0) -> int:
    """The person a subject called ``name`` is in the simulated booth started with
    ``seed``: ``SUBJECT_IDS`` plus a 96-bit digest of the two. One population: every id is
    a person of :func:`person`; none is one of ``simulate people``'s ids, and two names are
    the same person only if their digests collide (about one chance in 10^19 among a
    million subjects)."""
    digest = hashlib.blake2b(f"{int(seed)}\0{name}".encode(), digest_size=12,
                             person=b"booth-subject").digest()
    return SUBJECT_IDS + int.from_bytes(digest, "little")


_lock = threading.Lock()


def is_built() -> bool:
    """Whether the body model has been built on this machine (loading it is then quick)."""
    return any(cache_dir().glob("v*/build_compact_model_data_*.safetensors"))


@lru_cache(maxsize=1)
def model():
    """anny's whole-body model with eyes, every local change, the facial actions and every
    phenotype, built once per process (about a second from the cache; two minutes the first
    time ever)."""
    try:
        import anny
        import torch  # noqa: F401  (anny's dependency; imported here, never at module level)
        from anny.paths import set_anny_cache_path
    except ImportError as exc:  # pragma: no cover - an install without the extra
        raise InputError(
            "simulated people need the 'anny' body model: run 'make' (it installs anny "
            f"without its optional warp-lang) or 'pip install --no-deps anny==0.6.2' ({exc})"
        ) from None
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    set_anny_cache_path(root)
    if not is_built():
        import sys

        print(f"building the simulated people's body model once, in {root} (about two "
              "minutes; 'python -m photometric.warmup' does it at install)", file=sys.stderr,
              flush=True)
    with _lock, warnings.catch_warnings():
        # Without warp-lang anny warns that it skins in torch: fine.
        warnings.simplefilter("ignore")
        m = anny.Anny(rig="makehuman", topology="anny", local_changes="all",
                      facial_actions="all", phenotypes="all")
    _prune(root)
    return m


def _prune(root: Path) -> None:
    """Keep only the compact model anny loads once built; its intermediates are ~700 MB."""
    for sub in root.glob("v*"):
        if any(sub.glob("build_compact_model_data_*.safetensors")):
            for p in [*sub.glob("load_data_*"), *sub.glob("build_model_data_*")]:
                p.unlink(missing_ok=True)
    stray = root / "noncommercial.zip"
    if stray.exists():  # never fetched by the body model; removed if some other use did
        shutil.rmtree(root / "noncommercial", ignore_errors=True)


@dataclass(frozen=True)
class Template:
    """What every head shares: triangles, their UV corners, labels; and the neutral head's
    vertices (mm, in the paint frame: face toward +z, y up), in which
    :mod:`photometric.sim.skin` places features."""

    faces: np.ndarray  # (F, 3) int64 vertex indices, counter-clockwise seen from outside
    uv: np.ndarray  # (T, 2) float32 texture coordinates, v up (the whole body's)
    face_uv: np.ndarray  # (F, 3) int64 indices into uv
    labels: np.ndarray  # (F,) uint8: SKIN, EYE (the visible eyeball) or CAVITY
    neutral: np.ndarray  # (V, 3) float32 mm
    eyes: np.ndarray  # (2, 3) float32 mm: the image-left (-x) and image-right eyes' centres
    mouth: np.ndarray  # (3,) float32 mm: the middle of the lips' parting line
    eye_ids: tuple[np.ndarray, np.ndarray]  # vertex ids of the two eyes' fronts (-x, +x)
    mouth_ids: np.ndarray  # vertex ids where the lips part, at the front


@dataclass(frozen=True)
class Bust:
    """What every upper body shares: anny's vertices ``ids`` kept (head, neck, shoulders,
    chest, upper arms), their triangles (the head's first, as :func:`template` numbers
    them), their UV corners and labels (the head's, then ``BODY``)."""

    ids: np.ndarray  # (V,) int64 anny vertex id of each vertex
    faces: np.ndarray  # (F, 3) int64 into ``ids``
    face_uv: np.ndarray  # (F, 3) int64 into Template.uv
    labels: np.ndarray  # (F,) uint8
    head: np.ndarray  # (Vh,) int64: the bust vertex of each template vertex


def _rows(v: np.ndarray) -> np.ndarray:
    """anny's vertices (metres, its world) in the booth's subject frame, in mm."""
    return np.asarray(v, np.float64) @ _TO_BOOTH.T * 1000.0


def _lips(v: np.ndarray, cav: np.ndarray) -> np.ndarray:
    """The mouth cavity's vertices ``cav`` where the lips part, at the front (of ``v``, in a
    frame with the face toward +z)."""
    lips = cav[np.abs(v[cav, 0]) < 8.0]
    return lips[v[lips, 2] > np.percentile(v[lips, 2], 90)]


def _to_paint(v: np.ndarray, eye_ids, cav: np.ndarray) -> np.ndarray:
    """``v`` (the neutral head, mm) moved rigidly into the paint frame: its eye midpoint to
    ``PAINT_MID``, its face frame to ``PAINT_FRAME``. Twice: the lips are found in a frame
    with the face toward +z, which the first pass gives."""
    for _ in range(2):
        mid, frame = _frame_of(v, eye_ids, _lips(v, cav))
        v = (v - mid) @ frame.T @ PAINT_FRAME + PAINT_MID
    return v


@lru_cache(maxsize=1)
def _topology() -> tuple[Template, Bust]:
    import torch
    from anny.face_segmentation import get_face_segmentation_mask
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = model()
    faces = m.get_triangular_faces().cpu().numpy().astype(np.int64)
    face_uv = m.face_texture_coordinate_indices.cpu().numpy().astype(np.int64)
    uv = m.texture_coordinates.cpu().numpy().astype(np.float32)

    def part(*names: str) -> np.ndarray:
        return get_face_segmentation_mask(m, list(names)).cpu().numpy().astype(bool)

    head = part(*_HEAD_PARTS)
    backs = part("eye_back.L", "eye_back.R")
    labels = np.full(len(faces), BODY, np.uint8)
    labels[head] = SKIN
    labels[part("eye_cavity.L", "eye_cavity.R", "mouth_cavity")] = CAVITY
    # The eyeballs are meshes of their own; the segmentation names only some of their
    # triangles (the two eyes share UVs), so an eye is every head triangle of a connected
    # component that holds a labelled eye front.
    front = part("eye_front.L", "eye_front.R")
    n = int(faces.max()) + 1
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    labels[head & np.isin(comp[faces[:, 0]], np.unique(comp[faces[front, 0]]))] = EYE
    with torch.inference_mode():
        v = _rows(m(phenotype_kwargs={})["vertices"][0].cpu().numpy())
    # The head, numbered on its own, in the paint frame.
    hv = np.unique(faces[head])
    local = np.full(n, -1, np.int64)
    local[hv] = np.arange(len(hv))
    hfaces = local[faces[head]]
    ids = np.unique(hfaces[front[head]])
    hn = v[hv]
    eye_ids = (ids[hn[ids, 0] < 0], ids[hn[ids, 0] > 0])
    cav = np.unique(hfaces[labels[head] == CAVITY].ravel())
    hn = _to_paint(hn, eye_ids, cav)
    eyes = np.stack([hn[i].mean(0) for i in eye_ids])
    lips = _lips(hn, cav)
    tpl = Template(hfaces, uv, face_uv[head], labels[head], hn.astype(np.float32),
                   eyes.astype(np.float32), hn[lips].mean(0).astype(np.float32), eye_ids,
                   lips)
    # The bust: the head, then the body's triangles above the cut (eyeballs' backs never).
    eye_y = v[hv[np.concatenate(eye_ids)], 1].mean()
    keep = ~head & ~backs & (v[faces, 1].min(1) > eye_y - _CUT_BELOW_EYES)
    order = np.concatenate([np.flatnonzero(head), np.flatnonzero(keep)])
    bids = np.concatenate([hv, np.setdiff1d(np.unique(faces[keep]), hv)])
    bl = np.full(n, -1, np.int64)
    bl[bids] = np.arange(len(bids))
    bust = Bust(bids, bl[faces[order]], face_uv[order], labels[order],
                np.arange(len(hv), dtype=np.int64))
    return tpl, bust


def template() -> Template:
    """The head every person shares (:class:`Template`)."""
    return _topology()[0]


def bust() -> Bust:
    """The upper body every person shares (:class:`Bust`)."""
    return _topology()[1]


@dataclass(frozen=True)
class Person:
    """Who sits: fixed by ``id``."""

    id: int
    phenotype: dict[str, float]
    local_changes: dict[str, float]
    skin_seed: int
    fitzpatrick: int = 3  # skin type I-VI (1-6)

    def describe(self) -> str:

        p = self.phenotype
        mix = max(("african", "asian", "caucasian"), key=lambda k: p[k])
        sex = "male" if p["gender"] < 0.5 else "female"
        return (f"person {self.id}: {sex} (gender {p['gender']:.2f}), about "
                f"{years(p['age']):.0f} years (age {p['age']:.2f}), weight {p['weight']:.2f}, "
                f"muscle {p['muscle']:.2f}, mostly {mix} ({p[mix]:.2f}), skin type "
                f"{'I II III IV V VI'.split()[self.fitzpatrick - 1]}")


@dataclass(frozen=True)
class Sitting:
    """One capture of a person: head rotation (degrees: yaw turns the face toward +x,
    pitch tilts it up, roll toward the sitter's right shoulder), shift (mm) and expression."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    expression: dict[str, float] = field(default_factory=dict)


def _local_labels(m) -> list[str]:
    keep = []
    for label in m.local_change_labels:
        stem = label[2:] if label[:2] in ("l-", "r-") else label
        if stem.split("-")[0] in _LOCAL_SPREAD:
            keep.append(label)
    return keep


@lru_cache(maxsize=1)
def _shape_distribution():
    import torch
    from anny.shape_distribution import SimpleShapeDistribution

    m = model()
    ages = torch.distributions.Uniform(torch.tensor(AGES[0], dtype=m.dtype),
                                       torch.tensor(AGES[1], dtype=m.dtype))
    return SimpleShapeDistribution(m, morphological_age_distribution=ages)


def person(pid: int) -> Person:
    """The person with id ``pid`` (any integer): the same id, the same person."""
    import torch

    m = model()
    rng = np.random.default_rng(stable_seed("person", int(pid)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**62)))
        _, drawn = _shape_distribution().sample(1)
    phen = {k: float(v.reshape(-1)[0]) for k, v in drawn.items() if k in m.phenotype_labels}
    # anny draws gender uniformly in [0, 1] (0 male, 1 female) and conditions height, weight
    # and muscle on its side of 0.5; most people would look androgynous. Keep the side,
    # with a little of the blend.
    side = 0.0 if phen["gender"] <= 0.5 else 1.0
    phen["gender"] = float(abs(side - abs(rng.normal(0, 0.08))))
    # Skin types I-VI equally often (a population balanced over the whole range); the
    # ancestry mix leans toward the groups where that type is common.
    fitz = int(rng.integers(1, 7))
    lean = {1: [0.3, 0.5, 2.5], 2: [0.3, 1.0, 2.0], 3: [0.5, 1.8, 1.2], 4: [1.0, 1.8, 0.6],
            5: [2.0, 0.8, 0.4], 6: [2.5, 0.4, 0.3]}[fitz]
    mix = rng.dirichlet(np.asarray(lean) * 3.0)
    phen.update(african=float(mix[0]), asian=float(mix[1]), caucasian=float(mix[2]))
    for k in m.phenotype_labels:
        phen.setdefault(k, 0.5)
    changes: dict[str, float] = {}
    for label in _local_labels(m):
        if label.startswith("r-") and "l-" + label[2:] in changes:
            changes[label] = float(np.clip(changes["l-" + label[2:]] + rng.normal(0, 0.05),
                                           -1, 1))
            continue
        stem = label[2:] if label[:2] in ("l-", "r-") else label
        sd, clip = _LOCAL_SPREAD[stem.split("-")[0]]
        changes[label] = float(np.clip(rng.normal(0.0, sd), -clip, clip))
    return Person(int(pid), phen, changes, int(rng.integers(2**62)), fitz)


#: Expressions a portrait catches (facial actions and how much at most), each with its
#: share of portraits; the rest keep the booth's light expression.
_PORTRAIT_EXPRESSIONS: dict[str, tuple[float, dict[str, float]]] = {
    "smile": (0.3, {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.4,
                    "cheekSquintRight": 0.4}),
    "laugh": (0.1, {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "jawOpen": 0.45,
                    "eyeSquintLeft": 0.5, "eyeSquintRight": 0.5}),
    "open mouth": (0.08, {"jawOpen": 0.6, "mouthFunnel": 0.3}),
    "eyes closed": (0.07, {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}),
    "raised brows": (0.1, {"browInnerUp": 0.9, "browOuterUpLeft": 0.8,
                           "browOuterUpRight": 0.8, "eyeWideLeft": 0.5, "eyeWideRight": 0.5}),
    "frown": (0.05, {"browDownLeft": 0.7, "browDownRight": 0.7, "mouthFrownLeft": 0.5,
                     "mouthFrownRight": 0.5}),
}


def sitting(who: Person, take: int = 0, still: bool = False, portrait: bool = False
            ) -> Sitting:
    """How ``who`` sits for capture ``take``: in the booth a few degrees of turn and tilt,
    up to 10 mm of shift and a light expression; for a ``portrait`` the head turned up to
    ±40°, tilted ±20° and rolled ±15°, and an expression a portrait catches (a smile, a
    laugh, an open mouth, closed eyes, raised brows, a frown) or a light one. ``still``
    gives the neutral, centred pose."""
    if still:
        return Sitting()
    rng = np.random.default_rng(stable_seed("sitting", who.id, int(take)))
    expression = {}
    for name in rng.choice(sorted(_EXPRESSIONS), size=3, replace=False):
        expression[str(name)] = float(rng.uniform(0, _EXPRESSIONS[str(name)]))
    if not portrait:
        return Sitting(yaw=float(rng.normal(0, 4.0)), pitch=float(rng.normal(0, 3.0)),
                       roll=float(rng.normal(0, 2.5)),
                       shift=tuple(float(x) for x in rng.normal(0, [5.0, 5.0, 8.0])),
                       expression=expression)
    rng = np.random.default_rng(stable_seed("portrait sitting", who.id, int(take)))
    names = list(_PORTRAIT_EXPRESSIONS)
    shares = np.array([_PORTRAIT_EXPRESSIONS[n][0] for n in names])
    pick = int(rng.choice(len(names) + 1, p=[*shares, 1.0 - shares.sum()]))
    if pick < len(names):
        strength = rng.uniform(0.5, 1.0)
        for action, most in _PORTRAIT_EXPRESSIONS[names[pick]][1].items():
            expression[action] = float(most * strength)
    return Sitting(yaw=float(np.clip(rng.normal(0, 18.0), -40, 40)),
                   pitch=float(np.clip(rng.normal(0, 8.0), -20, 20)),
                   roll=float(np.clip(rng.normal(0, 6.0), -15, 15)),
                   shift=(0.0, 0.0, 0.0), expression=expression)


@dataclass(frozen=True)
class Mesh:
    """A posed upper body in the booth's subject frame (mm; x right, y up, z toward the
    camera; the origin at the head's centre, between the ears at eye height less 20 mm,
    moved by the sitting's shift)."""

    vertices: np.ndarray  # (V, 3) float64, the bust's vertices
    template: Template
    bust: Bust
    rest: np.ndarray  # (V, 3) float64: the same unposed, upright, the eyes' midpoint at 0

    @property
    def faces(self) -> np.ndarray:
        return self.bust.faces

    @property
    def head(self) -> np.ndarray:
        """The head's vertices, numbered as :func:`template` numbers them."""
        return self.vertices[self.bust.head]


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = R_roll(z) · R_pitch(x) · R_yaw(y), degrees; positive pitch lifts the chin."""
    y, p, r = np.radians([yaw, -pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _frame_of(v: np.ndarray, eye_ids, mouth_ids) -> tuple[np.ndarray, np.ndarray]:
    """(eye midpoint, rows x right / up / toward the viewer) of a face: the eye line and the
    eyes-to-mouth direction."""
    left, right = v[eye_ids[0]].mean(0), v[eye_ids[1]].mean(0)
    mid = 0.5 * (left + right)
    x = right - left
    x /= np.linalg.norm(x)
    up = mid - v[mouth_ids].mean(0)
    up -= (up @ x) * x
    up /= np.linalg.norm(up)
    return mid, np.stack([x, up, np.cross(x, up)])


def _face_frame(v: np.ndarray, tpl: Template) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_frame_of` a head numbered as ``tpl``."""
    return _frame_of(v, tpl.eye_ids, tpl.mouth_ids)


def _turned(rot: np.ndarray, share: float) -> np.ndarray:
    """``share`` of the rotation ``rot`` (same axis, that fraction of its angle)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(Rotation.from_matrix(rot).as_rotvec() * share).as_matrix()


@lru_cache(maxsize=1)
def _bone_groups() -> dict[str, list[int]]:
    """Bone indices per part of the skeleton a sitting moves: the head and all on it, each
    arm from the shoulder down."""
    m = model()
    labels = list(m.bone_labels)
    parent = [int(x) for x in m.bone_parents]

    def below(root: str) -> list[int]:
        r = labels.index(root)
        out = []
        for i in range(len(labels)):
            j = i
            while j >= 0 and j != r:
                j = parent[j] if parent[j] != j else -1
            if j == r:
                out.append(i)
        return out

    return {"head": below("head"), "arm.L": below("upperarm01.L"),
            "arm.R": below("upperarm01.R")}


def mesh(who: Person, pose: Sitting | None = None) -> Mesh:
    """The upper body of ``who`` as they sit in ``pose`` (neutral when None).

    Facing the camera is the sitter's job, not the shape's: some phenotypes and local
    changes tilt anny's head on its neck, so each person's head is first turned on the neck
    to face the camera as the template's does (same eye line, same eyes-to-mouth
    direction) and held as a sitter holds it (``_POSTURE_PITCH``), then ``pose`` turns and
    tilts it, shared along the neck's three bones
    (anny's skinning bends the neck), and the arms hang from the shoulders. The head's
    centre is then placed at the origin, moved by the pose's shift."""
    import torch

    pose = pose or Sitting()
    m = model()
    tpl, bust = _topology()
    unknown = sorted(set(pose.expression) - set(m.facial_action_labels))
    if unknown:
        raise ValueError(f"unknown facial actions {unknown}")
    kw = {"phenotype_kwargs": who.phenotype, "local_changes_kwargs": who.local_changes}
    with torch.inference_mode():
        rest = m(**kw)
        params = m.get_pose_parameterization(rest, "world-orient")
    params = params.clone()  # an inference tensor cannot be edited outside inference mode
    neutral = _rows(rest["vertices"][0].cpu().numpy())[bust.ids]
    mid, frame = _face_frame(neutral[bust.head], tpl)
    _, tpl_frame = _face_frame(tpl.neutral.astype(np.float64), tpl)
    upright = tpl_frame.T @ frame
    # the head's turn, booth frame: the template's posture set right, then the pose
    posture = rotation(0.0, _POSTURE_PITCH, 0.0)
    turn = rotation(pose.yaw, pose.pitch, pose.roll) @ posture @ upright
    # world-orient parameters are each bone's orientation in anny's world: rotate the
    # neck's bones by their share of the turn, the head's whole tree by all of it, and the
    # arms about the body's front-back axis.
    to_anny = _TO_BOOTH.T

    def rotate(bones, rot: np.ndarray) -> None:
        r = torch.as_tensor(to_anny @ rot @ _TO_BOOTH, dtype=params.dtype)
        params[0, bones, :3, :3] = r @ params[0, bones, :3, :3]

    groups = _bone_groups()
    labels = list(m.bone_labels)
    for bone, share in _NECK_SHARE.items():
        rotate([labels.index(bone)], _turned(turn, share))
    rotate(groups["head"], turn)
    for side, sign in (("arm.L", -1.0), ("arm.R", 1.0)):
        rotate(groups[side], rotation(0.0, 0.0, sign * _ARMS_DOWN))
    actions = {k: torch.tensor([v], dtype=m.dtype) for k, v in pose.expression.items()}
    with torch.inference_mode():
        out = m(pose_parameters=params, pose_parameterization="world-orient",
                facial_actions=actions or None, **kw)
    v = _rows(out["vertices"][0].cpu().numpy())[bust.ids]
    # The head's centre, 20 mm below the eyes at the middle of the skull's depth (found on
    # the upright neutral head), carried by the head's turn.
    up = (neutral - mid) @ upright.T
    skull = up[bust.head][:, 1] > -10.0
    hz = up[bust.head][skull, 2]
    centre = np.array([0.0, -20.0, 0.5 * (hz.max() + hz.min())])
    pmid, pframe = _face_frame(v[bust.head], tpl)
    placed = pmid + (pframe.T @ tpl_frame) @ centre
    return Mesh(v - placed + np.asarray(pose.shift), tpl, bust, up)
