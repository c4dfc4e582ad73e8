#!/bin/bash
# Issue 30 point 4: user+sys CPU of compiling a sample of DuckDB's sources (every 8th of the
# 352 whose name is unique) at -O3, -O2 and -O1, levels interleaved per file, with the exact
# flags libduckdb-sys's build script passes (read from its running compiler).
src=$(ls -d ${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/duckdb-sources/*/duckdb | head -1)
out=$(ls -d ${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/release/build/libduckdb-sys-*/out | head -1)
inc=(-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64)
for d in . extension/core_functions/include extension/parquet/include src/include third_party/brotli/common third_party/brotli/dec third_party/brotli/enc third_party/brotli/include third_party/concurrentqueue third_party/fast_float third_party/fastpforlib third_party/fmt/include third_party/fsst third_party/httplib third_party/hyperloglog third_party/jaro_winkler third_party/jaro_winkler/details third_party/lz4 third_party/mbedtls third_party/mbedtls/include third_party/mbedtls/library third_party/miniz third_party/parquet third_party/pcg third_party/pdqsort third_party/re2 third_party/ska_sort third_party/skiplist third_party/snappy third_party/tdigest third_party/thrift third_party/utf8proc third_party/utf8proc/include third_party/vergesort third_party/yyjson/include third_party/zstd/include; do inc+=(-I "$src/$d"); done
defs=(-w -DDUCKDB_EXTENSION_CORE_FUNCTIONS_LINKED=1 -DDUCKDB_EXTENSION_PARQUET_LINKED=1 -DDUCKDB_EXTENSION_AUTOINSTALL_DEFAULT=1 -DDUCKDB_EXTENSION_AUTOLOAD_DEFAULT=1 -DNDEBUG)
tmp=$(mktemp -d)
i=0
for o in $(ls $out/*.o | sort); do
  b=$(basename $o .o); b=${b#*-}
  f=$(find $src -name "$b.cpp" -o -name "$b.c" -o -name "$b.cc")
  [ $(echo "$f" | wc -l) -eq 1 ] || continue
  i=$((i+1)); [ $((i % 8)) -eq 0 ] || continue
  std=-std=c++17; case $f in *.c) std=-std=c11;; esac
  cxx=c++; case $f in *.c) cxx=cc;; esac
  for L in 3 2 1; do
    t=$( { /usr/bin/time -f "%U %S" $cxx -O$L "${inc[@]}" $std "${defs[@]}" -o $tmp/x.o -c "$f" 2>&1 >/dev/null; } | tail -1)
    echo "$b O$L $t"
  done
done
rm -rf $tmp
echo done
