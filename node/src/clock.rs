//! The time source for TTLs.
//!
//! In production TTLs follow the wall clock, as in Redis, so EXPIREAT and
//! EXPIRETIME mean real Unix times. Tests use tokio's clock, which they can pause
//! and advance to check expiry without sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub enum Clock {
    Wall,
    /// Unix milliseconds at `base`, advanced by tokio's (pausable) clock.
    Tokio {
        base_unix_ms: u64,
        base: tokio::time::Instant,
    },
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Clock {
    /// A clock that follows tokio's time, starting at the current Unix time.
    pub fn tokio() -> Clock {
        Clock::Tokio {
            base_unix_ms: wall_ms(),
            base: tokio::time::Instant::now(),
        }
    }

    /// Current Unix time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::Wall => wall_ms(),
            Clock::Tokio { base_unix_ms, base } => base_unix_ms + base.elapsed().as_millis() as u64,
        }
    }

    /// Current Unix time in microseconds (TIME).
    pub fn now_us(&self) -> u64 {
        match self {
            Clock::Wall => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
            Clock::Tokio { base_unix_ms, base } => {
                base_unix_ms * 1000 + base.elapsed().as_micros() as u64
            }
        }
    }
}
