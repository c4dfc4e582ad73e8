//! A simulated Binance Vision bucket for tests, benchmarks and offline try-outs.
//!
//! It serves an in-memory, sorted key index the way the real bucket does: S3 ListObjects V1 and
//! V2 (prefix, delimiter, markers, continuation tokens, `max-keys` ≤ 1000, `encoding-type=url`),
//! HEAD and GET of objects (CHECKSUM bodies included; 1d klines, daily and monthly, as real zips
//! of deterministic rows, `trading`) and S3-style XML errors, path-style under
//! `/data.binance.vision`. Knobs add latency, scripted faults and files that appear or change
//! later; counters and a peak-concurrency gauge let tests see what a client did.
//!
//! Besides sorted corpora it serves the whole bucket generated on demand (`Vision`, the
//! `vision` corpus): every market, type and interval at any scale up to the real size, as of a
//! clock a test moves (`SimServer::set_clock`), never materialised. Both answer the `Keys`
//! trait, which listings and objects are served from.
//!
//! It shares no code with the client it tests, on purpose: a shared key grammar would hide bugs.

mod coin_m;
mod corpus;
mod realistic;
mod s3;
mod server;
mod spot;
pub mod trading;
mod vision;

pub use coin_m::{CM_INDEX_ROOT, CM_MONTHLY_ROOT, CM_ROOT, coin_m};
pub use corpus::{
    Corpus, CorpusSpec, MONTHLY_ROOT, Object, ObjectKind, ROOT, SymbolSpec, checksum_body,
    daily_key_in, kline_rows, monthly_1d_key, monthly_1d_key_in, object_bytes,
};
pub use realistic::realistic;
pub use s3::{Keys, ListQuery, Start, list};
pub use server::{Fault, FaultRule, Paging, SimOptions, SimServer, SimStats};
pub use spot::{SPOT_MONTHLY_ROOT, SPOT_ROOT, SpotPair, spot, spot_pairs, spot_wide};
pub use vision::{Bucket, Change, ChangeKind, Event, Market, Scripted, Stray, Vision, VisionAt};

/// The bucket name the real service uses; listing and objects live under `/{BUCKET}`.
pub const BUCKET: &str = "data.binance.vision";
