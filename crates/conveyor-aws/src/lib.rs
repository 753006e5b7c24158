//! Conveyor on Amazon SQS and S3, or on anything that speaks their protocols (moto, LocalStack,
//! MinIO, a Conveyor's own SQS endpoint).
//!
//! - `Aws`: one environment's region, endpoints and credential chain (`connect`).
//! - `SqsQueue`: the `Queue` trait over `aws-sdk-sqs` (`sqs`).
//! - `Aws::s3_store`: the object store on S3 with presigned URLs, and bucket checks (`s3`).
//! - `Aws::sns_publish`: alarm notifications to an SNS topic (`sns`).
//!
//! Every failure to reach a service becomes one `AwsError` line naming the resource and the fix.

mod connect;
mod error;
mod s3;
pub mod sns;
pub mod sqs;
#[cfg(feature = "testing")]
pub mod testing;

pub use connect::{https_client, static_sqs_client, Aws};
pub use error::AwsError;
pub use s3::{static_s3_signer, static_s3_store};
pub use sqs::SqsQueue;
