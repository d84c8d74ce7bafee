"""Synthetic subjects with exact ground truth, and the simulated booth's light rig.

A subject is a :class:`~photometric.render.Surface`; its normals *are* the ground truth
because every simulated photo is rendered from them. Two kinds:

* a white matte sphere, for calibration;
* faces: simulated people (:mod:`photometric.sim.people`: a head mesh per person from the anny
  parametric human model, skin painted in its UV layout by :mod:`photometric.sim.skin`),
  rasterised under the booth camera's perspective with exact normals, depth, albedo and the
  mesh to cast each flash's shadows. A seed is a person; a take is one sitting of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from photometric import raster
from photometric.lights import CHANNELS, DirectionalLight, Light, LightRig, PointLight, ring_flash
from photometric.render import Occluder, SensorModel, Surface, render


def _direction(azimuth_deg: float, off_axis_deg: float) -> np.ndarray:
    """Unit vector ``off_axis_deg`` from +z, toward image azimuth (0 = right, 90 = up)."""
    a, t = np.radians(azimuth_deg), np.radians(off_axis_deg)
    return np.array([np.sin(t) * np.cos(a), np.sin(t) * np.sin(a), np.cos(t)])


#: The simulated booth's true flashes: near the nominal 30° rig but deliberately a little off
#: in angle and power, the way a real rig is, so that calibration has something to recover.
SIM_RIG = LightRig(
    {
        "center": np.array([0.0, 0.0, 1.0]),
        "left": _direction(181.0, 31.0),
        "right": _direction(-1.5, 29.0),
        "top": _direction(91.0, 32.0),
        "bottom": _direction(268.0, 28.5),
    },
    {"center": 1.0, "left": 0.92, "right": 1.06, "top": 1.0, "bottom": 0.95},
)


@dataclass(frozen=True)
class Booth:
    """Where the simulated flashes are: a rig of directions and powers, and their distance.

    ``distance=None`` makes every flash a distant light (the simplified model is then exact);
    a distance in mm makes them point lights and the ring flash a ring of ``ring_radius`` mm.
    """

    rig: LightRig = field(default_factory=lambda: SIM_RIG)
    distance: float | None = None
    ring_radius: float = 60.0
    ambient: tuple[float, float, float] = (0.04, 0.04, 0.035)

    def lights(self, channel: str) -> list[Light]:
        power = self.rig.intensity(channel)
        if channel == "center":
            return ring_flash(self.distance, self.ring_radius, intensity=power)
        d = self.rig.direction(channel)
        if self.distance is None:
            return [DirectionalLight(tuple(d), power)]
        pos = tuple(float(x) for x in d * self.distance)
        return [PointLight(pos, power, reference_distance=self.distance)]


def capture(
    subject: Surface,
    booth: Booth = Booth(),
    camera: SensorModel = SensorModel(),
    ambient: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Render the five flash photos (and the ambient-only frame when ``ambient``).

    With ``ambient`` the room light adds to every flash photo, as it does in a real booth,
    and the ``ambient`` frame records it alone.
    """
    rng = np.random.default_rng(seed)
    room = booth.ambient if ambient else (0.0, 0.0, 0.0)
    shots = {c: render(subject, booth.lights(c), camera, room, rng) for c in CHANNELS}
    if ambient:
        shots["ambient"] = render(subject, [], camera, room, rng)
    return shots


#: Where a booth operator puts a sitter's face: the median of the face in the ring-flash
#: photo at 18 % of full scale (linear; sRGB code 118), a light meter's mid-grey. Dark and
#: light skin then use the same share of the sensor's range, and the whites of the eyes
#: (three times the skin's albedo) stay below clipping under the side flashes.
METER_TARGET = 0.18


def metered(surface: Surface, booth: Booth = Booth(), camera: SensorModel = SensorModel(),
            target: float = METER_TARGET) -> SensorModel:
    """``camera`` with its gain set so that the subject's median in the ring-flash photo is
    ``target`` of full scale (gain kept within 0.25..4): a person's skin's median where the
    parts are known (an operator exposes for the face, not for black hair or a white
    shirt)."""
    from dataclasses import replace

    from photometric.render import shade
    from photometric.sim import parts

    ring = shade(surface, booth.lights("center"), camera=camera)
    where = surface.mask
    if surface.parts is not None and (surface.parts == parts.SKIN).sum() > 100:
        where = surface.parts == parts.SKIN
    level = float(np.median(ring[where].mean(axis=-1))) if where.any() else 0.0
    gain = target / level if level > 0 else camera.gain
    return replace(camera, gain=float(np.clip(gain, 0.25, 4.0)))


def normals_from_height(h: np.ndarray) -> np.ndarray:
    """Unit normals (camera space, y up) of a height field given in pixel units."""
    d_row, d_col = np.gradient(h.astype(np.float64))
    n = np.stack([-d_col, d_row, np.ones_like(h, dtype=np.float64)], axis=-1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


def sphere(
    size: int = 512, radius: float | None = None, albedo: float = 0.9, radius_mm: float = 50.0
) -> Surface:
    """A white matte sphere centred in a ``size``² image (pixel centres at integer coords)."""
    r = radius if radius is not None else 0.4 * size
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = (cols - c) / r, -(rows - c) / r
    rho2 = x * x + y * y
    mask = rho2 < 1.0
    z = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    normals = np.where(mask[..., None], np.stack([x, y, z], -1), 0.0).astype(np.float32)
    mm = radius_mm / r
    positions = (np.stack([x, y, z], -1) * r * mm).astype(np.float32)
    alb = np.where(mask[..., None], np.float32(albedo), np.float32(0.0)) * np.ones(3, np.float32)
    return Surface(normals, alb.astype(np.float32), mask, positions)


#: Where the booth's camera is: on the view axis, this far (mm) from the head's centre,
#: with a lens that makes a head fill about four fifths of the frame's height.
CAMERA_DISTANCE_MM = 1000.0
_FOCAL_PER_SIDE = 1700.0 / 512.0  # focal length in pixels per pixel of image side


def camera_for(size: int) -> raster.PerspectiveCamera:
    """The booth camera's pinhole model for a ``size``² photo."""
    return raster.PerspectiveCamera(focal_px=_FOCAL_PER_SIDE * size, width=size, height=size)


def face(seed: int = 0, size: int = 512, specular: float = 0.0, take: int = 0,
         still: bool = False, glasses: bool = True) -> Surface:
    """Simulated person ``seed`` as seen by the booth's camera in capture ``take``.

    The person (shape, skin and clothes) is fixed by ``seed``
    (:func:`photometric.sim.people.person`); ``take`` moves the head, shifts it and changes
    the expression a little (:func:`photometric.sim.people.sitting`), ``still`` gives the
    neutral pose. The mesh is rasterised (:mod:`photometric.raster`) under a perspective
    camera ``CAMERA_DISTANCE_MM`` away: per pixel the interpolated smooth normal (toward the
    camera on a surface seen from inside), position, depth, the albedo painted in the
    mesh's UV layout (:mod:`photometric.sim.skin`) or the cloth's, and the part each pixel
    shows; the mesh goes with the surface to cast shadows. ``glasses=False``: a person who
    wears glasses has taken them off (as a photometric-stereo sitting may ask: the solver
    does not model a lens)."""
    from photometric.sim import people

    who = people.person(seed)
    style, grown = grown_hair(seed)
    return sitting_surface(who, people.sitting(who, take, still), person_garment(seed),
                           person_texture(seed), style, None if grown is None else grown[0],
                           glasses_of(seed) if glasses else None, beard_of(seed), size,
                           specular)


def sitting_surface(who, sitting, garment, texture, style, grown, glasses, beard,
                    size: int, specular: float = 0.0,
                    view: tuple[raster.PerspectiveCamera, np.ndarray] | None = None
                    ) -> Surface:
    """Person ``who`` in ``sitting`` with every choice made (the garment, their painted
    ``texture``, hair ``style`` and its ``grown`` shell on their head at rest (None: bald),
    ``glasses`` and ``beard`` styles (None: none)), dressed, their hair, glasses, teeth,
    beard and lashes carried by the pose, rendered by :func:`render_mesh`: the one assembly
    of a person, for :func:`face` and :mod:`photometric.sim.sitter`."""
    from photometric.sim import hair, people

    body = people.mesh(who, sitting)
    rest = body.rest[body.bust.head]  # the upright neutral head, whatever the pose
    worn = None if grown is None else (hair.follow(grown, rest, body.head), style)
    return render_mesh(dress(body, garment), texture, size, specular, garment, worn,
                       view=view, glasses=worn_glasses(glasses, body),
                       teeth=person_teeth(who, rest, body), beard=worn_beard(beard, body),
                       lashes=person_lashes(who, rest, body))


def person_garment(pid: int):
    """Person ``pid``'s garment (:class:`photometric.sim.clothes.Garment`)."""
    from photometric.sim import clothes, people

    return clothes.draw(np.random.default_rng(people.stable_seed("garment", int(pid))))


def person_hair(pid: int, body):
    """Person ``pid``'s hair on ``body`` as it sits (None: bald): their style
    (:func:`photometric.sim.hair.draw`) grown on their rest head along their painted
    hairline, carried by the head's pose."""
    from photometric.sim import hair

    style, grown = grown_hair(pid)
    if grown is None:
        return None
    rest = grown[1]
    return hair.follow(grown[0], rest, body.vertices[body.bust.head]), style


def glasses_of(pid: int):
    """Person ``pid``'s glasses (:class:`photometric.sim.glasses.Glasses`; None: none)."""
    from photometric.sim import glasses, people

    who = people.person(pid)
    return glasses.draw(np.random.default_rng(people.stable_seed("glasses", int(pid))),
                        people.years(who.phenotype["age"]))


def beard_of(pid: int):
    """Person ``pid``'s beard (:class:`photometric.sim.beard.Beard`; None: none), in the
    colour of their hair."""
    from photometric.sim import beard, people, skin

    who = people.person(pid)
    sk = skin.draw(who.skin_seed, who.phenotype, who.fitzpatrick)
    return beard.draw(np.random.default_rng(people.stable_seed("beard", int(pid))),
                      who.phenotype["gender"] < 0.5, people.years(who.phenotype["age"]),
                      sk.hair, sk.grey)


def worn_beard(style, body):
    """``style`` of beard (None: none) grown on ``body`` as it sits."""
    from photometric.sim import beard

    if style is None:
        return None
    return beard.grow(style, body.template, body.vertices[body.bust.head],
                      beard.head_normals(body))


def person_lashes(who, rest_head: np.ndarray, body):
    """Person ``who``'s upper lashes on ``body`` as it sits (their hair's colour; longer for
    women, as mascara and nature have it)."""
    from photometric.sim import lashes, people, skin

    sk = skin.draw(who.skin_seed, who.phenotype, who.fitzpatrick)
    length = 9.0 if who.phenotype["gender"] > 0.5 else 7.0
    return lashes.grow(people.template(), rest_head, body.vertices[body.bust.head], sk.hair,
                       length)


def person_teeth(who, rest_head: np.ndarray, body):
    """Person ``who``'s teeth fitted behind their lips on their rest head and carried by
    ``body``'s pose (the lower arch by the jaw)."""
    from photometric.sim import people, teeth

    tpl = people.template()
    mouth = rest_head[tpl.mouth_ids].mean(0)
    eyes = [rest_head[i].mean(0) for i in tpl.eye_ids]
    fitted = teeth.fit(rest_head, mouth, float(np.linalg.norm(eyes[1] - eyes[0])),
                       people.stable_seed("teeth", int(who.id)))
    return teeth.follow(fitted, rest_head, body.vertices[body.bust.head], mouth)


def worn_glasses(style, body):
    """``style`` of glasses (None: none) fitted to ``body``'s head at rest and carried by its
    pose (a :class:`photometric.sim.glasses.Pair` and the style)."""
    from photometric.sim import glasses, people

    if style is None:
        return None
    rest = body.rest[body.bust.head]
    pair = glasses.fit(style, rest, people.template().eye_ids)
    return glasses.follow(pair, rest, body.vertices[body.bust.head]), style


@lru_cache(maxsize=4)
def grown_hair(pid: int):
    """Person ``pid``'s hairstyle, and their hair grown on their rest head with that rest
    head (None for a bald style)."""
    from photometric.sim import hair, people, skin

    who = people.person(pid)
    sk = skin.draw(who.skin_seed, who.phenotype, who.fitzpatrick)
    style = hair.draw(np.random.default_rng(people.stable_seed("hair", int(pid))),
                      who.phenotype["gender"] > 0.5, sk.baldness > 0.5, sk.hair, sk.grey)
    rest = people.mesh(who).rest[people.bust().head]
    grown = hair.grow(rest, style, sk.hairline, sk.recession, sk.sideburn)
    if grown is None:
        return style, None
    return style, (hair.outward(grown, hair.head_centre(rest)), rest)


@lru_cache(maxsize=4)
def person_texture(pid: int):
    """Person ``pid``'s skin texture (kept for their next takes)."""
    from photometric.sim import paint, people, skin

    who = people.person(pid)
    return paint.paint(people.template(), skin.draw(who.skin_seed, who.phenotype,
                                                    who.fitzpatrick))


def dress(body, garment):
    """``body`` (:class:`photometric.sim.people.Mesh`) with the cloth of ``garment`` standing
    off its skin (:func:`photometric.sim.clothes.displacement`)."""
    from dataclasses import replace

    from photometric.sim import clothes

    where = clothes.neck(body.rest, body.bust.head)
    off = clothes.displacement(body.rest, garment, where)
    normals = raster.vertex_normals(body.vertices, body.faces)
    return replace(body, vertices=body.vertices + normals * off[:, None])


def render_mesh(body, texture, size: int, specular: float = 0.0, garment=None,
                hair=None, view: tuple[raster.PerspectiveCamera, np.ndarray] | None = None,
                glasses=None, teeth=None, beard=None, lashes=None) -> Surface:
    """An upper body (:class:`photometric.sim.people.Mesh`) with its ``texture``
    (``paint.Texture``), ``garment``, ``hair`` (a posed ``hair.Hair`` and its
    ``Hairstyle``; None: none) and ``glasses`` (a posed ``glasses.Pair`` and its
    ``Glasses``; None: none), ``teeth`` (posed ``teeth.Teeth``), ``beard`` (a posed
    ``beard.Shell``) and ``lashes`` (a posed ``lashes.Fringe``) through the booth camera
    (or ``view``: a camera and where it stands in the subject frame, looking down -z), as a
    :class:`Surface` that casts its own shadows, with its parts map."""
    from photometric.sim import clothes, parts, people
    from photometric.sim import hair as hairs

    tpl, bust = body.template, body.bust
    verts, faces = body.vertices, bust.faces
    nb, nf = len(verts), len(faces)
    nh, strands, glass = 0, None, None
    if hair is not None:
        verts = np.concatenate([verts, hair[0].vertices])
        faces = np.concatenate([faces, hair[0].faces + nb])
        nh = len(hair[0].faces)
    # Props after the hair: teeth and a beard (casting shadows: the lips shade the teeth), then
    # lashes and a glasses frame, which cast none (their shadows are thinner than the shadow
    # map's cells, which would cut them into blocks). Each: (vertices, triangles, albedo
    # per vertex, part, per-pixel texture of (barycentrics, triangles) or None).
    casting, clear = [], []
    if teeth is not None:
        casting.append((teeth.vertices, teeth.faces, teeth.albedo, parts.TEETH, None))
    if beard is not None:
        from photometric.sim import beard as beards

        def strands_of(bary: np.ndarray, tri: np.ndarray) -> np.ndarray:
            where = raster.mix(bary, beard.coords, tri)
            return beards.texture(where, beard.seed)

        casting.append((beard.vertices, beard.faces, beard.albedo, parts.BEARD, strands_of))
    if lashes is not None:
        clear.append((lashes.vertices, lashes.faces, lashes.albedo, parts.LASHES, None))
    if glasses is not None:
        from photometric.sim import glasses as specs

        frame = glasses[0].frame_vertices
        colour = np.broadcast_to(np.asarray(specs.COLOURS[glasses[1].colour], np.float32),
                                 (len(frame), 3))
        clear.append((frame, glasses[0].frame_faces, colour, parts.GLASSES, None))
    props: list[tuple[int, int, np.ndarray, int, object]] = []  # first triangle, vertex, ...
    occluder = None
    for group in (casting, clear):
        for pv, pf, colours, part, texture_of in group:
            props.append((len(faces), len(verts), colours, part, texture_of))
            faces = np.concatenate([faces, pf + len(verts)])
            verts = np.concatenate([verts, pv])
        if occluder is None:  # the body, hair and casting props: what shadows the photos
            occluder = Occluder(verts, faces, map_size=max(256, size))
    cam, eye = view if view is not None else (camera_for(size),
                                              np.array([0.0, 0.0, CAMERA_DISTANCE_MM]))
    frags = raster.rasterize(verts - eye, faces, cam)
    m = frags.mask
    # Positions and normals in one pass over the covered pixels.
    both = raster.interpolate(frags, faces, np.concatenate(
        [verts, raster.vertex_normals(verts, faces)], axis=1))
    positions, normals = both[..., :3], np.zeros((*m.shape, 3), np.float32)
    px = np.flatnonzero(m.ravel())  # the covered pixels: the work is done on them alone
    covered = both.reshape(-1, 6)[px]
    n = covered[:, 3:]
    length = np.sqrt(np.einsum("pk,pk->p", n, n))
    n = np.divide(n, length[:, None], out=np.zeros_like(n), where=length[:, None] > 0)
    # A surface seen from inside (the mouth's or a socket's far wall, the inside of a
    # curtain of hair) faces the camera.
    n[np.einsum("pk,pk->p", n, eye.astype(np.float32) - covered[:, :3]) < 0] *= -1.0
    normals.reshape(-1, 3)[px] = n
    face_ids = frags.face[m]
    on_body = face_ids < nf
    bpx, bface = px[on_body], face_ids[on_body]
    bary_m = frags.bary[m]  # the covered pixels' barycentrics, taken once
    uv = raster.mix(bary_m[on_body], tpl.uv, bust.face_uv[bface])
    labels = bust.labels[bface]
    albedo = np.zeros((m.size, 3), np.float32)
    albedo[bpx] = texture.sample(uv, labels)
    flat = np.zeros(m.size, np.uint8)
    flat[bpx] = texture.part(uv, labels)
    # Skin below the jaw (a line from the chin back to 45 mm below the eyes at the neck's
    # axis) is the neck; cloth covers what lies below the garment's neckline.
    bary = bary_m[on_body]
    rest = raster.mix(bary, body.rest, bust.faces[bface])
    where = clothes.neck(body.rest, bust.head)
    t = np.clip((where.chin_z - rest[:, 2]) / max(where.chin_z - where.axis_z, 1.0), 0, 1)
    jaw = where.chin_y + t * (-45.0 - where.chin_y)
    flat[bpx[(flat[bpx] == parts.SKIN) & (rest[:, 1] < jaw - 4.0)]] = parts.NECK
    if garment is not None:
        cover = (clothes.neckline(rest, garment, where) > 0.0) & (labels != people.EYE)
        albedo[bpx[cover]] = clothes.albedo(rest[cover], garment)
        flat[bpx[cover]] = parts.CLOTHES
    on_hair = (face_ids >= nf) & (face_ids < nf + nh)
    if hair is not None:
        hpx, hface = px[on_hair], face_ids[on_hair] - nf
        coords = raster.mix(bary_m[on_hair], hair[0].coords, hair[0].faces[hface])
        albedo[hpx] = hairs.albedo(coords, hair[1])
        flat[hpx] = parts.HAIR
        strands = np.zeros((m.size, 3), np.float32)
        strands[hpx] = hairs.strands(hair[0], hface)
    ends = [p[0] for p in props[1:]] + [len(faces)] * bool(props)
    for (first, base, colours, part, texture_of), end in zip(props, ends, strict=True):
        on = (face_ids >= first) & (face_ids < end)
        tri = faces[face_ids[on]] - base
        albedo[px[on]] = raster.mix(bary_m[on], colours, tri)
        if texture_of is not None:
            albedo[px[on]] *= texture_of(bary_m[on], tri)[:, None]
        flat[px[on]] = part
    _brow_layer(normals.reshape(-1, 3), bpx[flat[bpx] == parts.BROWS],
                rest[flat[bpx] == parts.BROWS], body)
    if glasses is not None:
        glass = _lenses(glasses[0], eye, cam, frags, albedo, flat, glasses[1].tint)
    depth = np.where(m, frags.depth, np.float32(np.nan)).astype(np.float32)
    return Surface(normals.astype(np.float32), albedo.reshape(*m.shape, 3), m,
                   positions.astype(np.float32), specular=specular, occluder=occluder,
                   depth=depth, parts=flat.reshape(m.shape), glass=glass,
                   strands=None if strands is None else strands.reshape(*m.shape, 3))


#: The brows' hairs as a normal-mapped layer: ridges this far apart (mm) across the hairs,
#: which run outward and a little up, tilting the normal by up to this much (radians).
_BROW_PITCH, _BROW_TILT = 1.6, 0.3


def _brow_layer(normals: np.ndarray, idx: np.ndarray, rest: np.ndarray, body) -> None:
    """Tilt the (flat) ``normals`` at pixels ``idx`` (the brows), whose rest positions are
    ``rest``, across the brow's hairs: a layer of ridges as the hairs lie on the skin, in the
    truth as in the photos (the photos are shaded from these normals)."""
    if len(idx) == 0:
        return
    from photometric.sim import hair as hairs

    head = body.bust.head
    move = hairs.rigid(body.rest[head], body.vertices[head])
    side = np.where(rest[:, 0] >= 0, 1.0, -1.0)
    across = np.stack([-0.35 * side, np.ones_like(side), np.zeros_like(side)], 1)
    across /= np.linalg.norm(across, axis=1, keepdims=True)
    across = move(across) - move(np.zeros((1, 3)))  # the head's turn, no shift
    # Where across the hairs each pixel lies, wavering as hairs do.
    wobble = 0.5 * np.sin(rest[:, 0] * 0.9) + 0.3 * np.sin(rest[:, 0] * 2.3 + rest[:, 1])
    phase = 2 * np.pi * (np.einsum("ij,ij->i", rest[:, :2], np.stack(
        [-0.35 * side, np.ones_like(side)], 1)) / _BROW_PITCH + wobble)
    n = normals[idx].astype(np.float64)
    a = across - np.einsum("ij,ij->i", across, n)[:, None] * n
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    tilted = n + (_BROW_TILT * np.cos(phase))[:, None] * a
    normals[idx] = tilted / np.linalg.norm(tilted, axis=1, keepdims=True)


def _lenses(pair, eye: np.ndarray, cam, frags, albedo: np.ndarray, flat: np.ndarray,
            tint) -> np.ndarray | None:
    """The lenses of ``pair`` in front of what ``frags`` found: marks them ``LENS`` in the
    flat parts map (not over the frame), dims the flat ``albedo`` behind them by the lens's
    transmission and ``tint``, and gives their normals (H, W, 3), toward the camera (None
    where no lens is in view)."""
    from photometric.sim import glasses as specs
    from photometric.sim import parts

    lens = raster.rasterize(pair.lens_vertices - eye, pair.lens_faces, cam)
    over = lens.mask & frags.mask & (lens.depth < frags.depth) & (
        flat.reshape(lens.mask.shape) != parts.GLASSES)
    if not over.any():
        return None
    n = raster.interpolate(lens, pair.lens_faces,
                           raster.vertex_normals(pair.lens_vertices, pair.lens_faces))
    pos = raster.interpolate(lens, pair.lens_faces, pair.lens_vertices)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    away = np.einsum("...k,...k->...", n, eye - pos) < 0
    n[away] *= -1.0
    n[~over] = 0.0
    idx = np.flatnonzero(over.ravel())
    albedo[idx] *= specs.TRANSMISSION * np.asarray(tint, np.float32)
    flat[idx] = parts.LENS
    return n.astype(np.float32)


def lit_bits(surface: Surface, booth: Booth = Booth()) -> np.ndarray:
    """(H, W) uint8: bit k set where flash ``CHANNELS[k]`` lights the surface (faces it and
    is not hidden from it by the subject itself), bit 0 the ring flash."""
    from photometric.render import irradiance

    bits = np.zeros(surface.shape, np.uint8)
    for k, channel in enumerate(CHANNELS):
        any_light = np.zeros(surface.shape, bool)
        for light in booth.lights(channel):
            e, _, _ = irradiance(surface, light)
            seen = surface.lit(light)
            any_light |= (e > 0) if seen is None else ((e > 0) & seen)
        bits |= np.where(any_light & surface.mask, np.uint8(1 << k), np.uint8(0))
    return bits


def truth(surface: Surface, booth: Booth = Booth()) -> dict[str, np.ndarray]:
    """A subject's ground truth as the arrays written to a capture's ``truth/``:
    ``normals`` (H, W, 3) float32 unit vectors (zero outside the mask), ``mask`` (H, W) bool,
    ``depth`` (H, W) float32 mm along the view axis from the camera (NaN outside the mask;
    an orthographic subject is placed ``CAMERA_DISTANCE_MM`` away), ``albedo`` (H, W, 3)
    float32 linear reflectance, ``lit`` (H, W) uint8 the flashes that light each pixel
    (:func:`lit_bits`, under ``booth``'s flashes), and for a person ``parts`` (H, W) uint8
    what each pixel shows (:mod:`photometric.sim.parts`)."""
    depth = surface.depth
    if depth is None:
        z = surface.positions[..., 2] if surface.positions is not None else 0.0
        depth = np.where(surface.mask, CAMERA_DISTANCE_MM - z, np.nan).astype(np.float32)
    out = {"normals": surface.normals.astype(np.float32), "mask": surface.mask,
           "depth": depth.astype(np.float32), "albedo": surface.albedo.astype(np.float32),
           "lit": lit_bits(surface, booth)}
    if surface.parts is not None:
        out["parts"] = surface.parts
    return out


def truth_files(surface: Surface, booth: Booth = Booth()) -> dict[str, bytes]:
    """The files of ``truth/`` (relative names): ``normals.npy``, ``mask.png`` (8-bit,
    255 inside), ``depth.npy``, ``albedo.png`` (16-bit linear RGB) and ``lit.png`` (8-bit:
    bit k set where flash k of ``CHANNELS`` lights the pixel, cast shadows included)."""
    import io

    import cv2

    t = truth(surface, booth)

    def npy(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        np.save(buf, a)
        return buf.getvalue()

    def png(a: np.ndarray) -> bytes:
        if a.ndim == 3:
            a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".png", a)
        if not ok:  # pragma: no cover - OpenCV encodes any uint8/uint16 array
            raise OSError("could not encode a truth image")
        return data.tobytes()

    albedo16 = np.rint(np.clip(t["albedo"], 0.0, 1.0) * 65535).astype(np.uint16)
    files = {"truth/normals.npy": npy(t["normals"]),
             "truth/mask.png": png(t["mask"].astype(np.uint8) * 255),
             "truth/depth.npy": npy(t["depth"]),
             "truth/albedo.png": png(albedo16),
             "truth/lit.png": png(t["lit"])}
    if "parts" in t:
        files["truth/parts.png"] = png(t["parts"])
    return files


def subject(kind: str, seed: int = 0, size: int = 512, specular: float = 0.0,
            take: int = 0) -> Surface:
    """A subject by name: ``sphere`` or ``face``."""
    if kind == "sphere":
        return sphere(size)
    if kind == "face":
        return face(seed, size, specular, take)
    raise ValueError(f"unknown subject kind {kind!r}; expected 'face' or 'sphere'")
