use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn built_in(pairs: &[(&str, &str)]) -> Config {
    load(None, vars(pairs)).expect("the built-in configuration loads")
}

fn from_text(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    load(Some(&path), Vec::new())
}

#[test]
fn built_in_runs_locally_under_data() {
    let c = built_in(&[]);
    assert_eq!(c.selected.environment, "local");
    assert!(c.selected.data_dir.starts_with("data"));
    assert_eq!(c.selected.listen.to_string(), "127.0.0.1:8080");
    let keys: Vec<&str> = c.selected.queues.iter().map(|q| q.key.as_str()).collect();
    assert_eq!(keys, ["analytics", "emails", "feedback", "testflight"]);
}

#[test]
fn production_reproduces_the_seed_queues() {
    let p = &built_in(&[]).environments["production"];
    let expect = [
        ("feedback", 14, 5),
        ("emails", 14, 10),
        ("analytics", 7, 2),
        ("testflight", 14, 5),
    ];
    for (key, days, minutes) in expect {
        let q = p.queue(key).unwrap();
        assert!(q.fifo);
        assert_eq!(q.retention.seconds(), days * 86_400, "{key} retention");
        assert_eq!(q.visibility.seconds(), minutes * 60, "{key} visibility");
        assert_eq!(q.max_receive_count, 3);
        assert_eq!(q.dlq_retention.seconds(), 14 * 86_400);
    }
    let feedback = p.queue("feedback").unwrap();
    assert_eq!(
        feedback.name, "mht-api-api-processing-feedback.fifo",
        "production drops -{{env}} as the seed does"
    );
    assert_eq!(
        feedback.dlq_name,
        "mht-api-api-processing-feedback-dlq.fifo"
    );
    assert_eq!(p.bucket, "mht-api-production-data-collection");
}

#[test]
fn staging_is_the_same_shape_with_shorter_settings() {
    let c = built_in(&[]);
    let (s, p) = (&c.environments["staging"], &c.environments["production"]);
    assert_eq!(
        s.queue("feedback").unwrap().name,
        "mht-api-staging-api-processing-feedback.fifo"
    );
    assert_eq!(s.bucket, "mht-api-staging-data-collection");
    for q in &s.queues {
        let prod = p.queue(&q.key).unwrap();
        assert_eq!(q.fifo, prod.fifo);
        assert!(
            q.retention <= prod.retention,
            "{}: staging keeps messages no longer",
            q.key
        );
        assert!(
            q.visibility < prod.visibility,
            "{}: staging retries faster",
            q.key
        );
        assert!(
            q.max_receive_count < prod.max_receive_count,
            "{}: staging dead-letters sooner",
            q.key
        );
    }
}

#[test]
fn variables_override_the_file() {
    let c = built_in(&[
        ("CONVEYOR_ENVIRONMENT", "staging"),
        ("CONVEYOR_LISTEN", "127.0.0.1:9999"),
        ("CONVEYOR_DATA_DIR", "/var/lib/conveyor-staging"),
        ("CONVEYOR_API_KEYS", "k1, k2"),
        (
            "CONVEYOR_ENVIRONMENTS__PRODUCTION__LISTEN",
            "127.0.0.1:7777",
        ),
        ("CONVEYOR_QUEUES__ANALYTICS__MAX_RECEIVE_COUNT", "5"),
        ("CONVEYOR_UNRELATED", "ignored"),
        ("HOME", "/root"),
    ]);
    assert_eq!(c.selected.environment, "staging");
    assert_eq!(c.selected.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(
        c.selected.data_dir,
        PathBuf::from("/var/lib/conveyor-staging")
    );
    assert_eq!(
        c.selected.api_keys,
        vec![Secret::new("k1"), Secret::new("k2")]
    );
    assert_eq!(
        c.environments["production"].listen.to_string(),
        "127.0.0.1:7777"
    );
    assert_eq!(
        c.environments["production"]
            .queue("analytics")
            .unwrap()
            .max_receive_count,
        5
    );
}

#[test]
fn environments_sharing_a_data_directory_are_refused_naming_both() {
    // Written differently ("./", trailing slash), still the same directory.
    let err = load(
        None,
        vars(&[(
            "CONVEYOR_ENVIRONMENTS__PRODUCTION__DATA_DIR",
            "./data/staging/",
        )]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("production") && msg.contains("staging") && msg.contains("data directory"),
        "{msg}"
    );
    // One inside the other counts as shared too.
    let nested = load(
        None,
        vars(&[("CONVEYOR_ENVIRONMENTS__LOCAL__DATA_DIR", "data")]),
    )
    .unwrap_err();
    assert!(nested.to_string().contains("data directory"), "{nested}");
}

#[test]
fn environments_sharing_a_bucket_queue_or_key_are_refused() {
    let bucket = load(
        None,
        vars(&[
            ("CONVEYOR_ENVIRONMENTS__STAGING__BUCKET_SUFFIX", "x"),
            ("CONVEYOR_ENVIRONMENTS__LOCAL__BUCKET_SUFFIX", "x"),
        ]),
    );
    // Different environments give different bucket names even with one suffix: no clash.
    assert!(bucket.is_ok());
    let queues = load(
        None,
        vars(&[(
            "CONVEYOR_ENVIRONMENTS__STAGING__OMIT_ENVIRONMENT_IN_NAMES",
            "true",
        )]),
    )
    .unwrap_err();
    let msg = queues.to_string();
    assert!(
        msg.contains("staging") && msg.contains("production") && msg.contains("queue"),
        "{msg}"
    );
    let keys = load(
        None,
        vars(&[
            ("CONVEYOR_ENVIRONMENTS__STAGING__API_KEYS", "same-key"),
            (
                "CONVEYOR_ENVIRONMENTS__PRODUCTION__API_KEYS",
                "other, same-key",
            ),
        ]),
    )
    .unwrap_err();
    let msg = keys.to_string();
    assert!(
        msg.contains("staging") && msg.contains("production") && msg.contains("API key"),
        "{msg}"
    );
    assert!(
        !msg.contains("same-key"),
        "the error must not print the secret: {msg}"
    );
}

#[test]
fn bad_files_say_what_is_wrong() {
    let base = "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"dev\"\n[queues.jobs]\n[environments.dev]\ndata_dir = \"d\"\nbucket_suffix = \"s\"\n";
    assert!(from_text(base).is_ok());
    let unknown =
        from_text(&base.replace("[queues.jobs]", "[queues.jobs]\nretension = \"1d\"")).unwrap_err();
    assert!(unknown.to_string().contains("retension"), "{unknown}");
    let duration =
        from_text(&base.replace("[queues.jobs]", "[queues.jobs]\nretention = \"5 weeks\""))
            .unwrap_err();
    assert!(duration.to_string().contains("unit"), "{duration}");
    let range = from_text(&base.replace("[queues.jobs]", "[queues.jobs]\nretention = \"30s\""))
        .unwrap_err();
    assert!(
        range.to_string().contains("MessageRetentionPeriod"),
        "{range}"
    );
    // The file, the queue and the key are named, with what is allowed.
    let handler =
        from_text(&base.replace("[queues.jobs]", "[queues.jobs]\nhandler = \"smtp\"")).unwrap_err();
    let said = handler.to_string();
    assert!(
        said.contains("c.toml")
            && said.contains("queues.jobs.handler")
            && said.contains("smtp")
            && said.contains("`http`"),
        "{handler}"
    );
    let typo = from_text(&base.replace(
        "[queues.jobs]",
        "[queues.jobs]\nhandler = { kind = \"http\", url = \"http://h\", timout = \"1s\" }",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        typo.contains("timout") && typo.contains("queues.jobs.handler"),
        "{typo}"
    );
    let wrong_type = from_text(&base.replace(
        "[queues.jobs]",
        "[queues.jobs]\nhandler = { kind = \"http\", url = 5 }",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        wrong_type.contains("queues.jobs.handler") && wrong_type.contains("string"),
        "{wrong_type}"
    );
    let http = from_text(&base.replace(
        "[queues.jobs]",
        "[queues.jobs]\nhandler = { kind = \"http\" }",
    ))
    .unwrap_err();
    assert!(http.to_string().contains("url"), "{http}");
    let env =
        from_text(&base.replace("environment = \"dev\"", "environment = \"prod\"")).unwrap_err();
    assert!(env.to_string().contains("prod"), "{env}");
    let listen =
        from_text(&base.replace("data_dir", "listen = \"nowhere\"\ndata_dir")).unwrap_err();
    assert!(listen.to_string().contains("listen"), "{listen}");
    let name = from_text(&base.replace("instance = \"a\"", "instance = \"Big Co\"")).unwrap_err();
    assert!(name.to_string().contains("instance"), "{name}");
    let missing = load(Some(Path::new("/nonexistent/conveyor.toml")), Vec::new()).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/conveyor.toml"),
        "{missing}"
    );
}

#[test]
fn masked_output_hides_keys() {
    let c = built_in(&[("CONVEYOR_API_KEYS", "top-secret-key")]);
    let text = c.selected.to_masked_toml();
    assert!(!text.contains("top-secret-key"), "{text}");
    assert!(text.contains("****"), "{text}");
    assert!(
        text.contains("mht-api-local-api-processing-feedback.fifo"),
        "{text}"
    );
}

#[test]
fn queue_attributes_are_what_the_engine_accepts() {
    let c = built_in(&[]);
    let q = c.environments["production"].queue("emails").unwrap();
    let a = q.attributes(Some("arn:aws:sqs:us-east-1:000000000000:dlq.fifo"));
    assert_eq!(a["VisibilityTimeout"], "600");
    assert_eq!(a["MessageRetentionPeriod"], "1209600");
    assert!(a["RedrivePolicy"].contains("\"maxReceiveCount\":3"));
    assert!(conveyor_queue::QueueConfig::for_new_queue(&q.name, &a).is_ok());
}

#[test]
fn backends_default_to_one_machine_and_staging_runs_on_aws() {
    let c = built_in(&[]);
    let local = &c.selected.backend;
    assert_eq!(
        (local.queue, local.store),
        (QueueBackend::Embedded, StoreBackend::Local)
    );
    assert!(!local.uses_aws());
    let staging = &c.environments["staging"].backend;
    assert_eq!(
        (staging.queue, staging.store),
        (QueueBackend::Sqs, StoreBackend::S3)
    );
    assert_eq!(staging.sqs_endpoint, None, "the region's AWS endpoint");
    assert!(!staging.s3_path_style, "virtual-hosted buckets on AWS");
}

#[test]
fn one_endpoint_variable_points_both_services_at_an_emulator() {
    let c = built_in(&[
        ("CONVEYOR_ENVIRONMENT", "staging"),
        ("CONVEYOR_AWS_ENDPOINT", "http://127.0.0.1:5000/"),
        ("CONVEYOR_REGION", "eu-west-1"),
    ]);
    let b = &c.selected.backend;
    assert_eq!(b.sqs_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    assert_eq!(b.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    assert!(b.s3_path_style, "emulators are addressed path-style");
    assert_eq!(c.selected.region, "eu-west-1");
    // The production environment is untouched by staging's variables.
    assert_eq!(c.environments["production"].backend.sqs_endpoint, None);
}

#[test]
fn bad_backend_lines_say_what_to_write() {
    let base = include_str!("../../../config/conveyor.toml");
    let bad_kind = base.replace(
        "queue = \"sqs\"\nstore = \"s3\"\n# endpoint",
        "queue = \"kafka\"\nstore = \"s3\"\n# endpoint",
    );
    let msg = from_text(&bad_kind).unwrap_err().to_string();
    assert!(msg.contains("kafka") && msg.contains("embedded"), "{msg}");
    let bad_url = base.replace(
        "# endpoint = \"http://127.0.0.1:5000\"",
        "endpoint = \"127.0.0.1:5000\"",
    );
    let msg = from_text(&bad_url).unwrap_err().to_string();
    assert!(
        msg.contains("backend.endpoint") && msg.contains("http://"),
        "{msg}"
    );
}

#[test]
fn files_settings_have_safe_defaults_and_refuse_weak_or_shared_secrets() {
    let c = built_in(&[]);
    let files = &c.selected.files;
    assert_eq!(
        files.jwt_secret, None,
        "the files API is off until a secret is set"
    );
    assert_eq!(files.tenant_claim, ["app_metadata", "tenant_id"]);
    assert_eq!(files.leeway.seconds(), 60);
    assert!(files.max_request_bytes >= files.max_file_bytes);

    let secret = "a-long-enough-secret-for-hs256-0123456789";
    let c = built_in(&[
        ("CONVEYOR_JWT_SECRET", secret),
        (
            "CONVEYOR_CORS_ORIGINS",
            "https://app.example.com, http://localhost:3000",
        ),
        (
            "CONVEYOR_ENVIRONMENTS__LOCAL__FILES__TENANT_CLAIM",
            "tenant",
        ),
    ]);
    assert_eq!(
        c.selected.files.jwt_secret.as_ref().unwrap().expose(),
        secret
    );
    assert_eq!(
        c.selected.files.cors_origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(c.selected.files.tenant_claim, ["tenant"]);
    assert!(!c.selected.to_masked_toml().contains(secret));

    let short = load(None, vars(&[("CONVEYOR_JWT_SECRET", "short")]))
        .unwrap_err()
        .to_string();
    assert!(short.contains("shorter than 32"), "{short}");
    let origin = load(None, vars(&[("CONVEYOR_CORS_ORIGINS", "app.example.com")]))
        .unwrap_err()
        .to_string();
    assert!(origin.contains("cors_origins"), "{origin}");
    let shared = load(
        None,
        vars(&[
            ("CONVEYOR_ENVIRONMENTS__STAGING__FILES__JWT_SECRET", secret),
            (
                "CONVEYOR_ENVIRONMENTS__PRODUCTION__FILES__JWT_SECRET",
                secret,
            ),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        shared.contains("JWT secret") && !shared.contains(secret),
        "{shared}"
    );
}

#[test]
fn a_bucket_named_by_terraform_replaces_the_derived_name() {
    let c = built_in(&[
        ("CONVEYOR_ENVIRONMENT", "staging"),
        (
            "CONVEYOR_BUCKET",
            "mht-api-staging-data-collection-0a1b2c3d",
        ),
    ]);
    assert_eq!(
        c.selected.bucket,
        "mht-api-staging-data-collection-0a1b2c3d"
    );
    // Only the chosen environment is renamed.
    assert_eq!(
        c.environments["production"].bucket,
        "mht-api-production-data-collection"
    );
    let bad = load(
        None,
        vars(&[
            ("CONVEYOR_ENVIRONMENT", "staging"),
            ("CONVEYOR_BUCKET", "Not_A_Bucket"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("Not_A_Bucket") && bad.contains("lowercase"),
        "{bad}"
    );
}

#[test]
fn variables_take_the_type_of_their_setting() {
    // An account id is text even though it is all digits.
    let c = built_in(&[("CONVEYOR_ENVIRONMENTS__LOCAL__ACCOUNT_ID", "123456789012")]);
    assert_eq!(c.selected.account_id, "123456789012");
    let c = built_in(&[
        ("CONVEYOR_QUEUES__FEEDBACK__MAX_RECEIVE_COUNT", "7"),
        ("CONVEYOR_ENVIRONMENTS__LOCAL__SQS__ALLOW_ANONYMOUS", "true"),
        ("CONVEYOR_ENVIRONMENTS__LOCAL__FILES__LEEWAY", "90"),
    ]);
    assert_eq!(c.selected.queue("feedback").unwrap().max_receive_count, 7);
    assert!(c.selected.sqs.allow_anonymous);
    assert_eq!(c.selected.files.leeway.seconds(), 90);
    let err = load(
        None,
        vars(&[("CONVEYOR_QUEUES__FEEDBACK__MAX_RECEIVE_COUNT", "many")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("CONVEYOR_QUEUES__FEEDBACK__MAX_RECEIVE_COUNT")
            && err.contains("whole number"),
        "{err}"
    );
}

#[test]
fn every_number_and_flag_of_the_built_in_file_is_typed_for_variables() {
    fn walk(table: &toml::Table, found: &mut Vec<(String, &'static str)>) {
        for (key, value) in table {
            match value {
                toml::Value::Table(t) => walk(t, found),
                toml::Value::Integer(_) => found.push((key.clone(), "integer")),
                toml::Value::Boolean(_) => found.push((key.clone(), "boolean")),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    walk(&BUILT_IN.parse::<toml::Table>().unwrap(), &mut found);
    assert!(!found.is_empty());
    for (key, kind) in found {
        let listed = match kind {
            "integer" => {
                INTEGER_SETTINGS.contains(&key.as_str())
                    || NUMBER_OR_TEXT_SETTINGS.contains(&key.as_str())
            }
            _ => BOOLEAN_SETTINGS.contains(&key.as_str()),
        };
        assert!(
            listed,
            "{key} is a {kind} setting: add it to the {kind} list in lib.rs"
        );
    }
}

#[test]
fn worker_settings_are_checked_and_rates_split_across_processes() {
    let c = built_in(&[
        ("CONVEYOR_QUEUES__EMAILS__WORKER__RATE", "10"),
        ("CONVEYOR_QUEUES__EMAILS__WORKER__RATE_KEY", "domain:/to"),
        ("CONVEYOR_QUEUES__EMAILS__WORKER__KEY_CONCURRENCY", "2"),
        ("CONVEYOR_QUEUES__EMAILS__WORKER__PROCESSES", "4"),
    ]);
    let w = &c.selected.queue("emails").unwrap().worker;
    assert_eq!(w.rate, Some(2.5), "each of 4 processes takes a quarter");
    assert_eq!(
        w.rate_key,
        Some(RateKeySetting::Pointer {
            pointer: "/to".into(),
            domain: true
        })
    );
    assert_eq!(w.key_concurrency, Some(2));
    assert_eq!(c.selected.queue("feedback").unwrap().worker.concurrency, 4);
    for (name, value, says) in [
        ("RATE_KEY", "to", "rate_key"),
        ("RATE", "0", "rate"),
        ("CONCURRENCY", "0", "concurrency"),
    ] {
        let err = load(
            None,
            vars(&[(&format!("CONVEYOR_QUEUES__EMAILS__WORKER__{name}"), value)]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("queues.emails.worker") && err.contains(says),
            "{err}"
        );
    }
    let lonely = load(
        None,
        vars(&[("CONVEYOR_QUEUES__EMAILS__WORKER__KEY_CONCURRENCY", "2")]),
    )
    .unwrap_err()
    .to_string();
    assert!(lonely.contains("rate_key"), "{lonely}");
    let typo = load(
        None,
        vars(&[("CONVEYOR_QUEUES__EMAILS__WORKER__CONCURENCY", "2")]),
    )
    .unwrap_err()
    .to_string();
    assert!(typo.contains("concurency"), "{typo}");
}

#[test]
fn a_batch_waits_less_than_half_the_visibility_timeout() {
    let batch = |wait: &str| {
        load(
            None,
            vars(&[
                (
                    "CONVEYOR_QUEUES__EMAILS__WORKER__BATCH__MAX_MESSAGES",
                    "100",
                ),
                ("CONVEYOR_QUEUES__EMAILS__WORKER__BATCH__MAX_WAIT", wait),
            ]),
        )
    };
    // The emails queue's visibility timeout is 10 minutes, 5 on staging: every environment counts.
    let ok = batch("2m").unwrap();
    let b = ok.selected.queue("emails").unwrap().worker.batch.unwrap();
    assert_eq!((b.max_messages, b.max_wait.seconds()), (100, 120));
    let err = batch("3m").unwrap_err().to_string();
    assert!(
        err.contains("max_wait") && err.contains("half") && err.contains("staging"),
        "{err}"
    );
}

fn with_function(fifo: bool, table: &str, worker: &str) -> Result<Config, ConfigError> {
    from_text(&format!(
        r#"
instance = "acme"
use_case = "jobs"
environment = "test"
[queues.work]
fifo = {fifo}
visibility = "2m"
handler = {{ kind = "function", {table} }}
{worker}
[environments.test]
data_dir = "d"
bucket_suffix = "data"
"#
    ))
}

#[test]
fn a_function_sets_its_queue_s_batches_and_concurrency_as_lambda_does() {
    let c = with_function(
        false,
        r#"command = ["python3", "fn.py"], batch_size = 100, batching_window = "5s", maximum_concurrency = 6, filter = [{ body = { kind = ["signup"] } }]"#,
        "",
    )
    .unwrap();
    let w = &c.selected.queue("work").unwrap().worker;
    let b = w.batch.unwrap();
    assert_eq!(
        (b.max_messages, b.max_wait.seconds(), w.concurrency),
        (100, 5, 6)
    );
    let HandlerConfig::Function(f) = &c.selected.queue("work").unwrap().handler else {
        panic!("a function");
    };
    assert!(f.filter[0].matches(&serde_json::json!({ "body": { "kind": "signup" } })));
    assert_eq!(f.timeout.seconds(), 60, "the default timeout");

    for (fifo, table, worker, says) in [
        (false, r#"command = []"#, "", "command is empty"),
        (
            false,
            r#"command = ["a"], url = "http://x""#,
            "",
            "exactly one of",
        ),
        (false, r#"url = "ftp://x""#, "", "http://"),
        (
            true,
            r#"command = ["a"], batch_size = 11"#,
            "",
            "1 to 10 on a FIFO",
        ),
        (
            true,
            r#"command = ["a"], batching_window = "1s""#,
            "",
            "standard queues",
        ),
        (
            false,
            r#"command = ["a"], batch_size = 20"#,
            "",
            "at least 1s",
        ),
        (
            false,
            r#"command = ["a"], batching_window = "61s""#,
            "",
            "half the queue's visibility",
        ),
        (
            false,
            r#"command = ["a"], maximum_concurrency = 1"#,
            "",
            "2 to 1000",
        ),
        (
            false,
            r#"command = ["a"], timeout = "16m""#,
            "",
            "1s to 15m",
        ),
        (false, r#"command = ["a"], timout = "1s""#, "", "timout"),
        (
            false,
            r#"command = ["a"], filter = [{ body = { n = [{ wildcard = "a*" }] } }]"#,
            "",
            "wildcard",
        ),
        (
            false,
            r#"command = ["a"]"#,
            "[queues.work.worker]\nbatch = { max_messages = 5, max_wait = \"1s\" }",
            "batch_size and batching_window",
        ),
        (
            false,
            r#"command = ["a"], maximum_concurrency = 3"#,
            "[queues.work.worker]\nconcurrency = 5",
            "set one of them",
        ),
    ] {
        let err = with_function(fifo, table, worker).unwrap_err().to_string();
        assert!(err.contains(says), "{table} {worker}: {err}");
        assert!(err.contains("work"), "the queue is named: {err}");
    }
}

#[test]
fn secrets_come_from_their_variable_and_dry_run_needs_none() {
    let text = r#"
instance = "acme"
use_case = "jobs"
environment = "live"
[queues.tickets]
handler = { kind = "zendesk", subdomain = "acme", email = "agent@acme.example" }
[environments.live]
data_dir = "live"
bucket_suffix = "data"
[environments.rehearsal]
data_dir = "rehearsal"
bucket_suffix = "data"
dry_run = true
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let bare = load(Some(&path), Vec::new()).unwrap();
    assert_eq!(
        bare.selected.missing_secrets(),
        vec![(
            "tickets".to_string(),
            "zendesk",
            "zendesk_api_token".to_string()
        )]
    );
    assert!(
        bare.environments["rehearsal"].missing_secrets().is_empty(),
        "a dry run needs no secret"
    );
    let set = load(
        Some(&path),
        vars(&[("CONVEYOR_SECRET_ZENDESK_API_TOKEN", "123456")]),
    )
    .unwrap();
    assert!(set.selected.missing_secrets().is_empty());
    assert_eq!(
        set.selected.secrets["zendesk_api_token"].expose(),
        "123456",
        "digits stay text"
    );
    assert!(
        !set.selected.to_masked_toml().contains("123456"),
        "and never print"
    );
    assert!(
        built_in(&[]).selected.dry_run,
        "local sends nothing by default"
    );
    for (bad, says) in [
        (
            r#"{ kind = "zendesk", subdomain = "acme", email = "nobody" }"#,
            "email",
        ),
        (
            r#"{ kind = "zendesk", email = "a@b.c" }"#,
            "exactly one of subdomain",
        ),
        (
            r#"{ kind = "zendesk", subdomain = "acme", email = "a@b.c", priority = "asap" }"#,
            "priority",
        ),
        (
            r#"{ kind = "zendesk", subdomain = "acme", email = "a@b.c", subject = "{{ name" }"#,
            "subject is not a valid template",
        ),
        (
            r#"{ kind = "discord", webhook_secret = "Hook-URL" }"#,
            "webhook_secret",
        ),
        (
            r#"{ kind = "http", url = "http://x", retry_statuses = [200] }"#,
            "retry_statuses",
        ),
    ] {
        let err = from_text(&text.replace(
            r#"{ kind = "zendesk", subdomain = "acme", email = "agent@acme.example" }"#,
            bad,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(says) && err.contains("tickets"),
            "{bad}: {err}"
        );
    }
}

const ALARMED: &str = r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.jobs.alarms]
depth = { threshold = 1000, period = "1m", evaluation_periods = 3, datapoints_to_alarm = 2 }
oldest_age = { threshold = "15m", treat_missing_data = "breaching" }
dlq_depth = { threshold = 0 }

[environments.test]
data_dir = "d/test"
bucket_suffix = "data"
alarms = { discord_webhook_secret = "discord_alarm_webhook" }

[environments.test.queues.jobs.alarms]
depth = { threshold = 10 }
"#;

#[test]
fn alarm_rules_resolve_with_cloudwatch_defaults_and_an_environment_replaces_a_rule() {
    let c = from_text(ALARMED).unwrap();
    let rules = &c.selected.queue("jobs").unwrap().alarms;
    let by = |m: AlarmMetric| rules.iter().find(|r| r.metric == m).unwrap();
    let depth = by(AlarmMetric::Depth);
    // The environment's rule replaces the queue's whole: its own defaults, not a merge.
    assert_eq!(
        (
            depth.threshold,
            depth.evaluation_periods,
            depth.datapoints_to_alarm
        ),
        (10.0, 1, 1)
    );
    assert_eq!(depth.period.seconds(), 60);
    let age = by(AlarmMetric::OldestAge);
    assert_eq!(
        (age.threshold, age.treat_missing_data),
        (900.0, MissingData::Breaching)
    );
    assert_eq!(by(AlarmMetric::DlqDepth).threshold, 0.0);
    assert!(rules.iter().all(|r| r.metric != AlarmMetric::ErrorRate));
    let a = &c.selected.alarms;
    assert!(a.in_process);
    assert_eq!(a.min_interval.seconds(), 300);
    assert_eq!(
        a.discord_webhook_secret.as_deref(),
        Some("discord_alarm_webhook")
    );
}

#[test]
fn alarm_rules_that_cloudwatch_would_refuse_are_refused_with_the_reason() {
    for (rule, says) in [
        (
            "depth = { threshold = 5, evaluation_periods = 2, datapoints_to_alarm = 3 }",
            "no more datapoints than periods",
        ),
        (
            "depth = { threshold = 5, period = \"5s\" }",
            "shorter than the 10 s",
        ),
        (
            "depth = { threshold = 5, period = \"1h\", evaluation_periods = 25 }",
            "pass one day",
        ),
        (
            "depth = { threshold = \"lots\" }",
            "threshold takes a number",
        ),
        ("error_rate = { threshold = 150 }", "percentage"),
        (
            "oldest_age = { threshold = \"soon\" }",
            "threshold \"soon\"",
        ),
        (
            "depth = { threshold = 5, treat_missing_data = \"sometimes\" }",
            "unknown variant",
        ),
        ("depth = { threshold = 5, above = 3 }", "unknown field"),
        ("queue_depth = { threshold = 5 }", "unknown field"),
    ] {
        let text = format!(
            "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"t\"\n[queues.jobs.alarms]\n{rule}\n[environments.t]\ndata_dir = \"d\"\nbucket_suffix = \"x\"\n"
        );
        let e = from_text(&text).unwrap_err().to_string();
        assert!(e.contains(says), "{rule}: {e}");
    }
}

#[test]
fn alarm_channels_are_checked_where_they_are_configured() {
    let with = |alarms: &str| {
        format!(
            "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"t\"\n[queues.jobs]\n[environments.t]\ndata_dir = \"d\"\nbucket_suffix = \"x\"\nalarms = {{ {alarms} }}\n"
        )
    };
    let c = from_text(&with(
        "slack_webhook_secret = \"slack_ops\", webhook_url = \"https://ops.example/alarms\", webhook_signing_secret = \"ops_key\", sns_topic_arn = \"arn:aws:sns:eu-west-1:123456789012:alarms\"",
    ))
    .unwrap();
    let a = &c.selected.alarms;
    assert!(a.tells_anyone());
    assert_eq!(
        a.secrets(),
        vec![("Slack", "slack_ops"), ("the webhook", "ops_key")]
    );
    for (alarms, says) in [
        (
            "webhook_url = \"https://x.example\"",
            "webhook_signing_secret",
        ),
        (
            "webhook_signing_secret = \"k\"",
            "webhook_url, which is not set",
        ),
        (
            "webhook_url = \"ftp://x\", webhook_signing_secret = \"k\"",
            "not an http(s) URL",
        ),
        (
            "sns_topic_arn = \"arn:aws:sqs:eu-west-1:123456789012:q\"",
            "not a topic ARN",
        ),
        (
            "sns_endpoint = \"http://127.0.0.1:5000\"",
            "sns_topic_arn, which is not set",
        ),
        ("slack_webhook_secret = \"Slack-Hook\"", "lowercase letters"),
        ("teams_webhook = \"x\"", "unknown field"),
    ] {
        let e = from_text(&with(alarms)).unwrap_err().to_string();
        assert!(e.contains(says), "{alarms}: {e}");
    }
    assert_eq!(
        conveyor_config_sns_region("arn:aws:sns:us-east-2:123456789012:t"),
        Some("us-east-2")
    );
}

fn conveyor_config_sns_region(arn: &str) -> Option<&str> {
    crate::alarms::sns_topic_region(arn)
}

#[test]
fn an_alarm_threshold_is_set_by_a_variable_as_a_number_or_a_duration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, ALARMED).unwrap();
    let c = load(
        Some(&path),
        vars(&[
            (
                "CONVEYOR_ENVIRONMENTS__TEST__QUEUES__JOBS__ALARMS__DEPTH__THRESHOLD",
                "250",
            ),
            ("CONVEYOR_QUEUES__JOBS__ALARMS__OLDEST_AGE__THRESHOLD", "1h"),
        ]),
    )
    .unwrap();
    let rules = &c.selected.queue("jobs").unwrap().alarms;
    assert_eq!(rules[0].threshold, 250.0);
    assert_eq!(rules[1].threshold, 3600.0);
}

#[test]
fn operator_keys_are_their_own_and_come_from_a_variable() {
    let c = built_in(&[
        ("CONVEYOR_API_KEYS", "ingest-1"),
        ("CONVEYOR_OPERATOR_KEYS", "op-1, op-2"),
    ]);
    let keys: Vec<&str> = c
        .selected
        .operator_keys
        .iter()
        .map(|k| k.expose())
        .collect();
    assert_eq!(keys, ["op-1", "op-2"]);
    let e = load(
        None,
        vars(&[
            ("CONVEYOR_API_KEYS", "same"),
            ("CONVEYOR_OPERATOR_KEYS", "same"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("both in api_keys and in operator_keys"), "{e}");
    assert!(!e.contains("same"), "a key is never printed: {e}");
    let text = format!(
        "{}\n[environments.other]\ndata_dir = \"d/other\"\nbucket_suffix = \"other\"\noperator_keys = [\"op-shared\"]\n",
        ALARMED.replace("[environments.test]\n", "[environments.test]\noperator_keys = [\"op-shared\"]\n")
    );
    let e = from_text(&text).unwrap_err().to_string();
    assert!(e.contains("operator key"), "{e}");
}

#[test]
fn the_analytics_handler_sets_the_worker_s_batch_and_its_mistakes_are_named() {
    let with = |queue: &str| {
        format!(
            "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"t\"\n[queues.events]\nvisibility = \"2m\"\n{queue}\n[environments.t]\ndata_dir = \"d\"\nbucket_suffix = \"x\"\n"
        )
    };
    let c = from_text(&with(
        "handler = { kind = \"analytics\", max_age = \"30s\", max_bytes = 8388608 }",
    ))
    .unwrap();
    let batch = c.selected.queue("events").unwrap().worker.batch.unwrap();
    assert_eq!(
        (
            batch.max_messages,
            batch.max_wait.seconds(),
            batch.max_bytes
        ),
        (10_000, 30, Some(8_388_608))
    );
    for (queue, says) in [
        ("handler = { kind = \"analytics\", max_age = \"60s\" }", "below half"),
        (
            "handler = { kind = \"analytics\" }\nworker = { batch = { max_messages = 10, max_wait = \"1s\" } }",
            "remove worker.batch",
        ),
        (
            "handler = { kind = \"analytics\", max_age = \"10s\", columns = [{ name = \"hour\", type = \"int64\" }] }",
            "is taken",
        ),
        (
            "handler = { kind = \"analytics\", max_age = \"10s\", columns = [{ name = \"plan\", type = \"text\" }] }",
            "unknown variant",
        ),
        (
            "handler = { kind = \"analytics\", max_age = \"10s\", prefix = \"../up\" }",
            "plain folder name",
        ),
        ("handler = { kind = \"analytics\", max_age = \"10s\", max_bytes = 10 }", "out of range"),
    ] {
        let e = from_text(&with(queue)).unwrap_err().to_string();
        assert!(e.contains(says), "{queue}: {e}");
    }
}

#[test]
fn a_queue_prefix_names_the_queues_outright_and_is_checked() {
    let base = "instance = \"migrationai\"\nuse_case = \"workers\"\nenvironment = \"prod\"\n[queues.contacts]\n[environments.prod]\ndata_dir = \"d\"\nbucket_suffix = \"files\"\nqueue_prefix = \"prod-migrationai\"\n";
    let c = from_text(base).unwrap();
    let q = &c.selected.queues[0];
    assert_eq!(q.name, "prod-migrationai-contacts");
    assert_eq!(q.dlq_name, "prod-migrationai-contacts-dlq");

    let both = from_text(&format!("{base}omit_environment_in_names = true\n")).unwrap_err();
    assert!(both.to_string().contains("remove one of them"), "{both}");
    let bad = from_text(&base.replace("prod-migrationai\"", "Prod_MigrationAI\"")).unwrap_err();
    assert!(bad.to_string().contains("queue_prefix"), "{bad}");
    let long = from_text(&base.replace("prod-migrationai\"", &format!("{}\"", "p".repeat(70))))
        .unwrap_err();
    assert!(long.to_string().contains("1 to 80 characters"), "{long}");
}

#[test]
fn record_retention_is_whole_days() {
    let base = "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"e\"\n[queues.q]\n[environments.e]\ndata_dir = \"d\"\nbucket_suffix = \"s\"\n";
    assert_eq!(from_text(base).unwrap().selected.record_retention, None);
    let days = from_text(&format!("{base}record_retention = \"90d\"\n")).unwrap();
    assert_eq!(
        days.selected.record_retention.map(|s| s.seconds()),
        Some(90 * 86_400)
    );
    for bad in ["12h", "36h", "0s"] {
        let e = from_text(&format!("{base}record_retention = \"{bad}\"\n")).unwrap_err();
        assert!(e.to_string().contains("whole number of days"), "{bad}: {e}");
    }
}

#[test]
fn a_system_without_queues_must_be_a_files_api() {
    let base = "instance = \"a\"\nuse_case = \"b\"\nenvironment = \"dev\"\n[environments.dev]\ndata_dir = \"d\"\nbucket_suffix = \"s\"\n";
    let nothing = from_text(base).unwrap_err().to_string();
    assert!(
        nothing.contains("no queues and no files API") && nothing.contains("[queues.NAME]"),
        "{nothing}"
    );
    let files_only = from_text(&format!(
        "{base}[environments.dev.files]\naudience = \"authenticated\"\n"
    ))
    .unwrap();
    assert!(files_only.selected.queues.is_empty());
    assert_eq!(
        files_only.selected.files.audience.as_deref(),
        Some("authenticated")
    );
}

#[test]
fn snsd_is_the_seeds_files_backend() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/snsd.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let config = from_text(&text).unwrap();
    let production = &config.environments["production"];
    assert_eq!(
        production.listen.port(),
        8000,
        "the seed's target group port"
    );
    assert_eq!(production.bucket, "snsd-file-uploads-production");
    assert_eq!(production.region, "us-east-1");
    assert_eq!(production.backend.store, StoreBackend::S3);
    assert!(
        production.files.jwt_secret.is_none(),
        "production's secret comes from CONVEYOR_JWT_SECRET (SUPABASE_JWT_SECRET), never the file"
    );
    let local = from_text(&text).unwrap().selected;
    assert!(local.queues.is_empty());
    assert_eq!(local.files.tenant_claim, ["app_metadata", "tenant_id"]);
    assert_eq!(local.files.audience.as_deref(), Some("authenticated"));
}
