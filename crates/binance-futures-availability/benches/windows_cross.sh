#!/bin/sh
# Issue 30: the Windows cross build of this checkout (POSIX-thread mingw: gcc 12's win32 thread model has
# no std::mutex, which DuckDB needs), own target dir, nice 19.
export CARGO_TARGET_DIR=$HOME/.cache/bfa-win
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc-posix
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++-posix
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc-posix
cd "$(dirname "$0")/../../.."
echo "== start $(date -u +%T)"
nice -n 19 cargo build --release --target x86_64-pc-windows-gnu -p binance-vision-atlas --bin binance-futures-availability
echo "== build rc=$? $(date -u +%T)"
nice -n 19 cargo clippy --release --target x86_64-pc-windows-gnu -p binance-vision-atlas -- -D warnings
echo "== clippy rc=$? $(date -u +%T)"
