"""Packed training data and its batches: the same samples as the export's files, and the
device-side flip the same as the export's flip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from learning import augment, pack, preprocess
from learning.loader import _PARTS, Batches, flip_batch, gather
from learning.sample_format import read_manifest, read_sample
from photometric.errors import InputError


def test_packing_holds_the_export_s_samples(dataset):
    split = pack.open_split(dataset, "train")
    manifest = read_manifest(dataset / "manifest.json")
    files = [s["file"] for s in manifest["samples"] if s["split"] == "train"]
    assert split.files == files and len(split) == len(files) > 0
    assert split.in_channels == 5 and split.size == 64
    for i, f in enumerate(files):
        s = read_sample(dataset / "samples" / f, "points")
        np.testing.assert_array_equal(split.image[i], np.rint(s.image * 255).astype(np.uint8))
        np.testing.assert_array_equal(split.normals[i], s.normals.astype(np.float16))
        np.testing.assert_array_equal(split.channels[i], s.channels.astype(np.float16))
        np.testing.assert_array_equal(split.mask[i], s.mask)
    assert pack.is_current(dataset)
    # the packed photos are the sitters': owner-only, as every file the booth writes of them
    for path in (dataset / pack.FOLDER).rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    # A manifest written again with nothing changed but its date is still current; a
    # changed one (a re-run of the export that changed a sample) is packed again.
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["created"] = "2030-01-01T00:00:00+00:00"
    (dataset / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert pack.is_current(dataset)
    manifest["samples"][0]["checksum"] = "0" * 64
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    assert not pack.is_current(dataset)
    with pytest.raises(InputError, match="older than"):
        pack.open_split(dataset, "train", repack=False)
    assert len(pack.open_split(dataset, "train")) == len(files)
    assert not list(dataset.glob(".packed*"))  # no stage left behind


def test_a_dataset_mixing_sizes_is_refused(dataset):
    manifest = read_manifest(dataset / "manifest.json")
    manifest["settings"]["size"] = 128
    import json

    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="mixes sizes or encodings"):
        pack.open_split(dataset, "train")
    assert not (dataset / "packed").exists() and not list(dataset.glob(".packed*"))


def test_the_parts_are_the_export_s():
    assert _PARTS == preprocess.PARTS


def test_the_loader_s_flip_is_the_export_s_flip(dataset):
    split = pack.open_split(dataset, "train")
    s = read_sample(dataset / "samples" / split.files[0], "points")
    want = augment.flip(s)
    batches = Batches(split, batch=1)
    got = batches.to_device(gather(batches.packed, [0]))
    image, channels, normals, mask = flip_batch(
        got["input"][:, :3], got["input"][:, 3:], got["normals"], got["mask"],
        torch.tensor([True]), batches.mirror)
    np.testing.assert_array_equal(np.rint(image[0].permute(1, 2, 0).numpy() * 255),
                                  np.rint(want.image * 255))
    np.testing.assert_array_equal(mask[0, 0].numpy(), want.mask)
    np.testing.assert_allclose(normals[0].permute(1, 2, 0).numpy(), want.normals, atol=1e-3)
    c = channels[0].permute(1, 2, 0).numpy()
    # The part labels: left and right swapped; the export re-draws the landmarks' discs from
    # the mirrored points, which may round a disc's centre one pixel over.
    same = np.isclose(c, want.channels, atol=2e-3).all(axis=-1)
    assert same.mean() > 0.99
    left_brow = want.channels[..., 0] == pytest.approx(2 / 9, abs=1e-3)
    assert np.isclose(c[..., 0][left_brow & same], 2 / 9, atol=2e-3).all()


def test_the_loader_s_flip_of_a_dense_sample(tmp_path, store_sources):
    """The dense encoding (part map filled from the mesh, depth interpolated over it): the
    device flip agrees with the export's re-made channels on nearly every pixel (the hulls'
    rasterised edges are not mirror-exact)."""
    from learning import exporter as export

    face = [s for s in store_sources[0] if s.subject == "p2"]
    ds = tmp_path / "dense"
    assert export.export(face, ds, export.Settings(size=64, encoding="dense",
                                                   split=(1.0, 0.0, 0.0))).ok
    split = pack.open_split(ds, "train")
    want = augment.flip(read_sample(ds / "samples" / split.files[0], "dense"))
    batches = Batches(split, batch=1)
    got = batches.to_device(gather(batches.packed, [0]))
    _, channels, normals, mask = flip_batch(
        got["input"][:, :3], got["input"][:, 3:], got["normals"], got["mask"],
        torch.tensor([True]), batches.mirror)
    np.testing.assert_array_equal(mask[0, 0].numpy(), want.mask)
    c = channels[0].permute(1, 2, 0).numpy()
    labels_agree = np.isclose(c[..., 0], want.channels[..., 0], atol=2e-3).mean()
    depth_close = np.isclose(c[..., 1], want.channels[..., 1], atol=0.02).mean()
    print(f"dense flip: part labels agree on {100 * labels_agree:.2f} %, depth within 0.02 "
          f"on {100 * depth_close:.2f} % of pixels")
    assert labels_agree > 0.97 and depth_close > 0.97


def test_batches_are_seeded_sharded_and_augmented(dataset):
    split = pack.open_split(dataset, "train")
    a = [b["index"].tolist() for b in Batches(split, 1, shuffle=True, seed=3)]
    b = [b["index"].tolist() for b in Batches(split, 1, shuffle=True, seed=3)]
    assert a == b and sorted(sum(a, [])) == list(range(len(split)))
    half = [x for r in range(2) for x in
            sum((b["index"].tolist() for b in Batches(split, 1, rank=r, world=2)), [])]
    assert sorted(set(half)) == list(range(len(split)))
    loader = Batches(split, 4, augment=True, seed=1)
    loader.set_epoch(0)
    first = next(iter(loader))
    again = next(iter(loader))
    torch.testing.assert_close(first["input"], again["input"])  # same epoch, same draws
    assert first["input"].shape[1:] == (5, 64, 64) and first["input"].dtype == torch.float32
    assert float(first["input"][:, :3].max()) <= 1.0
    n = first["normals"].permute(0, 2, 3, 1)[first["mask"][:, 0]]
    torch.testing.assert_close(n.norm(dim=-1), torch.ones(len(n)), atol=2e-3, rtol=0)
