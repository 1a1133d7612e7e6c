//! `rampart automation`: apply an automation document (rules today) to the store, list what is
//! stored. Applying is idempotent: an unchanged rule is neither rewritten nor audited.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

use rampart_model::{AUTOMATION_RULE, AUTOMATION_WEBHOOK};

use crate::{app, DataArgs};

/// `rampart automation` subcommands.
#[derive(Subcommand)]
pub enum AutomationCmd {
    /// Create or update the rules of a YAML document (`rules:`), as the CLI operator; rules
    /// already stored with the same content are left alone.
    Apply {
        #[command(flatten)]
        data: DataArgs,
        /// The document (YAML; JSON is a subset). `-` reads stdin.
        file: PathBuf,
        /// Also delete stored rules the document does not name.
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
        AutomationCmd::Apply { data, file, prune } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let doc = rampart_automation::parse_document(&text)
                .with_context(|| format!("invalid automation document {}", file.display()))?;
            for (i, rule) in doc.rules.iter().enumerate() {
                if let Some(what) = rampart_pipeline::automation::unsupported_action(rule) {
                    anyhow::bail!(
                        "rules[{i}] ({}): the `{what}` action is not available in this version (assign, set_status, set_severity, add_tags, add_task and contain are)",
                        rule.name
                    );
                }
            }
            let store = app::open_store(&data).await?;
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
            let (mut hooks_created, mut hooks_updated, mut hooks_unchanged, mut hooks_deleted) =
                (0, 0, 0, 0);
            for hook in &doc.webhooks {
                let body = serde_json::to_value(hook).context("encoding a webhook")?;
                let (stored, changed) = store
                    .put_automation(AUTOMATION_WEBHOOK, &hook.name, &body, actor)
                    .await
                    .with_context(|| format!("storing webhook {:?}", hook.name))?;
                match (changed, stored.version) {
                    (false, _) => hooks_unchanged += 1,
                    (true, 1) => hooks_created += 1,
                    (true, _) => hooks_updated += 1,
                }
            }
            let (mut created, mut updated, mut unchanged, mut deleted) = (0, 0, 0, 0);
            for rule in &doc.rules {
                let body = serde_json::to_value(rule).context("encoding a rule")?;
                let (stored, changed) = store
                    .put_automation(AUTOMATION_RULE, &rule.name, &body, actor)
                    .await
                    .with_context(|| format!("storing rule {:?}", rule.name))?;
                // A stored object starts at version 1: a change at version 1 created it.
                match (changed, stored.version) {
                    (false, _) => unchanged += 1,
                    (true, 1) => created += 1,
                    (true, _) => updated += 1,
                }
            }
            if prune {
                for o in store.list_automation(AUTOMATION_RULE).await? {
                    if !doc.rules.iter().any(|r| r.name == o.name) {
                        store
                            .delete_automation(AUTOMATION_RULE, &o.name, actor)
                            .await?;
                        deleted += 1;
                    }
                }
            }
            if prune {
                for name in &stored_hooks {
                    if !doc.webhooks.iter().any(|w| &w.name == name) {
                        store
                            .delete_automation(AUTOMATION_WEBHOOK, name, actor)
                            .await?;
                        hooks_deleted += 1;
                    }
                }
            }
            println!(
                "rules: {created} created, {updated} updated, {unchanged} unchanged, {deleted} deleted"
            );
            if !doc.webhooks.is_empty() || hooks_deleted > 0 {
                println!(
                    "webhooks: {hooks_created} created, {hooks_updated} updated, {hooks_unchanged} unchanged, {hooks_deleted} deleted"
                );
            }
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
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"rules": out, "webhooks": webhooks})
                    )?
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
            Ok(())
        }
    }
}
