//! Time and ids, injected so the core is deterministic when asked to be.

use alloy_primitives::{keccak256, B256};
use std::time::{SystemTime, UNIX_EPOCH};

/// The emulator's clock, in milliseconds: the real time plus an offset the controls move, or a
/// fixed start that only the controls move (deterministic mode).
#[derive(Clone, Debug)]
pub struct Clock {
    pub(crate) fixed_ms: Option<u64>,
    pub(crate) offset_ms: i64,
}

impl Clock {
    /// The system clock.
    pub const fn system() -> Self {
        Self { fixed_ms: None, offset_ms: 0 }
    }

    /// A clock that stands at `start` (unix seconds) until moved.
    pub const fn fixed(start: u64) -> Self {
        Self { fixed_ms: Some(start.saturating_mul(1000)), offset_ms: 0 }
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        let base = self.fixed_ms.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        });
        base.saturating_add_signed(self.offset_ms)
    }

    /// Unix seconds.
    pub fn now(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Sets the time (unix seconds). The clock never goes back, and a time that would not fit
    /// (in milliseconds, as an offset from the system clock) is refused.
    pub fn set(&mut self, unix_seconds: u64) -> Result<u64, TimeError> {
        let target = unix_seconds.checked_mul(1000).ok_or(TimeError::TooLarge)?;
        let now = self.now_ms();
        if target < now / 1000 * 1000 {
            return Err(TimeError::Backwards { now: now / 1000, asked: unix_seconds });
        }
        let target = target.max(now);
        match &mut self.fixed_ms {
            Some(t) => *t = target,
            None => {
                let delta = i64::try_from(target - now).map_err(|_| TimeError::TooLarge)?;
                self.offset_ms = self.offset_ms.checked_add(delta).ok_or(TimeError::TooLarge)?;
            }
        }
        Ok(self.now())
    }

    /// Moves the time forward by `seconds`; a move that would not fit is refused.
    pub fn advance(&mut self, seconds: u64) -> Result<u64, TimeError> {
        let target = seconds
            .checked_mul(1000)
            .and_then(|ms| self.now_ms().checked_add(ms))
            .ok_or(TimeError::TooLarge)?;
        self.set(target / 1000)
    }
}

/// A time control that cannot be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The clock would overflow.
    #[error("that time is too large for the clock")]
    TooLarge,
    /// The clock would go back.
    #[error("the clock never goes back: it is {now}, asked for {asked}")]
    Backwards {
        /// The current time, unix seconds.
        now: u64,
        /// The time asked for.
        asked: u64,
    },
}

/// A source of ids: seeded and reproducible, or seeded from the process's randomness.
#[derive(Clone, Debug)]
pub struct Ids {
    pub(crate) seed: B256,
    pub(crate) counter: u64,
}

impl Ids {
    /// Reproducible ids from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self { seed: keccak256(seed.to_be_bytes()), counter: 0 }
    }

    /// Ids seeded from the standard library's per-process random keys.
    pub fn random() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            chunk.copy_from_slice(&h.finish().to_be_bytes());
        }
        Self { seed: B256::from(bytes), counter: 0 }
    }

    /// The next 32 fresh bytes.
    pub fn next_id(&mut self) -> B256 {
        self.counter = self.counter.wrapping_add(1);
        let mut input = self.seed.to_vec();
        input.extend_from_slice(&self.counter.to_be_bytes());
        keccak256(input)
    }
}

/// A UUID v4 string from 16 bytes (version and variant bits set).
pub fn uuid_v4(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = alloy_primitives::hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
