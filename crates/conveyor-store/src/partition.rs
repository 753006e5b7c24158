//! Object keys in the seeds' Athena layout: `{prefix}/{name}/year=YYYY/month=MM/day=DD/hour=HH/{id}.json`,
//! partitioned by the UTC hour of a timestamp.

use crate::StoreError;

/// The UTC hour a timestamp falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hour {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
}

impl Hour {
    /// From milliseconds since the Unix epoch (proleptic Gregorian calendar, UTC).
    pub fn of_millis(millis: i64) -> Hour {
        let seconds = millis.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let hour = (seconds.rem_euclid(86_400) / 3_600) as u32;
        let (year, month, day) = civil_from_days(days);
        Hour {
            year,
            month,
            day,
            hour,
        }
    }

    /// `year=YYYY/month=MM/day=DD/hour=HH`.
    pub fn partition(&self) -> String {
        format!(
            "year={:04}/month={:02}/day={:02}/hour={:02}",
            self.year, self.month, self.day, self.hour
        )
    }
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A key segment must be one plain name: no separators, no `..`, nothing a path could escape with.
pub(crate) fn segment(what: &str, value: &str) -> Result<(), StoreError> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(format!(
            "{what} {value:?} cannot be part of an object key: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// `results/{queue}/year=…/hour=HH/{message_id}.json`: the stored result of one processed message.
pub fn result_key(queue: &str, message_id: &str, at_millis: i64) -> Result<String, StoreError> {
    keyed("results", queue, message_id, at_millis)
}

/// `events/{stream}/year=…/hour=HH/{event_id}.json`: one raw analytics event.
pub fn event_key(stream: &str, event_id: &str, at_millis: i64) -> Result<String, StoreError> {
    keyed("events", stream, event_id, at_millis)
}

fn keyed(prefix: &str, name: &str, id: &str, at_millis: i64) -> Result<String, StoreError> {
    segment("the name", name)?;
    segment("the id", id)?;
    Ok(format!(
        "{prefix}/{name}/{}/{id}.json",
        Hour::of_millis(at_millis).partition()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_land_in_their_utc_hour() {
        assert_eq!(
            Hour::of_millis(0).partition(),
            "year=1970/month=01/day=01/hour=00"
        );
        // 2025-01-22T13:45:00Z
        assert_eq!(
            Hour::of_millis(1_737_553_500_000).partition(),
            "year=2025/month=01/day=22/hour=13"
        );
        // 2024-02-29T23:59:59.999Z, a leap day, and the millisecond after it
        assert_eq!(
            Hour::of_millis(1_709_251_199_999).partition(),
            "year=2024/month=02/day=29/hour=23"
        );
        assert_eq!(
            Hour::of_millis(1_709_251_200_000).partition(),
            "year=2024/month=03/day=01/hour=00"
        );
        // 2000-12-31T23:00:00Z (a century leap year's last hour)
        assert_eq!(
            Hour::of_millis(978_303_600_000).partition(),
            "year=2000/month=12/day=31/hour=23"
        );
        // Before the epoch still works.
        assert_eq!(
            Hour::of_millis(-1).partition(),
            "year=1969/month=12/day=31/hour=23"
        );
    }

    #[test]
    fn every_day_for_four_centuries_round_trips() {
        // Walk day by day and check the calendar never skips or repeats a date.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ][m as usize - 1];
            d += 1;
            if d > month_len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn keys_follow_the_athena_layout_and_refuse_path_tricks() {
        assert_eq!(
            result_key("mht-api-feedback.fifo", "6f1c", 1_737_553_500_000).unwrap(),
            "results/mht-api-feedback.fifo/year=2025/month=01/day=22/hour=13/6f1c.json"
        );
        assert!(event_key("analytics", "e1", 0)
            .unwrap()
            .starts_with("events/analytics/year=1970/"));
        for bad in ["", "..", "a/b", "a\\b", "x y", "é"] {
            assert!(result_key(bad, "id", 0).is_err(), "{bad:?}");
            assert!(result_key("q", bad, 0).is_err(), "{bad:?}");
        }
    }
}
