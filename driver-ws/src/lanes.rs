//! A client's WebSocket connections: the primary and its lanes (the rules are the core's,
//! [`surql::lanes`]; this is their IO).
//!
//! Callers ask [`Lanes::pick`] where a request goes. While the primary has nobody waiting,
//! it is the primary, at the cost of one atomic load. When callers overlap, a request that
//! may go anywhere takes the least loaded connection, and a lane is opened on a background
//! thread (the caller that asked does not wait for it): TCP, TLS, upgrade, then the replay of
//! a copy of the primary's default session. A lane joins only once its replay succeeded and
//! if the session did not change meanwhile. A session change retires every lane before it is
//! sent: a retired lane takes no new request, answers the ones it has and closes when its
//! last caller lets go of it. A lane's own events (a reconnect, a replay) are its own; the
//! client's events are the primary's.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::thread;
use std::time::Instant;

use surql::endpoint::Endpoint;
use surql::lanes::{changes_session, least_loaded, route, LanePolicy, Route};
use surql::mux::ConnectionEvent;
use surql::rpc::Request;
use surql::session::SessionState;
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
    /// Bumped when a session change starts and when it ends: a lane whose copy of the
    /// session is older does not join.
    generation: AtomicU64,
    endpoint: Endpoint,
    options: Options,
    thread_name: String,
}

struct Set<O: Sinks> {
    lanes: Vec<Arc<WsConn<O>>>,
    /// The lane being opened, so that closing the client closes it too.
    opening: Option<Arc<WsConn<O>>>,
    policy: LanePolicy,
    closed: bool,
}

/// The connection a request goes to (see [`Lanes::pick`]); derefs to it.
pub enum Lane<'a, O: Sinks> {
    /// The primary.
    Primary(&'a WsConn<O>),
    /// A lane, held until the answer is taken.
    Extra(Arc<WsConn<O>>),
    /// The primary, for a session change: lanes are retired until it is dropped.
    Session(&'a WsConn<O>, SessionChange<'a, O>),
}

impl<O: Sinks> Deref for Lane<'_, O> {
    type Target = WsConn<O>;

    fn deref(&self) -> &WsConn<O> {
        match self {
            Lane::Primary(c) | Lane::Session(c, _) => c,
            Lane::Extra(c) => c,
        }
    }
}

/// A session change in progress; dropping it (once the answer is taken) lets lanes open
/// again, from the session as it now is.
pub struct SessionChange<'a, O: Sinks>(&'a Shared<O>);

impl<O: Sinks> Drop for SessionChange<'_, O> {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.session_changes.fetch_sub(1, Ordering::SeqCst);
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
            primary,
            max,
            shared: Arc::new(Shared {
                set: RwLock::new(Set {
                    lanes: Vec::new(),
                    opening: None,
                    policy: LanePolicy::new(max),
                    closed: false,
                }),
                session_changes: AtomicUsize::new(0),
                generation: AtomicU64::new(0),
                endpoint,
                options: options.clone(),
                thread_name: format!("{thread_name}-lane"),
            }),
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

    /// How many lanes are open now (the primary not counted).
    pub fn lane_count(&self) -> usize {
        self.shared.set.read().map_or(0, |s| s.lanes.len())
    }

    /// Where `req` goes: see the module docs. Hold the result until the answer is taken.
    pub fn pick(&self, req: &Request) -> Lane<'_, O> {
        if self.max == 1 {
            return Lane::Primary(&self.primary);
        }
        if changes_session(req.method) {
            return Lane::Session(&self.primary, self.begin_session_change());
        }
        let primary_load = self.primary.in_flight();
        if primary_load == 0
            || self.shared.session_changes.load(Ordering::SeqCst) > 0
            || route(req) != Route::Any
        {
            return Lane::Primary(&self.primary);
        }
        let Ok(set) = self.shared.set.read() else {
            return Lane::Primary(&self.primary);
        };
        let loads = std::iter::once(primary_load).chain(set.lanes.iter().map(|l| l.in_flight()));
        let (index, load) = least_loaded(loads);
        let open = set.lanes.len() + 1;
        let lane = index.checked_sub(1).map(|i| set.lanes[i].clone());
        // The clock is read only while a lane could still be opened.
        let wants = load > 0
            && open < self.max
            && !set.closed
            && !set.policy.is_opening()
            && set.policy.wants_lane(open, load, Instant::now());
        drop(set);
        if wants {
            self.open_lane();
        }
        match lane {
            Some(lane) => Lane::Extra(lane),
            None => Lane::Primary(&self.primary),
        }
    }

    fn begin_session_change(&self) -> SessionChange<'_, O> {
        self.shared.session_changes.fetch_add(1, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        let retired = match self.shared.set.write() {
            Ok(mut set) => std::mem::take(&mut set.lanes),
            Err(_) => Vec::new(),
        };
        // Each closes once its last caller lets go of it (`WsConn`'s drop).
        drop(retired);
        SessionChange(&self.shared)
    }

    /// Starts opening a lane on a background thread, if the policy still wants one.
    fn open_lane(&self) {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        {
            let Ok(mut set) = self.shared.set.write() else {
                return;
            };
            let open = set.lanes.len() + 1;
            // Checked again under the write lock: only one caller starts it.
            if set.closed || !set.policy.begin_open(open, 1, Instant::now()) {
                return;
            }
        }
        let seed = match self.primary.session_state(None) {
            Ok(seed) if self.shared.session_changes.load(Ordering::SeqCst) == 0 => seed,
            // The session is changing (or the client closed): not now.
            _ => return self.shared.abandon(),
        };
        let shared = self.shared.clone();
        let spawned = thread::Builder::new()
            .name(self.shared.thread_name.clone())
            .spawn(move || {
                let lane = shared.connect_lane(seed);
                shared.opened(lane, generation);
            });
        if spawned.is_err() {
            self.shared.opened(None, generation);
        }
    }

    /// Closes every connection now: everything waiting fails with `Error::Closed`.
    pub fn close(&self) {
        self.primary.close();
        self.close_lanes();
    }

    fn close_lanes(&self) {
        let (lanes, opening) = match self.shared.set.write() {
            Ok(mut set) => {
                set.closed = true;
                (std::mem::take(&mut set.lanes), set.opening.take())
            }
            Err(_) => (Vec::new(), None),
        };
        for lane in lanes.iter().chain(&opening) {
            lane.close();
        }
    }

    /// [`Lanes::close`], then waits for each IO thread that nobody else holds to end (for
    /// a blocking client: the close frames have then been written).
    pub fn close_and_join(&mut self) {
        let lanes = match self.shared.set.write() {
            Ok(mut set) => std::mem::take(&mut set.lanes),
            Err(_) => Vec::new(),
        };
        self.close();
        for lane in lanes {
            // A lane still held elsewhere was closed above and ends by itself.
            if let Ok(mut conn) = Arc::try_unwrap(lane) {
                conn.close_and_join();
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
    /// Opens a lane from `seed` and waits until its replay is over; `None` if either
    /// failed (or the client closed meanwhile).
    fn connect_lane(&self, seed: SessionState) -> Option<WsConn<O>> {
        let (ready_tx, ready) = mpsc::channel();
        let replays = !seed.replay_requests().is_empty();
        let listener = Box::new(move |event: &ConnectionEvent| {
            let outcome = match event {
                ConnectionEvent::Reconnected => true,
                ConnectionEvent::ReplayFailed { .. }
                | ConnectionEvent::Disconnected(_)
                | ConnectionEvent::Closed => false,
                _ => return true,
            };
            // The opener may have given up waiting.
            let _ = ready_tx.send(outcome);
            false
        });
        let conn = WsConn::connect_seeded(
            self.endpoint.clone(),
            &self.options,
            &self.thread_name,
            Some(seed),
            Some(listener),
        )
        .ok()?;
        let conn = Arc::new(conn);
        {
            let mut set = self.set.write().ok()?;
            if set.closed {
                return None;
            }
            set.opening = Some(conn.clone());
        }
        // Bounded: the replay's requests time out by the request timeout, and a close of
        // the client closes this connection too (a `Closed` event).
        let ready = !replays || ready.recv_timeout(conn.wait_limit()).unwrap_or(false);
        drop(conn);
        // Taken back from the set (`None`: the client closed it meanwhile).
        let conn = self.set.write().ok()?.opening.take()?;
        let conn = Arc::try_unwrap(conn).ok()?;
        ready.then_some(conn)
    }

    fn abandon(&self) {
        if let Ok(mut set) = self.set.write() {
            set.policy.abandon();
        }
    }

    /// A lane opened (`Some`) or failed to: it joins if the session is still the one it
    /// copied and the client is open; the policy learns the outcome either way.
    fn opened(&self, lane: Option<WsConn<O>>, generation: u64) {
        let Ok(mut set) = self.set.write() else {
            return;
        };
        set.policy.opened(lane.is_some(), Instant::now());
        let current = self.generation.load(Ordering::SeqCst) == generation
            && self.session_changes.load(Ordering::SeqCst) == 0;
        let stale = match lane {
            Some(lane) if current && !set.closed => {
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
