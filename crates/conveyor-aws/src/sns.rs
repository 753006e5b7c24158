//! SNS `Publish`, the one SNS call Conveyor makes (alarm notifications on AWS): a signed
//! Query-protocol POST, as CloudWatch alarms publish to a topic.

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::connect::is_denial;
use crate::s3::{xml_value, Signing};
use crate::{Aws, AwsError};

/// Form values keep RFC 3986's unreserved characters and escape the rest.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SNS's limit on a subject: 100 printable ASCII characters, no line breaks.
const MAX_SUBJECT: usize = 100;

/// A subject SNS accepts: printable ASCII only, cut to its limit.
pub fn sns_subject(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_SUBJECT)
        .collect()
}

/// The form body of a `Publish` call.
fn publish_form(topic_arn: &str, subject: &str, message: &str) -> String {
    [
        ("Action", "Publish"),
        ("Version", "2010-03-31"),
        ("TopicArn", topic_arn),
        ("Subject", &sns_subject(subject)),
        ("Message", message),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, FORM_VALUE)))
    .collect::<Vec<_>>()
    .join("&")
}

/// How the Publish body is sent.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The URL and form body of the `Publish` call `Aws::sns_publish` makes (before signing): what
/// a dry run shows. `region` is the default when the ARN does not name one.
pub fn publish_request(
    endpoint: Option<&str>,
    topic_arn: &str,
    subject: &str,
    message: &str,
    region: &str,
) -> (String, String) {
    let region = conveyor_config::sns_topic_region(topic_arn).unwrap_or(region);
    let endpoint = endpoint
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
    (
        format!("{endpoint}/"),
        publish_form(topic_arn, subject, message),
    )
}

impl Aws {
    /// Publish `message` to the topic; returns SNS's message id. `endpoint` overrides
    /// `https://sns.{the topic's region}.amazonaws.com`.
    pub async fn sns_publish(
        &self,
        endpoint: Option<&str>,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> Result<String, AwsError> {
        let region = conveyor_config::sns_topic_region(topic_arn).unwrap_or(&self.region);
        let (url, form) = publish_request(endpoint, topic_arn, subject, message, region);
        let endpoint = url.trim_end_matches('/').to_string();
        let response = self
            .signed_call(
                Signing {
                    service: "sns",
                    label: "SNS",
                    region,
                    endpoint: &endpoint,
                },
                http::Method::POST,
                &url,
                Some(FORM_CONTENT_TYPE),
                Bytes::from(form),
            )
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(xml_value(&body, "MessageId").unwrap_or_default());
        }
        let code = xml_value(&body, "Code").unwrap_or_default();
        let detail = match xml_value(&body, "Message") {
            Some(m) => format!("{status} {code}: {m}"),
            None => format!("HTTP {status} {code}"),
        };
        let resource = format!("the topic {topic_arn}");
        Err(if code == "NotFound" || status == 404 {
            AwsError::Service {
                service: "SNS",
                endpoint,
                resource,
                detail: format!("{detail}; create the topic (infra/ or `aws sns create-topic`) or fix alarms.sns_topic_arn"),
            }
        } else if status == 403 || is_denial(&code) {
            AwsError::Denied {
                service: "SNS",
                endpoint,
                resource,
                detail,
            }
        } else {
            AwsError::Service {
                service: "SNS",
                endpoint,
                resource,
                detail,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_form_escapes_what_a_form_must_and_keeps_the_subject_within_sns_s_rules() {
        let form = publish_form(
            "arn:aws:sns:us-east-1:123456789012:alarms",
            "ALARM: jobs-depth ✓\nnext line",
            r#"{"a":"b c&d"}"#,
        );
        assert!(form.starts_with("Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aalarms&"));
        assert!(
            form.contains("&Subject=ALARM%3A%20jobs-depth%20%3F%3Fnext%20line&"),
            "{form}"
        );
        assert!(
            form.ends_with("&Message=%7B%22a%22%3A%22b%20c%26d%22%7D"),
            "{form}"
        );
        assert_eq!(sns_subject(&"x".repeat(150)).len(), 100);
    }
}
