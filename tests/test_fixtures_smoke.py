"""The shared fixtures build real symlink-mode environments with real uv, offline."""

import subprocess


def test_symlink_install_with_compiled_extension(sandbox, wheelhouse):
    sandbox.uv("venv", str(sandbox.work / ".venv"))
    sandbox.uv("pip", "install", "--python", str(sandbox.work / ".venv"), "--no-index",
               "--find-links", str(wheelhouse), "--link-mode", "symlink", "speedpkg", "sdistpkg")
    python = sandbox.work / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import speedpkg, sdistpkg; print(speedpkg.answer(), sdistpkg.hello())"],
                         capture_output=True, text=True, env=sandbox.env())
    assert out.stdout.split() == ["1.0", "sdistpkg", "1.0"], out.stderr
    init = next((sandbox.work / ".venv" / "lib").glob("python*/site-packages/speedpkg/__init__.py"))
    assert init.is_symlink() and str(sandbox.cache) in str(init.readlink())
