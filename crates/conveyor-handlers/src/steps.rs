//! `steps`: named handlers run in order, each step's output checkpointed in the object store
//! before the next runs, so a message delivered again (its worker died, or a later step asked
//! to retry) resumes after its last finished step: no second ticket, no second e-mail. The
//! checkpoint is `_conveyor/checkpoints/{queue}/{message_id}.json` (on S3 too) and is removed
//! once the message's result is stored. A step that fails fails the message with its own
//! Retry or Reject; the output is every step's output by name. A step sees the outputs of the
//! steps before it as the body's `steps` (when the body is a JSON object).

use std::sync::Arc;

use conveyor_queue::ReceivedMessage;
use conveyor_store::{Store, StoreError};
use conveyor_worker::{Handler, HandlerError};
use serde_json::{Map, Value};

pub struct StepsHandler {
    steps: Vec<(String, Arc<dyn Handler>)>,
    store: Store,
    queue: String,
}

impl StepsHandler {
    pub fn new(steps: Vec<(String, Arc<dyn Handler>)>, store: Store, queue: String) -> Self {
        StepsHandler {
            steps,
            store,
            queue,
        }
    }

    fn checkpoint(&self, message: &ReceivedMessage) -> Result<String, HandlerError> {
        conveyor_store::checkpoint_key(&self.queue, &message.message_id)
            .map_err(|e| HandlerError::reject(e.to_string()))
    }

    async fn finished(&self, key: &str) -> Result<Map<String, Value>, HandlerError> {
        match self.store.get(key).await {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(StoreError::NotFound(_)) => Ok(Map::new()),
            Err(e) => Err(HandlerError::retry(format!(
                "cannot read the step checkpoint: {e}"
            ))),
        }
    }
}

/// The message as a step sees it: a JSON object body gains `steps`, the outputs of the steps
/// finished so far by name, so a later step can use them (`{{ steps.ticket.ticket_id }}`).
fn with_outputs(message: &ReceivedMessage, done: &Map<String, Value>) -> ReceivedMessage {
    match serde_json::from_str::<Value>(&message.body) {
        Ok(Value::Object(mut body)) if !done.is_empty() => {
            body.insert("steps".into(), Value::Object(done.clone()));
            ReceivedMessage {
                body: Value::Object(body).to_string(),
                ..message.clone()
            }
        }
        _ => message.clone(),
    }
}

#[async_trait::async_trait]
impl Handler for StepsHandler {
    fn kind(&self) -> &'static str {
        "steps"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let key = self.checkpoint(message)?;
        let mut done = self.finished(&key).await?;
        for (name, step) in &self.steps {
            if done.contains_key(name) {
                tracing::debug!(message_id = %message.message_id, step = %name, "step already done");
                continue;
            }
            let output = step
                .handle(&with_outputs(message, &done))
                .await
                .map_err(|e| match e {
                    HandlerError::Retry { reason, after } => HandlerError::Retry {
                        reason: format!("step {name}: {reason}"),
                        after,
                    },
                    HandlerError::Reject { reason } => HandlerError::Reject {
                        reason: format!("step {name}: {reason}"),
                    },
                })?;
            done.insert(name.clone(), output);
            // Stored before the next step starts: what is written here never runs again.
            self.store
                .put(&key, Value::Object(done.clone()).to_string())
                .await
                .map_err(|e| {
                    HandlerError::retry(format!(
                        "step {name} finished but its checkpoint cannot be stored ({e}); it will run again"
                    ))
                })?;
        }
        Ok(Value::Object(done))
    }

    async fn after_result(&self, message: &ReceivedMessage) {
        let Ok(key) = self.checkpoint(message) else {
            return;
        };
        if let Err(e) = self.store.delete(&key).await {
            tracing::warn!(message_id = %message.message_id, error = %e, "cannot remove a finished step checkpoint");
        }
    }
}
