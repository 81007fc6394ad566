//! How a leading caller sleeps until its socket is readable: one `poll(2)` on the socket and
//! a wake-up descriptor (an eventfd), a single system call per wait. (The `polling` crate's
//! `Poller::wait` costs five: timer, interest and notifier upkeep on every wait, a measurable
//! share of a loopback round trip.) Where there is no eventfd, callers never lead and the IO
//! thread reads for them.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags, Timespec};

    pub(crate) struct Waiter {
        wake: OwnedFd,
    }

    impl Waiter {
        pub(crate) fn new() -> io::Result<Waiter> {
            let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            Ok(Waiter { wake })
        }

        pub(crate) fn notify(&self) {
            // Fails only when the counter would overflow (it is pending anyway).
            let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        }

        pub(crate) fn wait(&self, socket: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
            // A timeout too large for a timespec waits without one (the IO thread still
            // wakes the leader at least once per request timeout).
            let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
            let mut fds = [
                PollFd::new(socket, PollFlags::IN),
                PollFd::new(&self.wake, PollFlags::IN),
            ];
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if !fds[1].revents().is_empty() {
                let mut counter = [0u8; 8];
                // Nonblocking: resets the counter; a concurrent notify is simply seen next time.
                let _ = rustix::io::read(&self.wake, &mut counter);
            }
            Ok(())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::time::Duration;

    pub(crate) struct Waiter;

    impl Waiter {
        pub(crate) fn new() -> io::Result<Waiter> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "callers do not lead on this platform",
            ))
        }

        pub(crate) fn notify(&self) {}

        pub(crate) fn wait(&self, _: &TcpStream, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }
}

/// A leading caller's sleep: until the socket is readable, [`LeadWaiter::notify`] or the
/// timeout.
pub(crate) struct LeadWaiter(imp::Waiter);

impl LeadWaiter {
    /// `None` where callers cannot lead.
    pub(crate) fn new() -> Option<LeadWaiter> {
        imp::Waiter::new().ok().map(LeadWaiter)
    }

    /// Wakes the leader (or its next wait, if it is not waiting now).
    pub(crate) fn notify(&self) {
        self.0.notify();
    }

    pub(crate) fn wait(&self, socket: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
        self.0.wait(socket, timeout)
    }
}
