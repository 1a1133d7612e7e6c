//! Outgoing notifications, the enqueueing side: which subscriptions want an event, and the
//! outbox rows for them. The pipeline's automation worker (incident events, a rule's
//! `notify`, a rule's containment) and the server (actions made by people) enqueue here; the
//! server's delivery worker sends. Enqueueing only writes rows, so a receiver that hangs or
//! fails never slows the pipeline.
//!
//! Subscriptions are read from the store (`automation` table, kind `webhook`) for every batch
//! of triggers, like rules, so every node sharing a store agrees on them.

use std::sync::Arc;

use rampart_automation::webhook::{payload, Event, Occurrence, Subject, Webhook};
use rampart_model::{NewDelivery, Timestamp, AUTOMATION_WEBHOOK};
use rampart_store::Store;
use tokio::sync::Notify;

/// The stored webhook subscriptions (those that no longer read are skipped, logged).
pub async fn subscriptions(store: &dyn Store) -> Vec<Webhook> {
    let stored = match store.list_automation(AUTOMATION_WEBHOOK).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading webhook subscriptions failed");
            return Vec::new();
        }
    };
    stored
        .into_iter()
        .filter_map(|o| match serde_json::from_value::<Webhook>(o.body) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(webhook = %o.name, error = %e, "stored webhook subscription does not read; skipped");
                None
            }
        })
        .collect()
}

/// The delivery of `o` to `hook` (whether it wants the event is the caller's business).
pub fn delivery(hook: &Webhook, o: &Occurrence<'_>) -> NewDelivery {
    NewDelivery {
        webhook: hook.name.clone(),
        event: o.event.as_str().to_string(),
        payload: payload(hook.format, o),
        max_attempts: hook.max_attempts,
    }
}

/// The deliveries of `o` to every enabled subscription that lists its event.
pub fn deliveries(hooks: &[Webhook], o: &Occurrence<'_>) -> Vec<NewDelivery> {
    hooks
        .iter()
        .filter(|h| h.wants(o.event))
        .map(|h| delivery(h, o))
        .collect()
}

/// Store `items` in the outbox (one transaction) and wake this node's delivery worker. A
/// failure is logged: the change that caused the event is already committed.
pub async fn enqueue(store: &dyn Store, wake: &Notify, items: &[NewDelivery]) {
    if items.is_empty() {
        return;
    }
    match store.enqueue_deliveries(items, Timestamp::now()).await {
        Ok(ids) => {
            tracing::debug!(count = ids.len(), "webhook deliveries enqueued");
            wake.notify_one();
        }
        Err(e) => {
            tracing::error!(error = %e, count = items.len(), "enqueueing webhook deliveries failed")
        }
    }
}

/// Enqueue an action event (`action_created` / `action_changed`) for every subscription that
/// wants it, reading the subscriptions from the store.
pub async fn action_event(
    store: &dyn Store,
    wake: &Notify,
    event: Event,
    action: &rampart_model::Action,
    actor: &str,
) {
    let hooks = subscriptions(store).await;
    let items = deliveries(
        &hooks,
        &Occurrence {
            event,
            subject: Subject::Action(action),
            actor: Some(actor),
            at: Timestamp::now(),
        },
    );
    enqueue(store, wake, &items).await;
}

/// What wakes the delivery worker of this node when deliveries are enqueued here (other
/// nodes' deliveries are found by its polling).
pub type Wake = Arc<Notify>;
