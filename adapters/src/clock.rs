//! The system clock, behind the domain's `Clock` port.

use ack_ram_domain::ports::Clock;
use chrono::{DateTime, Utc};

/// Reads the real time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
