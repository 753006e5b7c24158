//! What a queue's worker does with each message: `handler = "log"` (a kind alone) or a table,
//! `handler = { kind = "http", url = "https://…", timeout = "5s" }`. Each kind has its own typed
//! settings and every table refuses keys it does not know, so a misspelt `timout` is an error,
//! not a silently ignored line. Adding a handler is a variant here, a module in
//! `conveyor-handlers` and one arm of its `build` match.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Span;

/// A queue's handler and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HandlerConfig {
    // Empty struct variants, not unit ones: serde checks unknown keys only on struct variants.
    /// Record the message (its result object holds it).
    Log {},
    /// Always fail, to exercise retries and the dead-letter queue.
    Fail {},
    /// POST the message to `url`.
    Http(HttpConfig),
}

impl HandlerConfig {
    /// The kind, as written in the configuration and in result records.
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerConfig::Log {} => "log",
            HandlerConfig::Fail {} => "fail",
            HandlerConfig::Http(_) => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `http://…` or `https://…`.
    pub url: String,
    /// How long one call may take before it counts as failed.
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
}

fn default_http_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}

/// `handler = "kind"` or `handler = { kind = "…", … }`, as the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandlerSpec(pub HandlerConfig);

impl Default for HandlerSpec {
    fn default() -> Self {
        HandlerSpec(HandlerConfig::Log {})
    }
}

impl<'de> Deserialize<'de> for HandlerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Spec;
        impl<'de> Visitor<'de> for Spec {
            type Value = HandlerSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a handler kind ("log") or a table with a kind ({ kind = "http", url = "…" })"#)
            }

            fn visit_str<E: de::Error>(self, kind: &str) -> Result<HandlerSpec, E> {
                let table = std::iter::once(("kind", kind));
                HandlerConfig::deserialize(de::value::MapDeserializer::new(table)).map(HandlerSpec)
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<HandlerSpec, M::Error> {
                HandlerConfig::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(HandlerSpec)
            }
        }
        d.deserialize_any(Spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Queue {
        handler: HandlerSpec,
    }

    fn parse(text: &str) -> Result<HandlerConfig, String> {
        toml::from_str::<Queue>(text)
            .map(|q| q.handler.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_kind_alone_or_a_table() {
        assert_eq!(parse(r#"handler = "log""#).unwrap(), HandlerConfig::Log {});
        assert_eq!(
            parse(r#"handler = { kind = "fail" }"#).unwrap(),
            HandlerConfig::Fail {}
        );
        assert_eq!(
            parse(r#"handler = { kind = "http", url = "http://h/x", timeout = "2s" }"#).unwrap(),
            HandlerConfig::Http(HttpConfig {
                url: "http://h/x".into(),
                timeout: Span(std::time::Duration::from_secs(2)),
            })
        );
    }

    #[test]
    fn unknown_keys_kinds_and_types_are_refused_by_name() {
        let e =
            parse(r#"handler = { kind = "http", url = "http://h", timout = "1s" }"#).unwrap_err();
        assert!(e.contains("timout"), "{e}");
        let e = parse(r#"handler = { kind = "log", url = "http://h" }"#).unwrap_err();
        assert!(e.contains("url"), "{e}");
        let e = parse(r#"handler = "zendesk-typo""#).unwrap_err();
        assert!(e.contains("zendesk-typo") && e.contains("log"), "{e}");
        let e =
            parse(r#"handler = { kind = "http", url = "http://h", timeout = true }"#).unwrap_err();
        assert!(e.contains("timeout") || e.contains("duration"), "{e}");
        let e = parse(r#"handler = "http""#).unwrap_err();
        assert!(e.contains("url"), "{e}");
    }
}
