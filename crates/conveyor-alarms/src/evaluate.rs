//! One evaluation of an alarm, as CloudWatch documents it ("How alarm state is evaluated when
//! data is missing"): the alarm looks at an *evaluation range* of recent periods, more than its
//! `evaluation_periods` (N); each period is breaching, not breaching, or missing.
//!
//! - With at least N real datapoints in the range, the N most recent ones decide: at least
//!   `datapoints_to_alarm` (M) breaching is ALARM, fewer is OK; missing ones do not matter.
//! - With fewer, `breaching` and `notBreaching` fill the gap with as few made-up datapoints as
//!   needed to have N, and decide the same way.
//! - `missing` and `ignore` make nothing up. M breaching among the real ones is ALARM; a real
//!   non-breaching one with fewer than M breaching is OK. With no real datapoint at all,
//!   `missing` is INSUFFICIENT_DATA and `ignore` keeps the state. Left is the case of a few
//!   breaching datapoints and nothing else: `ignore` keeps the state, and `missing` says ALARM
//!   when the breach reaches back to the oldest period of the range (it has lasted the whole
//!   range), INSUFFICIENT_DATA when it does not.
//!
//! The tests hold every row of CloudWatch's two documented tables.

use serde::{Deserialize, Serialize};

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// How missing datapoints count (`treat_missing_data`; CloudWatch's default is `missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatMissing {
    #[default]
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

/// N, M and the missing-data treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    pub treat_missing: TreatMissing,
}

impl Evaluation {
    /// How many recent periods one evaluation looks at: N and two more, as CloudWatch retrieves
    /// five datapoints for an alarm of three.
    pub fn range(&self) -> usize {
        self.evaluation_periods + 2
    }

    /// The state after looking at `range` (oldest first; `Some(true)` breaching, `Some(false)`
    /// not breaching, `None` missing), from `current`.
    pub fn evaluate(&self, range: &[Option<bool>], current: AlarmState) -> AlarmState {
        let (n, m) = (self.evaluation_periods, self.datapoints_to_alarm);
        let real: Vec<bool> = range.iter().flatten().copied().collect();
        let decide = |breaching: usize| {
            if breaching >= m {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            }
        };
        if real.len() >= n {
            return decide(real[real.len() - n..].iter().filter(|b| **b).count());
        }
        let breaching = real.iter().filter(|b| **b).count();
        let gap = n - real.len();
        match self.treat_missing {
            TreatMissing::Breaching => decide(breaching + gap),
            TreatMissing::NotBreaching => decide(breaching),
            TreatMissing::Missing | TreatMissing::Ignore if breaching >= m => AlarmState::Alarm,
            TreatMissing::Missing | TreatMissing::Ignore if breaching < real.len() => {
                AlarmState::Ok
            }
            TreatMissing::Ignore => current,
            TreatMissing::Missing if real.is_empty() => AlarmState::InsufficientData,
            TreatMissing::Missing if range.first() == Some(&Some(true)) => AlarmState::Alarm,
            TreatMissing::Missing => AlarmState::InsufficientData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlarmState::*;

    /// `0` not breaching, `X` breaching, `-` missing, oldest first, as CloudWatch writes them.
    fn points(text: &str) -> Vec<Option<bool>> {
        text.split_whitespace()
            .map(|p| match p {
                "0" => Some(false),
                "X" => Some(true),
                "-" => None,
                other => panic!("not a datapoint: {other}"),
            })
            .collect()
    }

    /// `None` in a row stands for CloudWatch's "Retain current state".
    fn check(m: usize, n: usize, rows: &[(&str, [Option<AlarmState>; 4])]) {
        let treatments = [
            TreatMissing::Missing,
            TreatMissing::Ignore,
            TreatMissing::Breaching,
            TreatMissing::NotBreaching,
        ];
        for (range, expected) in rows {
            for (treat_missing, want) in treatments.iter().zip(expected) {
                let e = Evaluation {
                    evaluation_periods: n,
                    datapoints_to_alarm: m,
                    treat_missing: *treat_missing,
                };
                assert_eq!(e.range(), 5, "CloudWatch looks at 5 datapoints for N = 3");
                for current in [Ok, Alarm, InsufficientData] {
                    let got = e.evaluate(&points(range), current);
                    assert_eq!(
                        got,
                        want.unwrap_or(current),
                        "{m} of {n}, {range}, {treat_missing:?}, from {current:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn three_of_three_as_cloudwatch_documents_it() {
        check(
            3,
            3,
            &[
                ("0 - X - X", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]),
                ("0 - - - -", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]),
                (
                    "- - - - -",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
                (
                    "0 X X - X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                (
                    "- - - - X",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
                ("X - - - -", [Some(Alarm), None, Some(Alarm), Some(Ok)]),
            ],
        );
    }

    #[test]
    fn two_of_three_as_cloudwatch_documents_it() {
        check(
            2,
            3,
            &[
                (
                    "0 - X - X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                (
                    "0 0 X 0 X",
                    [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)],
                ),
                ("0 - X - -", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]),
                ("- - - - 0", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]),
                (
                    "- - - - X",
                    [Some(InsufficientData), None, Some(Alarm), Some(Ok)],
                ),
            ],
        );
    }

    proptest::proptest! {
        /// Filling as breaching is the most alarming treatment and as not breaching the least:
        /// ALARM when missing points count as good is ALARM however they count, OK when they
        /// count as bad is OK however they count; with N real points the treatment and the
        /// current state do not matter.
        #[test]
        fn treatments_are_ordered_and_real_data_wins(
            n in 1usize..6,
            m_less in 0usize..6,
            range in proptest::collection::vec(proptest::option::of(proptest::bool::ANY), 3..8),
        ) {
            let m = n - m_less.min(n - 1);
            let with = |treat_missing| Evaluation { evaluation_periods: n, datapoints_to_alarm: m, treat_missing };
            let all = [TreatMissing::Missing, TreatMissing::Ignore, TreatMissing::Breaching, TreatMissing::NotBreaching];
            for current in [Ok, Alarm, InsufficientData] {
                let results: Vec<_> = all.iter().map(|t| with(*t).evaluate(&range, current)).collect();
                if with(TreatMissing::NotBreaching).evaluate(&range, current) == Alarm {
                    proptest::prop_assert!(results.iter().all(|r| *r == Alarm));
                }
                if with(TreatMissing::Breaching).evaluate(&range, current) == Ok {
                    proptest::prop_assert!(results.iter().all(|r| *r == Ok));
                }
                if range.iter().flatten().count() >= n {
                    proptest::prop_assert!(results.iter().all(|r| *r == results[0]));
                    proptest::prop_assert_ne!(results[0], InsufficientData);
                }
            }
        }
    }

    #[test]
    fn breaching_datapoints_need_not_be_consecutive() {
        let e = Evaluation {
            evaluation_periods: 5,
            datapoints_to_alarm: 3,
            treat_missing: TreatMissing::Missing,
        };
        assert_eq!(e.evaluate(&points("0 0 X 0 X 0 X"), Ok), Alarm);
        assert_eq!(
            e.evaluate(&points("X X 0 0 X 0 0"), Alarm),
            Ok,
            "only the last 5 count"
        );
    }
}
