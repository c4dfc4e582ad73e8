//! S3 ListObjectsV2 with paging: where a listing page becomes keys and folder names.
//! Pages are pulled one at a time (`Lister::next_page`), so nothing holds a whole listing.

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::{VisionClient, VisionError, keys};

/// One object of a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
}

/// One page: its objects, its folders (`CommonPrefixes`), and the token of the next page.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    is_truncated: bool,
    next_continuation_token: Option<String>,
    encoding_type: Option<String>,
    #[serde(default)]
    contents: Vec<XmlObject>,
    #[serde(default)]
    common_prefixes: Vec<XmlPrefix>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlObject {
    key: String,
    #[serde(default)]
    size: u64,
    last_modified: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlPrefix {
    prefix: String,
}

/// Reads one ListBucketResult document. With `encoding-type=url`, names come percent-encoded.
pub(super) fn parse_page(xml: &str) -> Result<ListPage, String> {
    let doc: ListBucketResult = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    let url_encoded = doc.encoding_type.as_deref() == Some("url");
    let name = |s: String| -> Result<String, String> {
        if url_encoded {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|e| format!("a url-encoded name is not UTF-8: {e}"))
        } else {
            Ok(s)
        }
    };
    if doc.is_truncated && doc.next_continuation_token.is_none() {
        return Err("the page is truncated but carries no NextContinuationToken".into());
    }
    let objects = doc
        .contents
        .into_iter()
        .map(|o| {
            Ok(ListedObject {
                key: name(o.key)?,
                size: o.size,
                last_modified: o
                    .last_modified
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                etag: o.etag.map(|e| e.trim_matches('"').to_string()),
            })
        })
        .collect::<Result<_, String>>()?;
    let common_prefixes = doc
        .common_prefixes
        .into_iter()
        .map(|p| name(p.prefix))
        .collect::<Result<_, _>>()?;
    Ok(ListPage {
        objects,
        common_prefixes,
        next_token: if doc.is_truncated {
            doc.next_continuation_token
        } else {
            None
        },
    })
}

/// Pulls the pages of one listing in order, following continuation tokens to the end.
pub struct Lister {
    client: VisionClient,
    prefix: String,
    delimiter: Option<String>,
    start_after: Option<String>,
    token: Option<String>,
    done: bool,
}

impl Lister {
    /// The next page, or `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<ListPage>, VisionError> {
        if self.done {
            return Ok(None);
        }
        let mut params: Vec<(&str, &str)> = vec![("list-type", "2"), ("prefix", &self.prefix)];
        if let Some(d) = &self.delimiter {
            params.push(("delimiter", d));
        }
        match &self.token {
            Some(t) => params.push(("continuation-token", t)),
            None => {
                if let Some(s) = &self.start_after {
                    params.push(("start-after", s));
                }
            }
        }
        let page = self
            .client
            .get_parsed(format!("listing {}", self.prefix), &params, parse_page)
            .await?;
        self.token = page.next_token.clone();
        self.done = self.token.is_none();
        Ok(Some(page))
    }
}

impl VisionClient {
    /// A listing of `prefix`, optionally grouped by `delimiter` and starting after a key.
    pub fn lister(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        start_after: Option<String>,
    ) -> Lister {
        Lister {
            client: self.clone(),
            prefix: prefix.to_string(),
            delimiter: delimiter.map(str::to_string),
            start_after,
            token: None,
            done: false,
        }
    }

    /// Every symbol folder under the UM daily klines root (over 1000, so paged), in bucket order.
    pub async fn discover_symbols(&self) -> Result<Vec<String>, VisionError> {
        let mut lister = self.lister(keys::KLINES_ROOT, Some("/"), None);
        let mut symbols = Vec::new();
        while let Some(page) = lister.next_page().await? {
            symbols.extend(
                page.common_prefixes
                    .iter()
                    .filter_map(|p| keys::folder_symbol(p))
                    .map(str::to_string),
            );
        }
        Ok(symbols)
    }
}
