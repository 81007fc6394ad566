//! Transaction retry as a pure state machine: which errors are worth retrying, how long to
//! wait before the next try, and a clear error once the tries are used up.
//!
//! The server reports a retryable conflict as `kind: "Query"` with
//! `details.kind: "TransactionConflict"` (RPC code -32009). Only that structure counts: the
//! message (which ends in `This transaction can be retried`) is never read, because a user's
//! `THROW` can say the same words. An error whose commit outcome is unknown is NOT retried:
//! running the transaction again could apply it twice.
//!
//! The jitter's seed is random unless [`RetryPolicy::seed`] fixes it, so processes (and
//! transactions within one process) that conflicted together do not retry in lockstep.
//! Every duration saturates: `Duration::MAX` delays or a huge factor never panic.
//!
//! ```
//! use std::time::Duration;
//! use surql::txn::{RetryPolicy, Retry};
//!
//! let policy = RetryPolicy::default().max_retries(2).jitter(0.0).seed(42);
//! let mut retry = policy.start();
//! // first try failed with a conflict: wait, then try again
//! assert_eq!(retry.on_conflict(), Ok(Duration::from_millis(10)));
//! assert_eq!(retry.on_conflict(), Ok(Duration::from_millis(20)));
//! // out of retries: the error says how many tries were made
//! let err = retry.on_conflict().unwrap_err();
//! assert_eq!(err.tries, 3);
//! ```

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// `None`: a fresh random seed for every [`RetryPolicy::start`].
    seed: Option<u64>,
}

impl Default for RetryPolicy {
    /// 5 retries, 10 ms doubling up to 1 s, ±50 % jitter from a random seed.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(10),
            factor: 2.0,
            max_delay: Duration::from_secs(1),
            jitter: 0.5,
            seed: None,
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

    /// Fixes the seed of the jitter's pseudo-random sequence, so runs are reproducible (for
    /// tests). Without it every [`RetryPolicy::start`] draws a random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The number of retries allowed.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry number `retry` (1-based), before jitter. Saturates at the cap
    /// (`max_delay`) instead of overflowing.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        if self.base_delay.is_zero() {
            // 0 × an infinite growth would be NaN; no delay stays no delay
            return Duration::ZERO;
        }
        // Above 1024 steps a factor > 1 has long reached infinity; the cap decides anyway.
        let exp = self.factor.powi(retry.saturating_sub(1).min(1024) as i32);
        let secs = self.base_delay.as_secs_f64() * exp; // finite or +inf, never NaN
        let nominal = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        nominal.min(self.max_delay)
    }

    /// Begins the retry bookkeeping of one transaction.
    pub fn start(&self) -> Retry {
        let seed = self.seed.unwrap_or_else(random_seed);
        Retry {
            policy: self.clone(),
            tries: 1,
            // xorshift must not start at 0 (it would stay there)
            rng: seed | 1,
        }
    }
}

/// A seed that differs between processes and between calls: std's `RandomState` keys are
/// drawn from the OS once per thread and then stepped, and the counter separates calls.
fn random_seed() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.finish()
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
        self.tries = self.tries.saturating_add(1);
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
        // the cap holds after jitter too; near `Duration::MAX` the product may not fit
        Duration::try_from_secs_f64(d.as_secs_f64() * scale)
            .unwrap_or(d)
            .min(self.policy.max_delay)
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

    #[test]
    fn durations_saturate() {
        // Duration::MAX base and cap, a huge factor: the delay saturates at the cap
        let p = RetryPolicy::default()
            .base_delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .factor(1e300)
            .jitter(0.0)
            .seed(1)
            .max_retries(u32::MAX);
        assert_eq!(p.nominal_delay(1), Duration::MAX);
        assert_eq!(p.nominal_delay(u32::MAX), Duration::MAX);
        let mut r = p.start();
        for _ in 0..5 {
            assert_eq!(r.on_conflict(), Ok(Duration::MAX));
        }
        // with jitter the delay stays within the cap
        let mut r = p.clone().jitter(1.0).start();
        for _ in 0..50 {
            assert!(r.on_conflict().is_ok_and(|d| d <= Duration::MAX));
        }
        // a huge factor from a small base reaches the cap, not infinity or a panic
        let p = RetryPolicy::default()
            .base_delay(Duration::from_millis(1))
            .max_delay(Duration::from_secs(30))
            .factor(f64::MAX)
            .jitter(0.0);
        assert_eq!(p.nominal_delay(1), Duration::from_millis(1));
        assert_eq!(p.nominal_delay(2), Duration::from_secs(30));
        assert_eq!(p.nominal_delay(u32::MAX), Duration::from_secs(30));
        // zero base × infinite growth is zero, not NaN turned into the cap
        let p = RetryPolicy::default()
            .base_delay(Duration::ZERO)
            .factor(f64::MAX)
            .jitter(0.0);
        assert_eq!(p.nominal_delay(u32::MAX), Duration::ZERO);
        // the cap holds after jitter
        let mut r = RetryPolicy::default()
            .base_delay(Duration::from_secs(1))
            .max_delay(Duration::from_secs(1))
            .jitter(1.0)
            .seed(3)
            .max_retries(100)
            .start();
        for _ in 0..100 {
            assert!(r.on_conflict().is_ok_and(|d| d <= Duration::from_secs(1)));
        }
    }

    #[test]
    fn tries_saturate() {
        let mut r = RetryPolicy::default()
            .max_retries(u32::MAX)
            .jitter(0.0)
            .start();
        r.tries = u32::MAX - 1;
        assert!(r.on_conflict().is_ok());
        assert!(r.on_conflict().is_ok());
        assert_eq!(r.tries(), u32::MAX);
    }

    #[test]
    fn unseeded_jitter_differs_between_starts() {
        // Two transactions that conflicted together must not retry in lockstep: without
        // a fixed seed each start draws its own sequence.
        let p = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(10))
            .factor(1.0)
            .max_retries(20);
        let draw = |p: &RetryPolicy| -> Vec<Duration> {
            let mut r = p.start();
            (0..20).map(|_| r.on_conflict().unwrap()).collect()
        };
        let a = draw(&p);
        let b = draw(&p);
        assert_ne!(a, b, "unseeded starts share a jitter sequence");
        // and neither is the sequence of the constant seed used before
        let fixed = draw(&p.clone().seed(0x9E37_79B9_7F4A_7C15));
        assert_ne!(a, fixed);
        assert_ne!(b, fixed);
        assert_ne!(random_seed(), random_seed());
    }

    fn server_error(v: &[(&str, crate::value::Value)]) -> ServerError {
        let mut o = crate::value::Object::new();
        for (k, val) in v {
            o.insert((*k).into(), val.clone());
        }
        ServerError::from_value(&crate::value::Value::Object(o))
    }

    #[test]
    fn retryable_only_from_the_structure() {
        use crate::value::Value;
        let s = |t: &str| Value::String(t.into());
        let detail = |k: &str| {
            let mut o = crate::value::Object::new();
            o.insert("kind".into(), s(k));
            Value::Object(o)
        };
        let conflict = server_error(&[
            ("kind", s("Query")),
            ("message", s("Transaction conflict")),
            ("details", detail("TransactionConflict")),
        ]);
        assert!(is_retryable(&conflict));
        let by_code = server_error(&[
            ("code", Value::Int(-32009)),
            ("kind", s("Query")),
            ("message", s("conflict")),
        ]);
        assert!(is_retryable(&by_code));
        // a user's THROW with the magic words, as an RPC error and as a query row
        let thrown = server_error(&[
            ("code", Value::Int(-32006)),
            ("kind", s("Thrown")),
            (
                "message",
                s("An error occurred: This transaction can be retried"),
            ),
        ]);
        assert!(!is_retryable(&thrown));
        let row = server_error(&[
            ("kind", s("Query")),
            (
                "message",
                s("Transaction conflict. This transaction can be retried"),
            ),
        ]);
        assert!(!is_retryable(&row));
        // another detail kind is not a conflict
        let not_executed = server_error(&[
            ("kind", s("Query")),
            ("message", s("This transaction can be retried")),
            ("details", detail("NotExecuted")),
        ]);
        assert!(!is_retryable(&not_executed));
        // the same answer as the one rule in `error`
        for e in [&conflict, &by_code, &thrown, &row, &not_executed] {
            assert_eq!(is_retryable(e), crate::error::is_structured_conflict(e));
            assert_eq!(
                is_retryable(e),
                crate::Error::Server((*e).clone()).is_conflict()
            );
        }
    }
}
