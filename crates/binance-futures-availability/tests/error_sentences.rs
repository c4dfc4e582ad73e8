//! Every error sentence the binary can print is in `docs/troubleshooting.md` with what to do
//! (issue 17). The sentences are read from the `#[error("…")]` attributes of the source, not
//! from a list kept by hand, so a new error without documentation fails here.

use std::path::Path;

/// The literal pieces of a thiserror format string: the text between placeholders.
fn pieces(format: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in format.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push(std::mem::take(&mut current));
                }
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => current.push(c),
            _ => {}
        }
    }
    out.push(current);
    out
}

/// Collapses whitespace (format strings wrap lines with `\` + newline) and unescapes quotes.
fn normal(text: &str) -> String {
    text.replace("\\\n", " ")
        .replace("\\\"", "\"")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every `#[error("…")]` format string under `dir`, with the file it is in.
fn error_formats(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            error_formats(&path, found);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[error(") {
            rest = &rest[at + "#[error(".len()..];
            let attr = rest.trim_start();
            if attr.starts_with("transparent") {
                continue;
            }
            let Some(body) = attr.strip_prefix('"') else {
                continue;
            };
            // The string ends at the first unescaped quote.
            let mut end = 0;
            let bytes = body.as_bytes();
            while end < bytes.len()
                && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\'))
            {
                end += 1;
            }
            found.push((path.display().to_string(), body[..end].to_string()));
        }
    }
}

#[test]
fn every_error_sentence_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = normal(
        &std::fs::read_to_string(root.join("../../docs/troubleshooting.md"))
            .unwrap()
            .replace('`', ""),
    );
    let mut formats = Vec::new();
    error_formats(&root.join("src"), &mut formats);
    assert!(
        formats.len() > 40,
        "only {} error messages found",
        formats.len()
    );
    let mut missing = Vec::new();
    for (file, format) in &formats {
        // Each literal piece of 12+ characters must appear in the guide (placeholders are
        // written there as `…`).
        for piece in pieces(format) {
            let piece = normal(&piece.replace('`', ""));
            if piece.chars().count() >= 12 && !docs.contains(&piece) {
                missing.push(format!("{file}: {piece:?}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} error sentence(s) are not in docs/troubleshooting.md:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
