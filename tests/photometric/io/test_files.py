"""The file primitives: outputs replaced whole or not at all, folders that keep their mode,
errors that name the file, the one YAML reader's limits."""

import errno
import os

import pytest

from photometric.errors import InputError
from photometric.io import files
from tests.conftest import mode

NAMES = ("a.txt", "b.txt")


def write_outputs(out, text="1", fail_on=None):
    with files.OutputDir(out, "test", NAMES) as stage:
        for name in NAMES:
            if name == fail_on:
                raise OSError(errno.ENOSPC, "No space left on device")
            files.write_text(stage / name, text)


def test_outputs_replace_an_earlier_run_whole_and_keep_the_folders_mode(tmp_path):
    out = tmp_path / "out"
    write_outputs(out, "first")
    assert mode(out) == 0o700 and mode(out / "a.txt") == 0o600
    os.chmod(out, 0o750)
    write_outputs(out, "second")
    assert (out / "a.txt").read_text() == "second" and mode(out) == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no stage left behind



def test_what_a_library_writes_into_a_stage_ends_owner_only(tmp_path):
    """OpenCV, numpy and friends create files by the umask (0644 under 022); an output is
    committed owner-only whatever wrote it, in subfolders too, links left alone."""
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    old = os.umask(0o022)
    try:
        with files.OutputDir(out, "test", (*NAMES, "sub", "link")) as stage:
            (stage / "a.txt").write_text("plain open()")
            (stage / "sub").mkdir()
            (stage / "sub" / "b.txt").write_text("deeper")
            (stage / "link").symlink_to(outside)
    finally:
        os.umask(old)
    assert mode(out / "a.txt") == 0o600 and mode(out / "sub") == 0o700
    assert mode(out / "sub" / "b.txt") == 0o600
    assert mode(outside) == 0o644  # a link's target is not ours to change

def test_a_failure_part_way_leaves_the_earlier_outputs_untouched(tmp_path):
    out = tmp_path / "out"
    write_outputs(out, "first")
    with pytest.raises(OSError):
        write_outputs(out, "second", fail_on="b.txt")
    assert (out / "a.txt").read_text() == "first" and (out / "b.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_users_file_beside_earlier_outputs_is_never_swept_away(tmp_path):
    out = tmp_path / "out"
    write_outputs(out)
    (out / "README.md").write_text("mine")
    (out / "mydata").mkdir()
    with pytest.raises(InputError, match="also holds files it did not make "
                                         r"\(README.md, mydata\)"):
        write_outputs(out, "second")
    assert (out / "README.md").read_text() == "mine" and (out / "a.txt").read_text() == "1"


def test_a_folder_of_another_command_or_the_users_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    with pytest.raises(InputError, match="did not make"):
        write_outputs(out)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_a_symlinked_output_is_written_through(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    os.chmod(target, 0o755)
    link = tmp_path / "link"
    link.symlink_to(target)
    write_outputs(link)
    write_outputs(link, "again")
    assert link.is_symlink() and (target / "a.txt").read_text() == "again"
    assert mode(target) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_make_dir_creates_owner_only_and_leaves_existing_folders_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    made = files.make_dir(shared / "a" / "b")
    assert mode(shared) == 0o1777 and mode(shared / "a") == 0o700 and mode(made) == 0o700
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        files.make_dir(tmp_path / "file" / "sub")


def test_atomic_write_errors_name_the_file_and_leave_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "x.yaml"
    files.write_text(target, "old")

    def full(p):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as err:
        files.atomic_write(target, full)
    assert err.value.filename == str(target) and err.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["x.yaml"]


def test_write_new_never_replaces_and_cleans_up_after_a_failed_write(tmp_path, monkeypatch):
    p = tmp_path / "photo.jpg"
    files.write_new(p, b"first")
    with pytest.raises(FileExistsError):
        files.write_new(p, b"second")
    assert p.read_bytes() == b"first"

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="other.jpg"):
        files.write_new(tmp_path / "other.jpg", b"x")
    monkeypatch.undo()
    assert not (tmp_path / "other.jpg").exists()


BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdef", "bcdefg", strict=True))


@pytest.mark.parametrize("text, message", [
    (BOMB, "too large once its aliases are expanded"),
    ("a: 1\na: 2\n", "key 'a' appears twice"),
    ("[" * 40 + "]" * 40, "nested more than 16 levels deep"),
    ("a: [1\n", "malformed YAML at line 2"),
    ("a: 1\n---\nb: 2\n", "malformed YAML"),
    ("a: !!python/object:os.system x\n", "is refused; expected plain values"),
    ("a: " + "9" * 5000 + "\n", "a value YAML cannot read"),
])
def test_the_yaml_reader_refuses_what_would_hurt(tmp_path, text, message):
    p = tmp_path / "f.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        files.read_yaml(p)
    assert str(err.value).startswith(str(p))


def test_the_yaml_reader_limits_size_and_names_what_is_not_text(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (files.MAX_YAML_BYTES + 1))
    with pytest.raises(InputError, match="larger than 1024 KB"):
        files.read_yaml(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8 text"):
        files.read_yaml(binary)
    with pytest.raises(InputError, match="is a folder"):
        files.read_yaml(tmp_path)


def test_a_killed_runs_stage_is_removed_by_the_next_run(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    orphan = tmp_path / f".out.{dead}-abcd1234.partial"
    live = tmp_path / f".out.{os.getpid()}-efgh5678.partial"  # a run under way: kept
    other = tmp_path / f".other.{dead}-abcd1234.partial"  # another output's: not ours
    for d in (orphan, live, other):
        d.mkdir()
        (d / "a.txt").write_text("half")
    write_outputs(tmp_path / "out")
    assert not orphan.exists() and live.exists() and other.exists()
