//! What every request passes and every response carries: the Host rule and the security
//! headers.
//!
//! A server on loopback is still reachable from any web page the user opens: DNS rebinding
//! points a name the attacker controls at 127.0.0.1, and the browser then lets that page read
//! the answers, `/v1/status` included. The browser still sends the attacker's name as `Host`,
//! so only the names of this server are answered: `127.0.0.1`, `[::1]` and `localhost` with
//! the port listened on, and the names given with `--allow-host` (a reverse proxy's). Any other
//! is refused with 421 Misdirected Request (RFC 9110 15.5.20: this server does not answer for
//! that authority; 403 would say the client lacks a permission it could get).
//!
//! Every response says `nosniff` (a JSON body is never run as a script or read as HTML), that
//! no other site may frame the page (clickjacking), and that the page loads nothing but its own
//! files (`default-src 'self'`: no inline script, no other origin).
//!
//! What must not be known here: routes, the database.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;

/// The page's policy: its own files only, never framed, forms and `<base>` only to itself.
pub(super) const CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Which `Host` values are answered.
#[derive(Debug, Clone)]
pub(super) struct Hosts {
    /// `None`: any (a non-loopback address without `--allow-host`).
    names: Option<Vec<Allowed>>,
    port: u16,
}

/// One allowed name, lower case; `port: None` admits it with any port or none.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    host: String,
    port: Option<u16>,
}

/// A `--allow-host` value that cannot be a host name.
#[derive(Debug, thiserror::Error)]
#[error(
    "--allow-host {given:?} is not a host name: give a name or address as a browser sends it \
     in Host, optionally with :PORT (e.g. availability.example.com or 10.0.0.5:8080)"
)]
pub struct BadHost {
    given: String,
}

impl Hosts {
    /// The names answered for a server listening on `port`: loopback's with the port, and
    /// `extra` (`NAME` or `NAME:PORT`). `any`: answer every Host (non-loopback addresses
    /// without `--allow-host`, where the names are not known).
    pub(super) fn new(port: u16, extra: &[String], any: bool) -> Result<Hosts, BadHost> {
        let mut names: Vec<Allowed> = ["127.0.0.1", "[::1]", "localhost"]
            .into_iter()
            .map(|host| Allowed {
                host: host.to_string(),
                port: Some(port),
            })
            .collect();
        for given in extra {
            let bad = || BadHost {
                given: given.chars().take(80).collect(),
            };
            let (host, port) = split(&given.to_ascii_lowercase()).ok_or_else(bad)?;
            if !is_host_name(&host) {
                return Err(bad());
            }
            names.push(Allowed { host, port });
        }
        Ok(Hosts {
            names: (!any || !extra.is_empty()).then_some(names),
            port,
        })
    }

    /// Whether a request naming `host` (its Host header) is answered.
    fn admits(&self, host: Option<&str>) -> bool {
        let Some(names) = &self.names else {
            return true;
        };
        let Some((name, port)) = host.and_then(|h| split(&h.to_ascii_lowercase())) else {
            return false;
        };
        // A browser leaves out the default port.
        let port = port.or((self.port == 80).then_some(80));
        names
            .iter()
            .any(|a| a.host == name && (a.port.is_none() || a.port == port))
    }

    /// What the refusal says is answered.
    fn listed(&self) -> String {
        self.names
            .iter()
            .flatten()
            .map(|a| match a.port {
                Some(p) => format!("{}:{p}", a.host),
                None => a.host.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `host[:port]` (`[v6]:port` for IPv6) into its parts; `None` when the port is not a number.
fn split(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let rest = &text[end + 1..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (&text[..=end], port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// A DNS name or IPv4 address (letters, digits, `-`, `.`), or a bracketed IPv6 address.
fn is_host_name(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
    }
}

/// Refuses a request for another name (421), and adds the security headers to every answer.
pub(super) async fn guard(
    State(hosts): State<Arc<Hosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    let mut response = if hosts.admits(host.as_deref()) {
        next.run(request).await
    } else {
        let named = match &host {
            Some(h) => format!("{:?}", h.chars().take(80).collect::<String>()),
            None => "no host".to_string(),
        };
        ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server answers only requests for {}, and this one named {named}; a name \
                 of its own (a reverse proxy's) is admitted with `serve --allow-host NAME`",
                hosts.listed()
            ),
        )
        .into_response()
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_names_are_answered() {
        let hosts = Hosts::new(
            8080,
            &["Proxy.Example.com".into(), "10.0.0.5:9000".into()],
            false,
        )
        .unwrap();
        for (host, admitted) in [
            ("127.0.0.1:8080", true),
            ("localhost:8080", true),
            ("LOCALHOST:8080", true),
            ("[::1]:8080", true),
            ("localhost", false),
            ("localhost:8081", false),
            ("127.0.0.1", false),
            ("evil.example:8080", false),
            ("127.0.0.1.evil.example:8080", false),
            ("proxy.example.com", true),
            ("proxy.example.com:443", true),
            ("10.0.0.5:9000", true),
            ("10.0.0.5", false),
            ("[::1]x:8080", false),
            ("", false),
            (":8080", false),
        ] {
            assert_eq!(hosts.admits(Some(host)), admitted, "{host:?}");
        }
        assert!(!hosts.admits(None));
        // On port 80 a browser sends no port.
        let on_80 = Hosts::new(80, &[], false).unwrap();
        assert!(on_80.admits(Some("localhost")) && on_80.admits(Some("localhost:80")));
        // A public address without --allow-host: any name (they are not known).
        assert!(
            Hosts::new(8080, &[], true)
                .unwrap()
                .admits(Some("anything:1"))
        );
        // With --allow-host the rule holds there too.
        assert!(
            !Hosts::new(8080, &["a.example".into()], true)
                .unwrap()
                .admits(Some("b:1"))
        );
    }

    #[test]
    fn an_allowed_host_must_be_a_host_name() {
        for bad in [
            "",
            "a b",
            "a/b",
            "a:port",
            "a:99999",
            "[zz]",
            "*.example.com",
            "a:",
        ] {
            assert!(Hosts::new(1, &[bad.to_string()], false).is_err(), "{bad:?}");
        }
        for good in ["a.example", "a.example:8443", "[::1]:9", "10.1.2.3"] {
            assert!(
                Hosts::new(1, &[good.to_string()], false).is_ok(),
                "{good:?}"
            );
        }
    }
}
