"""Where diffsham keeps what it makes once: catalogs and tabulations.

One resolver, in this order: an explicit argument, then the ``DIFFSHAM_CACHE``
environment variable, then a per-user cache folder (``$XDG_CACHE_HOME/diffsham``, by
default ``~/.cache/diffsham``). Never the working directory.
"""
import os

__all__ = ("resolve_cache_dir", "atomic_tmp_path", "remove_orphan_tmp_files")


def resolve_cache_dir(cache_dir=None):
    """The cache folder to use (not created here).

    Parameters
    ----------
    cache_dir : str or path-like, optional

    Returns
    -------
    path : str, absolute
    """
    if cache_dir is None:
        cache_dir = os.environ.get("DIFFSHAM_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "diffsham")
    return os.path.abspath(os.fspath(cache_dir))


def atomic_tmp_path(path):
    """A temporary name for writing ``path`` atomically (then renamed onto it), which
    says which process writes it (see :func:`remove_orphan_tmp_files`)."""
    return f"{path}.{os.getpid()}.tmp"


def remove_orphan_tmp_files(cache_dir):
    """Remove ``*.tmp`` files of writers that no longer run (killed builds)."""
    if not os.path.isdir(cache_dir):
        return
    for name in os.listdir(cache_dir):
        if not name.endswith(".tmp"):
            continue
        parts = name.split(".")
        pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
        if pid is not None and pid != os.getpid() and _process_alive(pid):
            continue
        try:
            os.remove(os.path.join(cache_dir, name))
        except FileNotFoundError:
            pass


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
