//! The README, run as a script: every shell block marked `<!-- README test: run -->` runs in
//! bash against a real `conveyor serve`, in order, and each `# => …` line must match a line of
//! what the commands before it printed (`…` matches anything). The README's addresses
//! (`localhost:8080`, `127.0.0.1:9324`, `127.0.0.1:9000`) are replaced by the test server's free ports.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const MARKER: &str = "<!-- README test: run -->";
const SEGMENT_END: &str = "@@README-SEGMENT-END@@";
const SECRET: &str = "readme-test-secret-0123456789abcdefghij";

/// One tested block: its commands, split where an expectation follows them.
struct Block {
    line: usize,
    segments: Vec<(String, Vec<String>)>,
}

fn tested_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != MARKER {
            i += 1;
            continue;
        }
        assert_eq!(
            lines.get(i + 1).map(|l| l.trim()),
            Some("```sh"),
            "README line {}: the marker must stand right above a ```sh block",
            i + 1
        );
        let start = i + 2;
        let mut segments = vec![(String::new(), Vec::new())];
        let mut j = start;
        while lines[j].trim() != "```" {
            let line = lines[j];
            if let Some(expected) = line.strip_prefix("# => ") {
                segments.last_mut().unwrap().1.push(expected.to_string());
            } else {
                if !segments.last().unwrap().1.is_empty() {
                    segments.push((String::new(), Vec::new()));
                }
                let commands = &mut segments.last_mut().unwrap().0;
                commands.push_str(line);
                commands.push('\n');
            }
            j += 1;
        }
        blocks.push(Block {
            line: start,
            segments,
        });
        i = j + 1;
    }
    blocks
}

/// `pattern` with `…` standing for any text, matched against the whole of `line`.
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, rest) = parts.split_first().unwrap();
    let Some(mut remaining) = line.strip_prefix(first) else {
        return false;
    };
    for (k, part) in rest.iter().enumerate() {
        let last = k == rest.len() - 1;
        if last {
            return remaining.ends_with(part);
        }
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.is_empty()
}

#[test]
fn wildcards_match_as_the_readme_means_them() {
    assert!(matches(r#"{"message_id":"…"}"#, r#"{"message_id":"abc"}"#));
    assert!(matches("a…b…c", "a-x-b-y-c"));
    assert!(!matches("a…b", "a-x-c"));
    assert!(!matches("same", "same but more"));
    assert!(matches("…x…", "only x here"));
}

#[test]
fn every_tested_readme_block_runs_and_prints_what_it_says() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let blocks = tested_blocks(&readme);
    assert!(blocks.len() >= 3, "the README has tested blocks");

    let dir = tempfile::tempdir().unwrap();
    // The README's commands run from the repository's root: its example functions and the
    // shipped configurations are there.
    for shared in ["functions", "config"] {
        std::os::unix::fs::symlink(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(shared),
            dir.path().join(shared),
        )
        .unwrap();
    }
    let server = start(
        &dir.path().join("data/local"),
        &[("CONVEYOR_JWT_SECRET", SECRET)],
        None,
    );
    let sqs = server.sqs.trim_start_matches("http://").to_string();
    let s3 = server.s3.trim_start_matches("http://").to_string();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let user_bin = Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string() + "/bin")
        .unwrap_or_default();
    let path = format!(
        "{}:{}:{user_bin}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let localize = |text: &str| {
        text.replace("localhost:8080", &server.address)
            .replace("127.0.0.1:8080", &server.address)
            .replace("127.0.0.1:9324", &sqs)
            .replace("127.0.0.1:9000", &s3)
    };
    for block in &blocks {
        let mut script = String::from("set -euo pipefail\n");
        for (commands, _) in &block.segments {
            script.push_str(&localize(commands));
            // On a line of its own even when the last command printed no newline.
            script.push_str(&format!("printf '\\n%s\\n' {SEGMENT_END}\n"));
        }
        let out = Command::new("timeout")
            .args(["120", "bash", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("CONVEYOR_URL", format!("http://{}", server.address))
            .env("CONVEYOR_JWT_SECRET", SECRET)
            .env_remove("CONVEYOR_ENVIRONMENT")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the README block at line {} failed:\n{stdout}\n{}",
            block.line,
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs: Vec<&str> = stdout.split(&format!("\n{SEGMENT_END}\n")).collect();
        for (k, (commands, expected)) in block.segments.iter().enumerate() {
            let printed = outputs.get(k).copied().unwrap_or("");
            for pattern in expected {
                let pattern = localize(pattern);
                assert!(
                    printed.lines().any(|l| matches(&pattern, l.trim_end())),
                    "README block at line {}: after\n{commands}\nexpected a line like\n  {pattern}\nbut it printed:\n{printed}",
                    block.line
                );
            }
        }
    }
}
