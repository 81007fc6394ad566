//! The hand-over of one request's answer, from whoever reads the socket (a leader or the IO
//! thread) to the caller waiting for it, for both drivers: a blocking caller sleeps on a
//! condition variable, an async caller registers its waker.
//!
//! One small allocation per request, and a wake-up only for a caller that sleeps (a leader
//! finds its answer without one). On Linux a blocking receiver sleeps on a futex shared
//! with other threads ([`crate::bell`]), so that whoever reads the socket wakes all the
//! callers it answered in one turn with one system call ([`batch`]); elsewhere on a
//! condition variable of its own. A general channel of one slot (std's, `async-channel`)
//! keeps several cache lines of bookkeeping (head, tail, waiter lists, listener entries),
//! touched on both sides of every round trip; on a loopback round trip that is measurable.

use std::future::Future;
use std::pin::Pin;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::sync::Condvar;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

struct Slot<T> {
    state: Mutex<State<T>>,
    /// A blocking receiver sleeps on this.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    answered: Condvar,
}

/// Who a sender wakes: the sleeping thread's futex word and bit, or (elsewhere) the slot's
/// condition variable.
#[cfg(any(target_os = "linux", target_os = "android"))]
type Sleeper = crate::bell::Who;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
type Sleeper = ();

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use crate::bell::{batch, Batch};

/// Collects the wake-ups of blocking receivers that this thread's sends make until the
/// returned guard drops (on Linux: then made with one system call per 32 receivers; here
/// each is made at once and this does nothing). For a thread that answers several callers
/// in one turn; it must drop before that thread sleeps.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn batch() -> Batch {
    Batch(())
}

/// See [`batch`].
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[must_use = "the wake-ups are made when this drops"]
pub struct Batch(());

struct State<T> {
    value: Option<T>,
    /// The sender is gone (with or without sending).
    sent: bool,
    /// The receiver is gone or closed: a value would reach nobody.
    closed: bool,
    /// A blocking receiver sleeps (and who wakes it).
    sleeping: Option<Sleeper>,
    /// An async receiver's waker.
    waker: Option<Waker>,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing runs user code while holding it; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps (registered as sleeping) until woken, at most `left`; may return early.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn sleep<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<T>>,
        left: Duration,
    ) -> MutexGuard<'a, State<T>> {
        let me = crate::bell::me();
        st.sleeping = Some(me);
        // Read under the lock, after registering: a sender that sees the registration
        // rings after this (see `bell`).
        let seen = crate::bell::count(me);
        drop(st);
        crate::bell::sleep(me, seen, left);
        let mut st = self.lock();
        st.sleeping = None;
        st
    }

    /// Sleeps (registered as sleeping) until woken, at most `left`; may return early.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn sleep<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<T>>,
        left: Duration,
    ) -> MutexGuard<'a, State<T>> {
        st.sleeping = Some(());
        let mut st = self
            .answered
            .wait_timeout(st, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        st.sleeping = None;
        st
    }
}

/// A one-value channel: its sending side and its receiving side.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            sent: false,
            closed: false,
            sleeping: None,
            waker: None,
        }),
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        answered: Condvar::new(),
    });
    (Sender(Some(slot.clone())), Receiver(slot))
}

/// The sending side. Dropping it without sending tells the receiver nothing will come
/// ([`Closed`]).
pub struct Sender<T>(Option<Arc<Slot<T>>>);

/// The receiving side. Dropping it drops a value that was sent and not taken.
pub struct Receiver<T>(Arc<Slot<T>>);

/// Nothing was sent, and nothing will be: the sender is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl<T> Sender<T> {
    /// Hands `value` over; `false` if the receiver is gone or closed (the value is dropped).
    pub fn send(mut self, value: T) -> bool {
        let mut value = Some(value);
        if let Some(slot) = self.0.take() {
            finish(&slot, &mut value);
        }
        value.is_none()
    }
}

/// Marks the sender gone, storing `value` first unless the receiver is gone or closed; then
/// wakes a waiting receiver (one turn of the lock for both).
fn finish<T>(slot: &Slot<T>, value: &mut Option<T>) {
    let mut st = slot.lock();
    st.sent = true;
    if !st.closed {
        st.value = value.take();
    }
    let sleeping = st.sleeping;
    let waker = st.waker.take();
    drop(st);
    if let Some(_who) = sleeping {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        crate::bell::ring(_who);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        slot.answered.notify_one();
    }
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Not sent: the receiver learns that nothing will come.
        if let Some(slot) = self.0.take() {
            finish(&slot, &mut None);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let value = {
            let mut st = self.0.lock();
            st.closed = true;
            st.value.take()
        };
        // Dropped without the lock held.
        drop(value);
    }
}

impl<T> Receiver<T> {
    /// The value if it is there, [`Closed`] if it never will be, `Ok(None)` if not yet.
    pub fn try_recv(&self) -> Result<Option<T>, Closed> {
        let mut st = self.0.lock();
        match st.value.take() {
            Some(value) => Ok(Some(value)),
            None if st.sent => Err(Closed),
            None => Ok(None),
        }
    }

    /// Waits up to `limit` for the value (blocking the thread); `Ok(None)`: it did not
    /// come in time.
    pub fn recv_timeout(&self, limit: Duration) -> Result<Option<T>, Closed> {
        let deadline = Instant::now().checked_add(limit);
        let mut st = self.0.lock();
        loop {
            if let Some(value) = st.value.take() {
                return Ok(Some(value));
            }
            if st.sent {
                return Err(Closed);
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                // Too far to represent: wait a long while, then look again.
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return Ok(None);
            }
            st = self.0.sleep(st, left);
        }
    }

    /// Waits for the value (async); [`Closed`] if it never comes.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv(self)
    }

    /// Closes the receiving side: a later `send` fails. Returns a value sent before.
    pub fn close(&self) -> Option<T> {
        let mut st = self.0.lock();
        st.closed = true;
        st.value.take()
    }
}

/// The future of [`Receiver::recv`]. Dropping it unregisters its waker: a value sent
/// afterwards wakes nobody (a caller that stopped waiting, e.g. to read the socket itself
/// and deliver the value, would otherwise be woken for nothing, which costs an async
/// executor a spurious turn of its reactor).
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T>(&'a Receiver<T>);

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        let waker = self.0 .0.lock().waker.take();
        // Dropped without the lock held.
        drop(waker);
    }
}

impl<T> Future for Recv<'_, T> {
    type Output = Result<T, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.0 .0.lock();
        if let Some(value) = st.value.take() {
            return Poll::Ready(Ok(value));
        }
        if st.sent {
            return Poll::Ready(Err(Closed));
        }
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn a_value_is_taken_once_then_the_gone_sender_reads_as_closed() {
        let (tx, rx) = channel();
        assert_eq!(rx.try_recv(), Ok(None));
        assert!(tx.send(7));
        assert_eq!(rx.try_recv(), Ok(Some(7)));
        assert_eq!(rx.try_recv(), Err(Closed));

        let (tx, rx) = channel::<i32>();
        drop(tx);
        assert_eq!(rx.try_recv(), Err(Closed));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(Closed));
    }

    #[test]
    fn sending_to_a_receiver_that_is_gone_or_closed_fails() {
        let (tx, rx) = channel();
        drop(rx);
        assert!(!tx.send(1));

        let (tx, rx) = channel();
        assert_eq!(rx.close(), None);
        assert!(!tx.send(2));

        // A value sent before the close is handed back by it.
        let (tx, rx) = channel();
        assert!(tx.send(3));
        assert_eq!(rx.close(), Some(3));
    }

    #[test]
    fn a_sleeping_receiver_wakes_for_the_value_or_the_gone_sender_and_waits_bounded() {
        let (tx, rx) = channel();
        assert_eq!(rx.recv_timeout(Duration::from_millis(20)), Ok(None));
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            tx.send(9)
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(Some(9)));
        assert!(sender.join().unwrap());

        let (tx, rx) = channel::<i32>();
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            drop(tx);
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Err(Closed));
        closer.join().unwrap();
        // A limit too large for an Instant still waits (and still sees the value).
        let (tx, rx) = channel();
        assert!(tx.send(1));
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(Some(1)));
    }

    #[test]
    fn an_async_receiver_is_woken_by_the_value_or_the_gone_sender() {
        let (tx, rx) = channel();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            tx.send(5)
        });
        assert_eq!(futures_lite::future::block_on(rx.recv()), Ok(5));
        assert!(sender.join().unwrap());

        let (tx, rx) = channel::<i32>();
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            drop(tx);
        });
        assert_eq!(futures_lite::future::block_on(rx.recv()), Err(Closed));
        closer.join().unwrap();
    }

    #[test]
    fn a_batch_wakes_the_receivers_its_sends_answer_when_it_ends() {
        // More receivers than one futex word has bits, so two words are rung.
        const N: usize = 40;
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for i in 0..N {
            let (tx, rx) = channel();
            senders.push(tx);
            let done = done.clone();
            threads.push(thread::spawn(move || {
                let got = rx.recv_timeout(Duration::from_secs(30));
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(got, Ok(Some(i)));
            }));
        }
        let sleeping = |tx: &Sender<usize>| tx.0.as_ref().unwrap().lock().sleeping.is_some();
        let start = Instant::now();
        while !senders.iter().all(sleeping) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "receivers never slept"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let batch = batch();
        for (i, tx) in senders.into_iter().enumerate() {
            assert!(tx.send(i));
        }
        thread::sleep(Duration::from_millis(50));
        if cfg!(any(target_os = "linux", target_os = "android")) {
            // Linux: nobody is woken before the batch ends (elsewhere it does nothing).
            assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 0);
        }
        drop(batch);
        for t in threads {
            t.join().unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), N);

        // Outside a batch a send wakes its receiver at once.
        let (tx, rx) = channel();
        let receiver = thread::spawn(move || rx.recv_timeout(Duration::from_secs(30)));
        while !sleeping(&tx) {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(tx.send(8));
        assert_eq!(receiver.join().unwrap(), Ok(Some(8)));
    }

    /// A waker that counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_dropped_recv_future_is_not_woken_by_a_later_value() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, rx) = channel();
        {
            let mut recv = std::pin::pin!(rx.recv());
            assert!(recv.as_mut().poll(&mut cx).is_pending());
        }
        assert!(tx.send(1));
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(rx.try_recv(), Ok(Some(1)));

        // A pending one is woken.
        let (tx, rx) = channel();
        let mut recv = std::pin::pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        assert!(tx.send(2));
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(recv.as_mut().poll(&mut cx), Poll::Ready(Ok(2)));
    }
}
