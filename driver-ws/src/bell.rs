//! How a blocking receiver of [`crate::oneshot`] sleeps on Linux, so that whoever reads the
//! socket wakes every caller it answered in one turn with ONE system call.
//!
//! Why: a thread woken by `futex(2)` usually preempts its waker at once. When the IO thread
//! woke each answered caller on its own (a condition variable each), it was switched out
//! after the first wake-up and every further answer of the same read waited for it to come
//! back: two context switches per answer. Woken together, the answered callers run one
//! after the other and the IO thread once after them.
//!
//! How: every thread that sleeps here has a fixed `(word, bit)` ([`Who`]): one of
//! [`WORDS`] process-wide futex words and one of its 32 bits. It sleeps with
//! `FUTEX_WAIT_BITSET` on its word, which counts rings (the futex value), for its bit. A
//! ring bumps the word, then `FUTEX_WAKE_BITSET` wakes every sleeper on that word whose
//! bit is in the mask. Inside a [`batch`] (the IO thread's turn, a leader's step) rings are
//! collected per word and made when the batch ends: one system call per word rung. A
//! sleeper that shares a `(word, bit)` with another thread (more than `32 * WORDS` threads
//! have slept here) can wake for the other's ring: it finds nothing and sleeps again.
//!
//! The protocol (no ring is lost): the sleeper registers itself (its `Who`, under the
//! slot's lock), reads its word's count, then sleeps only while the count is still that
//! value. The ringer stores the value, sees the registration (under the same lock), and
//! bumps the count before waking: either the sleeper's read saw the bump (it finds the
//! value) or the kernel sees the count changed and does not put it to sleep, or it sleeps
//! already and is woken.

use std::cell::Cell;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use rustix::thread::futex;
use rustix::time::{clock_gettime, ClockId, Timespec};

/// How many futex words the sleeping threads are spread over (32 threads each).
const WORDS: usize = 8;

/// The futex words: each counts the rings made on it.
static BELLS: [AtomicU32; WORDS] = [const { AtomicU32::new(0) }; WORDS];

/// The next thread's number (which word and bit it sleeps on).
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A sleeping thread's word and bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Who {
    word: usize,
    bit: NonZeroU32,
}

thread_local! {
    static ME: Who = {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Who {
            word: (n / 32) % WORDS,
            bit: NonZeroU32::new(1 << (n % 32)).unwrap_or(NonZeroU32::MIN),
        }
    };
    /// Open [`batch`]es on this thread (nested ones ring when the outermost ends).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The bits rung in the open batch, per word.
    static RUNG: Cell<[u32; WORDS]> = const { Cell::new([0; WORDS]) };
}

/// The calling thread's word and bit.
pub(crate) fn me() -> Who {
    ME.with(|me| *me)
}

/// The ring count `who` sleeps against: read after registering, before [`sleep`].
pub(crate) fn count(who: Who) -> u32 {
    BELLS[who.word].load(Ordering::SeqCst)
}

/// Sleeps while `who`'s word still counts `seen` rings, at most `left` (less if a signal or
/// another thread's ring on the same word ends it: the caller looks and sleeps again).
pub(crate) fn sleep(who: Who, seen: u32, left: Duration) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. At most an hour away
    // (the caller looks again), so it always fits; were it not to, it is now.
    let span = Timespec::try_from(left.min(Duration::from_secs(3600))).unwrap_or_default();
    let now = clock_gettime(ClockId::Monotonic);
    let deadline = now.checked_add(span).unwrap_or(now);
    let flags = futex::Flags::PRIVATE;
    let slept = futex::wait_bitset(&BELLS[who.word], flags, seen, Some(&deadline), who.bit);
    if let Err(e) = slept {
        // EAGAIN (rung meanwhile), ETIMEDOUT, EINTR: the caller looks again. Anything else
        // means futexes do not work here: do not spin.
        if ![
            rustix::io::Errno::AGAIN,
            rustix::io::Errno::TIMEDOUT,
            rustix::io::Errno::INTR,
        ]
        .contains(&e)
        {
            std::thread::sleep(left.min(Duration::from_millis(1)));
        }
    }
}

/// Wakes `who` (a sleeper registered before its value was stored): now, or when the open
/// [`batch`] on this thread ends.
pub(crate) fn ring(who: Who) {
    if DEPTH.get() > 0 {
        let mut rung = RUNG.get();
        rung[who.word] |= who.bit.get();
        RUNG.set(rung);
    } else {
        wake(who.word, who.bit);
    }
}

fn wake(word: usize, bits: NonZeroU32) {
    BELLS[word].fetch_add(1, Ordering::SeqCst);
    // Cannot fail on a valid address; a sleeper's wait is bounded anyway.
    let _ = futex::wake_bitset(&BELLS[word], futex::Flags::PRIVATE, i32::MAX as u32, bits);
}

/// Collects the wake-ups of blocking receivers that this thread's sends make (its rings)
/// until the returned guard drops, then makes them: one system call per futex word rung
/// (up to 32 receivers each). For a thread that answers several callers in one turn; it
/// must drop before that thread sleeps (or the callers it answered sleep until their
/// deadline). Re-exported as `oneshot::batch`.
pub fn batch() -> Batch {
    DEPTH.set(DEPTH.get() + 1);
    Batch(())
}

/// An open batch of rings (see [`batch`]); rings them when dropped.
#[must_use = "the wake-ups are made when this drops"]
pub struct Batch(());

impl Drop for Batch {
    fn drop(&mut self) {
        let depth = DEPTH.get() - 1;
        DEPTH.set(depth);
        if depth > 0 {
            return;
        }
        let rung = RUNG.replace([0; WORDS]);
        for (word, bits) in rung.into_iter().enumerate() {
            if let Some(bits) = NonZeroU32::new(bits) {
                wake(word, bits);
            }
        }
    }
}
