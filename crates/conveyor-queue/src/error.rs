//! One error type for every refusal the queue can give, each knowing the AWS error code and HTTP
//! status an SQS client would see for it, so the protocol layer never has to guess.
//!
//! Where real SQS's wording of an error has been recorded (moto's tests marked `aws_verified`:
//! `_verify_unknown_queue_error`, `test_delete_message_batch_with_zero_entries`,
//! `test_send_message_batch_errors`), the message is that wording, word for word, since SDK users
//! match on it.

/// The batch action an entry belongs to, named as SQS names its entries in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchAction {
    SendMessage,
    DeleteMessage,
    ChangeMessageVisibility,
}

impl std::fmt::Display for BatchAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BatchAction::SendMessage => "SendMessageBatchRequestEntry",
            BatchAction::DeleteMessage => "DeleteMessageBatchRequestEntry",
            BatchAction::ChangeMessageVisibility => "ChangeMessageVisibilityBatchRequestEntry",
        })
    }
}

/// A refusal or failure of a queue operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("The specified queue does not exist.")]
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
    /// A well-formed handle of an earlier receive: the message was received again since, or
    /// deleted. Real SQS answers ChangeMessageVisibility so, with InvalidParameterValue in these
    /// words (LocalStack's AWS-recorded `test_fifo_delete_message_with_expired_receipt_handle`).
    #[error(
        "Value {0} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    )]
    ReceiptHandleExpired(String),
    #[error("the message is not in flight (it was not received, or its visibility timeout expired); receive it again first")]
    MessageNotInflight,
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(BatchAction),
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId(String),
    #[error("Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes.")]
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
            ReceiptHandleExpired(_) => "InvalidParameterValue",
            MessageNotInflight => "MessageNotInflight",
            BatchEntryIdsNotDistinct(_) => "BatchEntryIdsNotDistinct",
            EmptyBatchRequest(_) => "EmptyBatchRequest",
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
            EmptyBatchRequest(_) => "AWS.SimpleQueueService.EmptyBatchRequest",
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
        assert_eq!(missing.to_string(), "The specified queue does not exist.");
        assert_eq!(
            QueueError::EmptyBatchRequest(BatchAction::DeleteMessage).to_string(),
            "There should be at least one DeleteMessageBatchRequestEntry in the request."
        );
        let purge = QueueError::PurgeQueueInProgress { name: "q".into() };
        assert_eq!(purge.http_status(), 403);
        assert!(!QueueError::Internal("x".into()).is_sender_fault());
    }
}
