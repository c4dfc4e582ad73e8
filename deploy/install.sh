#!/bin/sh
# Installs the `binance-futures-availability` command from a release's standalone archive:
# picks the archive for this machine, checks its SHA-256 against the release's `.sha256`, and
# puts the command in a folder on PATH. No Rust toolchain, no Python.
#
#   curl -LsSf https://github.com/binance-futures-availability/binance-futures-availability/releases/latest/download/install.sh | sh
#
# Settings (environment):
#   BFA_INSTALL_DIR   where the command goes (default: ~/.local/bin)
#   BFA_RELEASE_URL   where the archives are (default: the latest GitHub release)
# Exit status: 0 installed; 1 a download or the checksum failed (nothing installed);
# 2 this machine has no archive (build from source: see the README).
set -eu

repo_url="https://github.com/binance-futures-availability/binance-futures-availability"
release_url="${BFA_RELEASE_URL:-$repo_url/releases/latest/download}"
install_dir="${BFA_INSTALL_DIR:-$HOME/.local/bin}"
cmd=binance-futures-availability

say() { printf 'install.sh: %s\n' "$*" >&2; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  Darwin/arm64) target=aarch64-apple-darwin ;;
  MINGW*/* | MSYS*/* | CYGWIN*/*)
    say "on Windows, download $cmd-x86_64-pc-windows-msvc.zip and its .sha256 from $release_url and put the .exe on PATH (see the README)"
    exit 2 ;;
  *)
    say "no archive for $(uname -s) $(uname -m); the wheel (pip install) or a build from source covers it"
    exit 2 ;;
esac

if command -v curl >/dev/null 2>&1; then
  fetch() { curl --proto '=https,http' --fail --location --silent --show-error --output "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget --quiet --output-document "$2" "$1"; }
else
  say "needs curl or wget to download"; exit 1
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  say "needs sha256sum or shasum to check the download"; exit 1
fi

archive="$cmd-$target.tar.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

say "downloading $release_url/$archive"
fetch "$release_url/$archive" "$work/$archive" || { say "could not download $release_url/$archive"; exit 1; }
fetch "$release_url/$archive.sha256" "$work/$archive.sha256" || { say "could not download $release_url/$archive.sha256"; exit 1; }

expected="$(cut -d ' ' -f 1 < "$work/$archive.sha256")"
actual="$(sha256 "$work/$archive")"
if [ "$expected" != "$actual" ]; then
  say "$archive has SHA-256 $actual, the release says $expected: not installed"
  exit 1
fi

tar -xzf "$work/$archive" -C "$work"
if [ ! -f "$work/$cmd-$target/$cmd" ]; then
  say "$archive holds no $cmd-$target/$cmd: not installed"; exit 1
fi
mkdir -p "$install_dir"
# Into place by rename, so a running copy is never half-overwritten.
cp "$work/$cmd-$target/$cmd" "$install_dir/.$cmd.new"
chmod 755 "$install_dir/.$cmd.new"
mv -f "$install_dir/.$cmd.new" "$install_dir/$cmd"
say "installed $install_dir/$cmd"
case ":$PATH:" in
  *":$install_dir:"*) ;;
  *) say "$install_dir is not on PATH; add it, e.g. export PATH=\"$install_dir:\$PATH\"" ;;
esac
