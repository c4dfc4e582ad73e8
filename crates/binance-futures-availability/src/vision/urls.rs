//! URLs: the endpoints as configured, parsed once, and every URL the client requests built from
//! them with the `url` crate — keys percent-encoded, a base's own query string kept, and
//! credentials hidden wherever a URL is shown, logged or stored. Also the redirect rule.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;

use super::SetupError;

/// Characters kept as they are in paths and query values: RFC 3986 unreserved, and `/`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The public download address of `key` (`https://data.binance.vision/data/…`), its path
/// percent-encoded, whatever endpoint listed it: what `catalog files --format urls` prints for
/// `aria2c -i` and `wget -i`.
pub fn public_url(key: &str) -> String {
    format!(
        "{}/{}",
        crate::config::DEFAULT_DATA_URL.trim_end_matches('/'),
        utf8_percent_encode(key, KEEP)
    )
}

/// Where the bucket is listed and where its files are served, as configured (flags, env).
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Path-style S3 bucket URL, e.g. `https://s3-ap-northeast-1.amazonaws.com/data.binance.vision`.
    pub s3_url: String,
    /// Base URL of the files, e.g. `https://data.binance.vision`.
    pub data_url: String,
}

/// The endpoints parsed once: every URL is built from these by the `url` crate, so a base that
/// carries a query string (`…?x=1`) or credentials stays well-formed.
#[derive(Debug)]
pub(super) struct Bases {
    pub(super) s3: Url,
    pub(super) data: Url,
}

impl Bases {
    pub(super) fn parse(endpoints: &Endpoints) -> Result<Bases, SetupError> {
        let parse = |text: &str| -> Result<Url, SetupError> {
            let mut url = Url::parse(text).map_err(|e| SetupError::BadUrl {
                url: redact_text(text),
                source: Box::new(e),
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(SetupError::NotHttp {
                    url: redact_text(text),
                });
            }
            let path = url.path().trim_end_matches('/').to_string();
            url.set_path(&path);
            Ok(url)
        };
        Ok(Bases {
            s3: parse(&endpoints.s3_url)?,
            data: parse(&endpoints.data_url)?,
        })
    }

    /// `{data}/{key}`, the key percent-encoded; the base's query, if any, kept after it.
    pub(super) fn file(&self, key: &str) -> Url {
        let mut url = self.data.clone();
        let path = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            utf8_percent_encode(key, KEEP)
        );
        url.set_path(&path);
        url
    }

    /// The bucket URL with the listing's parameters appended to whatever query it has.
    pub(super) fn list(&self, params: &[(&str, &str)]) -> Url {
        let mut url = self.s3.clone();
        let mut query = url.query().unwrap_or_default().to_string();
        for (name, value) in params {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(name);
            query.push('=');
            query.extend(utf8_percent_encode(value, KEEP));
        }
        url.set_query(Some(&query));
        url
    }
}

/// A URL as it may be shown, logged or stored: user name and password replaced by `***`.
pub(super) fn redact(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Both setters only fail on URLs that cannot carry credentials, which these did.
    let _ = shown.set_username("***");
    let _ = shown.set_password(url.password().map(|_| "***"));
    shown.to_string()
}

/// `redact` for text that did not parse as a URL: everything between `//` and `@` hidden.
pub(super) fn redact_text(text: &str) -> String {
    match text.split_once("//") {
        Some((scheme, rest)) => match rest.split_once('/').unwrap_or((rest, "")) {
            (authority, path) if authority.contains('@') => {
                let host = authority.rsplit_once('@').map_or("", |(_, h)| h);
                format!("{scheme}//***@{host}/{path}")
            }
            _ => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// Whether to follow a redirect from `from` to `to`: never from https to plain http, where
/// anything on the path could read or change the answer.
pub(super) fn may_redirect(from: &Url, to: &Url) -> bool {
    !(from.scheme() == "https" && to.scheme() != "https")
}

/// Whether `to` is on the same scheme, host and port as `origin`: the only redirects a file
/// request follows ("another host" is any other authority, another port of 127.0.0.1 included).
pub(super) fn same_authority(origin: &Url, to: &Url) -> bool {
    origin.scheme() == to.scheme()
        && origin.host() == to.host()
        && origin.port_or_known_default() == to.port_or_known_default()
}

/// Redirects followed at most per request: S3 sends one (to the bucket's region), CloudFront none.
pub(super) const MAX_REDIRECTS: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn bases(s3: &str, data: &str) -> Bases {
        Bases::parse(&Endpoints {
            s3_url: s3.into(),
            data_url: data.into(),
        })
        .unwrap()
    }

    #[test]
    fn urls_keep_a_base_query_and_hide_credentials() {
        let b = bases("http://h:9/bucket/?x=1", "http://user:secret@h:9/files/");
        assert_eq!(
            b.list(&[("list-type", "2"), ("prefix", "a/币 b/")])
                .as_str(),
            "http://h:9/bucket?x=1&list-type=2&prefix=a/%E5%B8%81%20b/"
        );
        let file = b.file("k/币.zip");
        assert_eq!(file.password(), Some("secret"));
        assert_eq!(redact(&file), "http://***:***@h:9/files/k/%E5%B8%81.zip");
        assert_eq!(
            redact(&bases("http://token@h/b", "http://h").s3),
            "http://***@h/b"
        );
        assert_eq!(redact_text("http://u:p@h:x/b"), "http://***@h:x/b");
        assert!(
            Bases::parse(&Endpoints {
                s3_url: "ftp://h/b".into(),
                data_url: "http://h".into()
            })
            .is_err()
        );
    }

    #[test]
    fn a_redirect_never_downgrades_to_http() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(!may_redirect(&u("https://a/x"), &u("http://a/x")));
        assert!(may_redirect(&u("https://a/x"), &u("https://b/x")));
        assert!(may_redirect(&u("http://a/x"), &u("http://b/x")));
        assert!(may_redirect(&u("http://a/x"), &u("https://a/x")));
    }

    #[test]
    fn a_file_redirect_stays_on_its_authority() {
        let u = |s: &str| Url::parse(s).unwrap();
        let data = u("http://127.0.0.1:8080/data/k.zip");
        assert!(same_authority(&data, &u("http://127.0.0.1:8080/other")));
        assert!(same_authority(&u("https://h/x"), &u("https://h:443/y")));
        for other in [
            "http://127.0.0.1:8081/data/k.zip",
            "http://localhost:8080/data/k.zip",
            "https://127.0.0.1:8080/data/k.zip",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            assert!(!same_authority(&data, &u(other)), "{other}");
        }
    }
}
