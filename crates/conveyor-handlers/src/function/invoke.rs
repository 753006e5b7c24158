//! Running one invocation: a process per batch (the event on stdin, the answer on stdout, its
//! stderr into Conveyor's log) or a POST to a URL. The process runs in its own process group
//! with a clean environment, and the whole group is killed when the invocation ends, times out
//! or is abandoned (shutdown): no function outlives its invocation, and none sees Conveyor's
//! own secrets.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Lambda's limit on a synchronous invocation's request and response.
pub(crate) const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// How much of a function's stderr a failure's reason quotes.
const KEPT_LOG_LINES: usize = 5;

/// Why an invocation failed as a whole, and when to retry when the function said.
#[derive(Debug)]
pub(crate) struct Failed {
    pub reason: String,
    pub after: Option<Duration>,
}

impl Failed {
    fn now(reason: String) -> Self {
        Failed {
            reason,
            after: None,
        }
    }
}

/// Who the log lines of an invocation belong to.
pub(crate) struct Labels<'a> {
    pub queue: &'a str,
    pub function: &'a str,
    pub request_id: &'a str,
}

/// Variables a command always gets from the parent, when set there.
const PASSED_THROUGH: [&str; 5] = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

/// Kills the process group on drop: after a normal exit (leftover children), on timeout, and
/// when the invocation's future is dropped because the worker gave up on it.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals the process group `pid`, which the
            // child leads (process_group(0)); it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

pub(crate) async fn command(
    argv: &[String],
    vars: &BTreeMap<String, String>,
    event: &[u8],
    timeout: Duration,
    labels: &Labels<'_>,
) -> Result<String, Failed> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(
            PASSED_THROUGH
                .iter()
                .filter_map(|k| Some((*k, std::env::var(k).ok()?))),
        )
        .envs(vars)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        Failed::now(format!(
            "cannot start {:?}: {e}; check the function's command and working directory",
            argv[0]
        ))
    })?;
    let _group = GroupKiller(child.id());
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(Failed::now(
            "the function's pipes could not be opened".into(),
        ));
    };
    let feed = async move {
        // A function that exits without reading its event is its own business: not an error.
        let _ = stdin.write_all(event).await;
        drop(stdin);
    };
    let answer = async move {
        let mut kept = Vec::new();
        let mut out = stdout;
        let read = (&mut out)
            .take(PAYLOAD_LIMIT as u64 + 1)
            .read_to_end(&mut kept)
            .await;
        // Whatever lies beyond the limit is read and dropped, so the function is not blocked.
        let _ = tokio::io::copy(&mut out, &mut tokio::io::sink()).await;
        read.map(|_| kept)
    };
    let logs = async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut tail = std::collections::VecDeque::new();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "conveyor::function", queue = %labels.queue, function = %labels.function, request_id = %labels.request_id, "{line}");
            if tail.len() == KEPT_LOG_LINES {
                tail.pop_front();
            }
            tail.push_back(super::event::short(&line));
        }
        Vec::from(tail).join(" | ")
    };
    let run = async {
        let ((), answer, tail, status) = tokio::join!(feed, answer, logs, child.wait());
        (answer, tail, status)
    };
    let Ok((answer, tail, status)) = tokio::time::timeout(timeout, run).await else {
        return Err(Failed::now(format!(
            "the function ran past its timeout of {}s and was killed",
            timeout.as_secs_f64()
        )));
    };
    let status = status.map_err(|e| Failed::now(format!("cannot wait for the function: {e}")))?;
    let answer =
        answer.map_err(|e| Failed::now(format!("cannot read the function's answer: {e}")))?;
    if answer.len() > PAYLOAD_LIMIT {
        return Err(Failed::now(format!(
            "the function's answer is over Lambda's {PAYLOAD_LIMIT} bytes"
        )));
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if status.success() {
        return Ok(answer);
    }
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_string(),
    };
    Err(Failed::now(format!(
        "the function {how}: {}",
        error_text(&answer, &tail)
    )))
}

/// Lambda's error shape (`{"errorMessage", "errorType"}`) when the answer has it, else the
/// last lines the function logged.
fn error_text(answer: &str, log_tail: &str) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LambdaError {
        error_message: Option<String>,
        error_type: Option<String>,
    }
    match serde_json::from_str::<LambdaError>(answer) {
        Ok(LambdaError {
            error_message: Some(message),
            error_type,
        }) => format!(
            "{}: {message}",
            error_type.unwrap_or_else(|| "Error".into())
        ),
        _ if !log_tail.is_empty() => log_tail.to_string(),
        _ if !answer.trim().is_empty() => super::event::short(answer.trim()),
        _ => "it said nothing on stderr".to_string(),
    }
}

#[cfg(feature = "http")]
pub(crate) async fn url(
    client: &reqwest::Client,
    url: &str,
    event: Vec<u8>,
    timeout: Duration,
) -> Result<String, Failed> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(timeout)
        .body(event)
        .send()
        .await
        .map_err(|e| Failed::now(format!("POST {url} failed: {e}")))?;
    let status = response.status();
    let after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Lambda's Invoke API (and its runtime interface emulator) answers 200 for a function that
    // raised, and says so in this header.
    let function_error = response.headers().contains_key("x-amz-function-error");
    let body = response
        .bytes()
        .await
        .map_err(|e| Failed::now(format!("cannot read the answer of {url}: {e}")))?;
    if body.len() > PAYLOAD_LIMIT {
        return Err(Failed::now(format!(
            "the answer of {url} is over Lambda's {PAYLOAD_LIMIT} bytes"
        )));
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if function_error {
        return Err(Failed::now(format!(
            "the function raised: {}",
            error_text(&text, "")
        )));
    }
    if !status.is_success() {
        return Err(Failed {
            reason: format!(
                "POST {url} answered {status}: {}",
                super::event::short(text.trim())
            ),
            after: after.filter(|_| status.as_u16() == 429 || status.is_server_error()),
        });
    }
    Ok(text)
}
