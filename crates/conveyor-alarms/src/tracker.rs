//! One alarm over time: samples become one datapoint per period (their maximum, as CloudWatch's
//! `Maximum` statistic), each completed period is evaluated (`evaluate.rs`), and state changes
//! are kept with their reason. Notifications follow the state, not every change: ALARM is told,
//! and OK when it ends an ALARM that was told; at most one a `min_interval`, so a flapping alarm
//! sends its latest state once the interval is over instead of one message per flip. Time is
//! passed in (Unix milliseconds), so the tests run on a manual clock.

use std::collections::VecDeque;

use crate::evaluate::{AlarmState, Evaluation};

/// A state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: AlarmState,
    pub to: AlarmState,
    pub at_ms: i64,
    /// The datapoints that decided it, oldest first (`None` missing), and the threshold.
    pub reason: String,
}

pub struct Tracker {
    evaluation: Evaluation,
    period_ms: i64,
    threshold: f64,
    min_interval_ms: i64,
    /// (period number, maximum sample), oldest first, at most one per period.
    points: VecDeque<(i64, f64)>,
    state: AlarmState,
    /// The last period evaluated, so each is evaluated once.
    evaluated: Option<i64>,
    /// What was last told, and when.
    told: Option<(AlarmState, i64)>,
}

impl Tracker {
    /// An alarm on `value > threshold`, starting in INSUFFICIENT_DATA.
    pub fn new(
        evaluation: Evaluation,
        period_ms: i64,
        threshold: f64,
        min_interval_ms: i64,
    ) -> Tracker {
        assert!(period_ms > 0, "a period is positive");
        Tracker {
            evaluation,
            period_ms,
            threshold,
            min_interval_ms,
            points: VecDeque::new(),
            state: AlarmState::InsufficientData,
            evaluated: None,
            told: None,
        }
    }

    pub fn state(&self) -> AlarmState {
        self.state
    }

    /// A sample of the metric taken at `at_ms`.
    pub fn record(&mut self, at_ms: i64, value: f64) {
        let period = at_ms.div_euclid(self.period_ms);
        match self.points.back_mut() {
            Some((p, max)) if *p == period => *max = max.max(value),
            Some((p, _)) if *p > period => {} // late sample of a finished period: dropped
            _ => self.points.push_back((period, value)),
        }
        let keep = self.evaluation.range() as i64;
        while self
            .points
            .front()
            .is_some_and(|(p, _)| *p <= period - keep)
        {
            self.points.pop_front();
        }
    }

    /// Evaluate the periods completed by `now_ms` that were not yet; the change, if any.
    pub fn evaluate(&mut self, now_ms: i64) -> Option<Transition> {
        let last_complete = now_ms.div_euclid(self.period_ms) - 1;
        if self.evaluated.is_some_and(|e| e >= last_complete) {
            return None;
        }
        self.evaluated = Some(last_complete);
        let first = last_complete - self.evaluation.range() as i64 + 1;
        let range: Vec<Option<bool>> = (first..=last_complete)
            .map(|p| {
                self.points
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map(|(_, v)| *v > self.threshold)
            })
            .collect();
        let next = self.evaluation.evaluate(&range, self.state);
        if next == self.state {
            return None;
        }
        let shown: Vec<String> = (first..=last_complete)
            .map(|p| match self.points.iter().find(|(q, _)| *q == p) {
                Some((_, v)) => format!("{v}"),
                None => "-".into(),
            })
            .collect();
        let transition = Transition {
            from: self.state,
            to: next,
            at_ms: now_ms,
            reason: format!(
                "datapoints [{}] against > {} ({} of {} to alarm)",
                shown.join(", "),
                self.threshold,
                self.evaluation.datapoints_to_alarm,
                self.evaluation.evaluation_periods
            ),
        };
        self.state = next;
        Some(transition)
    }

    /// The state to tell now, if any: ALARM when not told yet, OK after a told ALARM, never
    /// sooner than `min_interval` after the last message. Marks it told.
    pub fn due(&mut self, now_ms: i64) -> Option<AlarmState> {
        let wanted = match (self.state, self.told) {
            (AlarmState::Alarm, Some((AlarmState::Alarm, _))) => None,
            (AlarmState::Alarm, _) => Some(AlarmState::Alarm),
            (AlarmState::Ok, Some((AlarmState::Alarm, _))) => Some(AlarmState::Ok),
            _ => None,
        }?;
        if let Some((_, at)) = self.told {
            if now_ms - at < self.min_interval_ms {
                return None;
            }
        }
        self.told = Some((wanted, now_ms));
        Some(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::TreatMissing;

    const MIN: i64 = 60_000;

    fn depth_alarm(m: usize, n: usize, treat_missing: TreatMissing) -> Tracker {
        let evaluation = Evaluation {
            evaluation_periods: n,
            datapoints_to_alarm: m,
            treat_missing,
        };
        Tracker::new(evaluation, MIN, 100.0, 5 * MIN)
    }

    #[test]
    fn two_of_three_periods_over_the_threshold_raise_the_alarm_once_and_recovery_is_told() {
        let mut t = depth_alarm(2, 3, TreatMissing::Missing);
        // A sample every 10 s; the period's maximum is its datapoint.
        let depths = [[10.0, 20.0], [150.0, 90.0], [50.0, 60.0], [120.0, 10.0]];
        let mut transitions = Vec::new();
        for (minute, samples) in depths.iter().enumerate() {
            for (i, v) in samples.iter().enumerate() {
                t.record(minute as i64 * MIN + i as i64 * 10_000, *v);
            }
            transitions.extend(t.evaluate((minute as i64 + 1) * MIN));
        }
        let states: Vec<_> = transitions.iter().map(|x| x.to).collect();
        assert_eq!(
            states,
            [AlarmState::Ok, AlarmState::Alarm],
            "{transitions:?}"
        );
        assert!(
            transitions[1].reason.contains("[-, 20, 150, 60, 120]"),
            "{}",
            transitions[1].reason
        );
        assert_eq!(t.due(4 * MIN), Some(AlarmState::Alarm));
        assert_eq!(t.due(4 * MIN + 1), None, "told once");
        // Drains: three quiet minutes.
        for minute in 4..7 {
            t.record(minute * MIN, 0.0);
            t.evaluate((minute + 1) * MIN);
        }
        assert_eq!(t.state(), AlarmState::Ok);
        assert_eq!(
            t.due(10 * MIN),
            Some(AlarmState::Ok),
            "the recovery is told"
        );
        assert_eq!(t.due(11 * MIN), None);
    }

    #[test]
    fn a_flapping_alarm_tells_its_latest_state_once_the_interval_is_over() {
        let mut t = depth_alarm(1, 1, TreatMissing::Missing);
        let mut told = Vec::new();
        for minute in 0..12 {
            t.record(minute * MIN, if minute % 2 == 0 { 500.0 } else { 0.0 });
            t.evaluate((minute + 1) * MIN);
            told.extend(t.due((minute + 1) * MIN).map(|s| (minute + 1, s)));
        }
        // It flipped every minute; with a 5-minute interval it told ALARM, then OK 5 minutes
        // later only if OK was the state then, and so on.
        assert!(told.len() <= 3, "{told:?}");
        assert_eq!(told[0], (1, AlarmState::Alarm));
        for pair in told.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= 5, "{told:?}");
        }
    }

    #[test]
    fn no_samples_is_insufficient_data_and_an_alarm_is_told_once() {
        let mut t = depth_alarm(1, 1, TreatMissing::Missing);
        assert_eq!(t.evaluate(10 * MIN), None, "still INSUFFICIENT_DATA");
        t.record(10 * MIN, 1000.0);
        assert_eq!(t.evaluate(11 * MIN).map(|x| x.to), Some(AlarmState::Alarm));
        assert_eq!(t.due(11 * MIN), Some(AlarmState::Alarm));
        // Delivery (with its retries) is the channels' work: the tracker hands it over once.
        assert_eq!(t.due(11 * MIN + 1), None);
    }

    #[test]
    fn each_period_is_evaluated_once_and_late_samples_are_dropped() {
        let mut t = depth_alarm(1, 1, TreatMissing::Missing);
        t.record(MIN, 500.0);
        assert!(t.evaluate(2 * MIN).is_some());
        assert!(t.evaluate(2 * MIN + 5).is_none());
        t.record(2 * MIN, 0.0);
        t.record(MIN + 1, 900.0); // late: its period is over
        assert_eq!(t.evaluate(3 * MIN).map(|x| x.to), Some(AlarmState::Ok));
    }
}
