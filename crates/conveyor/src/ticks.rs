//! The rhythm of the background loops (alarm evaluation, dashboard sampling): a tick every
//! period, a late tick delayed rather than bunched, and an end as soon as the process stops.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

/// Ticks every `period`, the first at once.
pub(crate) fn every(period: Duration) -> Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

/// Wait for the next tick; false as soon as `stop` changes (it only ever turns true) or its
/// sender is gone.
pub(crate) async fn next(tick: &mut Interval, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tick.tick() => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}
