//! SQS's answers as `QueueError`s, so callers of the `Queue` trait see the same refusals whether
//! the embedded engine or a remote SQS gave them.

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::connect::root_cause;
use conveyor_queue::{BatchAction, QueueError};

/// The error of one SDK call about `queue` at `endpoint`.
pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>, queue: &str, endpoint: &str) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match e.code() {
                Some(code) => from_code(code, e.message().unwrap_or_default(), queue),
                None => QueueError::UnsupportedOperation(format!(
                    "SQS at {endpoint} answered {:?} with no error code for queue {queue}: it may not implement this action",
                    service.raw()
                )),
            }
        }
        SdkError::ConstructionFailure(_) => QueueError::InvalidParameterValue(format!(
            "the request for queue {queue} could not be built: {}",
            DisplayErrorContext(&err)
        )),
        // Dispatch failures (refused connections, DNS, TLS, missing credentials), timeouts and
        // unreadable answers: nothing was decided about the request.
        _ => QueueError::Unavailable(format!(
            "cannot reach SQS at {endpoint}: {}; check that the endpoint is right and reachable and that AWS credentials are available",
            root_cause(&err)
        )),
    }
}

/// A service error code (JSON protocol, query protocol, or with moto's `com.amazonaws.sqs#`
/// prefix) and its message, as the `QueueError` it means.
pub(crate) fn from_code(code: &str, message: &str, queue: &str) -> QueueError {
    let code = code.rsplit('#').next().unwrap_or(code);
    let code = code.strip_prefix("AWS.SimpleQueueService.").unwrap_or(code);
    let message = message.to_string();
    let name = || queue.to_string();
    match code {
        "InvalidParameterValue" if message.contains("receipt handle has expired") => {
            QueueError::ReceiptHandleExpired(message)
        }
        "NonExistentQueue" | "QueueDoesNotExist" => QueueError::QueueDoesNotExist { name: name() },
        "QueueAlreadyExists" | "QueueNameExists" => QueueError::QueueAlreadyExists { name: name() },
        "InvalidParameterValue" | "InvalidParameterValueException" | "InvalidParameterCombination"
        | "InvalidAddress"
        | "InvalidSecurity" | "ValidationError" => QueueError::InvalidParameterValue(message),
        "InvalidAttributeName" => QueueError::InvalidAttributeName(message),
        "InvalidAttributeValue" => QueueError::InvalidAttributeValue(message),
        "MissingParameter" => QueueError::MissingParameter(message),
        "InvalidMessageContents" => QueueError::InvalidMessageContents(message),
        "ReceiptHandleIsInvalid" | "InvalidIdFormat" => QueueError::ReceiptHandleIsInvalid(message),
        "MessageNotInflight" => QueueError::MessageNotInflight,
        "BatchEntryIdsNotDistinct" => QueueError::BatchEntryIdsNotDistinct(message),
        // Batch shapes are checked here before any request (`batch_ids`), so SQS answering these
        // is unexpected; the code is kept, the counts are unknown.
        "EmptyBatchRequest" => QueueError::EmptyBatchRequest(BatchAction::SendMessage),
        "TooManyEntriesInBatchRequest" => QueueError::TooManyEntriesInBatchRequest(0),
        "InvalidBatchEntryId" => QueueError::InvalidBatchEntryId(message),
        "BatchRequestTooLong" => QueueError::BatchRequestTooLong { total: 0, limit: 0 },
        "PurgeQueueInProgress" => QueueError::PurgeQueueInProgress { name: name() },
        "UnsupportedOperation" => QueueError::UnsupportedOperation(message),
        "ResourceNotFoundException" => QueueError::ResourceNotFound(message),
        "OverLimit" => QueueError::OverLimit(message),
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "MissingAuthenticationToken"
        | "UnrecognizedClientException" | "IncompleteSignature" | "ExpiredToken"
        | "AccessDenied" | "AccessDeniedException" => QueueError::Unavailable(format!(
            "SQS refused the request for queue {queue} ({code}: {message}); check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE) and their permissions"
        )),
        "RequestThrottled" | "ThrottlingException" | "ServiceUnavailable" | "InternalError"
        | "InternalFailure" | "KmsThrottled" => {
            QueueError::Unavailable(format!("SQS could not answer for queue {queue} ({code}: {message}); retry later"))
        }
        other => QueueError::Internal(format!("SQS answered {other} for queue {queue}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_spelling_maps_to_one_error() {
        for code in [
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "com.amazonaws.sqs#QueueDoesNotExist",
        ] {
            assert_eq!(
                from_code(code, "", "jobs"),
                QueueError::QueueDoesNotExist {
                    name: "jobs".into()
                },
                "{code}"
            );
        }
        assert_eq!(
            from_code("AWS.SimpleQueueService.MessageNotInflight", "", "q").aws_code(),
            "MessageNotInflight"
        );
        assert_eq!(
            from_code("QueueNameExists", "", "q").aws_code(),
            "QueueNameExists"
        );
        let denied = from_code("InvalidClientTokenId", "bad key", "q");
        assert!(matches!(denied, QueueError::Unavailable(ref m) if m.contains("credentials")));
        assert!(matches!(
            from_code("Weird", "m", "q"),
            QueueError::Internal(_)
        ));
    }
}
