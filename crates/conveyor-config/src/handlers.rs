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
    /// Named steps run in order; each step's output is checkpointed before the next, so a
    /// message delivered again resumes after its last finished step.
    Steps(StepsConfig),
}

impl HandlerConfig {
    /// The kind, as written in the configuration and in result records.
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerConfig::Log {} => "log",
            HandlerConfig::Fail {} => "fail",
            HandlerConfig::Http(_) => "http",
            HandlerConfig::Steps(_) => "steps",
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsConfig {
    pub steps: Vec<StepConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Names the step in checkpoints and in the result's output (`ticket`, `confirm`).
    pub name: String,
    #[serde(serialize_with = "inner_config")]
    pub handler: HandlerSpec,
}

fn inner_config<S: serde::Serializer>(spec: &HandlerSpec, s: S) -> Result<S::Ok, S::Error> {
    spec.0.serialize(s)
}

impl StepsConfig {
    /// Steps need distinct plain names, and cannot nest.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("steps is empty: list at least one { name, handler }".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for step in &self.steps {
            let plain = !step.name.is_empty()
                && step.name.len() <= 64
                && step.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !plain {
                return Err(format!(
                    "step name {:?} is invalid: use 1 to 64 lowercase letters, digits, _ and -",
                    step.name
                ));
            }
            if !seen.insert(step.name.as_str()) {
                return Err(format!("two steps are named {:?}", step.name));
            }
            if matches!(step.handler.0, HandlerConfig::Steps(_)) {
                return Err(format!(
                    "step {:?} is itself a list of steps; list its steps here instead",
                    step.name
                ));
            }
        }
        Ok(())
    }
}

/// `handler = "kind"` or `handler = { kind = "…", … }`, as the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSpec(pub HandlerConfig);

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

    #[test]
    fn steps_name_their_handlers() {
        let steps = parse(
            r#"handler = { kind = "steps", steps = [
                { name = "ticket", handler = { kind = "http", url = "http://h/t" } },
                { name = "confirm", handler = "log" },
            ] }"#,
        )
        .unwrap();
        let HandlerConfig::Steps(s) = steps else {
            panic!("{steps:?}")
        };
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[1].handler.0, HandlerConfig::Log {});
        assert!(s.check().is_ok());
        let e = parse(
            r#"handler = { kind = "steps", steps = [{ name = "a", handler = "log", retry = 1 }] }"#,
        )
        .unwrap_err();
        assert!(e.contains("retry"), "{e}");
        let twice = StepsConfig {
            steps: vec![s.steps[1].clone(), s.steps[1].clone()],
        };
        assert!(twice.check().unwrap_err().contains("two steps"));
    }
}
