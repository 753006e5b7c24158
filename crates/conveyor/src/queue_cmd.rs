//! `conveyor queue …`: operator tools that talk to a running server's `/v1/admin` routes (the
//! server holds the queue database) and print readable tables.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::ConfigSource;

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: QueueCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Which running server an operator tool talks to, and with which key.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server; by default the configured environment's listen address.
    #[arg(long, env = "CONVEYOR_URL", global = true)]
    pub url: Option<String>,
    /// Operator key; by default the configured environment's first operator key.
    #[arg(long, env = "CONVEYOR_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub config: ConfigSource,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List queues with their counts.
    Ls,
    /// Create a queue (`--fifo` for a `.fifo` name, `--attribute Name=Value` for SQS attributes).
    Create {
        /// The queue's full name (FIFO names end in `.fifo`).
        name: String,
        /// Make it a FIFO queue.
        #[arg(long)]
        fifo: bool,
        /// An SQS queue attribute, like VisibilityTimeout=60 (seconds); repeat for more.
        #[arg(long = "attribute", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
    /// Send one message.
    Send {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
        /// The message body, sent as it is.
        body: String,
        /// The message group (required on FIFO queues: one group is delivered in order).
        #[arg(long)]
        group: Option<String>,
        /// The deduplication id (FIFO queues without content-based deduplication need one).
        #[arg(long)]
        dedup: Option<String>,
        /// Seconds before the message can be received (0–900; standard queues only).
        #[arg(long, value_name = "SECONDS")]
        delay: Option<u32>,
    },
    /// Receive messages (and delete them with `--delete`).
    Receive {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
        /// At most this many messages (1–10).
        #[arg(long, default_value_t = 10)]
        max: u32,
        /// Seconds the received messages stay hidden from other consumers (the queue's own
        /// visibility timeout by default).
        #[arg(long, value_name = "SECONDS")]
        visibility: Option<u32>,
        /// Seconds to wait for a message when none is there (0–20; long polling).
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        wait: u32,
        /// Delete each message once received.
        #[arg(long)]
        delete: bool,
    },
    /// Delete every message of a queue.
    Purge {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
    },
    /// Stop the queue's workers taking messages (in every process) until `resume`.
    Pause {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
    },
    /// Let the queue's workers take messages again.
    Resume {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
    },
    /// Show a queue's attributes.
    Attrs {
        /// A configured short name (`feedback`, `feedback-dlq`) or a full queue name.
        queue: String,
    },
    /// Move a dead-letter queue's messages back to their source queues (or `--to` a queue);
    /// `--message` moves only those, `--status` shows the recent move tasks instead.
    Redrive {
        /// The dead-letter queue: a short name (`feedback-dlq`) or a full queue name.
        queue: String,
        /// Move the messages to this queue instead of back to their sources.
        #[arg(long)]
        to: Option<String>,
        /// At most this many messages per second (1–500; as fast as possible by default).
        #[arg(long, value_name = "PER_SECOND")]
        rate: Option<u32>,
        /// Move only this message (repeat for more), at once.
        #[arg(long = "message", value_name = "MESSAGE_ID")]
        messages: Vec<String>,
        /// Follow the move task to its end, with a progress bar.
        #[arg(long)]
        wait: bool,
        /// Show the queue's recent move tasks instead of starting one.
        #[arg(long)]
        status: bool,
    },
    /// Show a queue's messages without taking them: state, receives, source queue and last
    /// error (on SQS a peek is a receive at visibility 0, so their receive counts go up).
    Peek {
        /// A configured short name (`feedback-dlq`) or a full queue name.
        queue: String,
        /// At most this many (1–100).
        #[arg(long, default_value_t = 20)]
        max: u32,
        /// Continue after this cursor (the `next` a longer listing printed).
        #[arg(long)]
        after: Option<String>,
        /// Print the whole page as JSON (bodies and attributes in full).
        #[arg(long)]
        json: bool,
    },
    /// A message's timeline: sent, each delivery and how it ended, dead-lettering, redrive,
    /// result.
    Timeline {
        /// The queue it was sent to (a short or full name).
        queue: String,
        /// The message id.
        message_id: String,
    },
}

impl QueueCommand {
    /// The queue the command names, if it names one.
    fn queue(&self) -> Option<&str> {
        match self {
            QueueCommand::Send { queue, .. }
            | QueueCommand::Receive { queue, .. }
            | QueueCommand::Purge { queue }
            | QueueCommand::Pause { queue }
            | QueueCommand::Resume { queue }
            | QueueCommand::Attrs { queue }
            | QueueCommand::Redrive { queue, .. }
            | QueueCommand::Peek { queue, .. }
            | QueueCommand::Timeline { queue, .. } => Some(queue),
            QueueCommand::Ls | QueueCommand::Create { .. } => None,
        }
    }
}

/// The configured name closest to a mistyped one (a few edits away), to suggest it.
fn nearest<'a>(given: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (edit_distance(given, n), n))
        .filter(|(d, n)| *d <= 3.max(given.len() / 4) && *d < n.len())
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
    queues: BTreeMap<String, (String, String)>,
}

impl Client {
    /// A configured short name (`feedback`, `feedback-dlq`) means that queue; anything else is a full name.
    fn name(&self, given: &str) -> String {
        if let Some((name, _)) = self.queues.get(given) {
            return name.clone();
        }
        if let Some((_, dlq)) = given.strip_suffix("-dlq").and_then(|k| self.queues.get(k)) {
            return dlq.clone();
        }
        given.to_string()
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(k) = &self.key {
            request = request.bearer_auth(k);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach Conveyor at {}: is `conveyor serve` running there?",
                self.base
            )
        })?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value["error"]["message"].as_str().unwrap_or("no details");
            bail!("the server answered {status}: {message}");
        }
        Ok(value)
    }
}

/// Fixed-width columns, headers first.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n") + "\n"
}

/// The `keys` of each object in the array `v[list]`, as table cells.
pub(crate) fn rows(v: &Value, list: &str, keys: &[&str]) -> Vec<Vec<String>> {
    v[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| keys.iter().map(|k| text(&item[*k])).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let client = Client::for_server(&args.server)?;
    let given = args.command.queue().map(str::to_string);
    let outcome = execute(&client, args.command).await;
    match (outcome, given) {
        (Err(e), Some(given)) if e.to_string().contains("404") => {
            let candidates = client.queues.iter().flat_map(|(key, (name, dlq))| {
                [key.clone(), format!("{key}-dlq"), name.clone(), dlq.clone()]
            });
            let candidates: Vec<String> = candidates.collect();
            match nearest(&given, candidates.iter().map(String::as_str)) {
                Some(near) => Err(e.context(format!("no queue {given:?}; did you mean {near:?}?"))),
                None => Err(e.context(format!(
                    "no queue {given:?}; `conveyor queue ls` lists them"
                ))),
            }
        }
        (outcome, _) => outcome,
    }
}

impl Client {
    /// A client of the server `url` names, else of the configured environment's address, with
    /// `api_key` or the environment's first key.
    pub(crate) fn for_server(server: &ServerArgs) -> anyhow::Result<Client> {
        let settings = server.config.load()?.selected;
        Client::new(&settings, server.url.as_deref(), server.api_key.as_deref())
    }

    fn new(
        settings: &conveyor_config::Settings,
        url: Option<&str>,
        api_key: Option<&str>,
    ) -> anyhow::Result<Client> {
        let base = match url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let mut addr = settings.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
        };
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
            base,
            // The operator routes take operator keys; the first API key serves a deployment
            // that has none configured yet (the server then says what to set).
            key: api_key.map(str::to_string).or_else(|| {
                settings
                    .operator_keys
                    .first()
                    .or(settings.api_keys.first())
                    .map(|k| k.expose().to_string())
            }),
            queues: settings
                .queues
                .iter()
                .map(|q| (q.key.clone(), (q.name.clone(), q.dlq_name.clone())))
                .collect(),
        })
    }
}

async fn execute(client: &Client, command: QueueCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    match command {
        QueueCommand::Ls => {
            let v = client.call(Method::GET, "/v1/admin/queues", None).await?;
            let rows = rows(
                &v,
                "queues",
                &[
                    "name",
                    "visible",
                    "in_flight",
                    "delayed",
                    "oldest_age_seconds",
                ],
            );
            print!(
                "{}",
                table(
                    &["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST (s)"],
                    &rows
                )
            );
        }
        QueueCommand::Create {
            name,
            fifo,
            attributes,
        } => {
            let mut attrs = BTreeMap::new();
            if fifo {
                attrs.insert("FifoQueue".to_string(), "true".to_string());
            }
            for a in attributes {
                let (k, v) = a
                    .split_once('=')
                    .with_context(|| format!("--attribute {a:?} is not NAME=VALUE"))?;
                attrs.insert(k.to_string(), v.to_string());
            }
            let v = client
                .call(
                    Method::POST,
                    "/v1/admin/queues",
                    Some(json!({ "name": name, "attributes": attrs })),
                )
                .await?;
            println!("created {} ({})", text(&v["name"]), text(&v["arn"]));
        }
        QueueCommand::Send {
            queue,
            body,
            group,
            dedup,
            delay,
        } => {
            let path = format!("/v1/admin/queues/{}/send", client.name(&queue));
            let v = client
                .call(Method::POST, &path, Some(json!({ "body": body, "group_id": group, "deduplication_id": dedup, "delay_seconds": delay })))
                .await?;
            println!("sent {}", text(&v["message_id"]));
        }
        QueueCommand::Receive {
            queue,
            max,
            visibility,
            wait,
            delete,
        } => {
            let path = format!("/v1/admin/queues/{}/receive", client.name(&queue));
            let v = client
                .call(Method::POST, &path, Some(json!({ "max": max, "visibility_timeout": visibility, "wait_seconds": wait, "delete": delete })))
                .await?;
            let rows: Vec<Vec<String>> = v["messages"]
                .as_array()
                .map(|ms| {
                    ms.iter()
                        .map(|m| {
                            let body = text(&m["body"]);
                            let short: String = body.chars().take(60).collect();
                            vec![
                                text(&m["message_id"]),
                                text(&m["receive_count"]),
                                text(&m["group_id"]),
                                short,
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            print!(
                "{}",
                table(&["MESSAGE ID", "RECEIVES", "GROUP", "BODY"], &rows)
            );
            if delete {
                println!("({} deleted)", rows.len());
            }
        }
        QueueCommand::Purge { queue } => {
            let name = client.name(&queue);
            let before = progress::queue_total(client, &name).await?;
            client
                .call(
                    Method::POST,
                    &format!("/v1/admin/queues/{name}/purge"),
                    None,
                )
                .await?;
            // SQS may take up to 60 s to purge: show the count going down until it is gone.
            let left = progress::follow_purge(client, &name, before).await?;
            match left {
                0 => println!("purged {name} ({before} messages)"),
                n => println!(
                    "purge of {name} asked; {n} messages still counted after 60 s (SQS counts lag)"
                ),
            }
        }
        QueueCommand::Pause { queue } => {
            let name = client.name(&queue);
            client
                .call(
                    Method::POST,
                    &format!("/v1/admin/queues/{name}/pause"),
                    None,
                )
                .await?;
            println!("paused {name}: its workers take no new message until `conveyor queue resume {queue}`");
        }
        QueueCommand::Resume { queue } => {
            let name = client.name(&queue);
            client
                .call(
                    Method::POST,
                    &format!("/v1/admin/queues/{name}/resume"),
                    None,
                )
                .await?;
            println!("resumed {name}");
        }
        QueueCommand::Attrs { queue } => {
            let v = client
                .call(
                    Method::GET,
                    &format!("/v1/admin/queues/{}/attributes", client.name(&queue)),
                    None,
                )
                .await?;
            let rows: Vec<Vec<String>> = v["attributes"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| vec![k.clone(), text(v)]).collect())
                .unwrap_or_default();
            print!("{}", table(&["ATTRIBUTE", "VALUE"], &rows));
        }
        QueueCommand::Redrive {
            queue,
            to,
            rate,
            messages,
            wait,
            status,
        } => {
            let path = format!("/v1/admin/queues/{}/redrive", client.name(&queue));
            if !messages.is_empty() {
                let to = to.map(|t| client.name(&t));
                let v = client
                    .call(
                        Method::POST,
                        &path,
                        Some(json!({ "destination": to, "message_ids": messages })),
                    )
                    .await?;
                let moved = v["moved"].as_array().map_or(0, Vec::len);
                println!("moved {moved} to {}", text(&v["destination"]));
                for id in v["not_found"].as_array().into_iter().flatten() {
                    println!("not found (gone, or in flight): {}", text(id));
                }
            } else if status {
                let v = client.call(Method::GET, &path, None).await?;
                let rows = rows(
                    &v,
                    "tasks",
                    &[
                        "status",
                        "moved",
                        "to_move",
                        "destination_arn",
                        "failure_reason",
                    ],
                );
                print!(
                    "{}",
                    table(
                        &["STATUS", "MOVED", "TO MOVE", "DESTINATION", "FAILURE"],
                        &rows
                    )
                );
            } else {
                let to = to.map(|t| client.name(&t));
                let v = client
                    .call(
                        Method::POST,
                        &path,
                        Some(json!({ "destination": to, "max_per_second": rate })),
                    )
                    .await?;
                if wait {
                    let task = progress::follow_redrive(client, &path).await?;
                    println!(
                        "redrive {}: {} moved{}",
                        text(&task["status"]).to_lowercase(),
                        text(&task["moved"]),
                        task["failure_reason"]
                            .as_str()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    );
                } else {
                    println!(
                        "redrive started (task {}); follow it with --status, or --wait next time",
                        text(&v["task_handle"])
                    );
                }
            }
        }
        QueueCommand::Peek {
            queue,
            max,
            after,
            json,
        } => {
            let mut path = format!(
                "/v1/admin/queues/{}/messages?max={max}",
                client.name(&queue)
            );
            if let Some(a) = after {
                path.push_str(&format!("&after={a}"));
            }
            let v = client.call(Method::GET, &path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = v["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let body = match &m["body"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    vec![
                        text(&m["message_id"]),
                        text(&m["state"]),
                        text(&m["receive_count"]),
                        text(&m["source_queue"]),
                        cut(&text(&m["last_error"]), 40),
                        cut(&body, 50),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "MESSAGE ID",
                        "STATE",
                        "RECEIVES",
                        "SOURCE",
                        "LAST ERROR",
                        "BODY"
                    ],
                    &rows
                )
            );
            if let Some(next) = v["next"].as_str() {
                println!("(more: --after {next})");
            }
            if v["counted_as_receive"] == true {
                println!("(SQS cannot peek: these were received at visibility 0, so each receive count went up by one)");
            }
        }
        QueueCommand::Timeline { queue, message_id } => {
            let path = format!(
                "/v1/admin/messages/{message_id}/timeline?queue={}",
                client.name(&queue)
            );
            let v = client.call(Method::GET, &path, None).await?;
            let rows: Vec<Vec<String>> = v["events"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    vec![
                        e["at"].as_i64().map_or("-".into(), crate::alarms_cmd::utc),
                        text(&e["event"]),
                        text(&e["attempt"]),
                        text(&e["queue"]),
                        timeline_detail(e),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["AT (UTC)", "EVENT", "ATTEMPT", "QUEUE", "DETAIL"], &rows)
            );
            println!("status: {}", text(&v["status"]["status"]));
        }
    }
    Ok(())
}

/// At most `most` characters, an ellipsis marking a cut.
fn cut(text: &str, most: usize) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(most) {
        None => one_line,
        Some((at, _)) => format!("{}…", &one_line[..at]),
    }
}

/// An event's particulars in one cell.
fn timeline_detail(e: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = e["duration_ms"].as_i64() {
        parts.push(format!("{ms} ms"));
    }
    for key in [
        "error",
        "detail",
        "result_key",
        "dead_letter_message_id",
        "from",
    ] {
        if let Some(t) = e[key].as_str() {
            let label = match key {
                "dead_letter_message_id" => "copy ",
                "from" => "from ",
                _ => "",
            };
            parts.push(format!("{label}{}", cut(t, 80)));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

mod progress {
    //! Progress bars (indicatif, on stderr, drawn only on a terminal) for the operations that
    //! take a while: a redrive's move task and an SQS purge.

    use std::time::{Duration, Instant};

    use indicatif::{ProgressBar, ProgressStyle};
    use reqwest::Method;
    use serde_json::Value;

    use super::Client;

    fn bar(total: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }

    /// Every message the queue holds now (visible, in flight, delayed).
    pub(super) async fn queue_total(client: &Client, name: &str) -> anyhow::Result<u64> {
        let v = client.call(Method::GET, "/v1/admin/queues", None).await?;
        Ok(v["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|q| q["name"] == name)
            .map_or(0, |q| {
                ["visible", "in_flight", "delayed"]
                    .iter()
                    .map(|k| q[*k].as_u64().unwrap_or(0))
                    .sum()
            }))
    }

    /// Watch the queue empty (up to SQS's 60 s); what is still counted at the end.
    pub(super) async fn follow_purge(
        client: &Client,
        name: &str,
        before: u64,
    ) -> anyhow::Result<u64> {
        let bar = bar(before, "purging");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = queue_total(client, name).await?;
            bar.set_position(before.saturating_sub(left));
            if left == 0 || Instant::now() >= deadline {
                bar.finish_and_clear();
                return Ok(left);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Follow the newest move task of the queue at `path` until it ends; its last state.
    pub(super) async fn follow_redrive(client: &Client, path: &str) -> anyhow::Result<Value> {
        let mut shown: Option<ProgressBar> = None;
        loop {
            let v = client.call(Method::GET, path, None).await?;
            let task = v["tasks"][0].clone();
            let to_move = task["to_move"].as_u64().unwrap_or(0);
            let moved = task["moved"].as_u64().unwrap_or(0);
            let b = shown.get_or_insert_with(|| bar(to_move, "redriving"));
            b.set_length(to_move.max(moved));
            b.set_position(moved);
            if task["status"] != "RUNNING" && task["status"] != "CANCELLING" {
                b.finish_and_clear();
                return Ok(task);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["A", "LONGER"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22\n");
    }

    #[test]
    fn a_mistyped_queue_name_suggests_the_nearest() {
        let names = [
            "feedback",
            "feedback-dlq",
            "emails",
            "mht-api-local-api-processing-emails.fifo",
        ];
        assert_eq!(nearest("feedbak", names.into_iter()), Some("feedback"));
        assert_eq!(nearest("email", names.into_iter()), Some("emails"));
        assert_eq!(
            nearest("feedback-dql", names.into_iter()),
            Some("feedback-dlq")
        );
        assert_eq!(nearest("zzz", names.into_iter()), None);
    }
}
