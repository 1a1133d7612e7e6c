//! `rampart automation`: apply an automation document (`rules:` and `playbooks:`) to the
//! store, list what is stored. Applying is idempotent: an unchanged rule or playbook is
//! neither rewritten nor audited. `--builtin` applies the shipped playbooks
//! (`rampart_automation::playbook::BUILTIN`).

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

use rampart_model::{AUTOMATION_PLAYBOOK, AUTOMATION_RULE, AUTOMATION_WEBHOOK};

use crate::{app, DataArgs};

/// `rampart automation` subcommands.
#[derive(Subcommand)]
pub enum AutomationCmd {
    /// Create or update the rules and playbooks of a YAML document (`rules:`, `playbooks:`),
    /// as the CLI operator; those already stored with the same content are left alone.
    Apply {
        #[command(flatten)]
        data: DataArgs,
        /// The document (YAML; JSON is a subset). `-` reads stdin.
        #[arg(required_unless_present = "builtin")]
        file: Option<PathBuf>,
        /// Also apply the shipped playbooks (credential-stuffing, leaked-api-key,
        /// bola-scraping).
        #[arg(long)]
        builtin: bool,
        /// Also delete stored rules and playbooks the document (and `--builtin`) does not
        /// name.
        #[arg(long)]
        prune: bool,
    },
    /// List the stored automation rules in run order.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run one `rampart automation` subcommand.
pub async fn run(cmd: AutomationCmd, actor: &str) -> Result<()> {
    match cmd {
        AutomationCmd::Apply {
            data,
            file,
            builtin,
            prune,
        } => {
            let mut doc = match &file {
                Some(file) => {
                    let text = if file.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
                    } else {
                        std::fs::read_to_string(file)
                            .with_context(|| format!("reading {}", file.display()))?
                    };
                    rampart_automation::parse_document(&text).with_context(|| {
                        format!("invalid automation document {}", file.display())
                    })?
                }
                None => rampart_automation::Document::default(),
            };
            if builtin {
                for (name, text) in rampart_automation::playbook::BUILTIN {
                    let p = rampart_automation::parse_playbook(text)
                        .with_context(|| format!("shipped playbook {name}"))?;
                    if doc.playbooks.iter().any(|q| q.name == p.name) {
                        anyhow::bail!(
                            "playbooks: `{name}` is both in the document and shipped (--builtin)"
                        );
                    }
                    doc.playbooks.push(p);
                }
            }
            let store = app::open_store(&data).await?;
            let stored_playbooks = store.list_automation(AUTOMATION_PLAYBOOK).await?;
            for (i, rule) in doc.rules.iter().enumerate() {
                for a in &rule.actions {
                    if let rampart_automation::Action::RunPlaybook(p) = a {
                        let known = doc.playbooks.iter().any(|q| &q.name == p)
                            || (!prune && stored_playbooks.iter().any(|o| &o.name == p));
                        if !known {
                            anyhow::bail!(
                                "rules[{i}] ({}): run_playbook: no playbook named `{p}` (in this document, or stored)",
                                rule.name
                            );
                        }
                    }
                }
            }
            let stored_hooks: Vec<String> = store
                .list_automation(AUTOMATION_WEBHOOK)
                .await?
                .into_iter()
                .map(|o| o.name)
                .collect();
            for (i, rule) in doc.rules.iter().enumerate() {
                let known = |n: &str| {
                    doc.webhooks.iter().any(|w| w.name == n)
                        || (!prune && stored_hooks.iter().any(|s| s == n))
                };
                if let Some(n) = rampart_pipeline::automation::unknown_webhooks(rule, known).first()
                {
                    anyhow::bail!(
                        "rules[{i}] ({}): notify names the webhook {n:?}, which neither the document nor the store holds",
                        rule.name
                    );
                }
            }
            let mut counts = Vec::new();
            for (kind, items) in [
                (
                    AUTOMATION_RULE,
                    doc.rules
                        .iter()
                        .map(|r| Ok((r.name.clone(), serde_json::to_value(r)?)))
                        .collect::<Result<Vec<_>, serde_json::Error>>()?,
                ),
                (
                    AUTOMATION_PLAYBOOK,
                    doc.playbooks
                        .iter()
                        .map(|p| Ok((p.name.clone(), serde_json::to_value(p)?)))
                        .collect::<Result<Vec<_>, serde_json::Error>>()?,
                ),
                (
                    AUTOMATION_WEBHOOK,
                    doc.webhooks
                        .iter()
                        .map(|w| Ok((w.name.clone(), serde_json::to_value(w)?)))
                        .collect::<Result<Vec<_>, serde_json::Error>>()?,
                ),
            ] {
                let (mut created, mut updated, mut unchanged, mut deleted) = (0, 0, 0, 0);
                for (name, body) in &items {
                    let (stored, changed) = store
                        .put_automation(kind, name, body, actor)
                        .await
                        .with_context(|| format!("storing {kind} {name:?}"))?;
                    // A stored object starts at version 1: a change at version 1 created it.
                    match (changed, stored.version) {
                        (false, _) => unchanged += 1,
                        (true, 1) => created += 1,
                        (true, _) => updated += 1,
                    }
                }
                if prune {
                    for o in store.list_automation(kind).await? {
                        if !items.iter().any(|(n, _)| *n == o.name) {
                            store.delete_automation(kind, &o.name, actor).await?;
                            deleted += 1;
                        }
                    }
                }
                // The playbooks and webhooks lines only when there are some to speak of.
                if kind == AUTOMATION_RULE || !items.is_empty() || deleted > 0 {
                    counts.push(format!(
                        "{kind}s: {created} created, {updated} updated, {unchanged} unchanged, {deleted} deleted"
                    ));
                }
            }
            println!("{}", counts.join("\n"));
            Ok(())
        }
        AutomationCmd::List { data, json } => {
            let store = app::open_store(&data).await?;
            let mut rules = Vec::new();
            for o in store.list_automation(AUTOMATION_RULE).await? {
                let rule: rampart_automation::Rule = serde_json::from_value(o.body.clone())
                    .with_context(|| format!("stored rule {:?} no longer reads", o.name))?;
                rules.push((o, rule));
            }
            rules.sort_by(|a, b| (a.1.order, &a.1.name).cmp(&(b.1.order, &b.1.name)));
            let mut hooks = Vec::new();
            for o in store.list_automation(AUTOMATION_WEBHOOK).await? {
                let w: rampart_automation::webhook::Webhook =
                    serde_json::from_value(o.body.clone())
                        .with_context(|| format!("stored webhook {:?} no longer reads", o.name))?;
                hooks.push((o, w));
            }
            if json {
                let out: Vec<serde_json::Value> = rules
                    .iter()
                    .map(|(o, r)| {
                        serde_json::json!({
                            "name": o.name,
                            "version": o.version,
                            "updated_at": o.updated_at,
                            "updated_by": o.updated_by,
                            "rule": r,
                        })
                    })
                    .collect();
                let webhooks: Vec<serde_json::Value> = hooks
                    .iter()
                    .map(|(o, w)| {
                        serde_json::json!({
                            "name": o.name,
                            "version": o.version,
                            "updated_at": o.updated_at,
                            "updated_by": o.updated_by,
                            "webhook": w,
                        })
                    })
                    .collect();
                let playbooks: Vec<serde_json::Value> = store
                    .list_automation(AUTOMATION_PLAYBOOK)
                    .await?
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "name": o.name,
                            "version": o.version,
                            "updated_at": o.updated_at,
                            "updated_by": o.updated_by,
                            "playbook": o.body,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "rules": out,
                        "playbooks": playbooks,
                        "webhooks": webhooks,
                    }))?
                );
                return Ok(());
            }
            println!(
                "{:>5}  {:<7}  {:<40}  {:<38}  {:>3}  UPDATED BY",
                "ORDER", "ENABLED", "NAME", "TRIGGERS", "VER"
            );
            for (o, r) in &rules {
                let triggers: Vec<String> = r
                    .triggers
                    .iter()
                    .map(|t| {
                        serde_json::to_value(t)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    })
                    .collect();
                let expired = r
                    .expires_at
                    .is_some_and(|e| e <= rampart_model::Timestamp::now());
                println!(
                    "{:>5}  {:<7}  {:<40}  {:<38}  {:>3}  {}",
                    r.order,
                    if !r.enabled {
                        "no"
                    } else if expired {
                        "expired"
                    } else {
                        "yes"
                    },
                    r.name,
                    triggers.join(","),
                    o.version,
                    o.updated_by
                );
            }
            println!("({} rules)", rules.len());
            if !hooks.is_empty() {
                println!();
                println!(
                    "{:<7}  {:<30}  {:<6}  {:<50}  {:>3}  EVENTS",
                    "ENABLED", "WEBHOOK", "FORMAT", "URL", "VER"
                );
                for (o, w) in &hooks {
                    let events: Vec<&str> = w.events.iter().map(|e| e.as_str()).collect();
                    println!(
                        "{:<7}  {:<30}  {:<6}  {:<50}  {:>3}  {}",
                        if w.enabled { "yes" } else { "no" },
                        w.name,
                        match w.format {
                            rampart_automation::webhook::Format::Api => "api",
                            rampart_automation::webhook::Format::Ocsf => "ocsf",
                        },
                        w.url,
                        o.version,
                        events.join(",")
                    );
                }
                println!("({} webhooks)", hooks.len());
            }
            let playbooks = store.list_automation(AUTOMATION_PLAYBOOK).await?;
            if playbooks.is_empty() {
                return Ok(());
            }
            println!();
            println!(
                "{:<40}  {:<8}  {:>5}  {:>3}  UPDATED BY",
                "PLAYBOOK", "SUBJECT", "STEPS", "VER"
            );
            for o in &playbooks {
                let p: rampart_automation::playbook::Playbook =
                    serde_json::from_value(o.body.clone())
                        .with_context(|| format!("stored playbook {:?} no longer reads", o.name))?;
                println!(
                    "{:<40}  {:<8}  {:>5}  {:>3}  {}",
                    o.name,
                    p.subject.as_str(),
                    p.steps.len(),
                    o.version,
                    o.updated_by
                );
            }
            println!("({} playbooks)", playbooks.len());
            Ok(())
        }
    }
}
