//! A client's WebSocket connections: the primary and its lanes (the rules are the core's,
//! [`surql::lanes`]; this is their IO).
//!
//! Callers ask [`Lanes::pick`] where a request goes. While the primary has nobody waiting,
//! it is the primary, at the cost of one atomic load. When callers overlap, a request that
//! may go anywhere takes the least loaded usable connection, and a lane is opened on a
//! background thread (the caller that asked does not wait for it): TCP, TLS, upgrade, then
//! the replay of a copy of the primary's default session, read together with the session's
//! version (`Connection::session_version`).
//!
//! A lane is usable while its socket lives (lanes do not reconnect: one that loses its socket
//! or fails a replay is dropped, and a fresh one may be opened later from a fresh copy) and
//! while the primary's session version is the one it copied. The version moves with every
//! change of the primary's session, before the answer that made it is handed out, and also
//! when a change lands after its caller gave up, or a failed re-authentication makes the
//! primary forget its token: so a call that starts after a session change returned never
//! runs on a lane with the older session. A lane that is no longer usable takes no new
//! request; it answers those it has and closes when its last caller lets go of it. A
//! session-changing request also retires every lane before it is sent, and no lane is used
//! or joins until it is answered. A lane's own events are its own; the client's events are
//! the primary's.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, RwLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use surql::endpoint::Endpoint;
use surql::lanes::{changes_session, least_loaded_by, route, LanePolicy, Route};
use surql::mux::ConnectionEvent;
use surql::rpc::Request;
use surql::{Error, Options};

use crate::{Sinks, WsConn};

/// The primary connection and its lanes. Dropping it closes the lanes; the primary closes
/// with its last holder ([`Lanes::primary_shared`]).
pub struct Lanes<O: Sinks> {
    /// Shared with whatever must outlive a borrow of the client (an async driver's streams
    /// and guards): the primary closes when its last holder lets go, or on [`Lanes::close`].
    primary: Arc<WsConn<O>>,
    shared: Arc<Shared<O>>,
    /// [`Options::ws_connections`]: 1 means lanes are never looked at.
    max: usize,
}

struct Shared<O: Sinks> {
    set: RwLock<Set<O>>,
    /// Session changes sent on the primary and not answered yet: meanwhile every request
    /// goes to the primary and no lane joins.
    session_changes: AtomicUsize,
    /// The primary's session version, read without its lock.
    primary_version: Arc<AtomicU64>,
    /// [`NOT_UNSETTLED`], or the primary's session version when a session change ended
    /// without an answer (its caller timed out or gave up): the server may still apply it,
    /// so no lane is used or joins until the version moves.
    unsettled_at: AtomicU64,
    endpoint: Endpoint,
    /// The client's options, without reconnecting (a lane that loses its socket is dropped).
    options: Options,
    thread_name: String,
}

struct Set<O: Sinks> {
    lanes: Vec<Arc<Lane<O>>>,
    /// Lanes taken out of `lanes` that callers may still hold: closed with the client.
    retired: Vec<Weak<Lane<O>>>,
    /// The lane being opened, so that closing the client closes it too.
    opening: Option<Arc<Lane<O>>>,
    policy: LanePolicy,
    closed: bool,
}

impl<O: Sinks> Set<O> {
    /// Takes the lanes `retire` selects out of the set (remembered as retired); returns
    /// them, to be dropped outside the lock.
    fn retire(&mut self, retire: impl Fn(&Lane<O>) -> bool) -> Vec<Arc<Lane<O>>> {
        self.retired.retain(|w| w.strong_count() > 0);
        let (gone, kept) = std::mem::take(&mut self.lanes)
            .into_iter()
            .partition::<Vec<_>, _>(|l| retire(l));
        self.lanes = kept;
        self.retired.extend(gone.iter().map(Arc::downgrade));
        gone
    }
}

/// One lane: its connection, the session version it copied, and whether it died.
pub struct Lane<O: Sinks> {
    conn: WsConn<O>,
    version: u64,
    dead: Arc<AtomicBool>,
}

impl<O: Sinks> Lane<O> {
    fn usable(&self, primary_version: u64) -> bool {
        self.version == primary_version && !self.dead.load(Ordering::SeqCst) && !self.conn.is_done()
    }
}

/// The connection a request goes to (see [`Lanes::pick`]); derefs to it.
pub enum Picked<'a, O: Sinks> {
    /// The primary.
    Primary(&'a WsConn<O>),
    /// A lane, held until the answer is taken.
    Lane(Arc<Lane<O>>),
    /// The primary, for a session change: no lane is used until it is dropped.
    Session(&'a WsConn<O>, SessionChange<'a, O>),
}

impl<O: Sinks> Deref for Picked<'_, O> {
    type Target = WsConn<O>;

    fn deref(&self) -> &WsConn<O> {
        match self {
            Picked::Primary(c) | Picked::Session(c, _) => c,
            Picked::Lane(l) => &l.conn,
        }
    }
}

/// The longest an opener waits for a lane's replay, whatever the options say (with
/// `Duration::MAX` timeouts it would otherwise wait for ever for a silent server).
const OPEN_WAIT_CAP: Duration = Duration::from_secs(60);

/// No session change is unsettled (see `Shared::unsettled_at`).
const NOT_UNSETTLED: u64 = u64::MAX;

/// A session change in progress; dropping it (once the answer is taken) lets lanes be used
/// and opened again, from the session as it now is. Unless [`Picked::settle`] saw an answer
/// (the server answered, either way), the change counts as unsettled: lanes stay unused
/// until the primary's session version moves.
pub struct SessionChange<'a, O: Sinks> {
    shared: &'a Shared<O>,
    settled: AtomicBool,
}

impl<O: Sinks> Drop for SessionChange<'_, O> {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::SeqCst) {
            let version = self.shared.primary_version.load(Ordering::SeqCst);
            self.shared.unsettled_at.store(version, Ordering::SeqCst);
        }
        self.shared.session_changes.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<O: Sinks> Picked<'_, O> {
    /// Takes note of the request's outcome: when the server answered (a result or a server
    /// error), a session change's outcome is known. A timeout, a lost connection or a
    /// dropped future leaves it unsettled.
    pub fn settle<T>(&self, outcome: &Result<T, Error>) {
        if let (Picked::Session(_, change), Ok(_) | Err(Error::Server(_))) = (self, outcome) {
            change.settled.store(true, Ordering::SeqCst);
        }
    }
}

impl<O: Sinks> Lanes<O> {
    /// Opens the primary connection ([`WsConn::connect`]); lanes come later, when needed.
    pub fn connect(
        endpoint: Endpoint,
        options: &Options,
        thread_name: &str,
    ) -> Result<Lanes<O>, Error> {
        let primary = Arc::new(WsConn::connect(endpoint.clone(), options, thread_name)?);
        let max = options.ws_connections.max(1);
        Ok(Lanes {
            shared: Arc::new(Shared {
                set: RwLock::new(Set {
                    lanes: Vec::new(),
                    retired: Vec::new(),
                    opening: None,
                    policy: LanePolicy::new(max),
                    closed: false,
                }),
                session_changes: AtomicUsize::new(0),
                primary_version: primary.shared.session_version.clone(),
                unsettled_at: AtomicU64::new(NOT_UNSETTLED),
                endpoint,
                options: options.clone().reconnect(false),
                thread_name: format!("{thread_name}-lane"),
            }),
            primary,
            max,
        })
    }

    /// The primary connection (live queries, streams, listeners, session state).
    pub fn primary(&self) -> &WsConn<O> {
        &self.primary
    }

    /// The primary connection, shared.
    pub fn primary_shared(&self) -> &Arc<WsConn<O>> {
        &self.primary
    }

    /// How many usable lanes are open now (the primary not counted).
    pub fn lane_count(&self) -> usize {
        let version = self.primary.session_version();
        self.shared
            .set
            .read()
            .map_or(0, |s| s.lanes.iter().filter(|l| l.usable(version)).count())
    }

    /// Where `req` goes: see the module docs. Hold the result until the answer is taken.
    pub fn pick(&self, req: &Request) -> Picked<'_, O> {
        if self.max == 1 {
            return Picked::Primary(&self.primary);
        }
        if changes_session(req.method) {
            return Picked::Session(&self.primary, self.begin_session_change());
        }
        let primary_load = self.primary.in_flight();
        if primary_load == 0
            || self.shared.session_changes.load(Ordering::SeqCst) > 0
            || self.shared.unsettled()
            || route(req) != Route::Any
        {
            return Picked::Primary(&self.primary);
        }
        let version = self.primary.session_version();
        let Ok(set) = self.shared.set.read() else {
            return Picked::Primary(&self.primary);
        };
        // One pass: the primary (`None`) and each usable lane, counted as they go by.
        let mut open = 1;
        let candidates = std::iter::once(None).chain(
            set.lanes
                .iter()
                .filter(|l| l.usable(version))
                .inspect(|_| open += 1)
                .map(Some),
        );
        let (_, lane, load) = least_loaded_by(candidates, |c| {
            c.map_or(primary_load, |l| l.conn.in_flight())
        })
        .unwrap_or((0, None, primary_load));
        let lane = lane.cloned();
        let stale = open < 1 + set.lanes.len();
        // The clock is read only while a lane could still be opened.
        let wants = load > 0
            && open < self.max
            && !set.closed
            && !set.policy.is_opening()
            && set.policy.wants_lane(open, load, Instant::now());
        drop(set);
        if stale {
            self.retire(|l, version| !l.usable(version));
        }
        if wants {
            self.open_lane();
        }
        match lane {
            Some(lane) => Picked::Lane(lane),
            None => Picked::Primary(&self.primary),
        }
    }

    /// Takes the lanes `which` selects out of use; `which` is given the primary's session
    /// version read under the lock (a lane that joined since the caller looked is current).
    fn retire(&self, which: impl Fn(&Lane<O>, u64) -> bool) {
        let gone = match self.shared.set.write() {
            Ok(mut set) => {
                let version = self.shared.primary_version.load(Ordering::SeqCst);
                set.retire(|l| which(l, version))
            }
            Err(_) => Vec::new(),
        };
        // Each closes once its last caller lets go of it (`WsConn`'s drop), outside the lock.
        drop(gone);
    }

    fn begin_session_change(&self) -> SessionChange<'_, O> {
        self.shared.session_changes.fetch_add(1, Ordering::SeqCst);
        self.retire(|_, _| true);
        SessionChange {
            shared: &self.shared,
            settled: AtomicBool::new(false),
        }
    }

    /// Starts opening a lane on a background thread, if the policy still wants one.
    fn open_lane(&self) {
        {
            let Ok(mut set) = self.shared.set.write() else {
                return;
            };
            let open = 1 + set.lanes.len();
            // Checked again under the write lock: only one caller starts it.
            if set.closed || !set.policy.begin_open(open, 1, Instant::now()) {
                return;
            }
        }
        let shared = self.shared.clone();
        // Weak: an opener must not keep a dropped client's primary open.
        let primary = Arc::downgrade(&self.primary);
        let spawned = thread::Builder::new()
            .name(self.shared.thread_name.clone())
            .spawn(move || Shared::open_lane(&shared, primary));
        if spawned.is_err() {
            self.shared.opened(None);
        }
    }

    /// Closes every connection now: everything waiting fails with `Error::Closed`.
    pub fn close(&self) {
        self.primary.close();
        self.close_lanes();
    }

    /// Closes every lane (open, retired, being opened); returns the open ones.
    fn close_lanes(&self) -> Vec<Arc<Lane<O>>> {
        let (lanes, others) = match self.shared.set.write() {
            Ok(mut set) => {
                set.closed = true;
                let lanes = std::mem::take(&mut set.lanes);
                let mut others: Vec<_> =
                    set.retired.drain(..).filter_map(|w| w.upgrade()).collect();
                others.extend(set.opening.take());
                (lanes, others)
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        for lane in lanes.iter().chain(&others) {
            lane.conn.close();
        }
        lanes
    }

    /// [`Lanes::close`], then waits for the IO thread of each connection nobody else holds
    /// to end (for a blocking client: the close frames have then been written). A lane still
    /// being opened is closed and not waited for: its thread ends by itself within the
    /// connect timeout.
    pub fn close_and_join(&mut self) {
        self.primary.close();
        for lane in self.close_lanes() {
            // A lane still held elsewhere was closed and ends by itself.
            if let Ok(mut lane) = Arc::try_unwrap(lane) {
                lane.conn.close_and_join();
            }
        }
        if let Some(primary) = Arc::get_mut(&mut self.primary) {
            primary.close_and_join();
        }
    }
}

impl<O: Sinks> Drop for Lanes<O> {
    fn drop(&mut self) {
        // The lanes close now; the primary when its last holder lets go (`WsConn`'s drop).
        self.close_lanes();
    }
}

impl<O: Sinks> Shared<O> {
    /// Whether a session change ended without an answer and the primary's session version
    /// has not moved since (then it is cleared).
    fn unsettled(&self) -> bool {
        let at = self.unsettled_at.load(Ordering::SeqCst);
        if at == NOT_UNSETTLED {
            return false;
        }
        if self.primary_version.load(Ordering::SeqCst) == at {
            return true;
        }
        // Moved: the late answer landed, or another change was answered since. Lanes copy
        // (and are checked against) the version from here on.
        let _ = self.unsettled_at.compare_exchange(
            at,
            NOT_UNSETTLED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        false
    }

    /// The opener thread: copies the primary's session (with its version), opens a lane
    /// from it and offers it to the set.
    fn open_lane(self: &Arc<Self>, primary: Weak<WsConn<O>>) {
        let copied = primary.upgrade().map(|p| p.session_state_versioned(None));
        match copied {
            Some(Ok((seed, version)))
                if self.session_changes.load(Ordering::SeqCst) == 0 && !self.unsettled() =>
            {
                let lane = self.connect_lane(seed, version, Arc::downgrade(self));
                self.opened(lane);
            }
            // The session is changing, or the client is gone: not now.
            _ => {
                if let Ok(mut set) = self.set.write() {
                    set.policy.abandon();
                }
            }
        }
    }

    /// Opens a lane from `seed` and waits until its replay is over; `None` if either
    /// failed (or the client closed meanwhile).
    fn connect_lane(
        &self,
        seed: surql::session::SessionState,
        version: u64,
        me: Weak<Shared<O>>,
    ) -> Option<Lane<O>> {
        let (ready_tx, ready) = mpsc::channel();
        let mut ready_tx = Some(ready_tx);
        let replays = !seed.replay_requests().is_empty();
        let dead = Arc::new(AtomicBool::new(false));
        let died = dead.clone();
        // Kept for the lane's whole life: its first outcome tells the opener; a lost socket,
        // a failed replay or a close makes it unusable, and a lane that dies after it opened
        // pauses the next attempt (a close is the client's own doing and does not).
        let listener = Box::new(move |event: &ConnectionEvent| {
            let ok = match event {
                ConnectionEvent::Reconnected => true,
                ConnectionEvent::ReplayFailed { .. }
                | ConnectionEvent::Disconnected(_)
                | ConnectionEvent::Closed => false,
                _ => return true,
            };
            if !ok {
                died.store(true, Ordering::SeqCst);
            }
            match ready_tx.take() {
                // The opener may have given up waiting.
                Some(tx) => drop(tx.send(ok)),
                None if !matches!(event, ConnectionEvent::Closed) => {
                    if let Some(shared) = me.upgrade() {
                        if let Ok(mut set) = shared.set.write() {
                            set.policy.died(Instant::now());
                        }
                    }
                }
                None => {}
            }
            ok
        });
        let conn = WsConn::connect_seeded(
            self.endpoint.clone(),
            &self.options,
            &self.thread_name,
            Some(seed),
            Some(listener),
        )
        .ok()?;
        let lane = Arc::new(Lane {
            conn,
            version,
            dead,
        });
        {
            let mut set = self.set.write().ok()?;
            if set.closed {
                return None;
            }
            set.opening = Some(lane.clone());
        }
        // Bounded: the replay's requests time out by the request timeout, and a close of
        // the client closes this connection too (a `Closed` event).
        let ready = !replays
            || ready
                .recv_timeout(lane.conn.wait_limit().min(OPEN_WAIT_CAP))
                .unwrap_or(false);
        drop(lane);
        // Taken back from the set (`None`: the client closed it meanwhile).
        let lane = self.set.write().ok()?.opening.take()?;
        let lane = Arc::try_unwrap(lane).ok()?;
        (ready && !lane.dead.load(Ordering::SeqCst)).then_some(lane)
    }

    /// A lane opened (`Some`) or failed to: it joins if it copied the session as it still
    /// is and the client is open; the policy learns the outcome either way.
    fn opened(&self, lane: Option<Lane<O>>) {
        let Ok(mut set) = self.set.write() else {
            return;
        };
        set.policy.opened(lane.is_some(), Instant::now());
        let version = self.primary_version.load(Ordering::SeqCst);
        let current = self.session_changes.load(Ordering::SeqCst) == 0 && !self.unsettled();
        let stale = match lane {
            Some(lane) if current && !set.closed && lane.usable(version) => {
                set.lanes.push(Arc::new(lane));
                None
            }
            other => other,
        };
        drop(set);
        // A lane that may not join closes here (its drop), outside the lock.
        drop(stale);
    }
}
