//! The reappearance watch list the pipeline checks every event against
//! ([`rampart_contain::reappear`]): built in memory from the store's active actions, their
//! incidents' entities and the fingerprints of blocked addresses, and swapped atomically, so
//! the per-event path never queries the store. [`maintain`] rebuilds it periodically (changes
//! made on other nodes, expiries); whoever changes an action on this node calls
//! [`WatchHandle::rebuild`] before answering, so an action is watched once it is acknowledged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use rampart_contain::reappear::{Fingerprint, Watch, WatchInput};
use rampart_model::{Action, ActionKind, ActionStatus, Entity};
use rampart_store::{EventQuery, Store, StoreError};

/// Most events of a blocked address read for its fingerprints, and most fingerprints kept.
const FINGERPRINT_EVENTS: u32 = 1000;
const MAX_FINGERPRINTS: usize = 100;

/// The current watch, and what rebuilding it keeps between runs.
#[derive(Default)]
pub struct WatchHandle {
    current: ArcSwap<Watch>,
    /// What the watch is built from; the lock also makes rebuilds one at a time, so an older
    /// rebuild never replaces a newer one.
    state: tokio::sync::Mutex<WatchState>,
}

/// The active actions, their incidents' entities and the fingerprints of blocked addresses
/// (read once per action), kept so one action's change rebuilds from memory.
#[derive(Default)]
struct WatchState {
    actions: BTreeMap<i64, Action>,
    incidents: BTreeMap<i64, Vec<Entity>>,
    fingerprints: HashMap<i64, Vec<Fingerprint>>,
    /// The store's action signature at the last full rebuild.
    signature: Option<(i64, i64)>,
}

impl WatchState {
    /// Read what the held actions need and is not cached yet.
    async fn fill(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let live: HashSet<i64> = self.actions.keys().copied().collect();
        self.fingerprints.retain(|id, _| live.contains(id));
        let wanted: HashSet<i64> = self
            .actions
            .values()
            .filter_map(|a| a.action.incident_id)
            .collect();
        self.incidents.retain(|id, _| wanted.contains(id));
        for id in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.incidents.entry(id) {
                let entities = store
                    .get_incident(id)
                    .await?
                    .map(|d| d.incident.entities)
                    .unwrap_or_default();
                slot.insert(entities);
            }
        }
        for a in self.actions.values() {
            if a.action.kind == ActionKind::BlockIp && !self.fingerprints.contains_key(&a.id) {
                let fps = fingerprints(store, &a.action.target).await?;
                self.fingerprints.insert(a.id, fps);
            }
        }
        Ok(())
    }

    fn build(&self) -> Watch {
        let inputs: Vec<WatchInput<'_>> = self
            .actions
            .values()
            .map(|a| WatchInput {
                action: a,
                incident_entities: a
                    .action
                    .incident_id
                    .and_then(|i| self.incidents.get(&i))
                    .map_or(&[], Vec::as_slice),
                fingerprints: self.fingerprints.get(&a.id).map_or(&[], Vec::as_slice),
            })
            .collect();
        Watch::build(&inputs)
    }
}

impl WatchHandle {
    /// The current watch (one atomic load).
    pub fn load(&self) -> arc_swap::Guard<Arc<Watch>> {
        self.current.load()
    }

    /// Rebuild from the store (every active action, every incident's entities read again)
    /// and swap it in; returns the number of entries watched.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut st = self.state.lock().await;
        let signature = store.actions_signature().await?;
        st.actions = store
            .active_actions()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        st.incidents.clear();
        st.fill(store).await?;
        st.signature = Some(signature);
        let watch = st.build();
        let n = watch.len();
        self.current.store(Arc::new(watch));
        Ok(n)
    }

    /// Apply actions this node just changed (as they are now) without reading the others
    /// again; returns the number of entries watched.
    pub async fn apply(&self, store: &dyn Store, changed: &[Action]) -> Result<usize, StoreError> {
        let mut st = self.state.lock().await;
        for a in changed {
            if a.status() == ActionStatus::Active {
                st.actions.insert(a.id, a.clone());
            } else {
                st.actions.remove(&a.id);
            }
        }
        st.fill(store).await?;
        let watch = st.build();
        let n = watch.len();
        self.current.store(Arc::new(watch));
        Ok(n)
    }

    /// Catch up when the store's action signature moved since the last look (another node
    /// or process changed an action, or one expired): apply the actions changed since the
    /// last change seen; a full rebuild when the counts then disagree, or when `force`.
    pub async fn sync(&self, store: &dyn Store, force: bool) -> Result<bool, StoreError> {
        let now = store.actions_signature().await?;
        let seen = self.state.lock().await.signature;
        if force || seen.is_none() {
            self.rebuild(store).await?;
            return Ok(true);
        }
        let Some(seen) = seen.filter(|s| *s != now) else {
            return Ok(false);
        };
        // a change stamped by a node whose clock is a little behind is still read
        let since = rampart_model::Timestamp(seen.1 - 2_000);
        let mut changed = Vec::new();
        for kind in ActionKind::ALL {
            changed.extend(store.actions_changed_since(*kind, since).await?);
        }
        self.apply(store, &changed).await?;
        let mut st = self.state.lock().await;
        if st.actions.len() as i64 != now.0 {
            drop(st);
            self.rebuild(store).await?;
        } else {
            st.signature = Some(now);
        }
        Ok(true)
    }
}

/// The user agents a blocked address came with, each with its principal or API key (an
/// address range has none: events are stored by address).
async fn fingerprints(store: &dyn Store, target: &str) -> Result<Vec<Fingerprint>, StoreError> {
    if target.contains('/') {
        return Ok(Vec::new());
    }
    let events = store
        .list_events(&EventQuery {
            client_ip: Some(target.to_string()),
            limit: Some(FINGERPRINT_EVENTS),
            ..EventQuery::default()
        })
        .await?;
    let mut out: Vec<Fingerprint> = Vec::new();
    for e in events {
        let ev = e.event;
        if ev.user_agent.is_empty() || (ev.principal.is_none() && ev.api_key_id.is_none()) {
            continue;
        }
        let fp = Fingerprint {
            user_agent: ev.user_agent.into_owned(),
            principal: ev.principal.map(|p| p.into_owned()),
            api_key: ev.api_key_id,
        };
        if !out.contains(&fp) {
            out.push(fp);
            if out.len() >= MAX_FINGERPRINTS {
                break;
            }
        }
    }
    Ok(out)
}

/// Rebuild `handle` every `interval` until `stop` changes (the first right away).
pub async fn maintain(
    handle: Arc<WatchHandle>,
    store: Arc<dyn Store>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Every tick a cheap signature check; a full rebuild when it moved, and every 300 ticks
    // anyway (incidents gain entities without any action changing).
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = handle.sync(&*store, n.is_multiple_of(300)).await {
            tracing::warn!(error = %e, "rebuilding the reappearance watch failed");
        }
        n += 1;
    }
}
