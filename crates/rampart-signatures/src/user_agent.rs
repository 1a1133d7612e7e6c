//! `suspicious_user_agent`: scanners and exploit tools by their user agent, and exploit
//! payloads (Log4Shell, Shellshock, PHP) sent in the user-agent or referer header.
//!
//! The tool list is our own, in the spirit of CrowdSec's `http-bad-user-agent` scenario
//! (<https://github.com/crowdsecurity/hub>, MIT licence).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{build_alert, clip, ip_text, reason, AlertSpec, CleanCache, Cooldown};
use rampart_detect::registry::Resources;

/// Configuration of `suspicious_user_agent`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserAgentConfig {
    /// Raise low-severity alerts for generic scripting clients (`python-requests`, ...).
    /// Off by default: scripts are ordinary API clients, and a user agent costs nothing to
    /// change, so the behavioural detectors judge what such clients do.
    pub flag_scripting_clients: bool,
    /// Cooldown per (IP, class), seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for UserAgentConfig {
    fn default() -> Self {
        UserAgentConfig {
            flag_scripting_clients: false,
            cooldown_secs: 3600,
            max_entries: 50_000,
        }
    }
}

/// What a user-agent needle means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UaClass {
    /// A vulnerability scanner or attack tool.
    Tool,
    /// An exploit payload in the header.
    Payload,
    /// A generic scripting client (low signal).
    Scripting,
}

use UaClass::{Payload as P, Scripting as S, Tool as T};

/// (lower-case needle, class, name).
pub const UA_NEEDLES: &[(&str, UaClass, &str)] = &[
    ("nikto", T, "Nikto"),
    ("sqlmap", T, "sqlmap"),
    ("nmap", T, "Nmap"),
    ("masscan", T, "masscan"),
    ("zgrab", T, "ZGrab"),
    ("nuclei", T, "Nuclei"),
    ("wpscan", T, "WPScan"),
    ("dirbuster", T, "DirBuster"),
    ("gobuster", T, "gobuster"),
    ("dirb/", T, "dirb"),
    ("(dirb)", T, "dirb"),
    ("feroxbuster", T, "feroxbuster"),
    ("ffuf", T, "ffuf"),
    ("fuzz faster", T, "ffuf"),
    ("wfuzz", T, "wfuzz"),
    ("acunetix", T, "Acunetix"),
    ("acunetix-", T, "Acunetix"),
    ("w3af", T, "w3af"),
    ("hydra", T, "THC Hydra"),
    ("netsparker", T, "Netsparker"),
    ("openvas", T, "OpenVAS"),
    ("nessus", T, "Nessus"),
    ("arachni", T, "Arachni"),
    ("skipfish", T, "skipfish"),
    ("havij", T, "Havij"),
    ("jaeles", T, "Jaeles"),
    ("whatweb", T, "WhatWeb"),
    ("commix", T, "commix"),
    ("fimap", T, "fimap"),
    ("paros", T, "Paros"),
    ("webinspect", T, "WebInspect"),
    ("appscan", T, "AppScan"),
    ("zmeu", T, "ZmEu"),
    ("morfeus", T, "Morfeus"),
    ("l9explore", T, "LeakIX l9explore"),
    ("l9tcpid", T, "LeakIX l9tcpid"),
    ("xfa1", T, "xfa1 scanner"),
    ("jorgee", T, "Jorgee"),
    ("sysscan", T, "sysscan"),
    ("bsqlbf", T, "bsqlbf"),
    ("mysqloit", T, "MySqloit"),
    ("pangolin", T, "Pangolin"),
    ("brutus", T, "Brutus"),
    ("medusa", T, "Medusa"),
    ("x-scan", T, "X-Scan"),
    ("webshag", T, "webshag"),
    ("vega/", T, "Vega"),
    ("metasploit", T, "Metasploit"),
    ("interactsh", T, "interactsh"),
    ("${jndi:", P, "Log4Shell payload"),
    ("${${", P, "obfuscated Log4Shell payload"),
    ("${lower:", P, "obfuscated Log4Shell payload"),
    ("${::-", P, "obfuscated Log4Shell payload"),
    ("() {", P, "Shellshock payload"),
    ("<?php", P, "PHP code"),
    ("<script", P, "script injection"),
    ("union select", P, "SQL injection"),
    ("/bin/bash", P, "shell command"),
    ("python-requests", S, "python-requests"),
    ("python-urllib", S, "Python urllib"),
    ("libwww-perl", S, "libwww-perl"),
    ("go-http-client", S, "Go http client"),
];

/// The `suspicious_user_agent` detector.
pub struct SuspiciousUserAgent {
    cfg: UserAgentConfig,
    ac: AhoCorasick,
    cooldown: Cooldown,
    /// Recent user agents that matched no needle (exact, bounded).
    clean: CleanCache,
}

impl SuspiciousUserAgent {
    /// A detector with this configuration.
    pub fn new(cfg: UserAgentConfig) -> Self {
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(UA_NEEDLES.iter().map(|n| n.0))
            .expect("the built-in user-agent needles are valid literals");
        SuspiciousUserAgent {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            cfg,
            ac,
            clean: CleanCache::new(),
        }
    }

    /// Classify a header value: the strongest needle found.
    pub fn classify(&self, value: &str) -> Option<(UaClass, &'static str)> {
        let mut best: Option<(UaClass, &'static str)> = None;
        for m in self.ac.find_iter(value) {
            let (_, class, name) = UA_NEEDLES[m.pattern().as_usize()];
            let rank = |c: UaClass| match c {
                UaClass::Payload => 3,
                UaClass::Tool => 2,
                UaClass::Scripting => 1,
            };
            if best.is_none_or(|(b, _)| rank(class) > rank(b)) {
                best = Some((class, name));
            }
        }
        best
    }
}

impl Detector for SuspiciousUserAgent {
    fn id(&self) -> &'static str {
        "suspicious_user_agent"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        if ev.user_agent.is_empty() {
            return;
        }
        if self.clean.contains(ev.user_agent.as_bytes()) {
            return;
        }
        let Some((class, name)) = self.classify(&ev.user_agent) else {
            self.clean.insert(ev.user_agent.as_bytes());
            return;
        };
        // Go's default client is everywhere in service-to-service traffic: never flag it.
        if class == UaClass::Scripting
            && (!self.cfg.flag_scripting_clients || name == "Go http client")
        {
            return;
        }
        if !self.cooldown.ready_for(cx.ip, class as u32, ev.ts.millis()) {
            return;
        }
        let (title, severity, mitre, stage): (
            String,
            Severity,
            &'static [&'static str],
            AttackStage,
        ) = match class {
            UaClass::Tool => (
                format!("Attack tool user agent: {name}"),
                Severity::Medium,
                &["T1595.002"],
                AttackStage::Recon,
            ),
            UaClass::Payload => (
                format!("Exploit payload in user agent: {name}"),
                Severity::High,
                &["T1190"],
                AttackStage::Exploitation,
            ),
            UaClass::Scripting => (
                format!("Scripting client user agent: {name}"),
                Severity::Low,
                &["T1595"],
                AttackStage::Recon,
            ),
        };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "suspicious_user_agent",
                title,
                description: format!(
                    "{ip} called {m} {path} with the user agent \"{ua}\", which identifies {name}. {advice}",
                    ip = ip_text(ev),
                    m = clip(&ev.method, 16),
                    path = clip(&ev.path, 200),
                    ua = clip(&ev.user_agent, 200),
                    advice = match class {
                        UaClass::Tool => "Unless this is a sanctioned security test, block the source.",
                        UaClass::Payload => "The header carries an exploit: check that no backend logs or evaluates it, and block the source.",
                        UaClass::Scripting => "Often benign automation; look at what else this source did.",
                    }
                ),
                severity,
                mitre,
                owasp: None,
                stage,
                with_user_agent: true,
                reasons: vec![reason("user_agent_match", 1.0, None)],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes() + self.clean.bytes()
    }
}

/// Registry constructor.
pub fn build(c: UserAgentConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(SuspiciousUserAgent::new(c))
}
