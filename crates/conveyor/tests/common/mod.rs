//! What the integration tests of the binary share: starting the real `conveyor` on free
//! loopback ports, stopping it, and a minimal HTTP client.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const BIN: &str = env!("CARGO_BIN_EXE_conveyor");

pub struct Server {
    pub child: Child,
    /// The HTTP API's `host:port`; empty for `conveyor worker`.
    pub address: String,
    /// The SQS endpoint's `http://host:port`; empty when it is off.
    pub sqs: String,
    /// The S3 endpoint's `http://host:port`; empty when it is off.
    pub s3: String,
    pub data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path, extra_env: &[(&str, &str)], config: Option<&Path>) -> Server {
    start_command("serve", data, extra_env, config)
}

/// Start `conveyor <command>`; for `worker`, which has no address, `address` is empty.
pub fn start_command(
    command: &str,
    data: &Path,
    extra_env: &[(&str, &str)],
    config: Option<&Path>,
) -> Server {
    start_command_in(None, command, data, extra_env, config)
}

/// As `start_command`, run from `cwd` (where a configuration's relative paths start).
pub fn start_command_in(
    cwd: Option<&Path>,
    command: &str,
    data: &Path,
    extra_env: &[(&str, &str)],
    config: Option<&Path>,
) -> Server {
    let mut cmd = Command::new(BIN);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.args([
        command,
        "--listen",
        "127.0.0.1:0",
        "--sqs-listen",
        "127.0.0.1:0",
        "--s3-listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.env_remove("CONVEYOR_ENVIRONMENT");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start conveyor");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut sqs, mut s3) = (String::new(), String::new());
    // The SQS and S3 endpoints (if on) announce themselves first, then the API or the workers.
    let address = loop {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read a line");
        match line.trim() {
            "" => panic!("conveyor {command} exited before it was ready"),
            "conveyor workers running" => break String::new(),
            other => {
                if let Some(url) = other.strip_prefix("conveyor sqs listening on ") {
                    sqs = url.to_string();
                } else if let Some(url) = other.strip_prefix("conveyor s3 listening on ") {
                    s3 = url.to_string();
                } else {
                    break other
                        .strip_prefix("conveyor listening on http://")
                        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
                        .to_string();
                }
            }
        }
    };
    Server {
        child,
        address,
        sqs,
        s3,
        data: data.to_path_buf(),
    }
}

pub fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("send SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "conveyor did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 exchange; returns the status code and body.
pub async fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    try_http(address, method, path, headers, body)
        .await
        .expect("the server accepts the connection")
}

/// As `http`, but `None` when the server no longer accepts connections (it is shutting down).
pub async fn try_http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    try_http_within(
        address,
        method,
        path,
        headers,
        body,
        Duration::from_secs(10),
    )
    .await
}

/// As `try_http`, waiting up to `within` for the answer.
pub async fn try_http_within(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    within: Duration,
) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    // A server may answer (413) and close before it has read a large body: read its answer anyway.
    let _ = stream.write_all(request.as_bytes()).await;
    // Keep what arrived even if the connection is reset after the answer.
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut raw))
        .await
        .expect("answer in time");
    if raw.is_empty() {
        return None;
    }
    let response = String::from_utf8_lossy(&raw).to_string();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

pub const JSON: (&str, &str) = ("content-type", "application/json");

/// `dir/conveyor.toml` holding `text`; answers its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("conveyor.toml");
    std::fs::write(&path, text).expect("write the test configuration");
    path
}

pub fn result_files(data: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&data.join("objects/results"), &mut out);
    out
}

pub fn message_id(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON answer");
    v["message_id"].as_str().expect("message_id").to_string()
}

/// Run `conveyor queue …` against a running server; returns its stdout.
pub fn queue_cli(server: &Server, args: &[&str]) -> String {
    operator_cli(server, "queue", args)
}

/// Run `conveyor {command} …` (an operator tool: `queue`, `alarms`) against a running server.
pub fn operator_cli(server: &Server, command: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg(command)
        .args(args)
        .args([
            "--url",
            &format!("http://{}", server.address),
            "--log-format",
            "text",
        ])
        .env_remove("CONVEYOR_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "conveyor {command} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Wait up to `timeout` for `done`, looking every 100 ms.
pub async fn until_within(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait up to a minute for `done`.
pub async fn until(what: &str, done: impl FnMut() -> bool) {
    until_within(what, Duration::from_secs(60), done).await
}

/// The rows DuckDB (from PyPI, installed by scripts/test-deps.sh) answers for `sql`, each as its
/// columns joined by `|`. With `s3` (moto's or serve's S3 endpoint, `http://host:port`), its httpfs extension, installed
/// from the `duckdb-ext-httpfs` wheel, reads `s3://` paths there.
pub fn duckdb_on(s3: Option<&str>, sql: &str) -> Vec<String> {
    let setup = match s3 {
        None => String::new(),
        Some(url) => format!(
            "import importlib.util\n\
             con.execute('SET extension_directory = ?', (list(importlib.util.find_spec('duckdb_ext').submodule_search_locations)[0] + '/extensions',))\n\
             con.execute('SET autoinstall_known_extensions = false')\n\
             con.execute('LOAD httpfs')\n\
             con.execute(\"CREATE SECRET moto (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', ENDPOINT '{}', URL_STYLE 'path', USE_SSL false)\")\n",
            url.trim_start_matches("http://")
        ),
    };
    let script = format!(
        "import duckdb\ncon = duckdb.connect()\n{setup}for r in con.sql(\"\"\"{sql}\"\"\").fetchall(): print('|'.join(str(x) for x in r))"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "duckdb failed (run scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 rows")
        .lines()
        .map(str::to_string)
        .collect()
}

/// [`duckdb_on`] the local filesystem.
pub fn duckdb(sql: &str) -> Vec<String> {
    duckdb_on(None, sql)
}

/// The admin API's row for one queue (`GET /v1/admin/queues`): its counts and state.
pub async fn queue_row(address: &str, name: &str) -> serde_json::Value {
    let (_, queues) = http(address, "GET", "/v1/admin/queues", &[], "").await;
    let queues: serde_json::Value = serde_json::from_str(&queues).expect("a JSON answer");
    queues["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == name))
        .unwrap_or_else(|| panic!("no queue {name} in {queues}"))
        .clone()
}

/// The variables that point a `conveyor` process at moto's SQS and S3 (its test credentials).
pub const MOTO_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// `{base}` with the test environment moved onto moto's SQS and S3 at `moto_url`.
pub fn on_moto(base: &str, moto_url: &str) -> String {
    format!(
        "{base}\n[environments.test.backend]\nqueue = \"sqs\"\nstore = \"s3\"\nendpoint = \"{moto_url}\"\n"
    )
}

/// `conveyor provision --config {config}`, which must succeed.
pub fn provision(config: &Path, env: &[(&str, &str)]) {
    let out = Command::new(BIN)
        .arg("provision")
        .arg("--config")
        .arg(config)
        .env_remove("CONVEYOR_ENVIRONMENT")
        .envs(env.iter().copied())
        .output()
        .expect("run conveyor provision");
    assert!(
        out.status.success(),
        "conveyor provision failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run a client; a missing interpreter or package is a failure that says how to fix it.
pub fn run_client(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program}: {e}; run scripts/test-deps.sh to install the test clients")
    })
}

pub fn assert_success(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
