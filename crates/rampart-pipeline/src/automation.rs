//! The automation worker: runs the stored automation rules on the incidents and alerts a
//! committed batch created, off the pipeline's task (an unbounded queue of ids, bounded in
//! practice by the alert rate the detectors' cooldowns allow), and applies what they decide
//! through the store, audited as `rule:<name>`.
//!
//! Rules are read from the store for every batch of triggers, so every node sharing a store
//! runs the same rules and a change applies at once; the node that committed a batch runs the
//! rules on it. Changes a rule makes raise `incident_updated` for the other rules (never for
//! itself), up to `rampart_automation::MAX_CHAIN` in a row. Incident changes are reported back
//! to the pipeline's correlator (a rule that resolves an incident closes it to new alerts)
//! through a weak sender, so the worker never keeps the pipeline alive.

use std::sync::Arc;

use rampart_automation::webhook::{self as hook, Event, Occurrence, Webhook};
use rampart_automation::{
    Action, Actor, Changeable, Plan, Rule, Subject, Trigger, Update, MAX_CHAIN,
};
use rampart_model::{
    Classification, Determination, IncidentPatch, NewTask, TaskKind, Timestamp, AUTOMATION_RULE,
};
use rampart_store::Store;
use tokio::sync::mpsc;

use crate::webhooks::{self, Wake};
use crate::Msg;

/// What a committed batch asks the worker to run rules on.
#[derive(Debug, Default)]
pub(crate) struct Triggers {
    /// Incidents the batch created.
    pub incidents: Vec<i64>,
    /// Alerts the batch stored.
    pub alerts: Vec<i64>,
    /// Incidents a person (or the API) changed, with what changed and who changed it.
    pub updated: Vec<(i64, Update)>,
}

/// Start the worker; it ends when the returned sender is dropped and its queue is drained.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    pipeline: mpsc::WeakSender<Msg>,
    contain: rampart_contain::ContainConfig,
    wake: Wake,
) -> (mpsc::UnboundedSender<Triggers>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Triggers>();
    let task = tokio::spawn(async move {
        let worker = Worker {
            store,
            pipeline,
            contain,
            wake,
        };
        while let Some(t) = rx.recv().await {
            worker.handle(t).await;
        }
    });
    (tx, task)
}

struct Worker {
    store: Arc<dyn Store>,
    pipeline: mpsc::WeakSender<Msg>,
    /// The containment rails (`[contain]`): a rule's containment goes through them.
    contain: rampart_contain::ContainConfig,
    /// Wakes this node's webhook delivery worker after an enqueue.
    wake: Wake,
}

/// The webhook subscriptions of one trigger batch and the deliveries it produced (enqueued
/// together, in one transaction, when the batch is done).
struct Outbox {
    hooks: Vec<Webhook>,
    items: Vec<rampart_model::NewDelivery>,
}

impl Outbox {
    /// Deliveries of an incident event to the subscriptions that want it.
    fn incident(&mut self, event: Event, incident: &rampart_model::Incident, actor: Option<&str>) {
        if self.hooks.is_empty() {
            return;
        }
        let o = Occurrence {
            event,
            subject: hook::Subject::Incident(incident),
            actor,
            at: Timestamp::now(),
        };
        self.items.extend(webhooks::deliveries(&self.hooks, &o));
    }

    /// A rule's `notify`: the named subscription gets the incident, whatever its events.
    fn notify(&mut self, name: &str, incident: &rampart_model::Incident, actor: &str) {
        let Some(h) = self.hooks.iter().find(|h| h.name == name) else {
            tracing::warn!(webhook = %name, %actor, "notify names no webhook subscription; skipped");
            return;
        };
        if !h.enabled {
            tracing::info!(webhook = %name, %actor, "notify names a disabled webhook subscription; skipped");
            return;
        }
        let o = Occurrence {
            event: Event::Notify,
            subject: hook::Subject::Incident(incident),
            actor: Some(actor),
            at: Timestamp::now(),
        };
        self.items.push(webhooks::delivery(h, &o));
    }
}

/// The webhook event of an `incident_updated` trigger: resolved when it set the status to
/// `Resolved`.
fn update_event(update: &Update) -> Event {
    let resolved = update.changes.iter().any(|c| {
        c.property == Changeable::Status
            && c.to == rampart_model::IncidentStatus::Resolved.as_str()
            && c.from != c.to
    });
    if resolved {
        Event::IncidentResolved
    } else {
        Event::IncidentUpdated
    }
}

impl Worker {
    async fn rules(&self) -> Vec<Rule> {
        let stored = match self.store.list_automation(AUTOMATION_RULE).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "reading automation rules failed");
                return Vec::new();
            }
        };
        stored
            .into_iter()
            .filter_map(|o| match serde_json::from_value::<Rule>(o.body) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(rule = %o.name, error = %e, "stored automation rule does not read; skipped");
                    None
                }
            })
            .collect()
    }

    async fn handle(&self, t: Triggers) {
        let rules = self.rules().await;
        let mut out = Outbox {
            hooks: webhooks::subscriptions(&*self.store).await,
            items: Vec::new(),
        };
        if rules.is_empty() && out.hooks.is_empty() {
            return;
        }
        for id in &t.incidents {
            self.run(&rules, &mut out, Trigger::IncidentCreated, *id, None)
                .await;
        }
        // New alerts on an incident this batch did not create update it: one
        // `incident_updated` per incident and batch.
        let mut updated_by_alerts = std::collections::BTreeSet::new();
        for id in &t.alerts {
            let incident = match self.store.get_alert(*id).await {
                Ok(Some(a)) => a.incident_id,
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(alert = id, error = %e, "reading an alert for automation failed");
                    None
                }
            };
            if let Some(inc) = incident {
                if !t.incidents.contains(&inc) && !out.hooks.is_empty() {
                    updated_by_alerts.insert(inc);
                }
                if !rules.is_empty() {
                    self.run(&rules, &mut out, Trigger::AlertCreated, inc, None)
                        .await;
                }
            }
        }
        for inc in updated_by_alerts {
            match self.store.get_incident(inc).await {
                Ok(Some(d)) => out.incident(Event::IncidentUpdated, &d.incident, None),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(incident = inc, error = %e, "reading an incident for webhooks failed")
                }
            }
        }
        for (id, update) in t.updated {
            self.run(&rules, &mut out, Trigger::IncidentUpdated, id, Some(update))
                .await;
        }
        webhooks::enqueue(&*self.store, &self.wake, &out.items).await;
    }

    /// Run the rules on one trigger, apply the plan, then raise `incident_updated` for the
    /// changes each rule made (iteratively: a chain is at most `MAX_CHAIN` long).
    /// Incident events for the webhook subscriptions are added to `out` on the way: the
    /// created incident, each update (a person's, then every rule's, also past `MAX_CHAIN`,
    /// where rules no longer run on it), and each rule's `notify`.
    async fn run(
        &self,
        rules: &[Rule],
        out: &mut Outbox,
        trigger: Trigger,
        incident: i64,
        update: Option<Update>,
    ) {
        let mut pending = vec![(trigger, update, true)];
        while let Some((trigger, update, run_rules)) = pending.pop() {
            let detail = match self.store.get_incident(incident).await {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(incident, error = %e, "reading an incident for automation failed");
                    return;
                }
            };
            match (&trigger, &update) {
                (Trigger::IncidentCreated, _) => {
                    out.incident(Event::IncidentCreated, &detail.incident, None)
                }
                (Trigger::IncidentUpdated, Some(u)) => {
                    let actor = u.by.audit_name();
                    out.incident(update_event(u), &detail.incident, Some(&actor))
                }
                _ => {}
            }
            if !run_rules || rules.is_empty() {
                continue;
            }
            let drafts: Vec<&rampart_model::AlertDraft> =
                detail.alerts.iter().map(|a| &a.draft).collect();
            let subject = Subject::new(&detail.incident, &drafts);
            let plan =
                rampart_automation::run(rules, trigger, subject, update.as_ref(), Timestamp::now());
            self.apply(&detail.incident, &plan, out).await;
            let chain = update.as_ref().map_or(0, |u| u.chain) + 1;
            for (rule, changes) in plan.changes {
                pending.push((
                    Trigger::IncidentUpdated,
                    Some(Update {
                        by: Actor::Rule(rule),
                        changes,
                        chain,
                    }),
                    chain < MAX_CHAIN,
                ));
            }
        }
    }

    /// Apply each matched rule's steps to `before` (the incident the plan was made from) as
    /// one audited patch per rule, plus its tasks and comment. Tags accumulate over the rules
    /// from `before`'s, so no rule re-reads the incident.
    async fn apply(&self, before: &rampart_model::Incident, plan: &Plan, out: &mut Outbox) {
        let incident = before.id;
        let mut current_tags = before.tags.clone();
        for rule in &plan.matched {
            let actor = Actor::Rule(rule.clone()).audit_name();
            let mut patch = IncidentPatch::default();
            let mut tags: Option<Vec<String>> = None;
            let mut tasks = Vec::new();
            let mut comment = None;
            let mut notify = Vec::new();
            for step in plan.steps.iter().filter(|s| &s.rule == rule) {
                match &step.action {
                    Action::Assign(o) => patch.assigned_to = Some(Some(o.clone())),
                    Action::SetStatus {
                        status,
                        classification,
                        determination,
                        comment: c,
                    } => {
                        patch.status = Some(*status);
                        patch.classification =
                            classification.filter(|c| *c != Classification::Unknown);
                        patch.determination =
                            determination.filter(|d| *d != Determination::NotAvailable);
                        comment = c.clone();
                    }
                    Action::SetSeverity(s) => patch.severity = Some(*s),
                    Action::AddTags(t) => {
                        tags.get_or_insert_with(Vec::new).extend(t.iter().cloned())
                    }
                    Action::AddTask { title, description } => tasks.push(NewTask {
                        kind: TaskKind::Custom,
                        title: title.clone(),
                        detail: description.clone().unwrap_or_default(),
                        entity: None,
                    }),
                    Action::Contain {
                        kind,
                        duration_secs,
                    } => {
                        self.contain(before, &actor, *kind, *duration_secs, out)
                            .await;
                    }
                    Action::Notify(name) => notify.push(name.clone()),
                    Action::RunPlaybook(_) => {
                        // `rampart automation apply` refuses it until it is wired.
                        tracing::warn!(rule = %rule, "automation action not available in this version; skipped");
                    }
                }
            }
            if let Some(add) = tags {
                let mut all = current_tags.clone();
                for t in add {
                    if !all.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
                        all.push(t);
                    }
                }
                if all != current_tags {
                    patch.tags = Some(all.clone());
                    current_tags = all;
                }
            }
            if let Some(c) = &comment {
                if let Err(e) = self.store.add_comment(incident, &actor, c).await {
                    tracing::error!(incident, rule = %rule, error = %e, "automation comment failed");
                }
            }
            let mut after = None;
            if !patch.is_empty() {
                match self.store.update_incident(incident, &patch, &actor).await {
                    Ok(inc) => {
                        after = Some(inc.clone());
                        if let Some(tx) = self.pipeline.upgrade() {
                            let _ = tx.send(Msg::IncidentChanged(Box::new(inc))).await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(incident, rule = %rule, error = %e, "automation change failed")
                    }
                }
            }
            if !tasks.is_empty() {
                if let Err(e) = self
                    .store
                    .create_tasks(incident, &tasks, &actor, Timestamp::now())
                    .await
                {
                    tracing::error!(incident, rule = %rule, error = %e, "automation task failed");
                }
            }
            for name in &notify {
                out.notify(name, after.as_ref().unwrap_or(before), &actor);
            }
        }
    }
}

impl Worker {
    /// Contain every attacker entity of the incident that `kind` targets, through
    /// `rampart-contain` (protected entities, widest range, longest duration and approvals
    /// apply: an action that needs approval waits for a person), as `actor` with the role of
    /// those who manage automation (`soc_manager`). An entity already under an active or
    /// pending action of the same kind is left alone.
    async fn contain(
        &self,
        before: &rampart_model::Incident,
        actor: &str,
        kind: rampart_model::ActionKind,
        duration_secs: Option<u64>,
        out: &mut Outbox,
    ) {
        let want = Action::target_kind(kind);
        let incident = before.id;
        let existing = match self
            .store
            .list_actions(&rampart_model::ActionFilter {
                incident_id: Some(incident),
                ..Default::default()
            })
            .await
        {
            Ok(p) => p.items,
            Err(e) => {
                tracing::error!(incident, error = %e, "listing actions for automation failed");
                return;
            }
        };
        let now = Timestamp::now();
        for e in before
            .entities
            .iter()
            .filter(|e| e.kind == want && e.role == rampart_model::EntityRole::Attacker)
        {
            let req = rampart_model::ActionRequest {
                kind,
                target: e.value.clone(),
                raw_key: None,
                scope: Default::default(),
                rate: None,
                duration_secs,
                reason: format!("automation {actor} on incident {incident}"),
                incident_id: Some(incident),
            };
            let person = rampart_contain::Person {
                actor,
                role: rampart_model::Role::SocManager,
            };
            let new = match rampart_contain::plan(&req, person, &self.contain, now) {
                Ok(n) => n,
                Err(refusal) => {
                    tracing::warn!(incident, %actor, target = %e.value, %refusal, "automation containment refused by the rails");
                    continue;
                }
            };
            let taken = existing.iter().any(|a| {
                a.action.kind == kind
                    && a.action.target == new.target
                    && matches!(
                        a.status(),
                        rampart_model::ActionStatus::Active
                            | rampart_model::ActionStatus::PendingApproval
                    )
            });
            if taken {
                continue;
            }
            match self.store.create_action(&new, actor).await {
                Ok(action) if !out.hooks.is_empty() => {
                    let o = Occurrence {
                        event: Event::ActionCreated,
                        subject: hook::Subject::Action(&action),
                        actor: Some(actor),
                        at: Timestamp::now(),
                    };
                    out.items.extend(webhooks::deliveries(&out.hooks, &o));
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(incident, %actor, error = %err, "automation containment failed")
                }
            }
        }
    }
}

/// Why a rule cannot be stored by this version: the actions the worker does not run yet.
pub fn unsupported_action(rule: &Rule) -> Option<&'static str> {
    rule.actions.iter().find_map(|a| match a {
        Action::RunPlaybook(_) => Some("run_playbook"),
        _ => None,
    })
}

/// The webhook subscriptions a rule's `notify` actions name that `exists` does not know
/// (refused when the rule is stored: a notification to nowhere is a mistake).
pub fn unknown_webhooks(rule: &Rule, exists: impl Fn(&str) -> bool) -> Vec<&str> {
    rule.actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify(n) if !exists(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}
