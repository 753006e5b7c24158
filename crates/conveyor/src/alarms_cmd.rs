//! `conveyor alarms ls|history`: the alarms a running server evaluates, and one alarm's state
//! changes, as tables (from `/v1/admin/alarms`).

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::queue_cmd::{rows, table, Client, ServerArgs};

#[derive(Debug, Args)]
pub struct AlarmsArgs {
    #[command(subcommand)]
    pub command: AlarmsCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// Every alarm with its state, since when, and its rule.
    Ls,
    /// One alarm's state changes, newest first, with the datapoints that decided each.
    History {
        /// The alarm's name, as `conveyor alarms ls` shows it ({queue}-{metric}).
        alarm: String,
        /// At most this many changes (1–1000).
        #[arg(long, default_value_t = 20)]
        max: usize,
    },
}

/// Unix milliseconds as UTC `YYYY-MM-DD HH:MM:SS`.
fn when(v: &Value) -> String {
    match v.as_i64() {
        Some(ms) => utc(ms),
        None => "-".into(),
    }
}

/// Unix milliseconds as UTC `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub async fn run(args: AlarmsArgs) -> anyhow::Result<()> {
    let client = Client::for_server(&args.server)?;
    match args.command {
        AlarmsCommand::Ls => {
            let mut v = client
                .call(reqwest::Method::GET, "/v1/admin/alarms", None)
                .await?;
            if let Some(list) = v["alarms"].as_array_mut() {
                for a in list.iter_mut() {
                    a["since"] = Value::String(when(&a["since"]));
                    a["rule"] = Value::String(format!(
                        "> {} ({} of {} × {}, missing: {})",
                        a["threshold"],
                        a["datapoints_to_alarm"],
                        a["evaluation_periods"],
                        a["period"].as_str().unwrap_or("?"),
                        a["treat_missing_data"].as_str().unwrap_or("?")
                    ));
                }
            }
            let rows = rows(&v, "alarms", &["name", "state", "since", "rule"]);
            if rows.is_empty() {
                println!("no alarms: add [queues.X.alarms] rules to the configuration");
            } else {
                print!(
                    "{}",
                    table(&["ALARM", "STATE", "SINCE (UTC)", "RULE"], &rows)
                );
            }
        }
        AlarmsCommand::History { alarm, max } => {
            let path = format!("/v1/admin/alarms/{alarm}/history?max={max}");
            let mut v = client.call(reqwest::Method::GET, &path, None).await?;
            if let Some(list) = v["changes"].as_array_mut() {
                for c in list.iter_mut() {
                    c["at"] = Value::String(when(&c["at"]));
                }
            }
            let rows = rows(&v, "changes", &["at", "from", "to", "reason"]);
            if rows.is_empty() {
                println!("{alarm} has not changed state yet");
            } else {
                print!("{}", table(&["AT (UTC)", "FROM", "TO", "REASON"], &rows));
            }
        }
    }
    Ok(())
}
