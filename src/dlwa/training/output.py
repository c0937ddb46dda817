"""What every ``dlwa train <model>`` shares: the output folder's rules and safe state files.

A user's trained model is never overwritten by accident. ``--out`` must be a new or
empty folder, unless the user asks to continue training with ``--resume``; then the
folder must hold an unfinished run of the same model kind and configuration. The checks
run before anything is written (:func:`check_output`), so a run that fails on bad data
leaves no trace in the target folder, and training state is replaced atomically
(:func:`save_state`): an interrupted save leaves the previous state intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

CONFIG_FILE = "config.json"  # dlwa.checkpoints.CONFIG_FILE, without importing it


class OutputFolderError(ValueError):
    """``--out`` cannot be used as asked; the message says why and what to do instead."""


def check_output(out: str | os.PathLike[str], *, kind: str, state_file: str,
                 resume: bool, force: bool = False) -> Path:
    """Check that training may write into ``out``; writes nothing.

    Args:
        out: The ``--out`` folder.
        kind: The model kind being trained, e.g. ``"ddsp"``.
        state_file: The name of the training-state file that marks an unfinished run.
        resume: The user asked to continue the run in ``out``.
        force: The user asked to replace the dlwa model or run in ``out`` (see
            :func:`fresh_output`); a folder of other files is still refused.

    Returns:
        ``out`` as a Path.

    Raises:
        OutputFolderError: ``out`` is a file; holds a model or other files and ``resume``
            is False; or ``resume`` is True and there is no run of this kind to continue.
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"--out {path} is a file, not a folder: give a new folder name")
    contents = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    saved_kind = _saved_kind(path)
    if saved_kind is not None and saved_kind != kind:
        raise OutputFolderError(
            f"--out {path} holds a '{saved_kind}' model, not a {kind} one; it is left as it "
            "is: choose a new folder for --out")
    if resume and force:
        raise OutputFolderError("--resume continues the run in --out and --force replaces "
                                "it: give one of them")
    if force:
        if contents and saved_kind is None and not (path / state_file).is_file():
            shown = ", ".join(contents[:3]) + (", ..." if len(contents) > 3 else "")
            raise OutputFolderError(
                f"--force: {path} holds no dlwa model or run ({shown}) and is left as it "
                "is: choose a new or empty folder")
        return path
    if not resume:
        if saved_kind is not None:
            raise OutputFolderError(
                f"--out {path} already holds a trained {kind} model and is never "
                "overwritten: choose a new folder for --out, add --resume to continue "
                "its training, or --force to replace it")
        if (path / state_file).is_file():
            raise OutputFolderError(
                f"--out {path} holds an unfinished {kind} run and is never overwritten: "
                "choose a new folder for --out, add --resume to continue its training, or "
                "--force to replace it")
        if contents:
            shown = ", ".join(contents[:3]) + (", ..." if len(contents) > 3 else "")
            raise OutputFolderError(
                f"--out {path} is not empty ({shown}): choose a new or empty folder")
        return path
    if not contents:
        raise OutputFolderError(
            f"--resume: there is no run to continue in {path} (it is "
            f"{'empty' if path.is_dir() else 'missing'}): leave out --resume to start one")
    if not (path / state_file).is_file():
        what = f"a finished {kind} model" if saved_kind else "no dlwa training run"
        raise OutputFolderError(
            f"--resume: {path} holds {what}, without the training state ({state_file}) "
            "needed to continue: choose a new folder for --out")
    return path


@contextlib.contextmanager
def removed_on_failure(out: Path, *, resume: bool) -> Iterator[None]:
    """Undo what the body wrote into ``out`` if it raises (e.g. a feature cache written
    before the data turned out unusable). ``out`` was new or empty (``check_output``), so
    all of it is this run's; a resumed run's folder is left as it is."""
    existed = out.exists()
    try:
        yield
    except BaseException:
        if not resume:
            if existed:
                for child in out.iterdir():
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise


@contextlib.contextmanager
def fresh_output(out: Path, *, resume: bool, force: bool) -> Iterator[None]:
    """The body prepares a run in ``out`` (data checks, caches); if it fails, ``out`` is
    left as it was before.

    With ``force`` the old contents (a model or run, see :func:`check_output`) are moved
    aside to a hidden sibling first, put back if the body fails, and deleted when it
    succeeds: a replaced model is gone only once the new run's data has proved usable.
    """
    aside = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    moved = force and out.is_dir() and any(out.iterdir())
    if moved:
        os.replace(out, aside)
    try:
        with removed_on_failure(out, resume=resume):
            yield
    except BaseException:
        if moved:
            shutil.rmtree(out, ignore_errors=True)
            os.replace(aside, out)
        raise
    if moved:
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt inside the block, so a training run that is
    ``kill``-ed (or was started in the background, where Ctrl-C's SIGINT is ignored) saves
    and says how to resume, as Ctrl-C does. Outside the main thread it does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_same_config(saved: Mapping[str, Any], requested: Mapping[str, Any], *,
                      where: str | os.PathLike[str]) -> None:
    """Refuse to resume a run with another model configuration.

    Raises:
        OutputFolderError: naming the first settings that differ.
    """
    differ = sorted(k for k in set(saved) | set(requested) if saved.get(k) != requested.get(k))
    if differ:
        shown = "; ".join(f"{k}: saved {saved.get(k)!r}, asked {requested.get(k)!r}"
                          for k in differ[:3])
        raise OutputFolderError(
            f"--resume: {where} holds a run with another configuration ({shown}): use the "
            "same settings to continue it, or choose a new folder for --out")


def save_state(state: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to ``path`` atomically: a temporary file beside it, then a rename."""
    import torch

    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(data: Any, path: str | os.PathLike[str]) -> None:
    """Write JSON to ``path`` atomically (a temporary file, then a rename)."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def progress_bar(total: int, initial: int = 0, *, unit: str = "step") -> tqdm:
    """A progress bar of training steps (count, rate, ETA to ``total``) on stderr.

    It is hidden when stderr is not a terminal; training logs a progress line at each
    save for logs and library callers.
    """
    return tqdm(total=total, initial=initial, unit=unit, file=sys.stderr, disable=None,
                dynamic_ncols=True, smoothing=0.1)


def beside_bar(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` that clears a progress bar on the terminal before a line and redraws it after."""
    def write(line: str) -> None:
        with tqdm.external_write_mode(file=sys.stderr):
            log(line)
    return write


def _saved_kind(path: Path) -> str | None:
    """The model kind of the checkpoint in ``path``, "unknown" for an unreadable one."""
    config = path / CONFIG_FILE
    if not config.is_file():
        return None
    try:
        kind = json.loads(config.read_text()).get("kind")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return "unknown"
    return kind if isinstance(kind, str) and kind else "unknown"
