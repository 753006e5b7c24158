//! Test support: a real `moto_server` on a free loopback port, for the tests of this crate and
//! of the binary (only with the `testing` feature).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server` process, stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `moto_server` (installed by `scripts/test-deps.sh`) and wait until it listens.
pub fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start moto_server: {e}; run scripts/test-deps.sh to install it")
        });
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// The settings `variables` describe, on moto's S3, with their bucket created and a store over
/// it. Sets moto's test credentials in the process environment: nextest runs each test in a
/// process of its own, so they reach only that test.
pub async fn s3_store_on(
    moto: &Moto,
    variables: Vec<(String, String)>,
) -> (conveyor_config::Settings, conveyor_store::Store) {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let mut variables = variables;
    variables.push(("CONVEYOR_STORE_BACKEND".into(), "s3".into()));
    variables.push(("CONVEYOR_AWS_ENDPOINT".into(), moto.url.clone()));
    let settings = conveyor_config::load(None, variables)
        .expect("the test's settings load")
        .selected;
    let aws = crate::Aws::connect(&settings)
        .await
        .expect("moto answers")
        .expect("the settings name AWS backends");
    aws.ensure_bucket(&settings.bucket)
        .await
        .expect("moto creates the bucket");
    let store = aws.s3_store(&settings.bucket).expect("an S3 store");
    (settings, store)
}
