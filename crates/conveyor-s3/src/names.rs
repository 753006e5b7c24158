//! Which bucket names and object keys the local store can hold.
//!
//! S3 takes any UTF-8 key up to 1,024 bytes; the local store keeps objects as files, so a key
//! must also be a relative path that stays inside its bucket's directory: no `.` or `..`
//! segment, no empty segment (`a//b`, a leading or trailing `/`), no control characters. Such
//! keys are refused with an S3 error that says why, never written elsewhere.

/// S3's limit on a key's length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a key cannot be stored, or `None` when it can.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("the object key is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Some(format!(
            "the object key is {} bytes long; S3 keys are at most {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Some(format!(
            "the object key holds the control character U+{:04X}, which the local store cannot keep in a file name",
            c as u32
        ));
    }
    for segment in key.split('/') {
        match segment {
            "" => {
                return Some(format!(
                    "the object key {key:?} has an empty path segment (a leading, trailing or doubled /); the local store keeps keys as relative file paths"
                ))
            }
            "." | ".." => {
                return Some(format!(
                    "the object key {key:?} has a {segment:?} segment; the local store keeps keys as file paths inside the bucket"
                ))
            }
            _ => {}
        }
    }
    None
}

/// Why `name` is not a bucket name S3 would create, or `None`: 3 to 63 characters of lowercase
/// letters, digits, dots and hyphens, starting and ending with a letter or digit, no `..`, and
/// not shaped like an IP address.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some(format!(
            "the bucket name {name:?} is {} characters; bucket names have 3 to 63",
            bytes.len()
        ));
    }
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    if !bytes.iter().all(allowed) {
        return Some(format!(
            "the bucket name {name:?} may hold only lowercase letters, digits, dots and hyphens"
        ));
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) {
        return Some(format!(
            "the bucket name {name:?} must start and end with a letter or digit"
        ));
    }
    if name.contains("..") {
        return Some(format!("the bucket name {name:?} has two dots in a row"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(format!(
            "the bucket name {name:?} is shaped like an IP address"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_leave_the_bucket_or_clash_are_refused() {
        for good in [
            "a",
            "results/q/year=2026/x.json",
            "ümlaut/ß.txt",
            "a b+c%20.txt",
            "..a/b..",
        ] {
            assert_eq!(key_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            "dir/",
            "../etc/passwd",
            "a/./b",
            "a/..",
            "tab\there",
            "nul\0",
        ] {
            assert!(key_problem(bad).is_some(), "{bad:?}");
        }
        assert!(key_problem(&"k".repeat(1025)).unwrap().contains("1024"));
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["abc", "my-bucket.logs", "mht-api-local-bucket", "0ab"] {
            assert_eq!(bucket_name_problem(good), None, "{good}");
        }
        for bad in [
            "ab",
            "Upper",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "under_score",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }
}
