//! Transaction retry as a pure state machine: which errors are worth retrying, how long to
//! wait before the next try, and a clear error once the tries are used up.
//!
//! The server reports a retryable conflict as `kind: "Query"` with
//! `details.kind: "TransactionConflict"` (RPC code -32009), message ending in
//! `This transaction can be retried` (surrealdb-kvs `err.rs`). An error whose commit outcome is
//! unknown is NOT retried: running the transaction again could apply it twice.
//!
//! ```
//! use std::time::Duration;
//! use surql::txn::{RetryPolicy, Retry};
//!
//! let policy = RetryPolicy::default().max_retries(2).jitter(0.0);
//! let mut retry = policy.start();
//! // first try failed with a conflict: wait, then try again
//! assert_eq!(retry.on_conflict(), Ok(Duration::from_millis(10)));
//! assert_eq!(retry.on_conflict(), Ok(Duration::from_millis(20)));
//! // out of retries: the error says how many tries were made
//! let err = retry.on_conflict().unwrap_err();
//! assert_eq!(err.tries, 3);
//! ```

use std::time::Duration;

use crate::rpc::ServerError;

/// How often and how patiently to retry a transaction that hit a conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    factor: f64,
    max_delay: Duration,
    jitter: f64,
    seed: u64,
}

impl Default for RetryPolicy {
    /// 5 retries, 10 ms doubling up to 1 s, ±50 % jitter.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(10),
            factor: 2.0,
            max_delay: Duration::from_secs(1),
            jitter: 0.5,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl RetryPolicy {
    /// Retries after the first try (so `max_retries(3)` allows 4 tries in all).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The delay before the first retry.
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// The growth of the delay per retry (`2.0` doubles it). Values below 1 are treated as 1.
    pub fn factor(mut self, f: f64) -> Self {
        self.factor = if f.is_finite() && f >= 1.0 { f } else { 1.0 };
        self
    }

    /// The cap on any single delay.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Random spread of each delay, as a fraction in `0.0..=1.0` (`0.5` = ±50 %).
    pub fn jitter(mut self, j: f64) -> Self {
        self.jitter = if j.is_finite() {
            j.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Seed of the jitter's pseudo-random sequence, so runs are reproducible.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of retries allowed.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry number `retry` (1-based), before jitter.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        let exp = self.factor.powi(retry.saturating_sub(1).min(1024) as i32);
        let secs = self.base_delay.as_secs_f64() * exp;
        let capped = secs.min(self.max_delay.as_secs_f64());
        Duration::try_from_secs_f64(capped).unwrap_or(self.max_delay)
    }

    /// Begins the retry bookkeeping of one transaction.
    pub fn start(&self) -> Retry {
        Retry {
            policy: self.clone(),
            tries: 1,
            rng: self.seed | 1,
        }
    }
}

/// The retry state of one transaction: call [`Retry::on_conflict`] each time a try fails with
/// a retryable conflict.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    tries: u32,
    rng: u64,
}

/// The transaction still conflicted after every allowed try.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("transaction gave up after {tries} tries: it conflicted with concurrent writes every time (the last error: {last})")]
pub struct RetriesExhausted {
    /// How many times the transaction was tried.
    pub tries: u32,
    /// The last conflict's text.
    pub last: String,
}

impl Retry {
    /// Tries made so far (1 while the first try runs).
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The current try failed with a retryable conflict: the delay to wait before the next try,
    /// or the final error when no retries are left.
    pub fn on_conflict(&mut self) -> Result<Duration, RetriesExhausted> {
        self.on_conflict_with("transaction conflict")
    }

    /// Like [`Retry::on_conflict`], recording the conflict's message for the final error.
    pub fn on_conflict_with(&mut self, message: &str) -> Result<Duration, RetriesExhausted> {
        if self.tries > self.policy.max_retries {
            return Err(RetriesExhausted {
                tries: self.tries,
                last: message.to_owned(),
            });
        }
        let nominal = self.policy.nominal_delay(self.tries);
        self.tries += 1;
        Ok(self.apply_jitter(nominal))
    }

    fn apply_jitter(&mut self, d: Duration) -> Duration {
        if self.policy.jitter == 0.0 {
            return d;
        }
        // xorshift64*: tiny, deterministic, good enough to spread retries apart
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        let scale = 1.0 + self.policy.jitter * (2.0 * unit - 1.0);
        Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(d)
    }
}

/// `true` when `err` is a transaction conflict that is safe to retry by running the whole
/// transaction again. An unknown commit outcome is never retryable.
pub fn is_retryable(err: &ServerError) -> bool {
    err.is_transaction_conflict()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        let p = RetryPolicy::default()
            .jitter(0.0)
            .base_delay(Duration::from_millis(100))
            .factor(3.0)
            .max_delay(Duration::from_millis(500))
            .max_retries(4);
        let mut r = p.start();
        assert_eq!(r.on_conflict(), Ok(Duration::from_millis(100)));
        assert_eq!(r.on_conflict(), Ok(Duration::from_millis(300)));
        assert_eq!(r.on_conflict(), Ok(Duration::from_millis(500)));
        assert_eq!(r.on_conflict(), Ok(Duration::from_millis(500)));
        let e = r.on_conflict_with("Write conflict").unwrap_err();
        assert_eq!(e.tries, 5);
        assert!(e.to_string().contains("after 5 tries"), "{e}");
        assert!(e.to_string().contains("Write conflict"), "{e}");
    }

    #[test]
    fn zero_retries_fails_at_once() {
        let mut r = RetryPolicy::default().max_retries(0).start();
        assert_eq!(r.on_conflict().unwrap_err().tries, 1);
    }

    #[test]
    fn jitter_is_seeded_and_bounded() {
        let p = RetryPolicy::default()
            .jitter(0.5)
            .seed(42)
            .base_delay(Duration::from_millis(100))
            .factor(1.0)
            .max_retries(50);
        let a: Vec<_> = {
            let mut r = p.start();
            (0..50).map(|_| r.on_conflict().unwrap()).collect()
        };
        let b: Vec<_> = {
            let mut r = p.start();
            (0..50).map(|_| r.on_conflict().unwrap()).collect()
        };
        assert_eq!(a, b, "same seed, same delays");
        assert!(a
            .iter()
            .all(|d| *d >= Duration::from_millis(50) && *d <= Duration::from_millis(150)));
        assert!(a.iter().any(|d| *d != a[0]), "jitter spreads the delays");
        let c: Vec<_> = {
            let mut r = p.clone().seed(7).start();
            (0..50).map(|_| r.on_conflict().unwrap()).collect()
        };
        assert_ne!(a, c, "another seed, other delays");
    }

    #[test]
    fn hostile_settings_do_not_panic() {
        let p = RetryPolicy::default()
            .factor(f64::NAN)
            .jitter(f64::INFINITY)
            .base_delay(Duration::MAX)
            .max_retries(u32::MAX);
        let mut r = p.start();
        for _ in 0..10 {
            assert!(r.on_conflict().is_ok());
        }
    }
}
