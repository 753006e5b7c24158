//! Receipt handles. A handle names the queue, the stored message and the random token of one
//! receive; every receive draws a new token, so an older handle can never match a newer receive.

use crate::error::QueueError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub queue_id: i64,
    pub row_id: i64,
    pub token: i64,
}

impl Receipt {
    pub fn encode(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}",
            self.queue_id as u64, self.row_id as u64, self.token as u64
        )
    }

    /// Parse a handle given for `queue_id`; anything else is `ReceiptHandleIsInvalid`.
    pub fn decode(handle: &str, queue_id: i64) -> Result<Receipt, QueueError> {
        let invalid = || QueueError::ReceiptHandleIsInvalid(handle.chars().take(100).collect());
        if handle.len() != 48 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let part =
            |i: usize| u64::from_str_radix(&handle[i * 16..(i + 1) * 16], 16).map(|v| v as i64);
        let receipt = Receipt {
            queue_id: part(0).map_err(|_| invalid())?,
            row_id: part(1).map_err(|_| invalid())?,
            token: part(2).map_err(|_| invalid())?,
        };
        if receipt.queue_id != queue_id {
            return Err(invalid());
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_queues_and_garbage() {
        let r = Receipt {
            queue_id: 3,
            row_id: 77,
            token: -5,
        };
        assert_eq!(Receipt::decode(&r.encode(), 3), Ok(r));
        assert!(Receipt::decode(&r.encode(), 4).is_err());
        assert!(Receipt::decode("nope", 3).is_err());
        assert!(Receipt::decode(&"z".repeat(48), 3).is_err());
    }
}
