//! What the crate's tests share: an action record with the fields the cases vary.

use rampart_model::{Action, ActionKind, ActionScope, ActionStatus, NewAction, Timestamp};

/// An unscoped action of incident 7, requested by `token:a` at `at`, lasting `duration_secs`
/// (`expires_at` set from it when `expires`), with no approval, revert or hits.
pub fn action(
    id: i64,
    kind: ActionKind,
    target: &str,
    status: ActionStatus,
    at: Timestamp,
    duration_secs: u64,
    expires: bool,
) -> Action {
    Action {
        id,
        action: NewAction {
            kind,
            target: target.into(),
            scope: ActionScope::default(),
            rate: None,
            reason: "r".into(),
            incident_id: Some(7),
            requested_by: "token:a".into(),
            status,
            created_at: at,
            starts_at: Some(at),
            expires_at: expires.then(|| at.add_millis(duration_secs as i64 * 1000)),
            duration_secs,
        },
        approved_by: None,
        approved_at: None,
        reverted_by: None,
        revert_reason: None,
        reverted_at: None,
        failure: None,
        denied: 0,
        last_denied: None,
    }
}
