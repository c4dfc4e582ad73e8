//! What `BFA_LOG` means. It is a `tracing` filter, with one difference: a bare level names the
//! tool's own events, not every crate's. `BFA_LOG=debug` used to raise the HTTP stack too, and
//! one update printed 4,146 lines of hyper's connection pool and nothing of the tool's stages;
//! now it is `binance_futures_availability=debug` over `warn` for everything else, and a
//! dependency's internals are shown only when named (`BFA_LOG=debug,reqwest=debug,hyper_util=trace`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, ParseError};

/// The target of every event the tool (library and binary) emits.
pub const OWN_TARGET: &str = "binance_futures_availability";

/// `BFA_LOG` is not a filter: exit 2, before anything runs.
#[derive(Debug, thiserror::Error)]
#[error(
    "BFA_LOG={spec:?} is not a log filter ({source}); give a level for the tool's own events \
     (`BFA_LOG=debug`) and, to see a dependency's, name it (`BFA_LOG=debug,reqwest=debug`)"
)]
pub struct LogFilterError {
    spec: String,
    source: ParseError,
}

/// The filter for `spec` (`BFA_LOG`'s value; unset or empty: none). Everything not named stays
/// at `warn`, or `error` with `--quiet`.
pub fn log_filter(spec: Option<&str>, quiet: bool) -> Result<EnvFilter, LogFilterError> {
    let default = if quiet { "error" } else { "warn" };
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(EnvFilter::new(default));
    };
    let mut directives = vec![default.to_string()];
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        directives.push(match directive.parse::<LevelFilter>() {
            Ok(level) => format!("{OWN_TARGET}={level}"),
            Err(_) => directive.to_string(),
        });
    }
    EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .parse(directives.join(","))
        .map_err(|source| LogFilterError {
            spec: spec.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spec: &str) -> String {
        log_filter(Some(spec), false).unwrap().to_string()
    }

    #[test]
    fn a_bare_level_is_the_tools_own_and_named_targets_stay_as_given() {
        let debug = shown("debug");
        assert!(
            debug.contains("binance_futures_availability=debug"),
            "{debug}"
        );
        assert!(!debug.split(',').any(|d| d == "debug"), "{debug}");
        let named = shown("info,reqwest=debug");
        assert!(
            named.contains("binance_futures_availability=info") && named.contains("reqwest=debug"),
            "{named}"
        );
        assert_eq!(log_filter(None, true).unwrap().to_string(), "error");
        assert!(log_filter(Some("reqwest=loud"), false).is_err());
    }
}
