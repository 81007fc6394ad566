//! The requests on the socket, by id and by deadline.
//!
//! A driver asks for the next deadline (`poll_timeout`) and fires the due ones
//! (`handle_timeout`) around every answer. Scanning every request for that made each answer
//! cost time in proportion to how many others were in flight (~4 ns each, measured: with
//! 1,024 in flight an answer cost ~10× what it costs alone). The deadlines are kept in order
//! instead, so both look at the front.
//!
//! Every deadline is "now + the request timeout", and the clock only moves forward, so a new
//! deadline is almost always the latest: it is appended to a queue in O(1). (One that is not,
//! which only a clock going backwards or a changed timeout could give, is put in its place.)
//! Removing an entry leaves its queue slot behind, stale; stale slots are dropped when they
//! reach the front, and the queue is compacted when they outnumber the live ones, so it
//! never holds more than about twice the entries in flight.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

/// Hashes a request id (a counter this client assigns) with one multiplication. Ids are
/// never chosen by the peer: a server's answer only looks one up, so there is no input that
/// could pile entries into one bucket. (Also the mux's maps of request ids.)
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for ids; anything else still hashes every byte.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads consecutive ids over the high bits hashbrown uses too.
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map from request id to `T` that also keeps the entries' deadlines in order.
#[derive(Debug)]
pub(super) struct InFlightSet<T> {
    /// The value, its deadline and the ticket of its queue slot.
    by_id: HashMap<u64, (T, Option<Instant>, u64), BuildHasherDefault<IdHasher>>,
    /// Slots in deadline order, possibly stale (their id left, or was timed again under a
    /// newer ticket); the front slot is never stale.
    by_deadline: VecDeque<Slot>,
    /// How many slots of `by_deadline` are live (entries with a deadline).
    timed: usize,
    /// The next slot's ticket.
    tickets: u64,
}

/// A deadline in the queue: for `id`, valid while `id`'s entry holds `ticket`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: Instant,
    id: u64,
    ticket: u64,
}

impl<T> Default for InFlightSet<T> {
    fn default() -> Self {
        InFlightSet {
            by_id: HashMap::default(),
            by_deadline: VecDeque::new(),
            timed: 0,
            tickets: 0,
        }
    }
}

impl<T> InFlightSet<T> {
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    pub(super) fn get(&self, id: u64) -> Option<&T> {
        self.by_id.get(&id).map(|(t, _, _)| t)
    }

    /// Whether a queue slot still stands for its id's deadline.
    fn is_live(&self, slot: &Slot) -> bool {
        self.by_id
            .get(&slot.id)
            .is_some_and(|&(_, _, ticket)| ticket == slot.ticket)
    }

    /// Adds `id` (replacing an entry of the same id, deadline included).
    pub(super) fn insert(&mut self, id: u64, value: T, deadline: Option<Instant>) {
        let ticket = self.time(id, deadline);
        if let Some((_, old, _)) = self.by_id.insert(id, (value, deadline, ticket)) {
            self.untime(old);
        }
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<T> {
        let (value, deadline, _) = self.by_id.remove(&id)?;
        self.untime(deadline);
        Some(value)
    }

    /// Moves `id`'s deadline (nothing if `id` is not in the set).
    pub(super) fn set_deadline(&mut self, id: u64, deadline: Option<Instant>) {
        if !self.by_id.contains_key(&id) {
            return;
        }
        let ticket = self.time(id, deadline);
        if let Some((_, slot, t)) = self.by_id.get_mut(&id) {
            let old = std::mem::replace(slot, deadline);
            *t = ticket;
            self.untime(old);
        }
    }

    /// Queues a slot for `id`'s new deadline and returns its ticket, which the caller
    /// stores in `id`'s entry (making any older slot of `id` stale).
    fn time(&mut self, id: u64, deadline: Option<Instant>) -> u64 {
        self.tickets += 1;
        let ticket = self.tickets;
        let Some(at) = deadline else {
            return ticket;
        };
        self.timed += 1;
        let slot = Slot { at, id, ticket };
        match self.by_deadline.back() {
            Some(last) if last.at > at => {
                // Earlier than the latest: a clock that went back, or a shorter timeout.
                let pos = self.by_deadline.partition_point(|s| s.at <= at);
                self.by_deadline.insert(pos, slot);
            }
            _ => self.by_deadline.push_back(slot),
        }
        ticket
    }

    /// One live slot went stale (its entry left or its deadline moved): keeps the front
    /// live and the queue at most about twice the live slots.
    fn untime(&mut self, old: Option<Instant>) {
        if old.is_none() {
            return;
        }
        self.timed -= 1;
        while let Some(front) = self.by_deadline.front() {
            if self.is_live(front) {
                break;
            }
            self.by_deadline.pop_front();
        }
        if self.by_deadline.len() > 2 * self.timed + 32 {
            let mut q = std::mem::take(&mut self.by_deadline);
            q.retain(|slot| self.is_live(slot));
            self.by_deadline = q;
        }
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.front().map(|s| s.at)
    }

    /// The ids whose deadline is at or before `now`, in ascending id order.
    pub(super) fn due(&self, now: Instant) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .by_deadline
            .iter()
            .take_while(|s| s.at <= now)
            .filter(|s| self.is_live(s))
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Every id, in ascending order.
    pub(super) fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.by_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.by_id.iter().map(|(&id, (t, _, _))| (id, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_follow_inserts_removals_and_moves() {
        let t0 = Instant::now();
        let at = |s: u64| Some(t0 + Duration::from_secs(s));
        let mut set = InFlightSet::default();
        assert_eq!(set.next_deadline(), None);
        set.insert(1, "a", at(30));
        set.insert(2, "b", at(10));
        set.insert(3, "c", None);
        set.insert(4, "d", at(20));
        assert_eq!(set.len(), 4);
        assert_eq!(set.next_deadline(), at(10));
        assert_eq!(set.due(t0 + Duration::from_secs(25)), vec![2, 4]);
        assert!(set.due(t0).is_empty());

        assert_eq!(set.remove(2), Some("b"));
        assert_eq!(set.remove(2), None);
        assert_eq!(set.next_deadline(), at(20));

        // A stream's frame moves its deadline later; a move to "never" drops it.
        set.set_deadline(4, at(40));
        assert_eq!(set.next_deadline(), at(30));
        set.set_deadline(1, None);
        assert_eq!(set.next_deadline(), at(40));
        set.set_deadline(99, at(1)); // not in the set: nothing
        assert_eq!(set.next_deadline(), at(40));

        // Replacing an id replaces its deadline too.
        set.insert(4, "e", at(5));
        assert_eq!(set.get(4), Some(&"e"));
        assert_eq!(set.next_deadline(), at(5));
        assert_eq!(set.due(t0 + Duration::from_secs(100)), vec![4]);

        assert_eq!(set.ids(), vec![1, 3, 4]);
        assert!(set.contains(3));
        for id in set.ids() {
            set.remove(id);
        }
        assert!(set.is_empty());
        assert_eq!(set.next_deadline(), None);
        assert!(set.by_deadline.is_empty());
        assert_eq!(set.timed, 0);
    }

    #[test]
    fn equal_deadlines_are_all_kept() {
        let t0 = Instant::now();
        let mut set = InFlightSet::default();
        for id in 0..100 {
            set.insert(id, (), Some(t0));
        }
        assert_eq!(set.due(t0).len(), 100);
        set.remove(50);
        assert_eq!(set.due(t0).len(), 99);
        assert_eq!(set.next_deadline(), Some(t0));
    }
}

#[cfg(test)]
mod model {
    //! The set against a plain model (a map scanned in full) over random operations, with
    //! clocks that mostly move forward and sometimes go back.
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn agrees_with_a_scanned_map() {
        let t0 = Instant::now();
        for seed in 1..=16u64 {
            let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
            let mut set = InFlightSet::default();
            let mut model: BTreeMap<u64, Option<Instant>> = BTreeMap::new();
            let mut clock = 1_000u64;
            let mut next_id = 0u64;
            for _ in 0..3_000 {
                // Mostly forward; one step in 20 goes back.
                if rng.below(20) == 0 {
                    clock = clock.saturating_sub(rng.below(50));
                } else {
                    clock += rng.below(5);
                }
                let deadline = (rng.below(10) != 0)
                    .then(|| t0 + Duration::from_millis(clock + 30 + rng.below(3)));
                let live: Vec<u64> = model.keys().copied().collect();
                let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize];
                match rng.below(10) {
                    0..=3 => {
                        set.insert(next_id, (), deadline);
                        model.insert(next_id, deadline);
                        next_id += 1;
                    }
                    4..=6 if !live.is_empty() => {
                        let id = pick(&mut rng);
                        assert_eq!(set.remove(id), Some(()));
                        model.remove(&id);
                    }
                    7 if !live.is_empty() => {
                        let id = pick(&mut rng);
                        set.set_deadline(id, deadline);
                        model.insert(id, deadline);
                    }
                    8 if !live.is_empty() => {
                        // Replacing an existing id.
                        let id = pick(&mut rng);
                        set.insert(id, (), deadline);
                        model.insert(id, deadline);
                    }
                    _ => {
                        let now = t0 + Duration::from_millis(clock + 30);
                        let want: Vec<u64> = model
                            .iter()
                            .filter(|(_, d)| d.is_some_and(|d| d <= now))
                            .map(|(&id, _)| id)
                            .collect();
                        assert_eq!(set.due(now), want, "seed {seed}");
                    }
                }
                assert_eq!(
                    set.next_deadline(),
                    model.values().flatten().min().copied(),
                    "seed {seed}"
                );
                assert_eq!(set.len(), model.len());
                assert_eq!(set.timed, model.values().flatten().count());
                assert!(
                    set.by_deadline.len() <= 2 * set.timed + 33,
                    "the queue stays compact"
                );
            }
        }
    }
}
