//! SQS queue ARNs: `arn:{partition}:sqs:{region}:{account}:{name}`.

/// The queue name of an SQS ARN, or `None` when it is not one.
pub fn queue_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _partition, "sqs", _region, _account, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// Where queues live: the region and account that appear in ARNs and URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub region: String,
    pub account_id: String,
}

impl Default for Location {
    fn default() -> Self {
        Location {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

impl Location {
    pub fn arn(&self, queue_name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{}",
            self.region, self.account_id, queue_name
        )
    }

    /// The queue name if the ARN names a queue in this region and account.
    pub fn local_queue<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:sqs:{}:{}:", self.region, self.account_id);
        arn.strip_prefix(&prefix)
            .filter(|name| !name.is_empty() && !name.contains(':'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_builds_arns() {
        let loc = Location::default();
        let arn = loc.arn("jobs.fifo");
        assert_eq!(arn, "arn:aws:sqs:us-east-1:000000000000:jobs.fifo");
        assert_eq!(queue_name(&arn), Some("jobs.fifo"));
        assert_eq!(loc.local_queue(&arn), Some("jobs.fifo"));
        assert_eq!(
            loc.local_queue("arn:aws:sqs:eu-west-1:000000000000:jobs"),
            None
        );
        assert_eq!(queue_name("arn:aws:s3:::bucket"), None);
    }
}
