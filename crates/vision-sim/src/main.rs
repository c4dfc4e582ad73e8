//! `vision-sim`: serve a simulated Binance Vision bucket for try-outs and benchmarks.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use vision_sim::{Bucket, Corpus, CorpusSpec, SimOptions, SimServer, Vision};

/// Serve a simulated Binance Vision bucket (S3 listing, HEAD and GET) on a local port.
///
/// Point binance-futures-availability at it with
/// BFA_S3_URL=http://ADDR/data.binance.vision and BFA_DATA_URL=http://ADDR.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:9900")]
    addr: SocketAddr,
    /// `realistic` (every real folder name, ~1000 folders, 600k+ daily files), `coin-m` (COIN-M
    /// perpetuals, a quarterly, a settled folder and a pair), `spot` (five spot pairs: a
    /// delisting, a pair that came back, microseconds from 2025), `vision` (the whole bucket: spot,
    /// USD-M, COIN-M and option, daily and monthly, every data type and interval, sidecars and
    /// strays, generated per request and never held in memory; size it with --scale), several of
    /// realistic, coin-m and spot joined by commas (`realistic,coin-m,spot`: one bucket of
    /// three markets), or a JSON corpus spec file.
    #[arg(long, default_value = "realistic")]
    corpus: String,
    /// For `realistic`, `coin-m` and `spot`: the day whose morning the bucket shows (files through the
    /// day before). For `vision`: the clock is that day at 09:00 UTC. Default: today, UTC (for
    /// `vision`: now).
    #[arg(long)]
    as_of: Option<chrono::NaiveDate>,
    /// For `vision`: the instant the bucket shows (RFC 3339, e.g. 2026-12-06T07:30:00Z);
    /// overrides --as-of.
    #[arg(long)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// For `vision`: the fraction of the real bucket's symbol folders (1.0 ≈ 1.9e8 keys; a few
    /// named real folders are kept at every scale).
    #[arg(long, default_value_t = 0.01)]
    scale: f64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// A random extra latency of up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let options = SimOptions {
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
    };
    if args.corpus == "vision" {
        if !(args.scale > 0.0 && args.scale <= 1.0) {
            eprintln!(
                "vision-sim: --scale {} is not a fraction in (0, 1]",
                args.scale
            );
            return ExitCode::from(2);
        }
        let at = args.at.unwrap_or_else(|| match args.as_of {
            Some(day) => day.and_hms_opt(9, 0, 0).unwrap_or_default().and_utc(),
            None => chrono::Utc::now(),
        });
        let model = Arc::new(Vision::new(args.scale));
        let keys: u64 = model.census(at).iter().map(|c| c.1).sum();
        return match SimServer::start_bucket_on(args.addr, Bucket::Vision(model.at(at)), options) {
            Ok(server) => {
                println!(
                    "vision-sim: serving the whole bucket at scale {} as of {} (~{keys} keys) on http://{}",
                    args.scale,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    server.addr()
                );
                println!(
                    "  export BFA_S3_URL={} BFA_DATA_URL={}",
                    server.s3_url(),
                    server.data_url()
                );
                server.wait();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vision-sim: could not listen on {}: {e}", args.addr);
                ExitCode::from(1)
            }
        };
    }
    let named = |name: &str| match name {
        "realistic" => Some(vision_sim::realistic(as_of)),
        "coin-m" => Some(vision_sim::coin_m(as_of)),
        "spot" => Some(vision_sim::spot(as_of)),
        _ => None,
    };
    let corpus = match args
        .corpus
        .split(',')
        .map(named)
        .collect::<Option<Vec<Corpus>>>()
    {
        Some(parts) => parts
            .into_iter()
            .reduce(Corpus::merged)
            .unwrap_or_else(|| Corpus::from_objects(Vec::new())),
        None => {
            let spec: Result<CorpusSpec, String> = std::fs::read_to_string(&args.corpus)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
            match spec {
                Ok(spec) => Corpus::from_spec(&spec),
                Err(e) => {
                    eprintln!(
                        "vision-sim: could not read the corpus spec {}: {e}",
                        args.corpus
                    );
                    return ExitCode::from(2);
                }
            }
        }
    };
    let keys = corpus.len();
    match SimServer::start_on(args.addr, corpus, options) {
        Ok(server) => {
            println!(
                "vision-sim: serving {keys} keys on http://{}",
                server.addr()
            );
            println!(
                "  export BFA_S3_URL={} BFA_DATA_URL={}",
                server.s3_url(),
                server.data_url()
            );
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vision-sim: could not listen on {}: {e}", args.addr);
            ExitCode::from(1)
        }
    }
}
