#!/bin/sh
# Install uvguard: a private virtualenv with uvguard, the `uv` shim and the
# `uvguard` command. Non-interactive and idempotent: re-running repairs and
# updates an installation; --uninstall removes what it added and nothing else.
#
# Everything an install did is written to PREFIX/receipt, one `key=value` a
# line after a header line, so a later run (or --uninstall) knows which links,
# rc-file lines, directories, takeovers and policy files are its own; the
# uvguard command reads the real uv recorded there (uvguard/installation.py).
set -eu

usage() {
  cat <<'EOF'
usage: install.sh [--prefix DIR] [--no-modify-path] [--uv-version X]
                  [--policy PRESET [--system]] [--takeover PATH] [--uninstall]

Installs uvguard into a private virtualenv and puts two executables on PATH:
`uv` (the shim: exec's the real uv, guards `uv cache prune/clean`) and
`uvguard`.

  --prefix DIR       install into DIR, executables in DIR/bin
                     (default: ${XDG_DATA_HOME:-~/.local/share}/uvguard, with
                     links in ${XDG_BIN_HOME:-~/.local/bin})
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

MARKER_ENV='uvguard-env: added by uvguard install.sh; install.sh --uninstall removes it'

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

if [ -n "$prefix" ]; then
  prefix=$(absolute "$prefix")
  link_dir=
else
  prefix=${XDG_DATA_HOME:-$HOME/.local/share}/uvguard
  link_dir=${XDG_BIN_HOME:-$HOME/.local/bin}
fi
bin_dir=$prefix/bin
venv=$prefix/venv
receipt=$prefix/receipt

# --- the receipt ------------------------------------------------------------
RECEIPT_HEADER=uvguard_receipt=1

# A receipt that is not ours (a file named `receipt` in a --prefix someone
# else uses) must never drive an uninstall.
check_receipt() {
  [ ! -f "$receipt" ] || [ "$(head -n 1 "$receipt")" = "$RECEIPT_HEADER" ] ||
    die "$receipt is not a uvguard install receipt; is $prefix the right --prefix?" 2
}

# `record KEY VALUE` adds a line once; `values KEY` prints a key's values.
record() {
  line="$1=$2"
  if [ -f "$receipt" ] && grep -qxF -- "$line" "$receipt"; then return 0; fi
  printf '%s\n' "$line" >>"$receipt"
}

values() {
  [ -f "$receipt" ] || return 0
  while IFS= read -r line; do
    case $line in
      "$1="*) printf '%s\n' "${line#*=}" ;;
    esac
  done <"$receipt"
}

# `replace_record KEY VALUE`: KEY's only value becomes VALUE.
replace_record() {
  [ "$(values "$1")" != "$2" ] || return 0
  grep -v -- "^$1=" "$receipt" >"$receipt.tmp" || :
  mv "$receipt.tmp" "$receipt"
  [ -z "$2" ] || record "$1" "$2"
}

# `make_dir DIR`: mkdir -p, recording each directory it creates so uninstall
# can remove the ones left empty. Until the receipt exists (it lives in the
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

# --- recognising what is ours ----------------------------------------------
is_shim() {
  [ -f "$1" ] && head -c 512 "$1" 2>/dev/null | grep -aq '^# uvguard-shim:'
}

# An empty environment: uv checks UV_* variables even for --version.
is_uv() {
  env -i "$1" --version 2>/dev/null | grep -q '^uv '
}

# The first `uv` on PATH that is not a uvguard shim.
find_real_uv() {
  saved_ifs=$IFS
  IFS=:
  set -f
  for dir in $PATH; do
    candidate=${dir:-.}/uv
    if [ -f "$candidate" ] && [ -x "$candidate" ] && ! is_shim "$candidate"; then
      found=$candidate
      break
    fi
  done
  set +f
  IFS=$saved_ifs
  [ -n "${found-}" ] && absolute "$found"
}

sh_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
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
    [ -f "$source_dir/pyproject.toml" ] ||
      die "install.sh must run from a uvguard checkout (no pyproject.toml beside it in $source_dir)"
    pip_install "$source_dir"
  fi
}

# Sets real_uv: the takeover's moved-aside binary, else the first real uv on
# PATH, else uv installed from PyPI into the private virtualenv.
choose_real_uv() {
  taken=${takeover:-$(values takeover)}
  if [ -n "$taken" ]; then
    real_uv=$taken.uvguard-real
    real_uv_source="moved aside from $taken"
    return 0
  fi
  if real_uv=$(find_real_uv); then
    real_uv_source="found on PATH"
    [ -z "$uv_version" ] || warn "--uv-version $uv_version ignored: using the uv found on PATH ($real_uv)"
    return 0
  fi
  say "No uv on PATH: installing uv${uv_version:+ $uv_version} from PyPI into $venv"
  pip_install "uv${uv_version:+==$uv_version}"
  real_uv=$venv/bin/uv
  real_uv_source="installed from PyPI into the private virtualenv"
}

render_shim() {
  "$venv/bin/python" -m uvguard.shimfile --python "$venv/bin/python" --real-uv "$real_uv" "$1"
}

# `link TARGET LINK`: a symlink, replacing only a uvguard shim or our own link.
link() {
  if [ -e "$2" ] || [ -L "$2" ]; then
    if [ "$(readlink "$2")" != "$1" ] && ! { [ "$(basename "$2")" = uv ] && is_shim "$2"; }; then
      warn "$2 exists and is not uvguard's; left alone"
      return 0
    fi
  fi
  ln -sf "$1" "$2"
  record link "$2"
}

# One takeover per installation, checked before anything is installed.
check_takeover() {
  takeover=$(absolute "$takeover")
  previous=$(values takeover)
  [ -z "$previous" ] || [ "$previous" = "$takeover" ] ||
    die "this installation took over $previous already; uninstall it first to take over $takeover" 2
  if is_shim "$takeover"; then
    [ -f "$takeover.uvguard-real" ] ||
      die "$takeover is a uvguard shim already, and the real uv is not at $takeover.uvguard-real"
    [ "$previous" = "$takeover" ] ||
      die "$takeover is the shim of another uvguard installation; uninstall that one first"
  else
    [ -f "$takeover" ] && [ -x "$takeover" ] || die "--takeover $takeover: not an executable file" 2
    is_uv "$takeover" ||
      die "--takeover $takeover: \`$takeover --version\` does not print a uv version; not taking it over" 2
    [ ! -e "$takeover.uvguard-real" ] ||
      die "--takeover $takeover: $takeover.uvguard-real exists already; move it away first"
  fi
}

# Moves the real uv at $takeover aside to $takeover.uvguard-real (recorded
# first, so an interrupted run can be undone) and renders the shim in its place.
do_takeover() {
  if ! is_shim "$takeover"; then
    record takeover "$takeover"
    mv "$takeover" "$takeover.uvguard-real"
    say "Moved the real uv $takeover aside to $takeover.uvguard-real"
  fi
  if ! render_shim "$takeover"; then
    mv "$takeover.uvguard-real" "$takeover"
    replace_record takeover ""
    die "could not write the shim at $takeover; the real uv is back in place"
  fi
  say "Took over $takeover: it is the uvguard shim now"
}

# The env files put the shim's directory first on PATH; the rc files source them.
write_env_files() {
  write_env_file bash "$prefix/env"
  write_env_file fish "$prefix/env.fish"
}

write_env_file() {
  if "$venv/bin/uvguard" shell-init "$1" >"$2.tmp"; then
    mv "$2.tmp" "$2"
  else
    rm -f "$2.tmp"
    die "could not write $2 (\`uvguard shell-init $1\` failed)"
  fi
}

# The lines the rc files get: each sources an env file, with the marker.
env_lines() {
  sh_line=". $(sh_quote "$prefix/env") # $MARKER_ENV"
  fish_line="source $(fish_quote "$prefix/env.fish") # $MARKER_ENV"
}

fish_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"
}

# `add_line FILE LINE`: append LINE to FILE once, creating FILE if needed.
add_line() {
  if [ -f "$1" ] && grep -qxF -- "$2" "$1"; then
    record rc "$1"
    return 0
  fi
  if [ ! -e "$1" ]; then
    make_dir "$(dirname "$1")"
    : >"$1"
    record rc_created "$1"
  elif [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then
    printf '\n' >>"$1"
    record rc_noeol "$1"
  fi
  printf '%s\n' "$2" >>"$1"
  record rc "$1"
  edited="$edited $1"
}

modify_rc_files() {
  env_lines
  edited=
  # Login shells read the first of .bash_profile/.bash_login/.profile; sh
  # reads .profile; interactive bash reads .bashrc. Existing files all get
  # the line; .bashrc, and .profile when bash would read it, are created.
  for file in .profile .bash_profile .bash_login; do
    [ ! -f "$HOME/$file" ] || add_line "$HOME/$file" "$sh_line"
  done
  if [ ! -f "$HOME/.bash_profile" ] && [ ! -f "$HOME/.bash_login" ]; then
    add_line "$HOME/.profile" "$sh_line"
  fi
  add_line "$HOME/.bashrc" "$sh_line"
  # zsh and fish files are only created where that shell is installed.
  zdot=${ZDOTDIR:-$HOME}
  if [ -f "$zdot/.zshrc" ] || [ -f "$zdot/.zshenv" ]; then
    for file in .zshrc .zshenv; do
      [ ! -f "$zdot/$file" ] || add_line "$zdot/$file" "$sh_line"
    done
  elif command -v zsh >/dev/null 2>&1; then
    add_line "$zdot/.zshrc" "$sh_line"
  fi
  fish_dir=${XDG_CONFIG_HOME:-$HOME/.config}/fish
  if [ -d "$fish_dir" ] || command -v fish >/dev/null 2>&1; then
    add_line "$fish_dir/conf.d/uvguard.env.fish" "$fish_line"
  fi
  if [ -n "$edited" ]; then
    say "Added a line sourcing $prefix/env to:$edited"
  else
    say "Shell rc files already source $prefix/env"
  fi
}

# The file `uvguard policy init` writes (see uvguard/policy.py).
policy_path() {
  if [ "$policy_scope" = --system ]; then
    printf '%s\n' /etc/uvguard/policy.toml
  else
    printf '%s\n' "${XDG_CONFIG_HOME:-$HOME/.config}/uvguard/policy.toml"
  fi
}

write_policy() {
  policy_file=$(policy_path)
  if [ -e "$policy_file" ]; then
    if values policy | grep -qxF -- "$policy_file"; then
      say "Policy file $policy_file already written by an earlier install; left as it is"
    else
      warn "$policy_file exists; left alone (--policy $policy not applied)"
    fi
    return 0
  fi
  make_dir "$(dirname "$policy_file")"
  "$venv/bin/uvguard" policy init --preset "$policy" "$policy_scope" ||
    die "uvguard policy init --preset $policy $policy_scope failed"
  [ -f "$policy_file" ] || die "uvguard policy init did not write $policy_file"
  record policy "$policy_file"
  record policy_sum "$(cksum <"$policy_file")"
  say "Wrote the '$policy' policy to $policy_file"
}

# Refuse to put the shim or the CLI where something else lives.
check_bin_dir() {
  if [ -e "$bin_dir/uv" ] && ! is_shim "$bin_dir/uv"; then
    die "$bin_dir/uv exists and is not a uvguard shim; not overwriting it (--takeover $bin_dir/uv puts the shim in its place)"
  fi
  if { [ -e "$bin_dir/uvguard" ] || [ -L "$bin_dir/uvguard" ]; } && [ "$(readlink "$bin_dir/uvguard")" != "$venv/bin/uvguard" ]; then
    die "$bin_dir/uvguard exists and is not this installation's; not overwriting it"
  fi
}

install() {
  source_dir=$(cd "$(dirname "$0")" && pwd -P)
  [ -z "$takeover" ] || check_takeover
  check_bin_dir
  make_dir "$prefix"
  [ -f "$receipt" ] || printf '%s\n' "$RECEIPT_HEADER" >"$receipt"
  printf '%s' "$pending_dirs" | while IFS= read -r dir; do record dir "$dir"; done
  say "Installing uvguard into $prefix"
  create_venv
  install_uvguard
  choose_real_uv
  make_dir "$bin_dir"
  render_shim "$bin_dir/uv"
  ln -sf "$venv/bin/uvguard" "$bin_dir/uvguard"
  replace_record real_uv "$real_uv"
  taken=${takeover:-$(values takeover)}
  if [ -n "$takeover" ]; then
    do_takeover
  elif [ -n "$taken" ]; then
    render_shim "$taken"
  fi
  if [ -n "$link_dir" ]; then
    make_dir "$link_dir"
    link "$bin_dir/uv" "$link_dir/uv" || :
    link "$bin_dir/uvguard" "$link_dir/uvguard" || :
  fi
  write_env_files
  [ -z "$modify_path" ] || modify_rc_files
  [ -z "$policy" ] || write_policy
  say "Real uv: $real_uv ($real_uv_source; $(env -i "$real_uv" --version 2>/dev/null || echo 'version unknown'))"
  say "Installed: $bin_dir/uv (the shim) and $bin_dir/uvguard${link_dir:+, linked into $link_dir}"
  if [ -n "$modify_path" ]; then
    say "To use it in this shell now: . $(sh_quote "$prefix/env")   (new shells pick it up by themselves)"
  else
    say "PATH left unchanged (--no-modify-path): put $bin_dir first on PATH, or run: eval \"\$($(sh_quote "$bin_dir/uvguard") shell-init)\""
  fi
  say "Check it: $(sh_quote "${link_dir:-$bin_dir}/uvguard") check --json cache prune"
}

# --- uninstall --------------------------------------------------------------
restore_takeover() {
  aside=$1.uvguard-real
  if [ ! -f "$aside" ]; then
    warn "$aside is missing; $1 left as it is"
  elif [ -e "$1" ] && ! is_shim "$1"; then
    warn "$1 is no longer uvguard's shim; kept it, and the original uv stays at $aside"
  else
    mv -f "$aside" "$1"
    say "Restored the real uv at $1"
  fi
}

# `remove_lines FILE`: take our lines out of FILE, in place (links and modes
# kept), undoing the newline an install added and deleting a file it created.
remove_lines() {
  [ -f "$1" ] || return 0
  { grep -vxF -e "$sh_line" -e "$fish_line" -- "$1" || :; } >"$1.uvguard-tmp"
  if values rc_noeol | grep -qxF -- "$1"; then
    printf '%s' "$(cat "$1.uvguard-tmp")" >"$1.uvguard-tmp"
  fi
  cat "$1.uvguard-tmp" >"$1"
  rm -f "$1.uvguard-tmp"
  if [ ! -s "$1" ] && values rc_created | grep -qxF -- "$1"; then
    rm -f "$1"
    say "Removed $1"
  else
    say "Removed uvguard's line from $1"
  fi
}

remove_policy() {
  file=$(values policy)
  [ -n "$file" ] && [ -f "$file" ] || return 0
  if [ "$(cksum <"$file")" = "$(values policy_sum)" ]; then
    rm -f "$file"
    say "Removed the policy file $file"
  else
    warn "$file changed since install; left in place"
  fi
}

uninstall() {
  if [ ! -f "$receipt" ]; then
    say "Nothing to uninstall: no uvguard installation in $prefix"
    return 0
  fi
  values takeover | while IFS= read -r target; do restore_takeover "$target"; done
  values link | while IFS= read -r path; do
    case $(readlink "$path" 2>/dev/null) in
      "$bin_dir"/*) rm -f "$path"; say "Removed $path" ;;
    esac
  done
  env_lines
  values rc | while IFS= read -r file; do remove_lines "$file"; done
  remove_policy
  [ ! -f "$venv/pyvenv.cfg" ] || rm -rf "$venv"
  rm -f "$bin_dir/uv" "$bin_dir/uvguard" "$prefix/env" "$prefix/env.fish"
  dirs=$(values dir | sed '1!G;h;$!d')
  rm -f "$receipt"
  printf '%s\n' "$dirs" | while IFS= read -r dir; do
    [ -z "$dir" ] || rmdir "$dir" 2>/dev/null || :
  done
  say "Uninstalled uvguard from $prefix; open a new shell (or run \`hash -r\`) so \`uv\` is the real uv again"
  registry=${XDG_STATE_HOME:-$HOME/.local/state}/uvguard
  [ ! -d "$registry" ] || say "Kept uvguard's record of environments in $registry; delete it if you like"
}

check_receipt
case $action in
  install) install ;;
  uninstall) uninstall ;;
esac
