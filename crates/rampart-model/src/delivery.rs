//! Webhook deliveries: the durable outbox of outgoing notifications. The pipeline and the
//! server enqueue one row per (event, subscription); the server's delivery worker claims due
//! rows under a lease, sends them and records the outcome (retried with backoff, or a dead
//! letter after the subscription's `max_attempts`).

use serde::{Deserialize, Serialize};

use crate::enums::wire_enum;
use crate::Timestamp;

wire_enum! {
    /// Where a delivery stands.
    DeliveryStatus, "status" {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed (a dead letter; a person may retry it).
        Dead = "dead",
    }
}

/// A delivery to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The subscription's name.
    pub webhook: String,
    /// The event's wire name (`incident_created`), sent as `X-Rampart-Event`.
    pub event: String,
    /// The body to send.
    pub payload: serde_json::Value,
    /// Attempts before it is dead (the subscription's `max_attempts` when enqueued).
    pub max_attempts: u32,
}

/// One stored delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Store-assigned id (`X-Rampart-Delivery`: receivers de-duplicate on it).
    pub id: i64,
    /// The subscription's name.
    pub webhook: String,
    /// The event's wire name.
    pub event: String,
    /// The body to send.
    pub payload: serde_json::Value,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts before it is dead.
    pub max_attempts: u32,
    /// When it is due (pending).
    pub next_attempt_at: Timestamp,
    /// While set and in the future, a node is sending it (the lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<Timestamp>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The HTTP status of the last answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// When enqueued.
    pub created_at: Timestamp,
    /// When delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
}

/// Filters for listing deliveries (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    /// Only this subscription's.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Only this status (`dead`: the dead letters).
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
