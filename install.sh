#!/usr/bin/env bash
# install.sh: build mqtk and install it, with man pages and bash/zsh/fish completions,
# into a prefix (default ~/.local); optionally as mosquitto_pub/_sub/_rr/_passwd too.
# Everything installed is listed in PREFIX/share/mqtk/install-manifest, and
# --uninstall removes exactly that. Running it again is harmless.
#
#   ./install.sh [--prefix DIR] [--mosquitto-names] [--binary PATH]
#   ./install.sh [--prefix DIR] --uninstall
set -euo pipefail
# Functions and subshells report through the ERR trap too.
set -o errtrace

usage() {
    cat <<'EOF'
Usage: install.sh [--prefix DIR] [--mosquitto-names] [--binary PATH]
       install.sh [--prefix DIR] --uninstall

  --prefix DIR        install under DIR (default: ~/.local): DIR/bin/mqtk,
                      DIR/share/man/man1, DIR/share/{bash-completion,zsh,fish}
  --mosquitto-names   also create mosquitto_pub, mosquitto_sub, mosquitto_rr and
                      mosquitto_passwd symlinks to mqtk in DIR/bin (never over a
                      real file)
  --binary PATH       install this already-built mqtk instead of running
                      cargo install --locked (for CI and packaging)
  --uninstall         remove exactly what an earlier install put under DIR
  -h, --help          show this help
EOF
}

step="starting"
trap 'echo "install.sh: error while ${step} (see the messages above)" >&2' ERR

die() {
    trap - ERR
    echo "install.sh: error: $*" >&2
    exit 1
}

prefix="${HOME:?HOME is not set}/.local"
names=0
uninstall=0
binary=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary="$2"; shift 2 ;;
        --binary=*) binary="${1#--binary=}"; shift ;;
        --mosquitto-names) names=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[ -n "$prefix" ] || die "--prefix is empty"
# An absolute prefix, so the manifest's paths mean the same from anywhere.
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
prefix="${prefix%/}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bindir="$prefix/bin"
mandir="$prefix/share/man/man1"
bashdir="$prefix/share/bash-completion/completions"
zshdir="$prefix/share/zsh/site-functions"
fishdir="$prefix/share/fish/vendor_completions.d"
statedir="$prefix/share/mqtk"
manifest="$statedir/install-manifest"
mosquitto_names=(mosquitto_pub mosquitto_sub mosquitto_rr mosquitto_passwd)

# A symlink that points at mqtk (by name, relative or absolute): ours to keep or remove.
points_at_mqtk() {
    [ -L "$1" ] && [ "$(basename -- "$(readlink -- "$1")")" = "mqtk" ]
}

# --- uninstall ------------------------------------------------------------------

if [ "$uninstall" = 1 ]; then
    if [ ! -f "$manifest" ]; then
        echo "install.sh: nothing to uninstall: no $manifest"
        exit 0
    fi
    step="reading $manifest"
    mapfile -t entries < "$manifest"
    dirs=()
    for entry in "${entries[@]}"; do
        kind="${entry%% *}"
        path="${entry#* }"
        case "$kind" in
            cargo)
                step="running cargo uninstall --root $prefix mqtk"
                if [ -e "$bindir/mqtk" ]; then
                    cargo uninstall --quiet --root "$prefix" mqtk
                fi
                ;;
            file)
                step="removing $path"
                rm -f -- "$path"
                ;;
            cargo-meta)
                # cargo's install metadata (.crates.toml, .crates2.json) in a prefix
                # that had none before: removed once it lists no package ("name
                # version (source)") any more.
                step="removing $path"
                if [ -f "$path" ] && ! grep -q ' (' -- "$path"; then
                    rm -f -- "$path"
                fi
                ;;
            link)
                step="removing $path"
                if points_at_mqtk "$path"; then
                    rm -f -- "$path"
                elif [ -e "$path" ] || [ -L "$path" ]; then
                    echo "install.sh: warning: keeping $path: it no longer points at mqtk" >&2
                fi
                ;;
            dir) dirs+=("$path") ;;
            *) die "unreadable line in $manifest: $entry" ;;
        esac
    done
    step="removing $manifest"
    rm -f -- "$manifest"
    # Directories this script created, deepest first, and only if nothing else is
    # in them now.
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        rmdir -- "${dirs[$i]}" 2>/dev/null || true
    done
    echo "install.sh: uninstalled mqtk from $prefix"
    exit 0
fi

# --- install --------------------------------------------------------------------

# What this run installed, in the manifest's format: "KIND PATH" (KIND is file, link,
# dir or cargo). Merged with the previous manifest, so a re-run forgets nothing.
new_entries=()
record() {
    new_entries+=("$1")
}

# mkdir -p that records each directory it had to create (parents first).
make_dir() {
    local dir="$1" missing=()
    while [ ! -d "$dir" ]; do
        missing=("$dir" "${missing[@]}")
        dir="$(dirname -- "$dir")"
    done
    for dir in "${missing[@]}"; do
        mkdir -- "$dir"
        record "dir $dir"
    done
}

# The Rust toolchain the build needs: Cargo.toml's rust-version (edition 2024 and the
# dependencies need it), compared with the rustc cargo will run. Distribution packages
# are often older (Debian 12's cargo is Rust 1.63), so the fix is rustup.
check_toolchain() {
    local need have rustup_fix
    step="checking the Rust toolchain"
    need="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$repo/Cargo.toml")"
    [ -n "$need" ] || die "no rust-version in $repo/Cargo.toml"
    rustup_fix="install Rust $need or newer with rustup (https://rustup.rs):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh
    . \"\$HOME/.cargo/env\"
then run $0 again (or pass --binary PATH with an mqtk built elsewhere)"
    if ! command -v cargo >/dev/null || ! command -v rustc >/dev/null; then
        die "cargo and rustc are not on PATH; $rustup_fix"
    fi
    if ! have="$(rustc --version 2>&1)"; then
        die "$(command -v rustc) does not run: $have
$rustup_fix"
    fi
    have="$(printf '%s\n' "$have" | sed -n 's/^rustc \([0-9]*\.[0-9]*\(\.[0-9]*\)\?\).*/\1/p')"
    [ -n "$have" ] || die "cannot read the version of rustc ($(command -v rustc)); $rustup_fix"
    if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
        if command -v rustup >/dev/null; then
            die "mqtk needs Rust $need or newer; $(command -v rustc) is $have. Update it:
    rustup update stable
then run $0 again"
        fi
        die "mqtk needs Rust $need or newer; $(command -v rustc) is $have (distribution packages are often older); $rustup_fix"
    fi
}

# Check everything that can refuse before changing anything.
step="checking the mosquitto_* names"
if [ "$names" = 1 ]; then
    for name in "${mosquitto_names[@]}"; do
        target="$bindir/$name"
        if { [ -e "$target" ] || [ -L "$target" ]; } && ! points_at_mqtk "$target"; then
            die "$target exists and is not a symlink to mqtk; refusing to overwrite it (move it away, or install without --mosquitto-names)"
        fi
    done
fi
if [ -n "$binary" ]; then
    if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
        die "--binary $binary is not an executable file"
    fi
else
    check_toolchain
fi

step="creating $prefix"
make_dir "$bindir"

if [ -n "$binary" ]; then
    step="copying $binary to $bindir/mqtk"
    # Through a temporary name, so a running mqtk is never half-overwritten.
    install -m 755 -- "$binary" "$bindir/.mqtk.tmp.$$"
    mv -f -- "$bindir/.mqtk.tmp.$$" "$bindir/mqtk"
    record "file $bindir/mqtk"
else
    step="building and installing with cargo install --locked --path $repo --root $prefix"
    meta=()
    for f in .crates.toml .crates2.json; do
        [ -e "$prefix/$f" ] || meta+=("$prefix/$f")
    done
    cargo install --locked --path "$repo" --root "$prefix" --force
    record "cargo -"
    for f in "${meta[@]}"; do
        if [ -e "$f" ]; then
            record "cargo-meta $f"
        fi
    done
fi

step="generating man pages and completions with $bindir/mqtk generate"
gen="$(mktemp -d)"
trap 'rm -rf -- "$gen"' EXIT
"$bindir/mqtk" generate "$gen"

step="installing man pages into $mandir"
make_dir "$mandir"
for page in "$gen"/man/*.1; do
    install -m 644 -- "$page" "$mandir/"
    record "file $mandir/$(basename -- "$page")"
done

step="installing completions"
make_dir "$bashdir"
install -m 644 -- "$gen/completions/mqtk.bash" "$bashdir/mqtk"
record "file $bashdir/mqtk"
make_dir "$zshdir"
install -m 644 -- "$gen/completions/_mqtk" "$zshdir/_mqtk"
record "file $zshdir/_mqtk"
make_dir "$fishdir"
install -m 644 -- "$gen/completions/mqtk.fish" "$fishdir/mqtk.fish"
record "file $fishdir/mqtk.fish"

if [ "$names" = 1 ]; then
    step="creating the mosquitto_* symlinks in $bindir"
    for name in "${mosquitto_names[@]}"; do
        if ! points_at_mqtk "$bindir/$name"; then
            ln -s mqtk "$bindir/$name"
        fi
        record "link $bindir/$name"
    done
fi

step="writing $manifest"
make_dir "$statedir"
{
    [ -f "$manifest" ] && cat -- "$manifest"
    printf '%s\n' "${new_entries[@]}"
} | awk '!seen[$0]++' > "$manifest.tmp.$$"
mv -f -- "$manifest.tmp.$$" "$manifest"

echo "install.sh: installed mqtk into $bindir (uninstall: $0 --prefix $prefix --uninstall)"
case ":${PATH:-}:" in
    *":$bindir:"*) ;;
    *) echo "install.sh: warning: $bindir is not on PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" >&2 ;;
esac
case "$prefix" in
    /usr|/usr/local) ;;
    *) echo "install.sh: note: for zsh completions, add $zshdir to fpath before compinit" ;;
esac
