//! What tests of the e-mail handler and of the flows that use it share (cargo feature
//! `testing`): a real SMTP server, aiosmtpd, started on a free loopback port by
//! `tests/smtp_server.py` and stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An aiosmtpd server requiring AUTH as `mailer` / `s3cret-smtp`; see `tests/smtp_server.py`
/// for what it refuses, stalls and records.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    out: tempfile::TempDir,
}

pub const SMTP_USER: &str = "mailer";
pub const SMTP_PASSWORD: &str = "s3cret-smtp";

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let out = tempfile::tempdir().expect("a temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(out.path())
            .args([SMTP_USER, SMTP_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the aiosmtpd server (scripts/test-deps.sh installs aiosmtpd)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the server's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the SMTP server printed {line:?}, not its port"));
        SmtpServer { child, port, out }
    }

    /// Where the server writes what it accepted (and its stall markers).
    pub fn out_dir(&self) -> PathBuf {
        self.out.path().to_path_buf()
    }

    /// Every accepted message's summary, in the order accepted.
    pub fn received(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.out.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
