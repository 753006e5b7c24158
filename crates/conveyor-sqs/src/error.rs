//! The one error shape both protocols render: the JSON `__type` name, the query-protocol code
//! (also sent in `x-amzn-query-error`, which SDKs use to pick the exception class), the HTTP
//! status and who is at fault.

use conveyor_queue::QueueError;

/// An error answer to an SQS request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The error shape's name in the JSON protocol (`QueueDoesNotExist`).
    pub code: &'static str,
    /// The code of the query protocol (`AWS.SimpleQueueService.NonExistentQueue`).
    pub query_code: &'static str,
    pub status: u16,
    /// SQS's `Sender` fault (the caller's mistake) rather than `Receiver`.
    pub sender_fault: bool,
    pub message: String,
}

impl ApiError {
    fn sender(code: &'static str, status: u16, message: String) -> Self {
        ApiError {
            code,
            query_code: code,
            status,
            sender_fault: true,
            message,
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        QueueError::InvalidParameterValue(message.into()).into()
    }

    pub fn missing_parameter(name: &str) -> Self {
        QueueError::MissingParameter(name.into()).into()
    }

    /// A body or parameter that cannot be decoded at all.
    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError::sender("SerializationException", 400, message.into())
    }

    pub fn invalid_action(action: &str) -> Self {
        ApiError::sender(
            "InvalidAction",
            400,
            format!("the action {action:?} is not valid for this endpoint; SQS actions are CreateQueue, SendMessage, ReceiveMessage, …"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        ApiError::sender(
            "RequestEntityTooLarge",
            413,
            format!("the request body is over {limit} bytes; SQS messages and batches are at most 1 MiB"),
        )
    }

    pub fn missing_authentication() -> Self {
        ApiError::sender(
            "MissingAuthenticationToken",
            403,
            "the request is not signed; this endpoint has access keys configured, so sign it with SigV4 (any AWS SDK or the AWS CLI does)".into(),
        )
    }

    pub fn incomplete_signature(detail: impl Into<String>) -> Self {
        ApiError::sender("IncompleteSignature", 400, detail.into())
    }

    pub fn invalid_client_token(access_key_id: &str) -> Self {
        ApiError::sender(
            "InvalidClientTokenId",
            403,
            format!("the access key id {access_key_id:?} is not one of this endpoint's keys; use a configured key"),
        )
    }

    pub fn signature_mismatch(detail: impl Into<String>) -> Self {
        ApiError::sender("SignatureDoesNotMatch", 403, detail.into())
    }

    /// `Sender` or `Receiver`, as both protocols spell the fault.
    pub fn fault(&self) -> &'static str {
        if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError {
            code: e.aws_code(),
            query_code: e.query_code(),
            status: e.http_status(),
            sender_fault: e.is_sender_fault(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_errors_keep_their_codes() {
        let e: ApiError = QueueError::QueueDoesNotExist { name: "q".into() }.into();
        assert_eq!(e.code, "QueueDoesNotExist");
        assert_eq!(e.query_code, "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!((e.status, e.fault()), (400, "Sender"));
        let e: ApiError = QueueError::Internal("disk".into()).into();
        assert_eq!((e.status, e.fault()), (500, "Receiver"));
    }
}
