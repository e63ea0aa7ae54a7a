#!/bin/sh
# Install uvguard from a checkout: a private virtualenv with uvguard (and uv,
# when none is on PATH), then `uvguard setup`, which writes the `uv` shim,
# `uvx`, the links, env files and rc-file lines (uvguard/setup.py: the same
# code a `uv tool install`ed uvguard runs). Non-interactive and idempotent:
# re-running repairs and updates an installation; --uninstall removes what it
# added and nothing else.
#
# The virtualenv and the directories made for it are recorded in
# PREFIX/receipt, the file `uvguard setup` keeps its own records in
# (uvguard/installation.py), so its --uninstall removes them too.
set -eu

usage() {
  cat <<'EOF'
usage: install.sh [--prefix DIR] [--no-modify-path] [--uv-version X]
                  [--policy PRESET [--system]] [--takeover PATH] [--uninstall]

Installs uvguard into a private virtualenv, then runs its `uvguard setup`
(the same options but --uv-version), which puts `uv` (the shim: exec's the
real uv, guards `uv cache prune/clean`), `uvx` and `uvguard` on PATH.

  --prefix DIR       install into DIR, executables in DIR/bin, and change
                     nothing outside DIR unless asked (--takeover, --policy)
                     (default: ${XDG_DATA_HOME:-~/.local/share}/uvguard, with
                     links in ${XDG_BIN_HOME:-~/.local/bin} and rc-file lines)
  --no-modify-path   do not add the env file to ~/.profile, ~/.bashrc, ~/.zshrc
                     and fish's conf.d
  --uv-version X     when no real uv is on PATH, install uv X from PyPI into the
                     private virtualenv (default: the newest)
  --policy PRESET    write a policy file from a preset (default, strict, ci,
                     permissive); for the user, or with --system for everyone
  --takeover PATH    move the real uv at PATH aside and put the shim there, so
                     callers that use that path (Docker RUN lines) are guarded
  --uninstall        remove everything an install added, restore rc files and
                     taken-over binaries

Environment: UVGUARD_WHEELHOUSE=DIR installs uvguard (and uv) from the wheels
in DIR only, with no index (offline or air-gapped installs).
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; exit "${2:-1}"; }
usage_error() { printf 'error: %s\n\n' "$1" >&2; usage >&2; exit 2; }

# --- command line -----------------------------------------------------------
prefix=
modify_path=1
uv_version=
policy=
policy_scope=--user
takeover=
action=install
while [ $# -gt 0 ]; do
  case $1 in
    --prefix|--uv-version|--policy|--takeover)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --prefix) prefix=$2 ;;
        --uv-version) uv_version=$2 ;;
        --policy) policy=$2 ;;
        --takeover) takeover=$2 ;;
      esac
      shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --uv-version=*) uv_version=${1#*=}; shift ;;
    --policy=*) policy=${1#*=}; shift ;;
    --takeover=*) takeover=${1#*=}; shift ;;
    --system) policy_scope=--system; shift ;;
    --no-modify-path) modify_path=; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unexpected argument '$1'" ;;
  esac
done
if [ "$policy_scope" = --system ] && [ -z "$policy" ]; then
  usage_error "--system goes with --policy PRESET"
fi
if [ "$action" = uninstall ] && { [ -n "$policy$uv_version$takeover" ] || [ -z "$modify_path" ]; }; then
  usage_error "--uninstall takes no other option than --prefix"
fi
[ -n "${HOME-}" ] || die "HOME is not set" 2

absolute() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# The same prefix `uvguard setup` picks (uvguard/installation.py). Setup gets
# the options given here but --uv-version; only a --prefix given is passed on,
# as without one setup also links the commands into ~/.local/bin.
prefix_given=$prefix
if [ -n "$prefix" ]; then
  prefix=$(absolute "$prefix")
else
  case ${XDG_DATA_HOME-} in
    /*) prefix=$XDG_DATA_HOME/uvguard ;;
    *) prefix=$HOME/.local/share/uvguard ;;
  esac
fi
venv=$prefix/venv
receipt=$prefix/receipt
set --
[ -z "$prefix_given" ] || set -- --prefix "$prefix"
[ "$action" = install ] || set -- "$@" --uninstall
[ -z "$takeover" ] || set -- "$@" --takeover "$(absolute "$takeover")"
[ -z "$policy" ] || set -- "$@" --policy "$policy"
[ "$policy_scope" = --user ] || set -- "$@" --system
[ -n "$modify_path" ] || set -- "$@" --no-modify-path

# --- the receipt ------------------------------------------------------------
RECEIPT_HEADER=uvguard_receipt=1

# A receipt that is not ours (a file named `receipt` in a --prefix someone
# else uses) must never drive an install or an uninstall.
[ ! -f "$receipt" ] || [ "$(head -n 1 "$receipt")" = "$RECEIPT_HEADER" ] ||
  die "$receipt is not a uvguard install receipt; is $prefix the right --prefix?" 2

# `record KEY VALUE` adds a line once.
record() {
  grep -qxF -- "$1=$2" "$receipt" || printf '%s\n' "$1=$2" >>"$receipt"
}

# `make_dir DIR`: mkdir -p, recording each directory it creates so uninstall
# can remove the ones left empty; until the receipt exists (it lives in the
# prefix) they wait in $pending_dirs.
pending_dirs=
make_dir() {
  [ -d "$1" ] && return 0
  make_dir "$(dirname "$1")"
  mkdir "$1"
  if [ -f "$receipt" ]; then
    record dir "$1"
  else
    pending_dirs="$pending_dirs$1
"
  fi
}

is_shim() {
  [ -f "$1" ] && head -c 512 "$1" 2>/dev/null | grep -aq '^# uvguard-shim:'
}

# Whether a real uv is at hand for setup: a takeover (asked for now or
# recorded) or a `uv` on PATH that is not a uvguard shim.
have_real_uv() {
  [ -z "$takeover" ] || return 0
  [ ! -f "$receipt" ] || ! grep -q '^takeover=' "$receipt" || return 0
  saved_ifs=$IFS
  IFS=:
  set -f
  found=
  for dir in $PATH; do
    candidate=${dir:-.}/uv
    if [ -f "$candidate" ] && [ -x "$candidate" ] && ! is_shim "$candidate"; then
      found=$candidate
      break
    fi
  done
  set +f
  IFS=$saved_ifs
  [ -n "$found" ]
}

# --- install ----------------------------------------------------------------
pip_install() {
  log=$prefix/pip.log
  if [ -n "${UVGUARD_WHEELHOUSE-}" ]; then
    set -- --no-index --find-links "$UVGUARD_WHEELHOUSE" "$@"
  fi
  if ! run_pip install --disable-pip-version-check --quiet "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "pip install $* failed (output above)"
  fi
  rm -f "$log"
}

# The virtualenv is made without pip where python3's own pip can serve it
# through --python (pip 22.3+): quicker than ensurepip, and it works where
# ensurepip is not installed; otherwise it gets its own pip.
run_pip() {
  if [ -x "$venv/bin/pip" ]; then
    "$venv/bin/python" -m pip "$@"
  else
    "$(host_python)" -m pip --python "$venv/bin/python" "$@"
  fi
}

host_python() {
  python=$(command -v python3 || :)
  [ -n "$python" ] || die "python3 not found on PATH; uvguard needs Python 3.10 or newer"
  printf '%s\n' "$python"
}

create_venv() {
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c '' 2>/dev/null; then
    return 0
  fi
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    die "$venv exists and is not a virtualenv; remove it or choose another --prefix"
  fi
  python=$(host_python)
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$python is older than Python 3.10; uvguard needs 3.10 or newer"
  if "$python" -m pip --python "$python" --version >/dev/null 2>&1; then
    "$python" -m venv --without-pip "$venv" >/dev/null
  else
    "$python" -m venv "$venv" >/dev/null
  fi || die "could not create a virtualenv with $python -m venv (on Debian/Ubuntu: apt-get install python3-venv)"
}

install_uvguard() {
  if [ -n "${UVGUARD_WHEELHOUSE-}" ]; then
    pip_install uvguard
  else
    source_dir=$(cd "$(dirname "$0")" && pwd -P)
    [ -f "$source_dir/pyproject.toml" ] ||
      die "install.sh must run from a uvguard checkout (no pyproject.toml beside it in $source_dir)"
    pip_install "$source_dir"
  fi
}

install() {
  fresh=
  [ -f "$receipt" ] || fresh=1
  make_dir "$prefix"
  [ -f "$receipt" ] || printf '%s\n' "$RECEIPT_HEADER" >"$receipt"
  printf '%s' "$pending_dirs" | while IFS= read -r dir; do record dir "$dir"; done
  record venv "$venv"
  say "Installing uvguard into $venv"
  create_venv
  install_uvguard
  if have_real_uv; then
    [ -z "$uv_version" ] || warn "--uv-version $uv_version ignored: using the uv found on PATH ($found)"
  else
    say "No uv on PATH: installing uv${uv_version:+ $uv_version} from PyPI into $venv (beside uvguard; it provides uv and uvx)"
    pip_install "uv${uv_version:+==$uv_version}"
  fi
  # A first install that setup refuses (a takeover of what is not uv, a
  # foreign file in the way) leaves nothing behind.
  status=0
  "$venv/bin/uvguard" setup "$@" || status=$?
  if [ "$status" -ne 0 ] && [ -n "$fresh" ]; then
    "$venv/bin/uvguard" setup --prefix "$prefix" --uninstall >/dev/null 2>&1 || :
  fi
  return "$status"
}

uninstall() {
  if [ ! -f "$receipt" ]; then
    say "Nothing to uninstall: no uvguard installation in $prefix"
    return 0
  fi
  [ -x "$venv/bin/uvguard" ] ||
    die "$venv/bin/uvguard is missing; run install.sh again (with the same options) to repair the installation, then --uninstall"
  exec "$venv/bin/uvguard" setup "$@"
}

case $action in
  install) install "$@" ;;
  uninstall) uninstall "$@" ;;
esac
