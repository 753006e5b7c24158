//! One error type for every refusal the queue can give, each knowing the AWS error code and HTTP
//! status an SQS client would see for it, so the protocol layer never has to guess.

/// A refusal or failure of a queue operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("the queue {name:?} does not exist; create it first or check the name")]
    QueueDoesNotExist { name: String },
    #[error("a queue named {name:?} already exists with different attributes; delete it or create it with the same attributes")]
    QueueAlreadyExists { name: String },
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidAttributeName(String),
    #[error("{0}")]
    InvalidAttributeValue(String),
    #[error("the required parameter {0} is missing")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidMessageContents(String),
    #[error("the receipt handle {0:?} is not valid for this queue; use the handle from the latest receive")]
    ReceiptHandleIsInvalid(String),
    #[error("the message is not in flight (it was not received, or its visibility timeout expired); receive it again first")]
    MessageNotInflight,
    #[error("two batch entries have the id {0:?}; give every entry a distinct id")]
    BatchEntryIdsNotDistinct(String),
    #[error("the batch has no entries; send between 1 and 10")]
    EmptyBatchRequest,
    #[error("the batch has {0} entries; send at most 10")]
    TooManyEntriesInBatchRequest(usize),
    #[error(
        "the batch entry id {0:?} is invalid: use 1 to 80 characters of A-Z, a-z, 0-9, '-' and '_'"
    )]
    InvalidBatchEntryId(String),
    #[error("the batch totals {total} bytes, over the queue's limit of {limit} bytes; send fewer or smaller messages")]
    BatchRequestTooLong { total: usize, limit: usize },
    #[error("the queue {name:?} was purged less than 60 seconds ago; wait and retry")]
    PurgeQueueInProgress { name: String },
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    OverLimit(String),
    #[error("the queue engine failed: {0}")]
    Internal(String),
    /// The queue service could not be reached or refused the caller's credentials; retrying
    /// later may succeed.
    #[error("{0}")]
    Unavailable(String),
}

impl QueueError {
    /// The error code in the AWS JSON protocol (the `__type` suffix SDKs branch on).
    pub fn aws_code(&self) -> &'static str {
        use QueueError::*;
        match self {
            QueueDoesNotExist { .. } => "QueueDoesNotExist",
            QueueAlreadyExists { .. } => "QueueNameExists",
            InvalidParameterValue(_) => "InvalidParameterValue",
            InvalidAttributeName(_) => "InvalidAttributeName",
            InvalidAttributeValue(_) => "InvalidAttributeValue",
            MissingParameter(_) => "MissingParameter",
            InvalidMessageContents(_) => "InvalidMessageContents",
            ReceiptHandleIsInvalid(_) => "ReceiptHandleIsInvalid",
            MessageNotInflight => "MessageNotInflight",
            BatchEntryIdsNotDistinct(_) => "BatchEntryIdsNotDistinct",
            EmptyBatchRequest => "EmptyBatchRequest",
            TooManyEntriesInBatchRequest(_) => "TooManyEntriesInBatchRequest",
            InvalidBatchEntryId(_) => "InvalidBatchEntryId",
            BatchRequestTooLong { .. } => "BatchRequestTooLong",
            PurgeQueueInProgress { .. } => "PurgeQueueInProgress",
            UnsupportedOperation(_) => "UnsupportedOperation",
            ResourceNotFound(_) => "ResourceNotFoundException",
            OverLimit(_) => "OverLimit",
            Internal(_) => "InternalError",
            Unavailable(_) => "ServiceUnavailable",
        }
    }

    /// The code the older query protocol (and the `x-amzn-query-error` header) uses.
    pub fn query_code(&self) -> &'static str {
        use QueueError::*;
        match self {
            QueueDoesNotExist { .. } => "AWS.SimpleQueueService.NonExistentQueue",
            QueueAlreadyExists { .. } => "QueueAlreadyExists",
            MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            BatchEntryIdsNotDistinct(_) => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            TooManyEntriesInBatchRequest(_) => {
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
            }
            InvalidBatchEntryId(_) => "AWS.SimpleQueueService.InvalidBatchEntryId",
            BatchRequestTooLong { .. } => "AWS.SimpleQueueService.BatchRequestTooLong",
            PurgeQueueInProgress { .. } => "AWS.SimpleQueueService.PurgeQueueInProgress",
            UnsupportedOperation(_) => "AWS.SimpleQueueService.UnsupportedOperation",
            other => other.aws_code(),
        }
    }

    /// The HTTP status SQS answers this error with.
    pub fn http_status(&self) -> u16 {
        use QueueError::*;
        match self {
            PurgeQueueInProgress { .. } | OverLimit(_) => 403,
            ResourceNotFound(_) => 404,
            Internal(_) => 500,
            Unavailable(_) => 503,
            _ => 400,
        }
    }

    /// Whether the caller caused it (SQS's `Sender` fault) rather than the engine.
    pub fn is_sender_fault(&self) -> bool {
        !matches!(self, QueueError::Internal(_) | QueueError::Unavailable(_))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        QueueError::InvalidParameterValue(message.into())
    }
}

pub type QueueResult<T> = Result<T, QueueError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_what_sdks_branch_on() {
        let missing = QueueError::QueueDoesNotExist { name: "q".into() };
        assert_eq!(missing.aws_code(), "QueueDoesNotExist");
        assert_eq!(
            missing.query_code(),
            "AWS.SimpleQueueService.NonExistentQueue"
        );
        assert_eq!(missing.http_status(), 400);
        let purge = QueueError::PurgeQueueInProgress { name: "q".into() };
        assert_eq!(purge.http_status(), 403);
        assert!(!QueueError::Internal("x".into()).is_sender_fault());
    }
}
