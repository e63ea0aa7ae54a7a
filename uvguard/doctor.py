"""Doctor: which distributions of an environment lost files to the uv cache.

In symlink mode every installed file except uv's own bookkeeping (`RECORD`,
`INSTALLER`, `REQUESTED`, `direct_url.json`, `uv_cache.json`) and the rewritten
`bin/` scripts is an absolute symlink into `<cache>/archive-v0/<id>/`. Once a
prune or clean removes that entry the links dangle, and the package fails to
import -- or imports as an empty namespace package. The `RECORD` files, which
uv copies rather than links, map each dangling link back to the distribution
that owns it, so `repair` can reinstall exactly those.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from uvguard.errors import OperationFailed, UsageError


@dataclass(frozen=True)
class Distribution:
    """One installed distribution, as its `.dist-info` directory records it."""

    name: str
    version: str
    dist_info: str
    files: tuple[str, ...]  # absolute, normalised paths from RECORD
    url: str | None = None  # PEP 610 direct URL, when not installed from an index
    editable: bool = False

    def requirement(self) -> tuple[str, ...]:
        """The `uv pip install` arguments that put back this exact distribution.

        An editable install is reinstalled from its project directory, a direct
        URL from its URL; only an index install is pinned by name and version.
        """
        if self.editable and self.url and self.url.startswith("file://"):
            return ("--editable", _file_url_path(self.url))
        if self.url:
            return (f"{self.name} @ {self.url}",)
        return (f"{self.name}=={self.version}",)


@dataclass(frozen=True)
class BrokenDistribution:
    distribution: Distribution
    missing: tuple[str, ...]  # dangling links, relative to the environment


@dataclass(frozen=True)
class Diagnosis:
    """The health of one environment."""

    path: str
    distributions: int
    broken: tuple[BrokenDistribution, ...]
    unowned: tuple[str, ...]  # dangling links no RECORD claims (e.g. bin/python)
    into_cache: int  # how many of all the dangling links pointed into the cache
    caches: tuple[str, ...] = ()  # the caches the environment's links lead into, read from the links

    @property
    def healthy(self) -> bool:
        return not self.broken and not self.unowned


def open_environment(path: str | os.PathLike, cwd: str | os.PathLike) -> str:
    """`path` made absolute (from `cwd`), or a UsageError saying why it is not an environment."""
    path = os.path.normpath(os.path.join(cwd, path))
    if not os.path.lexists(path):
        raise UsageError(f"`{path}` does not exist", hint="pass the directory of a virtual environment")
    if not os.path.exists(path):
        raise UsageError(
            f"`{path}` is a symlink to `{os.readlink(path)}`, which no longer exists",
            hint="recreate the environment (`uv venv`, `uv sync`)",
        )
    if not os.path.isfile(os.path.join(path, "pyvenv.cfg")):
        raise UsageError(
            f"`{path}` is not a Python environment (no `pyvenv.cfg` in it)",
            hint="pass the directory of a virtual environment, e.g. `.venv`",
        )
    return path


def site_packages(env_path: str) -> list[str]:
    """The site-packages directories of a venv (POSIX layout, or Windows `Lib`)."""
    found = sorted(str(p) for p in Path(env_path).glob("lib/*/site-packages") if p.is_dir())
    windows = os.path.join(env_path, "Lib", "site-packages")
    return found + ([windows] if os.path.isdir(windows) else [])


def iter_symlinks(root: str) -> Iterator[str]:
    """Every symlink under `root`, never descending into a linked directory.

    A directory we cannot read could hide broken files: that is an error, not "healthy".
    """
    try:
        entries = list(os.scandir(root))
    except OSError as error:
        raise OperationFailed(f"cannot read `{root}`: {error.strerror or error}",
                              hint="run as a user who can read the whole environment") from None
    for entry in entries:
        if entry.is_symlink():
            yield entry.path
        elif entry.is_dir():
            yield from iter_symlinks(entry.path)


def link_target(link: str) -> str:
    """Where a symlink points, as an absolute path (relative links resolved from their directory)."""
    return os.path.normpath(os.path.join(os.path.dirname(link), os.readlink(link)))


def is_inside(path: str, directory: str | os.PathLike) -> bool:
    """Whether `path` lies under `directory`, compared both as written and resolved.

    uv builds links from the cache root made absolute but not resolved, so a
    cache reached through a symlink must match either way.
    """
    directory = os.path.abspath(directory)
    candidates = {(os.path.abspath(path), directory), (os.path.realpath(path), os.path.realpath(directory))}
    return any(p == d or p.startswith(d.rstrip(os.sep) + os.sep) for p, d in candidates)


def distributions(env_path: str) -> list[Distribution]:
    """Every `.dist-info` distribution installed in the environment."""
    found = []
    for directory in site_packages(env_path):
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
                found.append(read_distribution(directory, entry.name))
    return found


def read_distribution(site: str, dist_info: str) -> Distribution:
    # The directory name, not METADATA: METADATA is itself a link that may dangle.
    name, _, version = dist_info[: -len(".dist-info")].partition("-")
    name = re.sub(r"[-_.]+", "-", name).lower()  # as uv prints it: `python-dateutil`, not `python_dateutil`
    info = os.path.join(site, dist_info)
    url, editable = _direct_url(os.path.join(info, "direct_url.json"))
    return Distribution(name=name, version=version, dist_info=info,
                        files=tuple(_record_paths(site, os.path.join(info, "RECORD"))),
                        url=url, editable=editable)


def _record_paths(site: str, record: str) -> list[str]:
    """RECORD paths are relative to site-packages; `bin/` scripts and data files use `../../..`."""
    try:
        with open(record, newline="", encoding="utf-8") as stream:
            return [os.path.normpath(os.path.join(site, row[0])) for row in csv.reader(stream) if row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _direct_url(path: str) -> tuple[str | None, bool]:
    """The PEP 610 URL to reinstall from (VCS URLs pinned to their commit), and whether editable."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None, False
    url = data.get("url")
    if not isinstance(url, str):
        return None, False
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    if data.get("subdirectory"):
        url += f"#subdirectory={data['subdirectory']}"
    dir_info = data.get("dir_info")
    return url, bool(isinstance(dir_info, dict) and dir_info.get("editable"))


def _file_url_path(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path)


# uv links every installed file to `<cache>/archive-v<N>/<id>/<path in the wheel>`.
_ARCHIVE_LINK = re.compile(r"^(?P<cache>/.*?)/archive-v\d+/[^/]+/")


def linked_caches(links: list[str]) -> tuple[str, ...]:
    """The cache roots uv linked these files into: what the environment depends on, whatever
    cache the current configuration names (an environment installed with another UV_CACHE_DIR)."""
    caches = {match["cache"] for match in map(_ARCHIVE_LINK.match, map(link_target, links)) if match}
    return tuple(sorted(caches))


def diagnose(env_path: str, cache_dir: str | os.PathLike) -> Diagnosis:
    """Find the dangling links of one environment and the distributions they belong to.

    Links count as "into the cache" when they lead into `cache_dir` (the
    configured cache) or into the cache the environment's links name.
    """
    dists = distributions(env_path)
    owner = {path: dist for dist in dists for path in dist.files}
    links = list(iter_symlinks(env_path))
    dangling = [link for link in links if not os.path.exists(link)]
    caches = linked_caches(links)
    missing: dict[Distribution, list[str]] = {}
    unowned = []
    for link in dangling:
        relative = os.path.relpath(link, env_path)
        if link in owner:
            missing.setdefault(owner[link], []).append(relative)
        else:
            unowned.append(relative)
    broken = tuple(BrokenDistribution(dist, tuple(sorted(paths))) for dist, paths in missing.items())
    return Diagnosis(
        path=env_path,
        distributions=len(dists),
        broken=tuple(sorted(broken, key=lambda b: b.distribution.name)),
        unowned=tuple(sorted(unowned)),
        into_cache=sum(any(is_inside(link_target(link), cache) for cache in (cache_dir, *caches))
                       for link in dangling),
        caches=caches,
    )


def as_json(diagnosis: Diagnosis) -> dict:
    return {
        "path": diagnosis.path,
        "healthy": diagnosis.healthy,
        "distributions": diagnosis.distributions,
        "broken": [
            {"name": b.distribution.name, "version": b.distribution.version,
             "editable": b.distribution.editable, "missing_files": len(b.missing), "missing": list(b.missing)}
            for b in diagnosis.broken
        ],
        "unowned_dangling": list(diagnosis.unowned),
        "dangling_into_cache": diagnosis.into_cache,
        "caches": list(diagnosis.caches),
    }
