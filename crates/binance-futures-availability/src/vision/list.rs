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
    pub last_modified: DateTime<Utc>,
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
            let last_modified = o
                .last_modified
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(|| format!("the entry {} has no valid LastModified", o.key))?;
            Ok(ListedObject {
                key: name(o.key)?,
                size: o.size,
                last_modified: last_modified.with_timezone(&Utc),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_delimiter_page_gives_folders_and_not_the_prefix_echo() {
        let fixtures = include_str!("../../../../fixtures/bucket/listbucket_examples.xml");
        let doc = fixtures
            .split("<!-- 2)")
            .nth(1)
            .and_then(|d| d.split_once("-->"))
            .map(|(_, d)| d)
            .unwrap();
        let doc = doc.split("<!--").next().unwrap();
        let page = parse_page(doc).unwrap();
        assert!(page.objects.is_empty() && page.next_token.is_none());
        assert_eq!(
            page.common_prefixes,
            [
                "data/futures/um/daily/klines/BTCUSDT//",
                "data/futures/um/daily/klines/BTCUSDT/12h/",
                "data/futures/um/daily/klines/BTCUSDT/1h/"
            ]
        );
    }

    #[test]
    fn entities_unicode_and_url_encoding_are_decoded() {
        let xml = r#"<ListBucketResult><Prefix>p/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>t+1/=</NextContinuationToken>
            <Contents><Key>k/币安人生USDT &amp; co</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><ETag>&quot;4c65&quot;</ETag><Size>1387</Size></Contents></ListBucketResult>"#;
        let page = parse_page(xml).unwrap();
        assert_eq!(page.objects[0].key, "k/币安人生USDT & co");
        assert_eq!(page.objects[0].etag.as_deref(), Some("4c65"));
        assert_eq!(
            page.objects[0].last_modified.to_rfc3339(),
            "2022-03-21T08:58:02+00:00"
        );
        assert_eq!(page.next_token.as_deref(), Some("t+1/="));
        let encoded = r#"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>
            <Contents><Key>k/%E5%B8%81%E5%AE%89USDT</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><Size>1</Size></Contents>
            <CommonPrefixes><Prefix>d/%E5%B8%81/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_page(encoded).unwrap();
        assert_eq!(
            (
                page.objects[0].key.as_str(),
                page.common_prefixes[0].as_str()
            ),
            ("k/币安USDT", "d/币/")
        );
    }

    #[test]
    fn malformed_pages_are_errors_not_empty_listings() {
        assert!(
            parse_page("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                .is_err()
        );
        assert!(parse_page("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>").is_err());
        assert!(parse_page("<<<not xml").is_err());
    }
}
