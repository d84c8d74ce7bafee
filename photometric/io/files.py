"""File primitives every package uses: nothing a user has is lost because a write failed.

* :func:`atomic_write` - write beside, fsync, rename over, fsync the folder: a file is the old
  one or the new one, never half of each.
* :func:`write_new` - create a file that must not exist yet (camera originals), fsynced.
* :func:`make_dir` - folders are created owner-only; a folder that already exists keeps its
  mode (a shared ``1777`` folder stays shared); one we cannot write is refused up front.
* :class:`OutputDir` - a command's output folder, built in a sibling staging folder and
  swapped in whole, so a failure part-way leaves the previous outputs exactly as they were;
  an existing folder that is neither empty nor made by the same command is refused.
* :func:`check_output_file` - the same rule for a command's single output file;
  :func:`replace_files` replaces several files together or not at all.
* :func:`read_yaml` - the one YAML reader: size, depth and alias limits (no "billion laughs"),
  duplicate keys refused, then validated against a pydantic schema when one is given.

This lives in ``photometric``, the lowest layer, so ``booth`` and ``learning`` share one copy.
Every error is an :class:`InputError` or an ``OSError`` that names the file it failed on.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from photometric.errors import InputError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
#: Written into every output folder a command makes; its ``command`` says which one.
MARKER = ".booth-output.yaml"
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 16
MAX_YAML_NODES = 50_000

T = TypeVar("T")


# -- errors that name the file ------------------------------------------------------------
def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` again, naming ``path`` (a full disk's ENOSPC from ``write`` names nothing)."""
    if exc.filename and str(exc.filename) == str(path):
        return exc
    out = OSError(exc.errno, exc.strerror or str(exc), str(path))
    out.__cause__ = exc
    return out


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Any ``OSError`` inside names ``path``, the file the user asked for (not the staged or
    temporary file where the write actually failed)."""
    try:
        yield
    except OSError as exc:
        raise _naming(exc, Path(path)) from exc


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one we may not signal counts as alive: keep its files)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True
    return True


def fsync_dir(path: str | Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def existing_parent(path: str | Path) -> Path:
    """``path`` or its nearest ancestor that exists (where its files would go)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_bytes(path: str | Path) -> int:
    """Free space on the file system that ``path`` is (or would be) on."""
    return shutil.disk_usage(existing_parent(path)).free


def check_free(path: str | Path, need: int, what: str) -> None:
    """Refuse ``what`` up front when the disk under ``path`` has less than ``need`` bytes."""
    free = free_bytes(path)
    if free < need:
        raise OSError(errno.ENOSPC, f"{what} needs about {need / 2**20:.0f} MB, only "
                      f"{free / 2**20:.0f} MB free", str(existing_parent(path)))


# -- folders ------------------------------------------------------------------------------
def make_dir(path: str | Path, mode: int = PRIVATE_DIR) -> Path:
    """Create ``path`` and any missing parents with ``mode`` (owner-only by default).

    Folders that already exist are left exactly as they are: their mode is the user's.
    A file in the way, or a folder this user cannot write into, is an InputError."""
    p = Path(path)
    missing: list[Path] = []
    probe = p
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe == probe.parent:
            break
        probe = probe.parent
    if os.path.lexists(probe) and not probe.is_dir():
        raise InputError(f"{probe}: exists and is not a folder")
    for d in reversed(missing):
        try:
            os.mkdir(d, mode)
        except FileExistsError:
            if not d.is_dir():
                raise InputError(f"{d}: exists and is not a folder") from None
            continue
        except PermissionError:
            raise InputError(f"{d.parent}: you cannot create folders here (permission "
                             "denied); choose a folder you can write") from None
        os.chmod(d, mode)  # ours, just made: mkdir's mode was filtered by the umask
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"{p}: you cannot write into this folder (permission denied); "
                         "choose one you can write")
    return p


# -- files --------------------------------------------------------------------------------
def atomic_write(path: str | Path, write: Callable[[Path], None],
                 mode: int = PRIVATE_FILE) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path`` (created with ``mode``,
    owner-only by default), fsync it, rename it over ``path`` and fsync the folder: a failure
    never leaves a half-written file in place of a good one, and the error names ``path``.

    The temporary (``.NAME.partial.SUFFIX``) keeps ``path``'s suffix so that writers choosing
    a format by extension (OpenCV, numpy) still do the right thing."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        tmp.unlink(missing_ok=True)  # left by a crash
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc.__cause__
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str, mode: int = PRIVATE_FILE) -> Path:
    return atomic_write(path, lambda p: p.write_text(text), mode)


def write_bytes(path: str | Path, data: bytes, mode: int = PRIVATE_FILE) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data), mode)


def write_new(path: str | Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Create ``path`` (never replacing a file), write, fsync. On failure nothing is left
    under ``path`` and the error names it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise _naming(exc, path) from None
    os.close(fd)


# -- a command's outputs ------------------------------------------------------------------
def _marker(folder: Path) -> dict:
    try:
        data = read_yaml(folder / MARKER)
    except InputError:  # not a marker we can read: not ours
        return {}
    return data if isinstance(data, dict) else {}


def marker_command(folder: Path) -> str | None:
    """The command whose output ``folder`` is (its marker says), or None."""
    return _marker(folder).get("command")


def _listing(names: Iterable[str], limit: int = 4) -> str:
    """A few of ``names``, for a message."""
    names = sorted(names)
    more = f", … ({len(names)} entries)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_output_dir(path: str | Path, command: str,
                     also_ours: Callable[[Path], bool] | None = None,
                     names: Iterable[str] | None = None,
                     source: str | None = None, force: bool = False) -> Path:
    """The one rule for output folders: refuse a folder that exists and is neither empty nor
    made by ``command`` (its marker file, or ``also_ours(folder)`` for formats that identify
    themselves); an earlier output of ``command`` made from another input than ``source``
    (what the marker recorded) is replaced only with ``force`` (``--force``).

    ``names``: what the command writes there, for a folder it replaces whole; an earlier
    output that now also holds anything else (a note the user put beside the outputs) is
    refused too, even with ``force``, since replacing the folder would lose it."""
    p = Path(path)
    if not os.path.lexists(p):
        return p
    if not p.is_dir():
        raise InputError(f"{p}: exists and is not a folder; give a new or empty folder")
    if not any(p.iterdir()):
        return p
    if marker_command(p) == command or (also_ours is not None and also_ours(p)):
        allowed = None if names is None else {*names, MARKER}
        extra = [] if allowed is None else [e.name for e in p.iterdir()
                                            if e.name not in allowed]
        if extra:
            raise InputError(
                f"{p}: an earlier 'booth {command}' output that also holds files it "
                f"did not make ({_listing(extra)}); replacing it would lose them, so "
                "nothing was changed. Move them out, or give a new or empty folder")
        earlier = _marker(p).get("source")
        if force or source is None or earlier == source:
            return p
        made = f"of {earlier}" if earlier else "of an input it did not record"
        listing = _listing(e.name for e in p.iterdir() if e.name != MARKER)
        raise InputError(f"{p}: holds an earlier 'booth {command}' output {made} ({listing}), "
                         f"not of {source}; nothing was changed. Pass --force to replace it "
                         "whole, or give a new or empty folder")
    raise InputError(f"{p}: already holds files that 'booth {command}' did not make "
                     f"({_listing(e.name for e in p.iterdir())}); nothing was changed. Give a "
                     "new or empty folder")


def write_marker(folder: Path, command: str, **extra: Any) -> None:
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    write_text(folder / MARKER, yaml.safe_dump(
        {"command": command, "created": created, **extra}, sort_keys=False))


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _private_tree(stage: Path) -> None:
    """Everything in a stage owner-only: a command's outputs come from a sitter's photos,
    and libraries that write files themselves (OpenCV, numpy, matplotlib) honour the umask
    (0644 here), not the booth's rule. Links are left alone (never followed)."""
    for root, dirs, files in os.walk(stage):  # (os.walk does not descend into links)
        for names, mode in ((dirs, PRIVATE_DIR), (files, PRIVATE_FILE)):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    os.chmod(path, mode)


class OutputDir:
    """A command's output folder, replaced whole or not at all.

    ``with OutputDir(out, "normals", names) as stage:`` write every output (each one of
    ``names``) into ``stage`` (a sibling, owner-only folder); on success every file in the
    stage is made owner-only, the stage gets the marker and is swapped in for ``out`` in one
    rename, the previous outputs are removed; on any failure the stage is removed and ``out``
    is untouched. An existing ``out`` keeps its mode; an ``out`` that is a symbolic link is
    written through (its target is replaced)."""

    def __init__(self, path: str | Path, command: str, names: Iterable[str],
                 also_ours: Callable[[Path], bool] | None = None,
                 source: str | None = None, force: bool = False):
        self.final = Path(os.path.realpath(path))
        self.command = command
        self.also_ours = also_ours
        self.names = tuple(names)
        self.source, self.force = source, force
        check_output_dir(self.final, command, also_ours, self.names, source, force)
        self.stage: Path | None = None

    def __enter__(self) -> Path:
        parent = make_dir(self.final.parent)
        self._sweep_orphans(parent)
        try:
            self.stage = Path(tempfile.mkdtemp(
                prefix=f".{self.final.name}.{os.getpid()}-", suffix=".partial", dir=parent))
        except OSError as exc:
            raise _naming(exc, self.final) from None
        return self.stage

    def _sweep_orphans(self, parent: Path) -> None:
        """Remove stages of this output that a killed run left (their pid is gone): they may
        hold a sitter's derived data. Ours (same uid) only; a live run's stage is kept."""
        prefix = f".{self.final.name}."
        for e in os.scandir(parent):
            pid = e.name[len(prefix):].split("-", 1)[0]
            if not (e.name.startswith(prefix) and e.name.endswith(".partial") and pid.isdigit()):
                continue
            st = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not pid_alive(int(pid)):
                shutil.rmtree(e.path, ignore_errors=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.stage is not None
        if exc_type is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            return
        try:
            self._commit()
        except BaseException:
            shutil.rmtree(self.stage, ignore_errors=True)
            raise

    def _commit(self) -> None:
        stage, final = self.stage, self.final
        _private_tree(stage)
        write_marker(stage, self.command,
                     **({"source": self.source} if self.source is not None else {}))
        if not os.path.lexists(final):
            os.rename(stage, final)
        else:
            check_output_dir(final, self.command, self.also_ours, self.names,  # still ours
                             self.source, self.force)
            os.chmod(stage, final.stat().st_mode & 0o7777)  # the user's folder keeps its mode
            if not _exchange(stage, final):
                old = final.with_name(f".{final.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.rename(final, old)
                try:
                    os.rename(stage, final)
                except OSError:
                    os.rename(old, final)  # the previous outputs back in place
                    raise
                stage = old
            shutil.rmtree(stage, ignore_errors=True)  # the previous outputs
        fsync_dir(final.parent)


def folder_of_names(folder: Path, names: Iterable[str],
                    required: Callable[[Path], bool] | None = None) -> bool:
    """Whether every entry of ``folder`` is one of ``names`` (the marker file too), and
    ``required(folder)`` holds: how a pre-marker output of a command is recognised."""
    allowed = {*names, MARKER}
    try:
        entries = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return all(n in allowed for n in entries) and (required is None or required(folder))


def _temp(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.stem}.{tag}{path.suffix}")


def replace_files(items: Iterable[tuple[Path, Callable[[Path], None]]],
                  mode: int = PRIVATE_FILE) -> None:
    """Write each ``(path, write)`` and put them all in place, or none of them.

    Each ``write(tmp)`` fills a temporary beside its file (owner-only, fsynced); only when
    every one succeeded are they renamed over their files. Should a rename fail, the files
    already replaced get their earlier contents back (kept as hard links until the end)."""
    items = [(Path(p), w) for p, w in items]
    temps: list[Path] = []
    backups: list[tuple[Path, Path | None]] = []  # (final, backup or None if it was new)
    kept: set[Path] = set()  # backups that could not be put back: never deleted
    try:
        for path, write in items:
            tmp = _temp(path, "partial")
            with naming(path):
                tmp.unlink(missing_ok=True)
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
                temps.append(tmp)
                write(tmp)
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
        for (path, _), tmp in zip(items, temps, strict=True):
            with naming(path):
                backup = None
                if os.path.lexists(path):
                    backup = _temp(path, "previous")
                    backup.unlink(missing_ok=True)
                    os.link(path, backup)
                backups.append((path, backup))
                os.replace(tmp, path)
                fsync_dir(path.parent)
    except BaseException:
        for path, backup in reversed(backups):
            try:
                if backup is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(backup, path)
            except OSError:
                if backup is not None:
                    kept.add(backup)
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        for _, backup in backups:
            if backup is not None and backup not in kept:
                backup.unlink(missing_ok=True)


def check_output_file(path: str | Path, command: str,
                      is_ours: Callable[[Path], bool]) -> Path:
    """Refuse to replace an existing file that ``command`` did not write."""
    p = Path(path)
    if os.path.lexists(p):
        if p.is_dir():
            raise InputError(f"{p}: is a folder; expected a file name")
        if not is_ours(p):
            raise InputError(f"{p}: already exists and was not written by 'booth {command}'; "
                             "nothing was changed. Give a new file name")
    return p


def outputs_distinct(paths: Iterable[str | Path | None]) -> None:
    """Two outputs of one command may not be the same file."""
    seen: dict[str, str] = {}
    for p in paths:
        if p is None:
            continue
        key = os.path.realpath(p)
        if key in seen:
            raise InputError(f"{p}: given twice as an output")
        seen[key] = str(p)


# -- YAML ---------------------------------------------------------------------------------
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_nodes(root: yaml.Node, source: str, max_depth: int, max_nodes: int) -> None:
    """Depth, expanded size (aliases counted each time they are used) and duplicate keys."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            raise InputError(f"{source}: too large once its aliases are expanded (more than "
                             f"{max_nodes} values); expected a small settings file")
        if depth > max_depth:
            raise InputError(f"{source}: nested more than {max_depth} levels deep (line "
                             f"{node.start_mark.line + 1})")
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in keys:
                        raise InputError(f"{source}: key '{k.value}' appears twice (line "
                                         f"{k.start_mark.line + 1})")
                    keys.add(k.value)
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, depth + 1) for v in node.value)


def parse_yaml(text: str, source: str, max_depth: int = MAX_YAML_DEPTH,
               max_nodes: int = MAX_YAML_NODES) -> object:
    """YAML text -> Python data (safe types only), within the limits; errors name ``source``."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source, max_depth, max_nodes)
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:  # a tag: what an unsafe loader would run
        mark = exc.problem_mark
        at = f"line {mark.line + 1}: " if mark is not None else ""
        tag = re.search(r"'(tag:[^']*)'", exc.problem or "")
        raise InputError(f"{source}: {at}the tag {tag.group(1) if tag else ''!r} is refused; "
                         "expected plain values (the booth's YAML never runs code)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise InputError(f"{source}: malformed YAML{at} ({problem})") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply") from None
    except InputError:  # the limits' own (an InputError is a ValueError too)
        raise
    except ValueError as exc:  # a number past Python's int-parsing limit (4300 digits)
        raise InputError(f"{source}: a value YAML cannot read ({exc})") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, schema: type[T] | None = None,
              max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Read and parse a YAML file; with ``schema`` (a pydantic model) validate it too and
    return the model. Every failure is an InputError naming the file (and the field)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder; expected a YAML file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    if len(raw) > max_bytes:
        raise InputError(f"{p}: larger than {max_bytes // 1024} KB; expected a small YAML "
                         "settings file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text; expected a YAML file") from None
    data = parse_yaml(text, str(p))
    if schema is None:
        return data
    from photometric.io.schema import validate  # pydantic only where a schema is asked for

    return validate(schema, data, str(p))
