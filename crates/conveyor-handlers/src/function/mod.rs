//! `function`: the AWS Lambda SQS contract. Each batch (the runtime gathers it from the
//! function's `batch_size` and `batching_window`) becomes one invocation with exactly the
//! event Lambda passes, run as a process (`command`: the event on stdin, the answer on
//! stdout) or POSTed to a `url` (a Lambda runtime interface emulator's invocation URL works).
//!
//! An invocation that fails (a non-zero exit, a raised error, a timeout, a non-2xx answer)
//! fails its whole batch. With `report_batch_item_failures`, the answer's `batchItemFailures`
//! name the messages that failed and the rest succeed; a malformed answer or an unknown id
//! fails the whole batch, as on Lambda. Messages matching none of the `filter` patterns are
//! finished without an invocation and counted in `conveyor_function_filtered_total`. A batch
//! whose event would pass Lambda's 6 MB payload limit is split into several invocations.

mod event;
mod invoke;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conveyor_config::{FilterPattern, FunctionConfig};
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

use crate::{BuildError, HandlerEnv};

enum Runner {
    Command {
        argv: Vec<String>,
        environment: BTreeMap<String, String>,
    },
    #[cfg(feature = "http")]
    Url {
        client: reqwest::Client,
        url: String,
    },
}

pub struct FunctionHandler {
    name: String,
    queue: String,
    source_arn: String,
    region: String,
    runner: Runner,
    timeout: Duration,
    report_failures: bool,
    filter: Vec<FilterPattern>,
}

/// The answer a result record keeps, when the function's answer is small.
const KEPT_ANSWER_BYTES: usize = 4_096;

impl FunctionHandler {
    pub fn new(config: &FunctionConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let runner = match (&config.command, &config.url) {
            (Some(argv), _) => Runner::Command {
                argv: argv.clone(),
                environment: config.environment.clone(),
            },
            #[cfg(feature = "http")]
            (None, Some(url)) => Runner::Url {
                client: reqwest::Client::builder()
                    .user_agent(concat!("conveyor/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| BuildError::Setup {
                        kind: "function",
                        detail: format!("cannot build the HTTP client: {e}"),
                    })?,
                url: url.clone(),
            },
            #[cfg(not(feature = "http"))]
            (None, Some(_)) => return Err(BuildError::NotBuilt("http")),
            (None, None) => {
                return Err(BuildError::Setup {
                    kind: "function",
                    detail: "give command or url".into(),
                })
            }
        };
        Ok(FunctionHandler {
            name: config.name.clone().unwrap_or_else(|| env.queue.clone()),
            queue: env.queue.clone(),
            source_arn: env.queue_arn.clone(),
            region: env.region.clone(),
            runner,
            timeout: config.timeout.0,
            report_failures: config.report_batch_item_failures,
            filter: config.filter.clone(),
        })
    }

    fn source(&self) -> event::Source<'_> {
        event::Source {
            arn: &self.source_arn,
            region: &self.region,
        }
    }

    /// Whether a message passes the filter: matched as Lambda does, with a JSON body parsed.
    fn wanted(&self, message: &ReceivedMessage) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let mut record =
            serde_json::to_value(event::record(message, &self.source())).unwrap_or(Value::Null);
        if let Ok(body) = serde_json::from_str::<Value>(&message.body) {
            record["body"] = body;
        }
        self.filter.iter().any(|p| p.matches(&record))
    }

    async fn invoke(&self, event: Vec<u8>, request_id: &str) -> Result<String, invoke::Failed> {
        match &self.runner {
            Runner::Command { argv, environment } => {
                let deadline = SystemTime::now() + self.timeout;
                let deadline_ms = deadline
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let mut vars: BTreeMap<String, String> = [
                    ("AWS_LAMBDA_FUNCTION_NAME", self.name.clone()),
                    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                    ("AWS_REGION", self.region.clone()),
                    ("AWS_DEFAULT_REGION", self.region.clone()),
                    ("CONVEYOR_QUEUE", self.queue.clone()),
                    ("CONVEYOR_REQUEST_ID", request_id.to_string()),
                    ("CONVEYOR_DEADLINE_MS", deadline_ms.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                vars.extend(environment.clone());
                let labels = invoke::Labels {
                    queue: &self.queue,
                    function: &self.name,
                    request_id,
                };
                invoke::command(argv, &vars, &event, self.timeout, &labels).await
            }
            #[cfg(feature = "http")]
            Runner::Url { client, url } => invoke::url(client, url, event, self.timeout).await,
        }
    }

    /// One invocation for `batch`; each message's outcome in order.
    async fn run(&self, batch: &[&ReceivedMessage]) -> Vec<Result<Value, HandlerError>> {
        let records: Vec<Vec<u8>> = batch
            .iter()
            .map(|m| serde_json::to_vec(&event::record(m, &self.source())).unwrap_or_default())
            .collect();
        let mut event = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 14);
        event.extend_from_slice(br#"{"Records":["#);
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                event.push(b',');
            }
            event.extend_from_slice(r);
        }
        event.extend_from_slice(b"]}");
        let request_id = uuid::Uuid::new_v4().to_string();
        let started = std::time::Instant::now();
        let outcome = self.invoke(event, &request_id).await;
        metrics::histogram!("conveyor_function_duration_seconds", "queue" => self.queue.clone())
            .record(started.elapsed().as_secs_f64());
        let answer = match outcome {
            Err(failed) => {
                let error = HandlerError::Retry {
                    reason: format!("function {} ({request_id}): {}", self.name, failed.reason),
                    after: failed.after,
                };
                return batch.iter().map(|_| Err(error.clone())).collect();
            }
            Ok(answer) => answer,
        };
        let done = || {
            let mut output = json!({ "function": self.name, "invocation": request_id });
            if !answer.trim().is_empty() && answer.len() <= KEPT_ANSWER_BYTES {
                output["answer"] = serde_json::from_str(&answer)
                    .unwrap_or_else(|_| Value::String(answer.trim().to_string()));
            }
            output
        };
        if !self.report_failures {
            return batch.iter().map(|_| Ok(done())).collect();
        }
        let ids: Vec<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
        match event::answer(&answer, &ids) {
            Ok(event::Answer::AllDone) => batch.iter().map(|_| Ok(done())).collect(),
            Ok(event::Answer::Failed(failed)) => batch
                .iter()
                .map(|m| {
                    if failed.contains(&m.message_id) {
                        Err(HandlerError::retry(format!(
                            "function {} ({request_id}) reported this message failed",
                            self.name
                        )))
                    } else {
                        Ok(done())
                    }
                })
                .collect(),
            Err(why) => {
                let error =
                    HandlerError::retry(format!("function {} ({request_id}): {why}", self.name));
                batch.iter().map(|_| Err(error.clone())).collect()
            }
        }
    }
}

#[async_trait::async_trait]
impl Handler for FunctionHandler {
    fn kind(&self) -> &'static str {
        "function"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        self.handle_batch(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or_else(|| Err(HandlerError::retry("the function gave no answer")))
    }

    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Result<Value, HandlerError>> {
        let mut outcomes: Vec<Option<Result<Value, HandlerError>>> = vec![None; messages.len()];
        let mut wanted = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if self.wanted(m) {
                wanted.push(i);
            } else {
                metrics::counter!("conveyor_function_filtered_total", "queue" => self.queue.clone())
                    .increment(1);
                outcomes[i] = Some(Ok(json!({ "function": self.name, "filtered": true })));
            }
        }
        // Invocations of at most Lambda's payload limit, in the batch's order.
        let mut start = 0;
        while start < wanted.len() {
            let (mut end, mut size) = (start, 0usize);
            while end < wanted.len() {
                let grows = messages[wanted[end]].body.len() + 1_024;
                if end > start && size + grows > invoke::PAYLOAD_LIMIT {
                    break;
                }
                size += grows;
                end += 1;
            }
            let chunk: Vec<&ReceivedMessage> =
                wanted[start..end].iter().map(|&i| &messages[i]).collect();
            for (&i, outcome) in wanted[start..end].iter().zip(self.run(&chunk).await) {
                outcomes[i] = Some(outcome);
            }
            start = end;
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(HandlerError::retry("the function gave no answer"))))
            .collect()
    }
}
