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
use rampart_contain::disruption::{self, DisruptionConfig, Mode};
use rampart_model::{
    ActionFilter, ActionKind, ActionRequest, ActionStatus, Classification, Determination,
    EntityRole, IncidentPatch, NewTask, TaskKind, Timestamp, AUTOMATION_RULE,
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
    /// The alerts were pushed from outside (attack disruption leaves them alone).
    pub pushed: bool,
    /// Incidents a person (or the API) changed, with what changed and who changed it.
    pub updated: Vec<(i64, Update)>,
}

/// What automation's containment goes through, and whom it tells.
pub(crate) struct Rails {
    /// The containment rails (`[contain]`): a rule's and a policy's containment go through them.
    pub contain: rampart_contain::ContainConfig,
    /// The attack disruption policies (`[disruption]`).
    pub disruption: DisruptionConfig,
    /// Signalled after automation created an action (the server enforces it at once).
    pub actions_changed: Arc<tokio::sync::Notify>,
    /// Where the worker counts the trigger batches it finished.
    pub stats: Arc<crate::PipelineStats>,
    /// Wakes this node's webhook delivery worker after an enqueue.
    pub wake: Wake,
}

/// Start the worker; it ends when the returned sender is dropped and its queue is drained.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    pipeline: mpsc::WeakSender<Msg>,
    rails: Rails,
) -> (mpsc::UnboundedSender<Triggers>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Triggers>();
    let task = tokio::spawn(async move {
        let worker = Worker {
            store,
            pipeline,
            rails,
        };
        while let Some(t) = rx.recv().await {
            worker.handle(t).await;
            worker
                .rails
                .stats
                .automation_done
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    });
    (tx, task)
}

struct Worker {
    store: Arc<dyn Store>,
    pipeline: mpsc::WeakSender<Msg>,
    rails: Rails,
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

    /// Deliveries of an action this worker created.
    fn action(&mut self, action: &rampart_model::Action, actor: &str) {
        if self.hooks.is_empty() {
            return;
        }
        let o = Occurrence {
            event: Event::ActionCreated,
            subject: hook::Subject::Action(action),
            actor: Some(actor),
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
        let mut alerts = Vec::with_capacity(t.alerts.len());
        for id in &t.alerts {
            match self.store.get_alert(*id).await {
                Ok(Some(a)) => alerts.push(a),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(alert = id, error = %e, "reading an alert for automation failed")
                }
            }
        }
        let mut out = Outbox {
            hooks: webhooks::subscriptions(&*self.store).await,
            items: Vec::new(),
        };
        // containment of high-confidence attacks first: it must not wait for the rules; only
        // on Rampart's own detections (a pushed alert may claim any detector)
        if !t.pushed {
            self.disrupt(&alerts, &mut out).await;
        }
        self.resolve_allow_listed(&alerts).await;
        let rules = self.rules().await;
        if rules.is_empty() && out.hooks.is_empty() {
            webhooks::enqueue(&*self.store, &self.rails.wake, &out.items).await;
            return;
        }
        for id in &t.incidents {
            self.run(&rules, &mut out, Trigger::IncidentCreated, *id, None)
                .await;
        }
        // New alerts on an incident this batch did not create update it: one
        // `incident_updated` per incident and batch.
        let mut updated_by_alerts = std::collections::BTreeSet::new();
        for a in &alerts {
            if let Some(inc) = a.incident_id {
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
        webhooks::enqueue(&*self.store, &self.rails.wake, &out.items).await;
    }

    /// The automated investigation's first finding, at once: an alert every actor of which is
    /// allow-listed (protected) is resolved, audited as `investigation` with the reason.
    async fn resolve_allow_listed(&self, alerts: &[rampart_model::Alert]) {
        for a in alerts {
            let Some(reason) = rampart_contain::investigation::allow_listed_alert(
                a,
                &self.rails.contain.protected,
            ) else {
                continue;
            };
            let actor = rampart_contain::investigation::ACTOR;
            match self
                .store
                .resolve_alert(a.id, &reason, actor, Timestamp::now())
                .await
            {
                Ok(_) => {
                    tracing::info!(alert = a.id, %reason, "investigation resolved an allow-listed alert")
                }
                Err(e) => {
                    tracing::error!(alert = a.id, error = %e, "resolving an allow-listed alert failed")
                }
            }
        }
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
                        if self
                            .contain(before, &actor, *kind, *duration_secs, out)
                            .await
                        {
                            self.rails.actions_changed.notify_one();
                        }
                    }
                    Action::RunPlaybook(name) => {
                        self.run_playbook(before, &actor, name).await;
                    }
                    Action::Notify(name) => notify.push(name.clone()),
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
    /// pending action of the same kind (on any incident) is left alone. Whether it created one.
    async fn contain(
        &self,
        before: &rampart_model::Incident,
        actor: &str,
        kind: ActionKind,
        duration_secs: Option<u64>,
        out: &mut Outbox,
    ) -> bool {
        let want = kind.entity_kind();
        let incident = before.id;
        let Some(mut existing) = self.in_force().await else {
            return false;
        };
        let now = Timestamp::now();
        let mut created = false;
        for e in before
            .entities
            .iter()
            .filter(|e| e.kind == want && e.role == EntityRole::Attacker)
        {
            let req = request(
                kind,
                &e.value,
                duration_secs,
                format!("automation {actor} on incident {incident}"),
                incident,
            );
            let person = rampart_contain::Person {
                actor,
                role: rampart_model::Role::SocManager,
            };
            let new = match rampart_contain::plan(&req, person, &self.rails.contain, now) {
                Ok(n) => n,
                Err(refusal) => {
                    tracing::warn!(incident, %actor, target = %e.value, %refusal, "automation containment refused by the rails");
                    continue;
                }
            };
            if covered(&existing, &new) {
                continue;
            }
            match self.store.create_action(&new, actor).await {
                Ok(a) => {
                    out.action(&a, actor);
                    existing.push(a);
                    created = true;
                }
                Err(err) => {
                    tracing::error!(incident, %actor, error = %err, "automation containment failed")
                }
            }
        }
        created
    }

    /// Every active or pending action (what a new action must not duplicate), or `None` when
    /// the store cannot say.
    async fn in_force(&self) -> Option<Vec<rampart_model::Action>> {
        let mut all = match self.store.active_actions().await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "listing active actions for automation failed");
                return None;
            }
        };
        match self
            .store
            .list_actions(&ActionFilter {
                status: Some(ActionStatus::PendingApproval),
                limit: Some(1000),
                ..Default::default()
            })
            .await
        {
            Ok(p) => all.extend(p.items),
            Err(e) => {
                tracing::error!(error = %e, "listing pending actions for automation failed");
                return None;
            }
        }
        Some(all)
    }

    /// Attack disruption: what the built-in policies want done about the new alerts, within
    /// their hourly budget and the `[contain]` rails, as `disruption:<policy>`; the incidents
    /// they acted on are tagged and get a comment saying what was done and how to undo it.
    async fn disrupt(&self, alerts: &[rampart_model::Alert], out: &mut Outbox) {
        let cfg = &self.rails.disruption;
        let mut proposals = Vec::new();
        for a in alerts {
            let Some(inc) = a.incident_id else { continue };
            for p in disruption::propose(cfg, &a.draft) {
                proposals.push((inc, a.id, p));
            }
        }
        if proposals.is_empty() {
            return;
        }
        let now = Timestamp::now();
        let taken = match self
            .store
            .list_actions(&ActionFilter {
                requested_by: Some(disruption::ACTOR_PREFIX.to_string()),
                created_since: Some(Timestamp(now.millis() - 3_600_000)),
                limit: Some(1),
                ..Default::default()
            })
            .await
        {
            Ok(p) => p.total,
            Err(e) => {
                tracing::error!(error = %e, "counting disruption actions failed");
                return;
            }
        };
        let mut left = disruption::budget(cfg, taken);
        let Some(mut existing) = self.in_force().await else {
            return;
        };
        // per incident: the lines of its comment
        let mut done: Vec<(i64, &'static str, Vec<String>)> = Vec::new();
        for (incident, alert, p) in proposals {
            let actor = p.actor();
            let policy = disruption::POLICIES.iter().find(|x| x.id == p.policy);
            let summary = policy.map_or("", |x| x.summary);
            let req = request(
                p.kind,
                &p.target,
                Some(cfg.duration_secs),
                format!(
                    "attack disruption: {summary} (policy {}, alert {alert})",
                    p.policy
                ),
                incident,
            );
            let person = rampart_contain::Person {
                actor: &actor,
                role: rampart_model::Role::SocManager,
            };
            let mut new = match rampart_contain::plan(&req, person, &self.rails.contain, now) {
                Ok(n) => n,
                Err(refusal) => {
                    tracing::warn!(incident, policy = p.policy, target = %p.target, %refusal, "attack disruption refused by the rails");
                    continue;
                }
            };
            if covered(&existing, &new) {
                continue;
            }
            if left == 0 {
                tracing::warn!(
                    incident,
                    policy = p.policy,
                    max = cfg.max_actions_per_hour,
                    "attack disruption budget for the hour is spent; not acting"
                );
                break;
            }
            if p.mode == Mode::Recommend {
                new = disruption::recommend(new);
            }
            match self.store.create_action(&new, &actor).await {
                Ok(a) => {
                    left -= 1;
                    out.action(&a, &actor);
                    let line = format!(
                        "- {} {} ({}, action {}): {}",
                        a.action.kind,
                        a.action.target,
                        if p.mode == Mode::Recommend {
                            "recommended, pending approval"
                        } else {
                            "in force"
                        },
                        a.id,
                        p.policy
                    );
                    existing.push(a);
                    match done.iter_mut().find(|(i, _, _)| *i == incident) {
                        Some((_, _, lines)) => lines.push(line),
                        None => done.push((incident, p.policy, vec![line])),
                    }
                }
                Err(err) => {
                    tracing::error!(incident, policy = p.policy, error = %err, "attack disruption failed")
                }
            }
        }
        if done.is_empty() {
            return;
        }
        self.rails.actions_changed.notify_one();
        for (incident, policy, lines) in done {
            let actor = format!("{}{policy}", disruption::ACTOR_PREFIX);
            self.mark_disrupted(incident, &actor, &lines).await;
        }
    }

    /// Tag `incident` as disrupted and comment what was done, as `actor` (the first policy
    /// that acted on it).
    async fn mark_disrupted(&self, incident: i64, actor: &str, lines: &[String]) {
        let text = format!(
            "Attack disruption contained this incident's actors:\n{}\n\nUndo them all at once with \"Undo attack disruption\" on the incident page (or POST /api/v1/incidents/{incident}/disruption/undo).",
            lines.join("\n")
        );
        if let Err(e) = self.store.add_comment(incident, actor, &text).await {
            tracing::error!(incident, error = %e, "attack disruption comment failed");
        }
        let tags = match self.store.get_incident(incident).await {
            Ok(Some(d)) => d.incident.tags,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(incident, error = %e, "reading an incident for attack disruption failed");
                return;
            }
        };
        if tags.iter().any(|t| t.eq_ignore_ascii_case(disruption::TAG)) {
            return;
        }
        let mut all = tags;
        all.push(disruption::TAG.to_string());
        let patch = IncidentPatch {
            tags: Some(all),
            ..Default::default()
        };
        match self.store.update_incident(incident, &patch, actor).await {
            Ok(inc) => {
                if let Some(tx) = self.pipeline.upgrade() {
                    let _ = tx.send(Msg::IncidentChanged(Box::new(inc))).await;
                }
            }
            Err(e) => tracing::error!(incident, error = %e, "tagging a disrupted incident failed"),
        }
    }
}

/// A containment request for automation.
fn request(
    kind: ActionKind,
    target: &str,
    duration_secs: Option<u64>,
    reason: String,
    incident: i64,
) -> ActionRequest {
    ActionRequest {
        kind,
        target: target.to_string(),
        raw_key: None,
        scope: Default::default(),
        rate: None,
        duration_secs,
        reason,
        incident_id: Some(incident),
    }
}

/// Whether an active or pending action of `existing` already does what `new` would.
fn covered(existing: &[rampart_model::Action], new: &rampart_model::NewAction) -> bool {
    existing.iter().any(|a| {
        a.action.kind == new.kind
            && a.action.target == new.target
            && a.action.scope == new.scope
            && matches!(
                a.status(),
                ActionStatus::Active | ActionStatus::PendingApproval
            )
    })
}

impl Worker {
    /// Queue a run of the stored playbook `name` on the incident, audited as `actor`
    /// (`rule:<name>`); the server's playbook runner (on any node) executes it.
    async fn run_playbook(&self, before: &rampart_model::Incident, actor: &str, name: &str) {
        let incident = before.id;
        let stored = match self
            .store
            .get_automation(rampart_model::AUTOMATION_PLAYBOOK, name)
            .await
        {
            Ok(Some(o)) => o,
            Ok(None) => {
                tracing::warn!(incident, %actor, playbook = %name, "automation rule names a playbook that does not exist; skipped");
                return;
            }
            Err(e) => {
                tracing::error!(incident, %actor, error = %e, "reading a playbook for automation failed");
                return;
            }
        };
        match serde_json::from_value::<rampart_automation::playbook::Playbook>(stored.body.clone())
        {
            Ok(p) if p.subject == rampart_automation::playbook::SubjectKind::Incident => {}
            Ok(_) => {
                tracing::warn!(incident, %actor, playbook = %name, "playbook does not run on incidents; skipped");
                return;
            }
            Err(e) => {
                tracing::warn!(incident, %actor, playbook = %name, error = %e, "stored playbook does not read; skipped");
                return;
            }
        }
        let new = rampart_model::NewRun {
            playbook: name.to_string(),
            version: stored.version,
            body: stored.body,
            subject: rampart_model::RunSubject::Incident(incident),
            incident_id: Some(incident),
            requested_by: actor.to_string(),
        };
        match self.store.create_run(&new, actor).await {
            Ok(run) => {
                tracing::info!(incident, %actor, playbook = %name, run = run.id, "playbook run queued by a rule")
            }
            Err(e) => {
                tracing::error!(incident, %actor, error = %e, "queueing a playbook run failed")
            }
        }
    }
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
