//! File and folder paths as callers write them (`documents/contract.pdf`), checked before they
//! become object keys under the caller's tenant. A path that could step outside the tenant, or
//! that a filesystem, S3 or a URL would read differently, is refused with the reason.

use crate::ApiError;

/// The longest path after `tenants/{id}/`; S3 keys stop at 1024 bytes, and the prefix and
/// staging names need the rest.
pub const MAX_PATH_BYTES: usize = 768;
/// The longest file or folder name most filesystems allow.
pub const MAX_NAME_BYTES: usize = 255;
/// The name of the empty object that keeps an empty folder visible.
pub const FOLDER_MARKER: &str = ".folder";

/// Check a file path; returns it unchanged when it is acceptable.
pub fn file(text: &str) -> Result<String, ApiError> {
    if text.is_empty() {
        return Err(bad(
            text,
            "it is empty: name a file, like documents/report.pdf",
        ));
    }
    if text.ends_with('/') {
        return Err(bad(
            text,
            "it ends with / and so names a folder, not a file",
        ));
    }
    check(text)?;
    Ok(text.to_string())
}

/// Check a folder path; the tenant's root is `""`. A trailing `/` is accepted and dropped.
pub fn folder(text: &str) -> Result<String, ApiError> {
    let trimmed = text.strip_suffix('/').unwrap_or(text);
    if trimmed.is_empty() {
        return if text.is_empty() {
            Ok(String::new())
        } else {
            Err(bad(
                text,
                "it is absolute: write folders relative to your files, like documents",
            ))
        };
    }
    check(trimmed)?;
    Ok(trimmed.to_string())
}

/// A file name from an upload form (one segment, no folders).
pub fn file_name(text: &str) -> Result<String, ApiError> {
    if text.contains('/') || text.contains('\\') {
        return Err(bad(
            text,
            "an uploaded file's name may not contain / or \\: choose the folder with ?folder=",
        ));
    }
    file(text)
}

/// `folder` joined with `name`.
pub fn join(folder: &str, name: &str) -> Result<String, ApiError> {
    let joined = if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    };
    file(&joined)
}

fn check(text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_PATH_BYTES {
        return Err(bad(
            text,
            &format!("it is longer than {MAX_PATH_BYTES} bytes"),
        ));
    }
    if text.starts_with('/') {
        return Err(bad(
            text,
            "it is absolute: write it relative to your files, like documents/report.pdf",
        ));
    }
    if text.contains('\\') {
        return Err(bad(text, "it contains \\: separate folders with /"));
    }
    if text.chars().any(char::is_control) {
        return Err(bad(text, "it contains a control character"));
    }
    if text.contains(['#', '?']) {
        return Err(bad(text, "it contains # or ?, which a URL would cut off"));
    }
    for name in text.split('/') {
        match name {
            "" => return Err(bad(text, "it has an empty folder name (//)")),
            "." | ".." => {
                return Err(bad(
                    text,
                    "it contains . or .. ; paths cannot step between folders",
                ))
            }
            FOLDER_MARKER => {
                return Err(bad(text, "the name .folder is reserved for folder markers"))
            }
            _ if name.len() > MAX_NAME_BYTES => {
                return Err(bad(
                    text,
                    &format!("a name in it is longer than {MAX_NAME_BYTES} bytes"),
                ))
            }
            // `C:` would be a drive on Windows.
            _ if name.len() == 2 && name.ends_with(':') => {
                return Err(bad(text, "it starts like a drive letter (C:)"))
            }
            _ if name.trim() != name => {
                return Err(bad(text, "a name in it starts or ends with a space"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn bad(path: &str, why: &str) -> ApiError {
    let shown: String = path
        .chars()
        .take(100)
        .flat_map(char::escape_debug)
        .collect();
    ApiError::BadRequest(format!("the path \"{shown}\" is not allowed: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<String, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "a.txt",
            "documents/contract.pdf",
            "images/logo (1).png",
            "données/été.csv",
            "a/b/c/d/e.f",
            "..hidden",
            "a..b",
        ] {
            assert_eq!(file(ok).unwrap(), ok);
        }
        assert_eq!(folder("").unwrap(), "");
        assert_eq!(folder("documents/").unwrap(), "documents");
        assert_eq!(join("", "a.txt").unwrap(), "a.txt");
        assert_eq!(join("docs", "a.txt").unwrap(), "docs/a.txt");
    }

    #[test]
    fn refuses_every_way_out_of_the_tenant_and_every_ambiguity() {
        let cases = [
            ("", "empty"),
            ("../other-tenant/secret.txt", ".."),
            ("docs/../../x", ".."),
            ("./a", ".."),
            ("/etc/passwd", "absolute"),
            ("docs\\..\\x", "\\"),
            ("a//b", "empty folder name"),
            ("a/", "folder"),
            ("a\u{0}b", "control"),
            ("a\nb", "control"),
            ("a#1", "#"),
            ("C:/windows", "drive"),
            ("docs/.folder", "reserved"),
            (" a", "space"),
        ];
        for (path, why) in cases {
            let message = refused(file(path));
            assert!(message.contains(why), "{path:?}: {message}");
        }
        assert!(refused(file(&"a".repeat(256))).contains("longer than 255"));
        let long = vec!["abcdefgh"; 100].join("/");
        assert!(refused(file(&long)).contains("longer than 768"));
        assert!(refused(folder("/")).contains("absolute"));
        assert!(refused(folder("../x")).contains(".."));
        assert!(refused(file_name("../../etc/passwd")).contains("/"));
        assert!(refused(file_name("C:\\Users\\me\\x.txt")).contains("\\"));
    }
}
