//! `Aws::sns_publish` against moto_server's SNS: the signed Publish reaches a topic, and the
//! topic delivers it to a subscribed SQS queue, as an alarm published on AWS reaches its
//! subscribers. A missing topic is one line naming it and the fix.

use conveyor_aws::testing::start_moto;
use conveyor_aws::{static_sqs_client, Aws};

/// One SNS Query call with moto: the topic's set-up, made here
/// because Conveyor itself only publishes.
async fn sns_call(moto: &str, form: &[(&str, &str)]) -> String {
    let response = reqwest::Client::new()
        .post(format!("{moto}/"))
        // moto picks the service from the credential scope; it checks no signature.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(form)
        .send()
        .await
        .expect("moto answers");
    assert!(response.status().is_success(), "{form:?}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_alarm_reaches_the_topic_s_queue_subscriber() {
    let moto = start_moto();
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let settings = conveyor_config::load(
        None,
        vec![
            ("CONVEYOR_QUEUE_BACKEND".into(), "sqs".into()),
            ("CONVEYOR_AWS_ENDPOINT".into(), moto.url.clone()),
        ],
    )
    .unwrap()
    .selected;
    let aws = Aws::load(&settings).await;

    let created = sns_call(&moto.url, &[("Action", "CreateTopic"), ("Name", "alarms")]).await;
    let topic = created
        .split("<TopicArn>")
        .nth(1)
        .and_then(|t| t.split("</TopicArn>").next())
        .expect("a topic ARN")
        .to_string();
    let sqs = static_sqs_client(&moto.url, "us-east-1", "testing", "testing");
    let queue_url = sqs
        .create_queue()
        .queue_name("alarm-inbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sns_call(
        &moto.url,
        &[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "sqs"),
            ("Endpoint", "arn:aws:sqs:us-east-1:123456789012:alarm-inbox"),
        ],
    )
    .await;

    let record = r#"{"alarm":"jobs-depth","to":"ALARM","reason":"3 datapoints & more"}"#;
    let id = aws
        .sns_publish(Some(&moto.url), &topic, "ALARM: jobs-depth", record)
        .await
        .unwrap();
    assert!(!id.is_empty());

    let got = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let body = got
        .messages()
        .first()
        .and_then(|m| m.body())
        .expect("delivered");
    let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(envelope["Subject"], "ALARM: jobs-depth");
    assert_eq!(envelope["Message"], record);
    assert_eq!(envelope["TopicArn"], topic.as_str());

    let missing = "arn:aws:sns:us-east-1:123456789012:nowhere";
    let e = aws
        .sns_publish(Some(&moto.url), missing, "x", "y")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(missing) && e.contains("create the topic"), "{e}");
}
