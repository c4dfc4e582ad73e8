# Where a catalog crawl's CPU goes (BENCHMARKS.md, session 14): record the whole process with
#   perf record -F 499 --call-graph dwarf,32768 -o perf.data BIN --db DIR/bfa.duckdb catalog update -q
#   perf script -i perf.data -F comm,tid,ip,sym > stacks.txt; python3 benches/perf_split.py stacks.txt
import sys, re, collections
# Each perf sample (perf script -F comm,tid,ip,sym, dwarf call graphs) goes to the first
# category whose ancestor pattern matches some frame of its stack and, when given, whose leaf
# pattern matches the sample's innermost frame (the leaf: malloc/free, memcpy, page faults).
ALLOC = r"malloc|_int_free|cfree|realloc|malloc_consolidate|unlink_chunk|__libc_free|tcache|alloc::raw_vec|alloc::alloc"
cats = [
 ("startup (rustls certs, dynamic linking)", r"rustls_native_certs|_dl_start|dl_main", None),
 ("parse_page: allocation (malloc/free)", r"vision::list::parse_page|vision::list::scan", ALLOC),
 ("parse_page: skipping ETag/StorageClass/Name/... (read_to_end)", r"Reader<&\[u8\]>>::read_to_end", None),
 ("parse_page: LastModified (chrono rfc3339)", r"parse_rfc3339|parse_from_rfc3339", None),
 ("parse_page: unescape", r"escape::unescape", None),
 ("parse_page: read_text", r"read_text", None),
 ("parse_page: scan (the plain reader)", r"vision::list::scan|Scanner", None),
 ("parse_page: quick-xml events + rest", r"vision::list::parse_page", None),
 ("read_key/parse (key grammar)", r"Dataset::read_key|Dataset::parse", None),
 ("Lister::progress checks", r"vision::list::progress", None),
 ("body: utf8 check", r"core::str::converts::from_utf8", None),
 ("body: read_capped (collect chunks)", r"read_capped", None),
 ("DuckDB: appender rows", r"write_folders", r"duckdb::appender|Appender|value_ref|ValueRef|duckdb_append"),
 ("DuckDB: write_folders other (flush, commit, checkpoint)", r"write_folders", None),
 ("DuckDB: publish/close/other", r"duckdb::|duckdb_", None),
 ("HTTP: hyper/reqwest/mio/kernel net", r"hyper::|reqwest::|mio::|tcp_|sock_|inet_", None),
 ("FolderReader::read + crawl work (alloc)", r"crawl::Crawl|FolderReader", ALLOC),
 ("FolderReader::read + crawl work", r"crawl::Crawl|FolderReader", None),
 ("driver/join", r"driver::", None),
 ("tokio scheduler/park", r"tokio::", None),
]
cats = [(n, re.compile(a), re.compile(l) if l else None) for n, a, l in cats]
count = collections.Counter(); total = 0
frames = []
def leafish(frames):
    # the innermost few frames (an allocation is malloc -> _int_malloc -> ...)
    return frames[:3]
def flush():
    global total
    if not frames: return
    total += 1
    for n, a, l in cats:
        if any(a.search(f) for f in frames) and (l is None or any(l.search(f) for f in leafish(frames))):
            count[n] += 1; return
    count["other: " + frames[0][:70]] += 1
for line in open(sys.argv[1]):
    if not line.strip():
        flush(); frames = []; continue
    if line[0] in "\t ":
        parts = line.strip().split(" ", 1)
        frames.append(parts[1] if len(parts) > 1 else parts[0])
flush()
other = 0
for n, c in count.most_common():
    if n.startswith("other") and c / total < 0.005:
        other += c; continue
    print(f"{100*c/total:6.1f}%  {n}")
print(f"{100*other/total:6.1f}%  other (each < 0.5%)")
print("samples", total)
