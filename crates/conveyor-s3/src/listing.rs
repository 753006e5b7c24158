//! One page of a ListObjects answer from the keys under a prefix, sorted: delimiter folding,
//! start-after and continuation, and max-keys, as S3 pages them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// S3's default and largest page.
pub const MAX_KEYS: usize = 1000;

/// Where the previous page stopped: after a key, or after a common prefix (whose keys are all
/// skipped, since the page already named the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    AfterKey(String),
    AfterPrefix(String),
}

impl Resume {
    /// The opaque continuation token clients send back.
    pub fn token(&self) -> String {
        let text = match self {
            Resume::AfterKey(k) => format!("k{k}"),
            Resume::AfterPrefix(p) => format!("p{p}"),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn from_token(token: &str) -> Option<Resume> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let mut chars = text.chars();
        match chars.next()? {
            'k' => Some(Resume::AfterKey(chars.as_str().to_string())),
            'p' => Some(Resume::AfterPrefix(chars.as_str().to_string())),
            _ => None,
        }
    }

    fn skips(&self, key: &str) -> bool {
        match self {
            Resume::AfterKey(after) => key <= after.as_str(),
            Resume::AfterPrefix(prefix) => {
                key <= prefix.as_str() || key.starts_with(prefix.as_str())
            }
        }
    }
}

/// What one page asks for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// The larger of start-after and the continuation token's position applies.
    pub start_after: Option<&'a str>,
    pub resume: Option<Resume>,
    pub max_keys: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub objects: Vec<T>,
    pub common_prefixes: Vec<String>,
    /// Where the next page starts, when this one is truncated.
    pub next: Option<Resume>,
}

/// Page `items` (sorted by key, all starting with `request.prefix`).
pub fn page<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> &str,
    request: &PageRequest<'_>,
) -> Page<T> {
    let mut page = Page {
        objects: Vec::new(),
        common_prefixes: Vec::new(),
        next: None,
    };
    let max = request.max_keys.min(MAX_KEYS);
    let mut last: Option<Resume> = None;
    for item in items {
        let k = key(&item);
        if request.start_after.is_some_and(|after| k <= after)
            || request.resume.as_ref().is_some_and(|r| r.skips(k))
        {
            continue;
        }
        let folded = request.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            let rest = &k[request.prefix.len()..];
            rest.find(d)
                .map(|at| k[..request.prefix.len() + at + d.len()].to_string())
        });
        if let (Some(prefix), Some(Resume::AfterPrefix(previous))) = (&folded, &last) {
            if prefix == previous {
                continue;
            }
        }
        if page.objects.len() + page.common_prefixes.len() == max {
            page.next = last;
            return page;
        }
        match folded {
            Some(prefix) => {
                page.common_prefixes.push(prefix.clone());
                last = Some(Resume::AfterPrefix(prefix));
            }
            None => {
                last = Some(Resume::AfterKey(k.to_string()));
                page.objects.push(item);
            }
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(items: &[&str], request: &PageRequest<'_>) -> Page<String> {
        page(keys(items), |k| k.as_str(), request)
    }

    #[test]
    fn folds_at_the_delimiter_below_the_prefix() {
        let items = [
            "photos/2026/a.jpg",
            "photos/2026/b.jpg",
            "photos/2027/c.jpg",
            "photos/top.jpg",
        ];
        let request = PageRequest {
            prefix: "photos/",
            delimiter: Some("/"),
            max_keys: 1000,
            ..Default::default()
        };
        let p = run(&items, &request);
        assert_eq!(p.objects, keys(&["photos/top.jpg"]));
        assert_eq!(p.common_prefixes, keys(&["photos/2026/", "photos/2027/"]));
        assert_eq!(p.next, None);
    }

    #[test]
    fn pages_count_prefixes_and_resume_after_them() {
        let items = ["a/1", "a/2", "b", "c/1", "d"];
        let mut request = PageRequest {
            prefix: "",
            delimiter: Some("/"),
            max_keys: 2,
            ..Default::default()
        };
        let first = run(&items, &request);
        assert_eq!(
            (first.objects.clone(), first.common_prefixes.clone()),
            (keys(&["b"]), keys(&["a/"]))
        );
        let token = first.next.clone().unwrap().token();
        request.resume = Resume::from_token(&token);
        let second = run(&items, &request);
        assert_eq!(
            (second.objects.clone(), second.common_prefixes.clone()),
            (keys(&["d"]), keys(&["c/"]))
        );
        assert_eq!(second.next, None, "nothing is left after d");
    }

    #[test]
    fn every_key_once_across_pages_of_one() {
        let items = ["k0", "k1", "k2", "x/y/z"];
        let mut request = PageRequest {
            prefix: "",
            delimiter: Some("/"),
            max_keys: 1,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let p = run(&items, &request);
            seen.extend(p.objects);
            seen.extend(p.common_prefixes);
            match p.next {
                Some(next) => request.resume = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, keys(&["k0", "k1", "k2", "x/"]));
    }

    #[test]
    fn start_after_and_bad_tokens() {
        let items = ["a", "b", "c"];
        let request = PageRequest {
            start_after: Some("a"),
            max_keys: 1000,
            ..Default::default()
        };
        assert_eq!(run(&items, &request).objects, keys(&["b", "c"]));
        assert_eq!(Resume::from_token("!!"), None);
        let resume = Resume::AfterKey("ü/x".into());
        assert_eq!(Resume::from_token(&resume.token()), Some(resume));
    }
}
