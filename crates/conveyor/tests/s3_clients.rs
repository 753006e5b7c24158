//! The S3 endpoint of `conveyor serve` driven by real clients: boto3 and the AWS CLI. Each
//! test starts its own server on free loopback ports and stops it; the boto3 scenarios live
//! in `tests/s3/*.py`.

mod common;

use std::path::Path;

use common::*;

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/s3")
        .join(name)
        .display()
        .to_string()
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn boto3_scenarios_pass_against_the_s3_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[], None);
    assert!(!server.s3.is_empty(), "serve announced no S3 endpoint");
    let out = run_client("python3", &[&script("boto3_scenarios.py"), &server.s3], &[]);
    let report = assert_success(&out, "the boto3 S3 scenarios");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        17,
        "every scenario ran: {report}"
    );
    // The refused keys wrote nothing, inside the data directory or beside it.
    let everything = files_under(dir.path());
    assert!(
        !everything
            .iter()
            .any(|f| f.contains("escape") || f.contains("ctl")),
        "{everything:?}"
    );
    // What boto3 wrote is the local store's own files.
    assert_eq!(
        std::fs::read(data.join("objects/docs/checked.txt")).unwrap(),
        b"checked"
    );
}

#[test]
fn the_aws_cli_copies_lists_syncs_and_removes_the_objects_workers_see() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data, &[], None);
    let s3 = server.s3.clone();
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", s3.as_str()];
        all.extend_from_slice(args);
        run_client("aws", &all, &[])
    };
    let buckets = assert_success(&aws(&["s3", "ls"]), "aws s3 ls");
    let bucket = buckets
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no bucket listed: {buckets:?}"))
        .to_string();
    let target = |key: &str| format!("s3://{bucket}/{key}");

    // A file copied in is a file of the local store, byte for byte; and back out.
    let local = dir.path().join("report.csv");
    // 9.6 MB: over the CLI's 8 MiB threshold, so it goes up (and comes down) in parts.
    let content = "id,name\n".to_string() + &"1,ada\n".repeat(1_600_000);
    std::fs::write(&local, &content).unwrap();
    assert_success(
        &aws(&[
            "s3",
            "cp",
            &local.display().to_string(),
            &target("in/report.csv"),
        ]),
        "aws s3 cp up",
    );
    assert_eq!(
        std::fs::read_to_string(data.join("objects/in/report.csv")).unwrap(),
        content
    );
    let back = dir.path().join("back.csv");
    assert_success(
        &aws(&[
            "s3",
            "cp",
            &target("in/report.csv"),
            &back.display().to_string(),
        ]),
        "aws s3 cp down",
    );
    assert_eq!(std::fs::read_to_string(&back).unwrap(), content);
    let head = assert_success(
        &aws(&[
            "s3api",
            "head-object",
            "--bucket",
            &bucket,
            "--key",
            "in/report.csv",
        ]),
        "aws s3api head-object",
    );
    assert!(head.contains("-2\\\""), "not a two-part ETag: {head}");
    assert_success(
        &aws(&[
            "s3api",
            "put-object-tagging",
            "--bucket",
            &bucket,
            "--key",
            "in/report.csv",
            "--tagging",
            "TagSet=[{Key=owner,Value=ada}]",
        ]),
        "aws s3api put-object-tagging",
    );
    let tags = assert_success(
        &aws(&[
            "s3api",
            "get-object-tagging",
            "--bucket",
            &bucket,
            "--key",
            "in/report.csv",
        ]),
        "aws s3api get-object-tagging",
    );
    // Multipart by hand with s3api: two parts (the first at S3's 5 MiB minimum), listed, then
    // completed from a parts file, as the seeds' scripts would.
    let part_one = dir.path().join("part1");
    std::fs::write(&part_one, vec![b'1'; 5 * 1024 * 1024]).unwrap();
    let part_two = dir.path().join("part2");
    std::fs::write(&part_two, b"the last part").unwrap();
    let created = assert_success(
        &aws(&[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            &bucket,
            "--key",
            "by-hand.bin",
            "--query",
            "UploadId",
            "--output",
            "text",
        ]),
        "aws s3api create-multipart-upload",
    );
    let upload_id = created.trim().to_string();
    let mut parts = Vec::new();
    for (number, file) in [(1, &part_one), (2, &part_two)] {
        let e_tag = assert_success(
            &aws(&[
                "s3api",
                "upload-part",
                "--bucket",
                &bucket,
                "--key",
                "by-hand.bin",
                "--upload-id",
                &upload_id,
                "--part-number",
                &number.to_string(),
                "--body",
                &file.display().to_string(),
                "--query",
                "ETag",
                "--output",
                "text",
            ]),
            "aws s3api upload-part",
        );
        parts.push(format!(
            r#"{{"PartNumber": {number}, "ETag": {}}}"#,
            e_tag.trim()
        ));
    }
    let listed_parts = assert_success(
        &aws(&[
            "s3api",
            "list-parts",
            "--bucket",
            &bucket,
            "--key",
            "by-hand.bin",
            "--upload-id",
            &upload_id,
            "--query",
            "length(Parts)",
        ]),
        "aws s3api list-parts",
    );
    assert_eq!(listed_parts.trim(), "2");
    let parts_file = dir.path().join("parts.json");
    std::fs::write(
        &parts_file,
        format!(r#"{{"Parts": [{}]}}"#, parts.join(", ")),
    )
    .unwrap();
    assert_success(
        &aws(&[
            "s3api",
            "complete-multipart-upload",
            "--bucket",
            &bucket,
            "--key",
            "by-hand.bin",
            "--upload-id",
            &upload_id,
            "--multipart-upload",
            &format!("file://{}", parts_file.display()),
        ]),
        "aws s3api complete-multipart-upload",
    );
    assert_eq!(
        std::fs::metadata(data.join("objects/by-hand.bin"))
            .unwrap()
            .len(),
        5 * 1024 * 1024 + 13
    );
    assert!(
        tags.contains("\"owner\"") && tags.contains("\"ada\""),
        "{tags}"
    );

    // A result a worker stored is listed and read over S3, with its MD5 as ETag.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, _) = runtime.block_on(http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[("content-type", "application/json")],
        r#"{"user_id":"u-1","message":"S3 please","email":"s3@example.com","name":"S3"}"#,
    ));
    assert_eq!(status, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let result_key = loop {
        let results = files_under(&data.join("objects"));
        if let Some(key) = results
            .iter()
            .find(|f| f.starts_with("results/") && f.ends_with(".json"))
        {
            break key.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no result stored: {results:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let listed = assert_success(
        &aws(&["s3", "ls", "--recursive", &target("results/")]),
        "aws s3 ls --recursive",
    );
    assert!(listed.contains(&result_key), "{result_key} not in {listed}");
    let head = assert_success(
        &aws(&[
            "s3api",
            "head-object",
            "--bucket",
            &bucket,
            "--key",
            &result_key,
        ]),
        "aws s3api head-object",
    );
    let stored = std::fs::read(data.join("objects").join(&result_key)).unwrap();
    let md5: String = {
        use md5::{Digest, Md5};
        Md5::digest(&stored)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(
        head.contains(&md5),
        "head-object's ETag is not the MD5 {md5}: {head}"
    );

    // sync uploads what differs, once; rm --recursive removes it from the store.
    let tree = dir.path().join("tree");
    for (name, body) in [
        ("a.txt", "a"),
        ("sub/b.txt", "bb"),
        ("sub/deeper/c.txt", "ccc"),
    ] {
        std::fs::create_dir_all(tree.join(name).parent().unwrap()).unwrap();
        std::fs::write(tree.join(name), body).unwrap();
    }
    let tree_arg = tree.display().to_string();
    let first = assert_success(
        &aws(&["s3", "sync", &tree_arg, &target("synced")]),
        "aws s3 sync",
    );
    assert_eq!(first.matches("upload:").count(), 3, "{first}");
    let again = assert_success(
        &aws(&["s3", "sync", &tree_arg, &target("synced")]),
        "aws s3 sync again",
    );
    assert_eq!(again.matches("upload:").count(), 0, "{again}");
    assert_eq!(
        std::fs::read_to_string(data.join("objects/synced/sub/deeper/c.txt")).unwrap(),
        "ccc"
    );
    let removed = assert_success(
        &aws(&["s3", "rm", "--recursive", &target("synced/")]),
        "aws s3 rm --recursive",
    );
    assert_eq!(removed.matches("delete:").count(), 3, "{removed}");
    assert!(!files_under(&data.join("objects"))
        .iter()
        .any(|f| f.starts_with("synced/")));
    assert!(terminate(&mut server).success());
}

#[test]
fn with_access_keys_every_signature_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (key_id, secret) = ("AKIDCONVEYORS3", "s3cr3t-for-the-signed-scenarios");
    let keys = format!("{key_id}:{secret}");
    let server = start(dir.path(), &[("CONVEYOR_S3_ACCESS_KEYS", &keys)], None);
    let out = run_client(
        "python3",
        &[&script("signed_scenarios.py"), &server.s3, key_id, secret],
        &[],
    );
    let report = assert_success(&out, "the signed S3 scenarios");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "every scenario ran: {report}"
    );
}

#[test]
fn a_public_s3_address_without_access_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sqs-listen",
            "off",
            "--s3-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("CONVEYOR_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("serve S3") && stderr.contains("CONVEYOR_S3_ACCESS_KEYS"),
        "{stderr}"
    );
}

/// Send `head` and then `body` on one connection and read the answer to its end (the requests
/// say `Connection: close`).
async fn raw_exchange(address: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer).to_string()
}

#[test]
fn malformed_requests_get_s3_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[], None);
    let s3 = server.s3.trim_start_matches("http://").to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bucket = "mht-api-local-data-collection";
    let request = |method: &str, path: &str, extra: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {s3}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    runtime.block_on(async {
        // Malformed XML where S3 takes XML: a batch delete and a multipart completion.
        let answer = raw_exchange(
            &s3,
            &request("POST", &format!("/{bucket}?delete"), "", "<Delete><Object><Key>a"),
            b"",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("<Code>MalformedXML</Code>"), "{answer}");
        let answer = raw_exchange(
            &s3,
            &request("POST", &format!("/{bucket}/k?uploadId=0123456789abcdef0123456789abcdef"), "", "not xml"),
            b"",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
        assert!(answer.contains("<Error>"), "{answer}");
        // A key that climbs out of the bucket, spelled raw and percent-encoded.
        for path in ["/{bucket}/../escape.txt", "/{bucket}/a/%2e%2e/%2e%2e/escape.txt"] {
            let path = path.replace("{bucket}", bucket);
            let answer = raw_exchange(&s3, &request("PUT", &path, "", "x"), b"").await;
            assert!(answer.starts_with("HTTP/1.1 4"), "{path}: {answer}");
            assert!(answer.contains("<Error>"), "{path}: {answer}");
        }
        // More than one PUT may carry: refused before a byte of the body is read.
        let head = format!(
            "PUT /{bucket}/huge.bin HTTP/1.1\r\nHost: {s3}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            5u64 * 1024 * 1024 * 1024 + 1
        );
        let answer = raw_exchange(&s3, &head, b"").await;
        assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
        // 5 GiB announced, 1 MiB sent, then the client goes away: nothing is written.
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(&s3).await.unwrap();
        let head = format!(
            "PUT /{bucket}/announced.bin HTTP/1.1\r\nHost: {s3}\r\nContent-Length: {}\r\n\r\n",
            5u64 * 1024 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&vec![7u8; 1024 * 1024]).await.unwrap();
        drop(stream);
    });
    // The abandoned upload is aborted once the server sees the connection end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let files = files_under(dir.path());
        let stray: Vec<&String> = files
            .iter()
            .filter(|f| f.contains("announced") || f.contains("escape") || f.contains("huge"))
            .collect();
        if stray.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {stray:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // And the endpoint still serves.
    let (status, _) =
        runtime.block_on(http(&s3, "GET", &format!("/{bucket}?list-type=2"), &[], ""));
    assert_eq!(status, 200);
}

#[test]
fn conveyor_and_moto_s3_agree_except_where_listed_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let moto = conveyor_aws::testing::start_moto();
    let out = run_client(
        "python3",
        &[&script("differential.py"), &server.s3, &moto.url],
        &[],
    );
    let report = assert_success(&out, "the S3 differential scenario");
    assert!(report.contains("same      complete"), "{report}");
}
