//! Where alarm state changes are told: Discord (embeds), Slack-compatible webhooks, a generic
//! webhook signed with `X-Conveyor-Signature`, and an SNS topic. Each channel delivers on a task
//! of its own, so a slow or failing one delays neither the evaluation nor the others; a failed
//! delivery is retried with backoff (a 429's wait honoured) until it is sent or a newer change
//! of the same alarm replaces it, and each attempt's outcome is on the alarm board. In a
//! dry-run environment the exact request is built and logged, not sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use conveyor_alarms::AlarmState;
use conveyor_api::alarms::AlarmBoard;
use conveyor_aws::Aws;
use conveyor_config::{HandlerConfig, Settings};
use conveyor_queue::ReceivedMessage;
use conveyor_store::Store;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

/// The longest wait between two attempts at one delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A state change to tell, with what every channel's message is made from.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub alarm: String,
    pub queue: String,
    pub metric: &'static str,
    pub state: AlarmState,
    pub at_ms: i64,
    /// One sentence: what the rule is and on which queue.
    pub rule: String,
    /// What the metric means, for a reader of the message.
    pub what: &'static str,
    pub reason: String,
}

impl Notice {
    fn title(&self) -> String {
        match self.state {
            AlarmState::Alarm => format!("ALARM: {}", self.alarm),
            _ => format!("OK: {}", self.alarm),
        }
    }

    fn state_text(&self) -> &'static str {
        match self.state {
            AlarmState::Alarm => "ALARM",
            AlarmState::Ok => "OK",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// The change as a JSON record: the generic webhook's and SNS's message.
    fn record(&self) -> Value {
        json!({
            "alarm": self.alarm, "queue": self.queue, "metric": self.metric,
            "state": self.state_text(), "at": self.at_ms, "rule": self.rule,
            "reason": self.reason,
        })
    }
}

enum Sender {
    /// Discord, Slack and the generic webhook go through their handlers.
    Handler(Arc<dyn Handler>),
    Sns {
        aws: Box<Aws>,
        endpoint: Option<String>,
        topic_arn: String,
        region: String,
        dry_run: bool,
    },
}

pub(crate) struct Channel {
    name: &'static str,
    sender: Sender,
}

impl Channel {
    /// The message body the channel's handler reads.
    fn body(&self, n: &Notice) -> Value {
        let red_or_green = n.state == AlarmState::Alarm;
        match self.name {
            "discord" => json!({
                "content": n.title(),
                "embeds": [{
                    "title": n.title(),
                    "color": if red_or_green { 0xD9_3025 } else { 0x2E_A043 },
                    "description": n.rule,
                    "fields": [
                        { "name": "queue", "value": n.queue, "inline": true },
                        { "name": "metric", "value": n.metric, "inline": true },
                        { "name": "state", "value": n.state_text(), "inline": true },
                        { "name": "why", "value": n.reason, "inline": false },
                    ],
                }],
            }),
            "slack" => json!({
                "text": format!("{}: {}", n.title(), n.rule),
                "attachments": [{
                    "color": if red_or_green { "#d93025" } else { "#2ea043" },
                    "fields": [
                        { "title": "queue", "value": n.queue, "short": true },
                        { "title": "metric", "value": format!("{} ({})", n.metric, n.what), "short": true },
                        { "title": "why", "value": n.reason, "short": false },
                    ],
                }],
            }),
            _ => n.record(),
        }
    }

    async fn send(&self, n: &Notice) -> Result<Value, HandlerError> {
        match &self.sender {
            Sender::Handler(handler) => {
                let message = ReceivedMessage {
                    message_id: format!("alarm-{}-{}", n.alarm, n.at_ms),
                    body: self.body(n).to_string(),
                    ..Default::default()
                };
                handler.handle(&message).await
            }
            Sender::Sns {
                aws,
                endpoint,
                topic_arn,
                region,
                dry_run,
            } => {
                let message = n.record().to_string();
                if *dry_run {
                    let (url, form) = conveyor_aws::sns::publish_request(
                        endpoint.as_deref(),
                        topic_arn,
                        &n.title(),
                        &message,
                        region,
                    );
                    return Ok(json!({ "dry_run": true, "request": {
                        "method": "POST", "url": url,
                        "headers": { "content-type": conveyor_aws::sns::FORM_CONTENT_TYPE },
                        "body": form,
                    }}));
                }
                aws.sns_publish(endpoint.as_deref(), topic_arn, &n.title(), &message)
                    .await
                    .map(|id| json!({ "sns_message_id": id }))
                    // Any failure may be passing (throttling, a topic being created): retried.
                    .map_err(|e| HandlerError::retry(e.to_string()))
            }
        }
    }
}

/// The channels an environment's `[alarms]` names, built as its handlers are (secrets
/// resolved, dry run honoured).
pub(crate) async fn channels(settings: &Settings, store: &Store) -> anyhow::Result<Vec<Channel>> {
    let a = &settings.alarms;
    let env = conveyor_handlers::HandlerEnv {
        store: store.clone(),
        queue: "alarms".into(),
        queue_arn: String::new(),
        region: settings.region.clone(),
        dry_run: settings.dry_run,
        secrets: settings.secrets.clone(),
    };
    let mut configs: Vec<(&'static str, Value)> = Vec::new();
    if let Some(secret) = &a.discord_webhook_secret {
        configs.push((
            "discord",
            json!({ "kind": "discord", "webhook_secret": secret, "username": "Conveyor alarms" }),
        ));
    }
    if let Some(secret) = &a.slack_webhook_secret {
        configs.push((
            "slack",
            json!({ "kind": "slack", "webhook_secret": secret }),
        ));
    }
    if let (Some(url), Some(secret)) = (&a.webhook_url, &a.webhook_signing_secret) {
        configs.push((
            "webhook",
            json!({ "kind": "http", "url": url, "signing_secret": secret }),
        ));
    }
    let mut built = Vec::new();
    for (name, config) in configs {
        let config: HandlerConfig = serde_json::from_value(config)?;
        let handler = conveyor_handlers::build(&config, &env)
            .map_err(|e| anyhow::anyhow!("alarms ({name}): {e}"))?;
        built.push(Channel {
            name,
            sender: Sender::Handler(handler),
        });
    }
    if let Some(topic_arn) = &a.sns_topic_arn {
        built.push(Channel {
            name: "sns",
            sender: Sender::Sns {
                aws: Box::new(Aws::load(settings).await),
                endpoint: a.sns_endpoint.clone(),
                topic_arn: topic_arn.clone(),
                region: settings.region.clone(),
                dry_run: settings.dry_run,
            },
        });
    }
    Ok(built)
}

/// Hands each change to every channel's delivery task.
pub(crate) struct Notifier {
    queues: Vec<mpsc::UnboundedSender<Notice>>,
}

impl Notifier {
    /// Start one delivery task per channel; they end with `stop`.
    pub(crate) fn start(
        channels: Vec<Channel>,
        board: AlarmBoard,
        stop: watch::Receiver<bool>,
    ) -> Notifier {
        let queues = channels
            .into_iter()
            .map(|channel| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(deliver(channel, rx, board.clone(), stop.clone()));
                tx
            })
            .collect();
        Notifier { queues }
    }

    pub(crate) fn tell(&self, notice: Notice) {
        for q in &self.queues {
            // A closed queue means the process is stopping.
            let _ = q.send(notice.clone());
        }
    }
}

/// A notice waiting for its next attempt.
struct Pending {
    notice: Notice,
    attempts: u32,
    due: tokio::time::Instant,
}

/// One channel's delivery loop: the newest notice per alarm, each attempted when due.
async fn deliver(
    channel: Channel,
    mut inbox: mpsc::UnboundedReceiver<Notice>,
    board: AlarmBoard,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    loop {
        let next = pending.values().map(|p| p.due).min();
        tokio::select! {
            received = inbox.recv() => match received {
                Some(notice) => {
                    pending.insert(notice.alarm.clone(), Pending {
                        notice,
                        attempts: 0,
                        due: tokio::time::Instant::now(),
                    });
                }
                None => return,
            },
            _ = async { tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)).await }, if next.is_some() => {}
            _ = stop.changed() => return,
        }
        let now = tokio::time::Instant::now();
        let due: Vec<String> = pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(alarm, _)| alarm.clone())
            .collect();
        for alarm in due {
            let Some(mut p) = pending.remove(&alarm) else {
                continue;
            };
            p.attempts += 1;
            let at = super::now_ms();
            match channel.send(&p.notice).await {
                Ok(out) => {
                    let dry_run = out["dry_run"] == true;
                    if dry_run {
                        tracing::info!(alarm = %alarm, channel = channel.name, request = %out["request"], "dry run: alarm notification built, not sent");
                    } else {
                        tracing::info!(alarm = %alarm, channel = channel.name, state = p.notice.state_text(), "alarm told");
                    }
                    metrics::counter!("conveyor_alarm_notifications_total", "channel" => channel.name, "outcome" => if dry_run { "dry_run" } else { "sent" }).increment(1);
                    board.note_delivery(
                        &alarm,
                        channel.name,
                        json!({
                            "outcome": if dry_run { "dry_run" } else { "sent" },
                            "state": p.notice.state_text(), "at": at, "attempts": p.attempts,
                        }),
                    );
                }
                Err(HandlerError::Retry { reason, after }) => {
                    let wait = after.unwrap_or_else(|| backoff(p.attempts));
                    tracing::warn!(alarm = %alarm, channel = channel.name, attempt = p.attempts, error = %reason, retry_in_ms = wait.as_millis() as u64, "alarm not told yet; retrying");
                    metrics::counter!("conveyor_alarm_notifications_total", "channel" => channel.name, "outcome" => "retrying").increment(1);
                    board.note_delivery(
                        &alarm,
                        channel.name,
                        json!({
                            "outcome": "retrying", "state": p.notice.state_text(), "at": at,
                            "attempts": p.attempts, "error": reason,
                            "next_attempt_in_ms": wait.as_millis() as u64,
                        }),
                    );
                    p.due = tokio::time::Instant::now() + wait;
                    // A newer change that arrived meanwhile replaces this one.
                    pending.entry(alarm).or_insert(p);
                }
                Err(e) => {
                    tracing::error!(alarm = %alarm, channel = channel.name, error = %e, "alarm could not be told, and retrying cannot fix it: check the channel's configuration");
                    metrics::counter!("conveyor_alarm_notifications_total", "channel" => channel.name, "outcome" => "failed").increment(1);
                    board.note_delivery(
                        &alarm,
                        channel.name,
                        json!({
                            "outcome": "failed", "state": p.notice.state_text(), "at": at,
                            "attempts": p.attempts, "error": e.to_string(),
                        }),
                    );
                }
            }
        }
    }
}

/// 1 s, 2 s, 4 s … up to five minutes.
fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.saturating_sub(1).min(9)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=12).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }
}
