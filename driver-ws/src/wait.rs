//! How a thread sleeps until its socket is ready or another thread wakes it: the IO
//! thread's sleep, and a blocking leader's.
//!
//! On Linux it is one `poll(2)` on the socket and a wake-up descriptor (an eventfd): a
//! single system call per sleep, plus one read of the eventfd when it was written. The
//! interest is given with each sleep, so it costs nothing to change, but a change made while
//! the IO thread sleeps reaches it only when it is woken (see [`Waiter::interest_per_wait`]).
//! (The `polling` crate's epoll `Poller::wait` costs five system calls per sleep: the
//! timer, its interest, the sleep, the notifier's read and its re-arming; under 32
//! concurrent callers the IO thread sleeps about once per two requests, and those calls
//! were a third of the client's system calls.)
//!
//! A `notify` writes the eventfd only when no wake-up is pending and the IO thread is not
//! awake: the IO thread keeps the flag set while it works ([`Waiter::sleep`]) and clears it
//! before it sleeps ([`Waiter::will_sleep`]), then looks once more at what a skipped
//! `notify` was for.
//!
//! Elsewhere the IO thread sleeps in the `polling` crate's poller, and callers never lead.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags, Timespec};

    pub(crate) struct Waiter {
        wake: OwnedFd,
        /// A wake-up is pending (written and not yet seen by a sleep), or the IO thread is
        /// awake and looks at everything before it sleeps: a `notify` need not write.
        notified: AtomicBool,
    }

    impl Waiter {
        pub(crate) fn new() -> io::Result<Waiter> {
            let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            Ok(Waiter {
                wake,
                notified: AtomicBool::new(false),
            })
        }

        pub(crate) fn can_lead() -> bool {
            true
        }

        pub(crate) fn level(&self) -> bool {
            true
        }

        pub(crate) fn interest_per_wait(&self) -> bool {
            true
        }

        pub(crate) fn watches_hangup(&self) -> bool {
            true
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            // SeqCst: against `will_sleep` (see there).
            if self.notified.swap(true, Ordering::SeqCst) {
                return Ok(());
            }
            match rustix::io::write(&self.wake, &1u64.to_ne_bytes()) {
                // EAGAIN: the counter is full, so a wake-up is pending anyway.
                Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }

        /// # Safety
        /// Nothing to uphold here (nothing is registered); the signature matches the
        /// `polling` fallback's.
        pub(crate) unsafe fn add(&self, _: &TcpStream) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn set(&self, _: &TcpStream, _: bool, _: bool) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn delete(&self, _: &TcpStream) {}

        pub(crate) fn will_sleep(&self) {
            self.notified.store(false, Ordering::SeqCst);
        }

        pub(crate) fn stay_awake(&self) {
            self.notified.store(true, Ordering::SeqCst);
        }

        pub(crate) fn wait(
            &self,
            socket: Option<(&TcpStream, bool, bool)>,
            timeout: Option<Duration>,
            awake_after: bool,
        ) -> io::Result<bool> {
            // A timeout too large for a timespec waits without one (the IO thread never
            // sleeps past a request timeout; a leader's wait is bounded by its caller).
            let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
            let mut interest = PollFlags::RDHUP;
            let mut fds = [
                PollFd::new(&self.wake, PollFlags::IN),
                PollFd::new(&self.wake, PollFlags::empty()),
            ];
            let n = match socket {
                Some((tcp, read, write)) => {
                    if read {
                        interest |= PollFlags::IN;
                    }
                    if write {
                        interest |= PollFlags::OUT;
                    }
                    fds[1] = PollFd::new(tcp, interest);
                    2
                }
                None => 1,
            };
            match poll(&mut fds[..n], timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if !fds[0].revents().is_empty() {
                let mut counter = [0u8; 8];
                // Nonblocking: resets the counter.
                let _ = rustix::io::read(&self.wake, &mut counter);
            }
            // Set after the counter is reset and before the caller looks at the shared
            // state. Cleared (a leader's wait): a `notify` from now on writes again (and
            // the next sleep returns at once); one before it found the flag set, skipped its
            // write, and is covered by what the caller does next. (Cleared before the reset,
            // a `notify` in between would set the flag and have its write reset with the old
            // one: later notifies would skip their writes, and the sleep would miss them.)
            // Kept set (the IO thread, awake now): notifies skip their write until
            // `will_sleep`.
            self.notified.store(awake_after, Ordering::SeqCst);
            Ok(n == 2 && !fds[1].revents().is_empty())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::sync::Mutex;
    use std::time::Duration;

    use polling::{Event, Events, PollMode, Poller};

    /// The poller key of the connection's one socket.
    const SOCKET_KEY: usize = 1;

    pub(crate) struct Waiter {
        poller: Poller,
        /// Only the IO thread waits; the lock is never contended.
        events: Mutex<Events>,
    }

    impl Waiter {
        pub(crate) fn new() -> io::Result<Waiter> {
            Ok(Waiter {
                poller: Poller::new()?,
                events: Mutex::new(Events::new()),
            })
        }

        /// Callers lead only where the sleep is one `poll(2)`.
        pub(crate) fn can_lead() -> bool {
            false
        }

        pub(crate) fn level(&self) -> bool {
            self.poller.supports_level()
        }

        pub(crate) fn interest_per_wait(&self) -> bool {
            false
        }

        pub(crate) fn watches_hangup(&self) -> bool {
            false
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            self.poller.notify()
        }

        // `polling` keeps its own notified flag; every `notify` reaches it.
        pub(crate) fn will_sleep(&self) {}

        pub(crate) fn stay_awake(&self) {}

        fn mode(&self) -> PollMode {
            if self.level() {
                PollMode::Level
            } else {
                PollMode::Oneshot
            }
        }

        /// # Safety
        /// `tcp` must be [`Waiter::delete`]d before it is closed.
        pub(crate) unsafe fn add(&self, tcp: &TcpStream) -> io::Result<()> {
            self.poller
                .add_with_mode(tcp, Event::readable(SOCKET_KEY), self.mode())
        }

        pub(crate) fn set(&self, tcp: &TcpStream, read: bool, write: bool) -> io::Result<()> {
            self.poller
                .modify_with_mode(tcp, Event::new(SOCKET_KEY, read, write), self.mode())
        }

        pub(crate) fn delete(&self, tcp: &TcpStream) {
            // Fails only if the descriptor is not registered, which is the goal anyway.
            let _ = self.poller.delete(tcp);
        }

        pub(crate) fn wait(
            &self,
            _socket: Option<(&TcpStream, bool, bool)>,
            timeout: Option<Duration>,
            _awake_after: bool,
        ) -> io::Result<bool> {
            let mut events = self
                .events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            events.clear();
            match self.poller.wait(&mut events, timeout) {
                Ok(_) => Ok(events.iter().any(|e| e.key == SOCKET_KEY)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

/// A thread's sleep until its socket is ready, [`Waiter::notify`] or a timeout.
pub(crate) struct Waiter(imp::Waiter);

impl Waiter {
    pub(crate) fn new() -> io::Result<Waiter> {
        imp::Waiter::new().map(Waiter)
    }

    /// A leader's wait, where callers can lead (`None` elsewhere).
    pub(crate) fn for_leader() -> Option<Waiter> {
        if imp::Waiter::can_lead() {
            Waiter::new().ok()
        } else {
            None
        }
    }

    /// Interest stays armed (level-triggered) between sleeps; else it is delivered once and
    /// must be set again after each event (`polling`'s oneshot fallback).
    pub(crate) fn level(&self) -> bool {
        self.0.level()
    }

    /// The interest is the one given to [`Waiter::wait`], read when the sleep starts: a
    /// change made while the IO thread sleeps must wake it. (Otherwise [`Waiter::set`]
    /// reaches a sleep under way.)
    pub(crate) fn interest_per_wait(&self) -> bool {
        self.0.interest_per_wait()
    }

    /// The peer's hang-up wakes the sleep even without interest in data (`POLLRDHUP`).
    pub(crate) fn watches_hangup(&self) -> bool {
        self.0.watches_hangup()
    }

    /// Wakes the sleep under way, or the next one. Writes nothing (where the waiter keeps
    /// its own flag) while a wake-up is pending or the IO thread is awake (see
    /// [`Waiter::sleep`]).
    pub(crate) fn notify(&self) -> io::Result<()> {
        self.0.notify()
    }

    /// The IO thread is about to sleep: from now on `notify` writes. Then, before it
    /// sleeps, it looks once more at what a `notify` before this may have skipped writing
    /// for (queued feeds); what a caller does under the connection's lock is ordered by the
    /// lock, if this is called with the lock held. (SeqCst, against `notify`'s swap: either
    /// the IO thread sees the caller's queued feed, or the caller sees the flag clear and
    /// writes.)
    pub(crate) fn will_sleep(&self) {
        self.0.will_sleep()
    }

    /// After [`Waiter::will_sleep`], the IO thread does not sleep after all (it found work):
    /// it is awake again, and notifies skip their write.
    pub(crate) fn stay_awake(&self) {
        self.0.stay_awake()
    }

    /// Starts watching `tcp` for data (where interest is registered: `polling`).
    ///
    /// # Safety
    /// `tcp` must be [`Waiter::delete`]d before it is closed.
    pub(crate) unsafe fn add(&self, tcp: &TcpStream) -> io::Result<()> {
        // SAFETY: passed on to the caller.
        unsafe { self.0.add(tcp) }
    }

    /// Sets the registered interest (where interest is registered).
    pub(crate) fn set(&self, tcp: &TcpStream, read: bool, write: bool) -> io::Result<()> {
        self.0.set(tcp, read, write)
    }

    /// Stops watching `tcp` (where interest is registered).
    pub(crate) fn delete(&self, tcp: &TcpStream) {
        self.0.delete(tcp)
    }

    /// Sleeps until the socket is ready as asked (`socket`: the descriptor, and interest in
    /// reading and writing; its hang-up always counts where [`Waiter::watches_hangup`]),
    /// a notify, or the timeout (`None`: none). Returns whether the socket was reported
    /// (data, a hang-up or an error: a read finds out which).
    pub(crate) fn wait(
        &self,
        socket: Option<(&TcpStream, bool, bool)>,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        self.0.wait(socket, timeout, false)
    }

    /// The IO thread's sleep: as [`Waiter::wait`], after [`Waiter::will_sleep`]. Once it
    /// returns the thread counts as awake: a `notify` writes nothing until the next
    /// `will_sleep` (the thread looks at everything before it sleeps again), which saves
    /// the callers who queue a request while it works a write each, and it the read.
    pub(crate) fn sleep(
        &self,
        socket: Option<(&TcpStream, bool, bool)>,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        self.0.wait(socket, timeout, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    const PRODUCERS: usize = 3;
    const ITEMS: usize = 20_000;
    const TOTAL: usize = PRODUCERS * ITEMS;

    /// Three threads that each count an item and then `notify`, 20,000 times.
    fn producers(waiter: &Arc<Waiter>) -> (Arc<AtomicUsize>, Vec<std::thread::JoinHandle<()>>) {
        let produced = Arc::new(AtomicUsize::new(0));
        let threads = (0..PRODUCERS)
            .map(|_| {
                let (waiter, produced) = (waiter.clone(), produced.clone());
                std::thread::spawn(move || {
                    for _ in 0..ITEMS {
                        produced.fetch_add(1, Ordering::SeqCst);
                        waiter.notify().unwrap();
                    }
                })
            })
            .collect();
        (produced, threads)
    }

    /// Sleeps (`sleep`, bounded at 5 s) and fails if the sleep ran out while items beyond
    /// `seen` had been produced: their wake-up was lost.
    fn sleep_checked(
        sleep: impl FnOnce(Option<Duration>) -> io::Result<bool>,
        produced: &AtomicUsize,
        seen: usize,
    ) {
        let started = Instant::now();
        sleep(Some(Duration::from_secs(5))).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4) || produced.load(Ordering::SeqCst) == seen,
            "a wake-up was lost: {} items produced, {seen} seen, and the sleep ran out",
            produced.load(Ordering::SeqCst)
        );
    }

    /// Notifies racing a sleeper are never lost: every item a producer counts before its
    /// `notify` is seen by the sleeper without waiting for the timeout. (With the flag
    /// cleared before the counter is reset, this lost wake-ups within a few thousand turns.)
    #[test]
    fn no_notify_is_lost() {
        let waiter = Arc::new(Waiter::new().unwrap());
        let (produced, threads) = producers(&waiter);
        let mut seen = 0;
        while seen < TOTAL {
            let now = produced.load(Ordering::SeqCst);
            if now > seen {
                seen = now;
                continue;
            }
            sleep_checked(|t| waiter.wait(None, t), &produced, seen);
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
    }

    /// The IO thread's protocol: notifies while it is awake write nothing, and none is lost:
    /// it clears the flag (`will_sleep`), looks at the work once more, and only then
    /// sleeps. (Fails at once if `will_sleep` leaves the flag set.)
    #[test]
    fn notifies_while_awake_are_skipped_and_never_lost() {
        let waiter = Arc::new(Waiter::new().unwrap());
        let (produced, threads) = producers(&waiter);
        loop {
            let seen = produced.load(Ordering::SeqCst);
            if seen == TOTAL {
                break;
            }
            waiter.will_sleep();
            if produced.load(Ordering::SeqCst) > seen {
                waiter.stay_awake();
                continue;
            }
            sleep_checked(|t| waiter.sleep(None, t), &produced, seen);
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
    }

    /// A socket's readiness ends the sleep, as asked: data with read interest, and the
    /// peer's hang-up even without it (where it is watched).
    #[test]
    fn socket_readiness_wakes() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let waiter = Waiter::new().unwrap();
        // SAFETY: deleted below, before `client` is closed.
        unsafe { waiter.add(&client) }.unwrap();
        // Interest as the IO thread gives it: registered (`polling`) and per sleep (poll).
        let wait = |read: bool, write: bool, timeout: Duration| {
            waiter.set(&client, read, write).unwrap();
            waiter
                .wait(Some((&client, read, write)), Some(timeout))
                .unwrap()
        };
        let (short, long) = (Duration::from_millis(50), Duration::from_secs(5));
        // Nothing to read: the sleep runs out, and says the socket was not reported.
        assert!(!wait(true, false, short));
        // Writable at once when asked.
        assert!(wait(false, true, short));
        server.write_all(b"x").unwrap();
        assert!(wait(true, false, long));
        if waiter.watches_hangup() {
            // Data alone does not wake a sleep without read interest.
            assert!(!wait(false, false, short));
            drop(server);
            let started = Instant::now();
            assert!(wait(false, false, long));
            assert!(started.elapsed() < Duration::from_secs(4));
        }
        waiter.delete(&client);
    }
}
