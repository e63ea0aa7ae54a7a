"""Tiny distributions built on the spot, so tests install offline with real uv.

- `build_wheel`: a pure-Python wheel, or one with a compiled C extension
  (`extension=True`, the thing that breaks first when its archive goes), with
  optional console scripts and any platform tag.
- `build_sdist`: a source distribution whose build backend lives in the sdist
  itself (`backend-path`), so uv builds it with no index and no setuptools.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path

PY_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
PLATFORM_TAG = sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _module_source(name: str, version: str) -> str:
    return f'__version__ = "{version}"\n\ndef hello():\n    return "{name} {version}"\n'


def _extension_binary(module: str, version: str) -> bytes:
    """Compile a one-function C extension `module` that returns `version`."""
    source = f"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) {{ return PyUnicode_FromString("{version}"); }}
static PyMethodDef methods[] = {{{{"answer", answer, METH_NOARGS, NULL}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, "{module}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{module}(void) {{ return PyModule_Create(&def); }}
"""
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp, f"{module}.c")
        c_file.write_text(source)
        out = Path(tmp, f"{module}.so")
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O0", f"-I{sysconfig.get_paths()['include']}",
             str(c_file), "-o", str(out)],
            check=True,
        )
        return out.read_bytes()


def wheel_files(name: str, version: str, *, extension: bool = False,
                scripts: dict[str, str] | None = None, tag: str | None = None,
                submodules: int = 0) -> tuple[str, dict[str, bytes]]:
    """The file name and contents of a wheel for package `name` (import name = name with `_`);
    `submodules` adds that many small modules (a wheel that takes a while to unpack and link)."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    if tag is None:
        tag = f"{PY_TAG}-{PY_TAG}-{PLATFORM_TAG}" if extension else "py3-none-any"
    files: dict[str, bytes] = {f"{module}/__init__.py": _module_source(name, version).encode()}
    for index in range(submodules):
        files[f"{module}/part{index // 100}/m{index}.py"] = f"VALUE = {index}\n".encode()
    if extension:
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        files[f"{module}/_speed{suffix}"] = _extension_binary("_speed", version)
        files[f"{module}/__init__.py"] += b"from ._speed import answer\n"
    info = f"{dist}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: uvguard-tests\n"
        f"Root-Is-Purelib: {'false' if extension else 'true'}\nTag: {tag}\n"
    ).encode()
    if scripts:
        lines = "".join(f"{script} = {target}\n" for script, target in scripts.items())
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{lines}".encode()
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return f"{dist}-{tag}.whl", files


def build_wheel(dest: Path, name: str, version: str, **options) -> Path:
    """Write the wheel into `dest` and return its path."""
    filename, files = wheel_files(name, version, **options)
    path = Path(dest) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


_BACKEND = '''\
"""In-tree PEP 517 backend: builds a pure wheel with the standard library only."""
import base64, hashlib, os, zipfile

NAME, VERSION = {name!r}, {version!r}
MODULE = NAME.replace("-", "_")


def get_requires_for_build_wheel(config_settings=None):
    return []


def _line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{digest}},{{len(data)}}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = f"{{MODULE}}-{{VERSION}}"
    files = {{}}
    for root, _, names in os.walk(MODULE):
        for n in names:
            if n.endswith(".py"):
                p = os.path.join(root, n)
                files[p.replace(os.sep, "/")] = open(p, "rb").read()
    info = f"{{dist}}.dist-info"
    files[f"{{info}}/METADATA"] = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n".encode()
    files[f"{{info}}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: uvguard-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = [_line(p, d) for p, d in files.items()] + [f"{{info}}/RECORD,,"]
    files[f"{{info}}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = f"{{dist}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for p, d in files.items():
            archive.writestr(p, d)
    return name
'''  # noqa: E501


def build_sdist(dest: Path, name: str, version: str) -> Path:
    """Write `name-version.tar.gz` with an in-tree backend and return its path."""
    module = name.replace("-", "_")
    root = f"{module}-{version}"
    pyproject = (
        f'[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    members = {
        "pyproject.toml": pyproject,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "_backend.py": _BACKEND.format(name=name, version=version),
        f"{module}/__init__.py": _module_source(name, version),
    }
    path = Path(dest) / f"{module}-{version}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
