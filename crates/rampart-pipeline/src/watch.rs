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
use rampart_model::{Action, ActionFilter, ActionKind, ActionStatus, Entity};
use rampart_store::{EventQuery, Store, StoreError};

/// Most events of a blocked address read for its fingerprints, and most fingerprints kept.
const FINGERPRINT_EVENTS: u32 = 1000;
const MAX_FINGERPRINTS: usize = 100;

/// The current watch, and what rebuilding it keeps between runs.
#[derive(Default)]
pub struct WatchHandle {
    current: ArcSwap<Watch>,
    /// Fingerprints by `block_ip` action id (read once per action); the lock also makes
    /// rebuilds one at a time, so an older rebuild never replaces a newer one.
    fingerprints: tokio::sync::Mutex<HashMap<i64, Vec<Fingerprint>>>,
}

impl WatchHandle {
    /// The current watch (one atomic load).
    pub fn load(&self) -> arc_swap::Guard<Arc<Watch>> {
        self.current.load()
    }

    /// Rebuild from the store and swap it in; returns the number of entries watched.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut cache = self.fingerprints.lock().await;
        let actions = active_actions(store).await?;
        let mut incidents: BTreeMap<i64, Vec<Entity>> = BTreeMap::new();
        for id in actions.iter().filter_map(|a| a.action.incident_id) {
            if incidents.contains_key(&id) {
                continue;
            }
            let entities = store
                .get_incident(id)
                .await?
                .map(|d| d.incident.entities)
                .unwrap_or_default();
            incidents.insert(id, entities);
        }
        let live: HashSet<i64> = actions.iter().map(|a| a.id).collect();
        cache.retain(|id, _| live.contains(id));
        for a in &actions {
            if a.action.kind == ActionKind::BlockIp && !cache.contains_key(&a.id) {
                cache.insert(a.id, fingerprints(store, &a.action.target).await?);
            }
        }
        let inputs: Vec<WatchInput<'_>> = actions
            .iter()
            .map(|a| WatchInput {
                action: a,
                incident_entities: a
                    .action
                    .incident_id
                    .and_then(|i| incidents.get(&i))
                    .map_or(&[], Vec::as_slice),
                fingerprints: cache.get(&a.id).map_or(&[], Vec::as_slice),
            })
            .collect();
        let watch = Watch::build(&inputs);
        let n = watch.len();
        self.current.store(Arc::new(watch));
        Ok(n)
    }
}

async fn active_actions(store: &dyn Store) -> Result<Vec<Action>, StoreError> {
    let mut out = Vec::new();
    loop {
        let page = store
            .list_actions(&ActionFilter {
                status: Some(ActionStatus::Active),
                limit: Some(1000),
                offset: Some(out.len() as u32),
                ..ActionFilter::default()
            })
            .await?;
        let got = page.items.len();
        out.extend(page.items);
        if got == 0 || out.len() as u64 >= page.total {
            return Ok(out);
        }
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
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = handle.rebuild(&*store).await {
            tracing::warn!(error = %e, "rebuilding the reappearance watch failed");
        }
    }
}
