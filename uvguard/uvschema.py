"""The keys each uv release accepts in `uv.toml` / `[tool.uv]` and in their `[pip]` table.

uv rejects unknown keys (`deny_unknown_fields`): fatal in a `uv.toml`, a
skipped file (with a warning) in a `pyproject.toml`. The sets differ by
release, so they are recorded per measured release: each list is what that
binary itself names after "unknown field ..., expected one of" (see
tests/test_uvconfig_schema.py, which re-asks every pinned binary). A release
between two measured ones uses the older one's sets; a newer one the newest.
"""

from __future__ import annotations

# release -> (top-level keys, [pip] keys), in uv's own order.
_MEASURED: dict[tuple[int, ...], tuple[str, str]] = {
    (0, 5, 31): (
        "required-version native-tls offline no-cache cache-dir preview python-preference "
        "python-downloads concurrent-downloads concurrent-builds concurrent-installs index "
        "index-url extra-index-url no-index find-links index-strategy keyring-provider "
        "allow-insecure-host resolution prerelease fork-strategy dependency-metadata "
        "config-settings no-build-isolation no-build-isolation-package exclude-newer link-mode "
        "compile-bytecode no-sources upgrade upgrade-package reinstall reinstall-package no-build "
        "no-build-package no-binary no-binary-package python-install-mirror pypy-install-mirror "
        "publish-url trusted-publishing check-url pip cache-keys override-dependencies "
        "constraint-dependencies environments conflicts workspace sources managed package "
        "default-groups dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package strict extra all-extras no-extra no-deps "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings python-version python-platform "
        "universal exclude-newer no-emit-package emit-index-url emit-find-links "
        "emit-build-options emit-marker-expression emit-index-annotation annotation-style "
        "link-mode compile-bytecode require-hashes verify-hashes no-sources upgrade "
        "upgrade-package reinstall reinstall-package",
    ),
    (0, 6, 4): (
        "required-version native-tls offline no-cache cache-dir preview python-preference "
        "python-downloads concurrent-downloads concurrent-builds concurrent-installs index "
        "index-url extra-index-url no-index find-links index-strategy keyring-provider "
        "allow-insecure-host resolution prerelease fork-strategy dependency-metadata "
        "config-settings no-build-isolation no-build-isolation-package exclude-newer link-mode "
        "compile-bytecode no-sources upgrade upgrade-package reinstall reinstall-package no-build "
        "no-build-package no-binary no-binary-package python-install-mirror pypy-install-mirror "
        "publish-url trusted-publishing check-url pip cache-keys override-dependencies "
        "constraint-dependencies build-constraint-dependencies environments required-environments "
        "conflicts workspace sources managed package default-groups dev-dependencies "
        "build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package strict extra all-extras no-extra no-deps "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings python-version python-platform "
        "universal exclude-newer no-emit-package emit-index-url emit-find-links "
        "emit-build-options emit-marker-expression emit-index-annotation annotation-style "
        "link-mode compile-bytecode require-hashes verify-hashes no-sources upgrade "
        "upgrade-package reinstall reinstall-package",
    ),
    (0, 8, 18): (
        "required-version native-tls offline no-cache cache-dir preview python-preference "
        "python-downloads concurrent-downloads concurrent-builds concurrent-installs index "
        "index-url extra-index-url no-index find-links index-strategy keyring-provider "
        "allow-insecure-host resolution prerelease fork-strategy dependency-metadata "
        "config-settings config-settings-package no-build-isolation no-build-isolation-package "
        "extra-build-dependencies extra-build-variables exclude-newer exclude-newer-package "
        "link-mode compile-bytecode no-sources upgrade upgrade-package reinstall "
        "reinstall-package no-build no-build-package no-binary no-binary-package "
        "python-install-mirror pypy-install-mirror python-downloads-json-url publish-url "
        "trusted-publishing check-url add-bounds pip cache-keys override-dependencies "
        "constraint-dependencies build-constraint-dependencies environments required-environments "
        "conflicts workspace sources managed package default-groups dependency-groups "
        "dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources upgrade upgrade-package reinstall reinstall-package "
        "torch-backend",
    ),
    (0, 8, 24): (
        "required-version native-tls offline no-cache cache-dir preview python-preference "
        "python-downloads concurrent-downloads concurrent-builds concurrent-installs index "
        "index-url extra-index-url no-index find-links index-strategy keyring-provider "
        "allow-insecure-host resolution prerelease fork-strategy dependency-metadata "
        "config-settings config-settings-package no-build-isolation no-build-isolation-package "
        "extra-build-dependencies extra-build-variables exclude-newer exclude-newer-package "
        "link-mode compile-bytecode no-sources upgrade upgrade-package reinstall "
        "reinstall-package no-build no-build-package no-binary no-binary-package "
        "python-install-mirror pypy-install-mirror python-downloads-json-url publish-url "
        "trusted-publishing check-url add-bounds pip cache-keys override-dependencies "
        "constraint-dependencies build-constraint-dependencies environments required-environments "
        "conflicts workspace sources managed package default-groups dependency-groups "
        "dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources upgrade upgrade-package reinstall reinstall-package "
        "torch-backend",
    ),
    (0, 10, 12): (
        "required-version native-tls offline no-cache cache-dir preview python-preference "
        "python-downloads concurrent-downloads concurrent-builds concurrent-installs index "
        "index-url extra-index-url no-index find-links index-strategy keyring-provider http-proxy "
        "https-proxy no-proxy allow-insecure-host resolution prerelease fork-strategy "
        "dependency-metadata config-settings config-settings-package no-build-isolation "
        "no-build-isolation-package extra-build-dependencies extra-build-variables exclude-newer "
        "exclude-newer-package link-mode compile-bytecode no-sources no-sources-package upgrade "
        "upgrade-package reinstall reinstall-package no-build no-build-package no-binary "
        "no-binary-package torch-backend python-install-mirror pypy-install-mirror "
        "python-downloads-json-url publish-url trusted-publishing check-url add-bounds pip "
        "cache-keys override-dependencies exclude-dependencies constraint-dependencies "
        "build-constraint-dependencies environments required-environments conflicts workspace "
        "sources managed package default-groups dependency-groups dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources no-sources-package upgrade upgrade-package reinstall "
        "reinstall-package torch-backend",
    ),
    (0, 11, 16): (
        "required-version system-certs native-tls offline no-cache cache-dir preview "
        "python-preference python-downloads concurrent-downloads concurrent-builds "
        "concurrent-installs index index-url extra-index-url no-index find-links index-strategy "
        "keyring-provider http-proxy https-proxy no-proxy allow-insecure-host resolution "
        "prerelease fork-strategy dependency-metadata config-settings config-settings-package "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables exclude-newer exclude-newer-package link-mode compile-bytecode "
        "no-sources no-sources-package upgrade upgrade-package reinstall reinstall-package "
        "no-build no-build-package no-binary no-binary-package torch-backend "
        "python-install-mirror pypy-install-mirror python-downloads-json-url publish-url "
        "trusted-publishing check-url add-bounds audit pip cache-keys override-dependencies "
        "exclude-dependencies constraint-dependencies build-constraint-dependencies environments "
        "required-environments conflicts workspace sources managed package default-groups "
        "dependency-groups dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources no-sources-package upgrade upgrade-package reinstall "
        "reinstall-package torch-backend",
    ),
    (0, 11, 33): (
        "required-version system-certs native-tls offline no-cache cache-dir preview "
        "preview-features python-preference python-downloads concurrent-downloads "
        "concurrent-builds concurrent-installs index index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider http-proxy https-proxy no-proxy "
        "allow-insecure-host resolution prerelease fork-strategy dependency-metadata "
        "config-settings config-settings-package no-build-isolation no-build-isolation-package "
        "extra-build-dependencies extra-build-variables exclude-newer exclude-newer-package "
        "link-mode compile-bytecode no-sources no-sources-package upgrade upgrade-package "
        "reinstall reinstall-package no-build no-build-package no-binary no-binary-package "
        "torch-backend python-install-mirror pypy-install-mirror python-downloads-json-url "
        "publish-url trusted-publishing check-url add-bounds audit pip cache-keys "
        "override-dependencies exclude-dependencies constraint-dependencies "
        "build-constraint-dependencies environments required-environments conflicts workspace "
        "sources managed package default-groups dependency-groups dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources no-sources-package upgrade upgrade-package reinstall "
        "reinstall-package torch-backend",
    ),
    (0, 12, 24): (
        "required-version system-certs native-tls offline no-cache cache-dir preview "
        "preview-features python-preference python-downloads concurrent-downloads "
        "concurrent-builds concurrent-installs index index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider http-proxy https-proxy no-proxy "
        "allow-insecure-host resolution prerelease prerelease-package fork-strategy "
        "dependency-metadata config-settings config-settings-package no-build-isolation "
        "no-build-isolation-package extra-build-dependencies extra-build-variables exclude-newer "
        "exclude-newer-package link-mode compile-bytecode no-sources no-sources-package upgrade "
        "upgrade-package reinstall reinstall-package no-build no-build-package no-binary "
        "no-binary-package torch-backend python-install-mirror pypy-install-mirror "
        "graalpy-install-mirror pyodide-install-mirror python-downloads-json-url publish-url "
        "trusted-publishing check-url add-bounds audit pip cache-keys override-dependencies "
        "exclude-dependencies constraint-dependencies build-constraint-dependencies environments "
        "required-environments minimum-libc-version conflicts workspace sources managed package "
        "default-groups dependency-groups dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation no-build-isolation-package extra-build-dependencies "
        "extra-build-variables strict extra all-extras no-extra no-deps group "
        "allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources no-sources-package upgrade upgrade-package reinstall "
        "reinstall-package torch-backend",
    ),
    (0, 13, 9): (
        "required-version system-certs native-tls offline no-cache cache-dir preview "
        "preview-features python-preference python-downloads concurrent-downloads "
        "concurrent-builds concurrent-installs index index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider http-proxy https-proxy no-proxy "
        "allow-insecure-host resolution prerelease prerelease-package fork-strategy "
        "dependency-metadata config-settings config-settings-package no-build-isolation "
        "require-build-hashes no-build-isolation-package extra-build-dependencies "
        "extra-build-variables exclude-newer exclude-newer-package link-mode compile-bytecode "
        "no-sources no-sources-package upgrade upgrade-package reinstall reinstall-package "
        "no-build no-build-package no-binary no-binary-package torch-backend "
        "python-install-mirror pypy-install-mirror graalpy-install-mirror pyodide-install-mirror "
        "python-downloads-json-url publish-url trusted-publishing check-url add-bounds audit pip "
        "cache-keys override-dependencies exclude-dependencies constraint-dependencies "
        "build-constraint-dependencies environments required-environments minimum-libc-version "
        "conflicts workspace sources managed package default-groups dependency-groups "
        "dev-dependencies build-backend",
        "python system break-system-packages target prefix index-url extra-index-url no-index "
        "find-links index-strategy keyring-provider no-build no-binary only-binary "
        "no-build-isolation require-build-hashes no-build-isolation-package "
        "extra-build-dependencies extra-build-variables strict extra all-extras no-extra no-deps "
        "group allow-empty-requirements resolution prerelease fork-strategy dependency-metadata "
        "output-file no-strip-extras no-strip-markers no-annotate no-header "
        "custom-compile-command generate-hashes config-settings config-settings-package "
        "python-version python-platform universal exclude-newer exclude-newer-package "
        "no-emit-package emit-index-url emit-find-links emit-build-options emit-marker-expression "
        "emit-index-annotation annotation-style link-mode compile-bytecode require-hashes "
        "verify-hashes no-sources no-sources-package upgrade upgrade-package reinstall "
        "reinstall-package torch-backend",
    ),
}


def _sets_for(version: tuple[int, ...] | None) -> tuple[str, str]:
    measured = sorted(_MEASURED)
    if version is None:
        return _MEASURED[measured[-1]]
    older = [release for release in measured if release <= version]
    return _MEASURED[older[-1] if older else measured[0]]


def top_level_keys(version: tuple[int, ...] | None) -> tuple[str, ...]:
    """Keys allowed at the top of a `uv.toml` or in `[tool.uv]` (None: the newest release)."""
    return tuple(_sets_for(version)[0].split())


def pip_keys(version: tuple[int, ...] | None) -> tuple[str, ...]:
    """Keys allowed in the `[pip]` table."""
    return tuple(_sets_for(version)[1].split())


# Keys a `pyproject.toml` may hold under `[tool.uv]` but a `uv.toml` may not.
PYPROJECT_ONLY_KEYS = ("conflicts", "workspace", "sources", "dev-dependencies", "default-groups",
                       "dependency-groups", "managed", "package", "build-backend", "environments",
                       "required-environments")
