//! `injection`: a built-in signature set (SQLi, XSS, path traversal, command injection,
//! Log4Shell, SSTI, OGNL, Spring4Shell, Text4Shell, PHP code injection) over the
//! percent-decoded path, query, user agent, referer and request body.
//!
//! All fields are decoded once (lower-cased) into one reused buffer and scanned by one
//! Aho-Corasick automaton; only when the decoded text still holds `%XX` escapes (double
//! encoding) is it decoded and scanned a second time. Hits go through cheap confirmations.
//!
//! Clean traffic takes a faster road to the same answer: a case-insensitive DFA of the same
//! needles walks the raw bytes of each field (decoding only fields that hold `%` or `+`),
//! and stops at the first needle. Only an event where some needle, a backtick or a leftover
//! escape shows up goes through the full scan above, so the verdict never changes. Recent
//! clean user agents and referers are remembered (exact bytes, bounded) and not walked again.

use aho_corasick::automaton::Automaton;
use aho_corasick::{
    dfa, AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, MatchKind, StartKind,
};
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{
    build_alert, clip, decode_lower_into, has_escape, ip_text, reason, AlertSpec, CleanCache,
    Cooldown,
};
use rampart_detect::registry::Resources;

/// Configuration of the `injection` detector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectionConfig {
    /// Seconds during which a second hit of the same family from the same IP raises nothing.
    pub cooldown_secs: i64,
    /// Scan the request body sample too.
    pub scan_body: bool,
    /// Bytes of the request body scanned at most.
    pub max_body_bytes: usize,
    /// Most (IP, family) cooldown entries held.
    pub max_entries: usize,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            cooldown_secs: 600,
            scan_body: true,
            max_body_bytes: 8 * 1024,
            max_entries: 100_000,
        }
    }
}

/// An attack family the signature set knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal / local file inclusion.
    PathTraversal,
    /// OS command injection.
    CommandInjection,
    /// Log4Shell (CVE-2021-44228) JNDI lookups.
    Log4Shell,
    /// Server-side template injection.
    Ssti,
    /// OGNL / Struts expression injection.
    Ognl,
    /// Spring4Shell (CVE-2022-22965) class-loader manipulation.
    Spring4Shell,
    /// Text4Shell (CVE-2022-42889) string-substitution lookups.
    Text4Shell,
    /// PHP code injection and wrappers.
    Php,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 10] = [
        Family::Sqli,
        Family::Xss,
        Family::PathTraversal,
        Family::CommandInjection,
        Family::Log4Shell,
        Family::Ssti,
        Family::Ognl,
        Family::Spring4Shell,
        Family::Text4Shell,
        Family::Php,
    ];
    /// Human name, used in titles.
    pub const fn name(self) -> &'static str {
        match self {
            Family::Sqli => "SQL injection",
            Family::Xss => "Cross-site scripting",
            Family::PathTraversal => "Path traversal",
            Family::CommandInjection => "Command injection",
            Family::Log4Shell => "Log4Shell JNDI injection",
            Family::Ssti => "Server-side template injection",
            Family::Ognl => "OGNL expression injection",
            Family::Spring4Shell => "Spring4Shell class-loader manipulation",
            Family::Text4Shell => "Text4Shell interpolation injection",
            Family::Php => "PHP code injection",
        }
    }
    /// Stable short id (`sqli`, `xss`, ...).
    pub const fn id(self) -> &'static str {
        match self {
            Family::Sqli => "sqli",
            Family::Xss => "xss",
            Family::PathTraversal => "path_traversal",
            Family::CommandInjection => "command_injection",
            Family::Log4Shell => "log4shell",
            Family::Ssti => "ssti",
            Family::Ognl => "ognl",
            Family::Spring4Shell => "spring4shell",
            Family::Text4Shell => "text4shell",
            Family::Php => "php",
        }
    }
    /// Whether a hit means code execution if it worked.
    const fn is_rce(self) -> bool {
        matches!(
            self,
            Family::CommandInjection
                | Family::Log4Shell
                | Family::Ssti
                | Family::Ognl
                | Family::Spring4Shell
                | Family::Text4Shell
                | Family::Php
        )
    }
    fn index(self) -> u32 {
        self as u32
    }
}

/// A cheap check run on a needle hit before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirm {
    /// The needle alone is enough.
    None,
    /// Not preceded by a letter or digit (so `nosleep(` is not `sleep(`).
    WordStart,
    /// A `)` follows within 128 bytes.
    CloseParen,
    /// Code follows at once: no blank after the needle, and a `(`, `=` or `` ` `` within
    /// 64 bytes before the field ends (`javascript:alert(1)`, not `JavaScript: Basics`).
    CodeFollows,
    /// A `}` follows within 128 bytes.
    CloseBrace,
    /// Another backtick follows within 128 bytes, with a letter in between.
    Backtick,
    /// Followed (after spaces) by one of `(#@'"`.
    OgnlOpen,
    /// A tag with attributes or more after its name (`<svg onload=`, `<svg/x`), not `<svg>`.
    TagAttributes,
    /// Not a whole path segment (`/docs/document.cookie` names a page).
    NotSegment,
    /// The run of dots the needle starts in is not glued to a word (`foo../` is a name).
    DotSegment,
    /// A function name standing as code: not after a letter, digit or `.` (`safe.phpinfo`),
    /// and followed (after spaces) by `(`, `;` or the end of the field (not by prose).
    CodeName,
}

use Confirm as C;
use Family as F;

/// The signature set: (needle, lower-case; family; confirmation).
const NEEDLES: &[(&str, Family, Confirm)] = &[
    // SQL injection
    ("union select", F::Sqli, C::None),
    ("union all select", F::Sqli, C::None),
    ("union distinct select", F::Sqli, C::None),
    ("union/**/select", F::Sqli, C::None),
    ("/**/union", F::Sqli, C::None),
    ("information_schema", F::Sqli, C::None),
    ("' or 1=1", F::Sqli, C::None),
    ("\" or 1=1", F::Sqli, C::None),
    (" or 1=1--", F::Sqli, C::None),
    ("' or '1'='1", F::Sqli, C::None),
    ("\" or \"1\"=\"1", F::Sqli, C::None),
    ("' and 1=1", F::Sqli, C::None),
    ("' and '1'='1", F::Sqli, C::None),
    ("sleep(", F::Sqli, C::WordStart),
    ("pg_sleep(", F::Sqli, C::None),
    ("benchmark(", F::Sqli, C::WordStart),
    ("waitfor delay", F::Sqli, C::None),
    (",null,null", F::Sqli, C::None),
    ("xp_cmdshell", F::Sqli, C::None),
    ("load_file(", F::Sqli, C::None),
    ("into outfile", F::Sqli, C::None),
    ("into dumpfile", F::Sqli, C::None),
    ("@@version", F::Sqli, C::None),
    ("extractvalue(", F::Sqli, C::None),
    ("updatexml(", F::Sqli, C::None),
    ("concat(0x", F::Sqli, C::None),
    ("selectchar(", F::Sqli, C::None),
    ("||chr(", F::Sqli, C::None),
    ("sqlite_master", F::Sqli, C::None),
    ("pg_catalog", F::Sqli, C::None),
    ("' order by ", F::Sqli, C::None),
    // XSS
    ("<script", F::Xss, C::None),
    ("&lt;script", F::Xss, C::None),
    ("javascript:", F::Xss, C::CodeFollows),
    ("vbscript:", F::Xss, C::CodeFollows),
    ("onerror=", F::Xss, C::None),
    ("onload=", F::Xss, C::None),
    ("onmouseover=", F::Xss, C::None),
    ("onfocus=", F::Xss, C::None),
    ("prompt(", F::Xss, C::WordStart),
    ("alert(", F::Xss, C::WordStart),
    ("confirm(", F::Xss, C::WordStart),
    ("<svg", F::Xss, C::TagAttributes),
    ("<iframe", F::Xss, C::None),
    ("<img", F::Xss, C::None),
    ("<body", F::Xss, C::None),
    ("<object", F::Xss, C::None),
    ("<embed", F::Xss, C::None),
    ("<frameset", F::Xss, C::None),
    ("document.cookie", F::Xss, C::NotSegment),
    ("string.fromcharcode", F::Xss, C::None),
    // Path traversal
    ("../", F::PathTraversal, C::DotSegment),
    ("..\\", F::PathTraversal, C::None),
    ("..;/", F::PathTraversal, C::None),
    ("/etc/passwd", F::PathTraversal, C::None),
    ("/etc/shadow", F::PathTraversal, C::None),
    ("/etc/hosts", F::PathTraversal, C::None),
    ("/proc/self/", F::PathTraversal, C::None),
    ("win.ini", F::PathTraversal, C::None),
    ("boot.ini", F::PathTraversal, C::None),
    ("c:\\windows", F::PathTraversal, C::None),
    // Command injection
    (";id", F::CommandInjection, C::None),
    ("|id;", F::CommandInjection, C::None),
    ("$(", F::CommandInjection, C::CloseParen),
    ("${ifs}", F::CommandInjection, C::None),
    ("|cat ", F::CommandInjection, C::None),
    (";cat ", F::CommandInjection, C::None),
    (";wget ", F::CommandInjection, C::None),
    (";curl ", F::CommandInjection, C::None),
    ("|wget ", F::CommandInjection, C::None),
    ("|curl ", F::CommandInjection, C::None),
    ("; wget ", F::CommandInjection, C::None),
    ("; curl ", F::CommandInjection, C::None),
    (";uname", F::CommandInjection, C::None),
    ("/bin/sh", F::CommandInjection, C::None),
    ("/bin/bash", F::CommandInjection, C::None),
    ("cmd.exe", F::CommandInjection, C::None),
    ("powershell", F::CommandInjection, C::None),
    ("nc -e ", F::CommandInjection, C::None),
    ("&& whoami", F::CommandInjection, C::None),
    (";whoami", F::CommandInjection, C::None),
    ("|whoami", F::CommandInjection, C::None),
    ("() { :;};", F::CommandInjection, C::None),
    ("() { :; };", F::CommandInjection, C::None),
    // Log4Shell
    ("${jndi:", F::Log4Shell, C::None),
    ("${${", F::Log4Shell, C::CloseBrace),
    ("${lower:", F::Log4Shell, C::None),
    ("${upper:", F::Log4Shell, C::None),
    ("${::-", F::Log4Shell, C::None),
    ("${env:", F::Log4Shell, C::None),
    ("${sys:", F::Log4Shell, C::None),
    ("${main:", F::Log4Shell, C::None),
    ("jndi:ldap:", F::Log4Shell, C::None),
    ("jndi:rmi:", F::Log4Shell, C::None),
    ("jndi:dns:", F::Log4Shell, C::None),
    // SSTI
    ("{{7*7}}", F::Ssti, C::None),
    ("${7*7}", F::Ssti, C::None),
    ("#{7*7}", F::Ssti, C::None),
    ("<%= 7*7 %>", F::Ssti, C::None),
    ("{{config", F::Ssti, C::None),
    ("{{self.", F::Ssti, C::None),
    ("{{''.__class__", F::Ssti, C::None),
    ("__globals__", F::Ssti, C::None),
    ("?new()", F::Ssti, C::None),
    ("freemarker.template", F::Ssti, C::None),
    ("#{t(", F::Ssti, C::None),
    // OGNL / Struts
    ("%{", F::Ognl, C::OgnlOpen),
    ("@java.lang.runtime", F::Ognl, C::None),
    ("#_memberaccess", F::Ognl, C::None),
    ("@ognl.", F::Ognl, C::None),
    ("ognlcontext", F::Ognl, C::None),
    ("com.opensymphony.xwork2", F::Ognl, C::None),
    ("com.opensymphony.webwork", F::Ognl, C::None),
    // Spring4Shell
    ("class.module.classloader", F::Spring4Shell, C::None),
    ("class.classloader", F::Spring4Shell, C::None),
    // Text4Shell
    ("${script:", F::Text4Shell, C::None),
    ("${url:", F::Text4Shell, C::None),
    ("${dns:", F::Text4Shell, C::None),
    ("${base64decoder:", F::Text4Shell, C::None),
    // PHP
    ("php://", F::Php, C::None),
    ("phpinfo", F::Php, C::CodeName),
    ("call_user_func_array", F::Php, C::None),
    ("<?php", F::Php, C::None),
    ("base64_decode(", F::Php, C::None),
    ("shell_exec(", F::Php, C::None),
    ("passthru(", F::Php, C::None),
    ("system(", F::Php, C::WordStart),
    ("eval(", F::Php, C::WordStart),
    ("assert(", F::Php, C::WordStart),
    ("\\think\\", F::Php, C::None),
    ("invokefunction", F::Php, C::None),
    ("allow_url_include", F::Php, C::None),
    ("auto_prepend_file", F::Php, C::None),
    ("data://text/plain", F::Php, C::None),
    ("expect://", F::Php, C::None),
];

fn confirm(c: Confirm, hay: &[u8], start: usize, end: usize) -> bool {
    let window = |n: usize| &hay[end..hay.len().min(end + n)];
    match c {
        Confirm::None => true,
        Confirm::WordStart => start == 0 || !hay[start - 1].is_ascii_alphanumeric(),
        Confirm::CloseParen => memchr::memchr(b')', window(128)).is_some(),
        Confirm::CodeFollows => {
            let w = window(64);
            let field = &w[..memchr::memchr(b'\n', w).unwrap_or(w.len())];
            field.first().is_some_and(|b| !b.is_ascii_whitespace())
                && field.iter().any(|b| matches!(b, b'(' | b'=' | b'`'))
        }
        Confirm::CloseBrace => memchr::memchr(b'}', window(128)).is_some(),
        Confirm::Backtick => {
            let w = window(128);
            match memchr::memchr(b'`', w) {
                Some(i) => i > 0 && w[..i].iter().any(u8::is_ascii_alphabetic),
                None => false,
            }
        }
        Confirm::TagAttributes => hay.get(end).is_some_and(|b| *b != b'>'),
        Confirm::NotSegment => {
            let before = start.checked_sub(1).map(|i| hay[i]);
            let after = hay.get(end).copied();
            !(before == Some(b'/') && after.is_none_or(|b| matches!(b, b'/' | b'\n' | b' ' | b'?')))
        }
        Confirm::DotSegment => {
            let dots = hay[..start]
                .iter()
                .rev()
                .take_while(|b| **b == b'.')
                .count();
            let at = start - dots;
            at == 0 || !hay[at - 1].is_ascii_alphanumeric()
        }
        Confirm::CodeName => {
            let glued =
                start > 0 && (hay[start - 1].is_ascii_alphanumeric() || hay[start - 1] == b'.');
            let next = window(16).iter().find(|b| **b != b' ' && **b != b'\t');
            !glued && next.is_none_or(|b| matches!(b, b'(' | b';' | b'\n' | b'&' | b'"' | b'\''))
        }
        Confirm::OgnlOpen => window(8)
            .iter()
            .find(|b| **b != b' ')
            .is_some_and(|b| matches!(b, b'(' | b'#' | b'@' | b'\'' | b'"')),
    }
}

/// The compiled signature set, usable on its own.
pub struct Signatures {
    ac: AhoCorasick,
    /// The same needles, ASCII case-insensitive, for the any-needle check on raw bytes.
    any: dfa::DFA,
}

/// A walk of the any-needle DFA over the fields of one event, as they are laid out in the
/// scanned buffer (decoded, with the same separators).
struct Walk<'a> {
    dfa: &'a dfa::DFA,
    sid: aho_corasick::automaton::StateID,
}

impl Walk<'_> {
    /// Feed bytes; true when a needle ends in them.
    #[inline]
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let dfa = self.dfa;
        let mut sid = self.sid;
        for &b in bytes {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) && (dfa.is_match(sid) || dfa.is_dead(sid)) {
                self.sid = sid;
                return dfa.is_match(sid);
            }
        }
        self.sid = sid;
        false
    }
}

/// One confirmed hit: the family and the needle that matched.
pub type Hit = (Family, &'static str);

impl Signatures {
    /// Compile the built-in set.
    pub fn new() -> Self {
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .build(NEEDLES.iter().map(|n| n.0))
            .expect("the built-in needles are valid literals");
        let any = dfa::DFA::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .prefilter(false)
            .start_kind(StartKind::Unanchored)
            .build(NEEDLES.iter().map(|n| n.0))
            .expect("the built-in needles are valid literals");
        Signatures { ac, any }
    }

    fn walk(&self) -> Walk<'_> {
        let sid = self
            .any
            .start_state(Anchored::No)
            .expect("the DFA has an unanchored start state");
        Walk {
            dfa: &self.any,
            sid,
        }
    }

    /// Whether one field, decoded once and lower-cased, is free of needles, backticks and
    /// leftover `%XX` escapes: then scanning it finds nothing, whatever surrounds it in the
    /// buffer (no needle holds a `\n`). `scratch` is a reused buffer.
    fn field_clean(
        &self,
        walk: &mut Walk<'_>,
        raw: &[u8],
        plus: bool,
        scratch: &mut Vec<u8>,
    ) -> bool {
        let special = if plus {
            memchr::memchr3(b'%', b'+', b'`', raw)
        } else {
            memchr::memchr2(b'%', b'`', raw)
        };
        match special {
            None => !walk.feed(raw),
            Some(i) if raw[i] == b'`' => false,
            Some(_) => {
                scratch.clear();
                decode_lower_into(raw, plus, scratch);
                memchr::memchr(b'`', scratch).is_none()
                    && !has_escape(scratch)
                    && !walk.feed(scratch)
            }
        }
    }

    /// Scan already decoded, lower-cased text; add the first needle of each confirmed family
    /// to `hits` (at most one entry per family). Returns the families bit set.
    pub fn scan(&self, hay: &[u8], hits: &mut Vec<Hit>) -> u32 {
        let mut seen = hits.iter().fold(0u32, |m, h| m | 1 << h.0.index());
        // Backticks are one byte: a memchr, not an automaton state on every byte.
        if seen & (1 << Family::CommandInjection.index()) == 0 {
            if let Some(i) = memchr::memchr(b'`', hay) {
                if confirm(Confirm::Backtick, hay, i, i + 1) {
                    seen |= 1 << Family::CommandInjection.index();
                    hits.push((Family::CommandInjection, "`"));
                }
            }
        }
        for m in self.ac.find_overlapping_iter(hay) {
            let (needle, fam, c) = NEEDLES[m.pattern().as_usize()];
            if seen & (1 << fam.index()) != 0 {
                continue;
            }
            if confirm(c, hay, m.start(), m.end()) {
                seen |= 1 << fam.index();
                hits.push((fam, needle));
            }
        }
        seen
    }
}

impl Default for Signatures {
    fn default() -> Self {
        Signatures::new()
    }
}

/// The `injection` detector.
pub struct Injection {
    cfg: InjectionConfig,
    sigs: Signatures,
    buf: Vec<u8>,
    buf2: Vec<u8>,
    hits: Vec<Hit>,
    cooldown: Cooldown,
    /// User agents and referers known to hold nothing.
    clean: CleanCache,
}

impl Injection {
    /// A detector with this configuration.
    pub fn new(cfg: InjectionConfig) -> Self {
        let cooldown = Cooldown::secs(cfg.cooldown_secs, cfg.max_entries);
        Injection {
            cfg,
            sigs: Signatures::new(),
            buf: Vec::with_capacity(1024),
            buf2: Vec::new(),
            hits: Vec::new(),
            cooldown,
            clean: CleanCache::new(),
        }
    }

    /// True when the full scan of this event cannot find anything: no needle, no backtick
    /// and no double encoding in any scanned field. Exact, not a heuristic: when it says
    /// false the full scan decides.
    fn clean(&mut self, cx: &EventCtx<'_>) -> bool {
        let ev = cx.ev;
        let sigs = &self.sigs;
        let scratch = &mut self.buf;
        // Path and query are one line of the buffer, joined by `?`, walked as one.
        let mut walk = sigs.walk();
        if !sigs.field_clean(&mut walk, ev.path.as_bytes(), false, scratch) {
            return false;
        }
        if !ev.query.is_empty()
            && (walk.feed(b"?") || !sigs.field_clean(&mut walk, ev.query.as_bytes(), true, scratch))
        {
            return false;
        }
        // Each further field starts after a `\n`, which no needle holds: a fresh walk.
        for field in [&ev.user_agent, &ev.referer] {
            let f = field.as_bytes();
            if f.is_empty() || self.clean.contains(f) {
                continue;
            }
            if !sigs.field_clean(&mut sigs.walk(), f, false, scratch) {
                return false;
            }
            self.clean.insert(f);
        }
        if self.cfg.scan_body {
            if let Some(body) = &ev.request_body {
                let b = body.as_bytes();
                let b = &b[..b.len().min(self.cfg.max_body_bytes)];
                if !sigs.field_clean(&mut sigs.walk(), b, true, scratch) {
                    return false;
                }
            }
        }
        true
    }

    /// Decode the scanned fields of an event into `buf`.
    fn fill(&mut self, cx: &EventCtx<'_>) {
        let ev = cx.ev;
        let buf = &mut self.buf;
        buf.clear();
        decode_lower_into(ev.path.as_bytes(), false, buf);
        if !ev.query.is_empty() {
            buf.push(b'?');
            decode_lower_into(ev.query.as_bytes(), true, buf);
        }
        if !ev.user_agent.is_empty() {
            buf.push(b'\n');
            decode_lower_into(ev.user_agent.as_bytes(), false, buf);
        }
        if !ev.referer.is_empty() {
            buf.push(b'\n');
            decode_lower_into(ev.referer.as_bytes(), false, buf);
        }
        if self.cfg.scan_body {
            if let Some(body) = &ev.request_body {
                let b = body.as_bytes();
                let b = &b[..b.len().min(self.cfg.max_body_bytes)];
                buf.push(b'\n');
                decode_lower_into(b, true, buf);
            }
        }
    }
}

fn severity(fam: Family, status: u16) -> Severity {
    let answered = (200..300).contains(&status);
    match fam {
        Family::Xss => Severity::Medium,
        f if f.is_rce() && answered => Severity::Critical,
        _ => Severity::High,
    }
}

impl Detector for Injection {
    fn id(&self) -> &'static str {
        "injection"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if self.clean(cx) {
            return;
        }
        self.fill(cx);
        self.hits.clear();
        self.sigs.scan(&self.buf, &mut self.hits);
        if has_escape(&self.buf) {
            self.buf2.clear();
            decode_lower_into(&self.buf, false, &mut self.buf2);
            self.sigs.scan(&self.buf2, &mut self.hits);
        }
        if self.hits.is_empty() {
            return;
        }
        let ev = cx.ev;
        let now = ev.ts.millis();
        for i in 0..self.hits.len() {
            let (fam, needle) = self.hits[i];
            if !self.cooldown.ready_for(cx.ip, fam.index(), now) {
                continue;
            }
            let answered = if (200..400).contains(&ev.status) {
                "The server answered with a success or redirect status, so check whether the payload reached the application."
            } else {
                "The server refused or failed the request."
            };
            out.push(build_alert(
                cx,
                AlertSpec {
                    detector: "injection",
                    title: format!("{} attempt", fam.name()),
                    description: format!(
                        "{ip} sent a request to {m} {path} carrying a {name} payload (matched `{needle}`; status {st}). {answered} \
                         Block the source if it keeps probing and check the application logs for errors around this time.",
                        ip = ip_text(ev),
                        m = clip(&ev.method, 16),
                        path = clip(&ev.path, 200),
                        name = fam.name(),
                        st = ev.status,
                    ),
                    severity: severity(fam, ev.status),
                    mitre: &["T1190"],
                    owasp: Some("API8:2023"),
                    stage: AttackStage::Exploitation,
                    with_user_agent: true,
                    reasons: vec![reason(&format!("signature_{}", fam.id()), 1.0, Some(1.0))],
                },
            ));
        }
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
            + self.buf.capacity()
            + self.buf2.capacity()
            + self.clean.bytes()
    }
}

/// Registry constructor.
pub fn build(c: InjectionConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(Injection::new(c))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use rampart_model::ApiEvent;

    use super::*;

    /// The full scan's hits for an event (both passes), as the detector computes them.
    fn full_hits(d: &mut Injection, cx: &EventCtx<'_>) -> Vec<Hit> {
        d.fill(cx);
        d.hits.clear();
        d.sigs.scan(&d.buf, &mut d.hits);
        if has_escape(&d.buf) {
            d.buf2.clear();
            decode_lower_into(&d.buf, false, &mut d.buf2);
            d.sigs.scan(&d.buf2, &mut d.hits);
        }
        d.hits.clone()
    }

    /// Guards the fast path: whenever it calls an event clean, the full scan finds nothing,
    /// including matches across the `?` between path and query, double encoding, upper case,
    /// backticks and needles split by `+`.
    #[test]
    fn fast_path_never_hides_a_hit() {
        let fields = [
            "",
            "/api/v2/users/12345",
            "/x<",
            "/x%3C",
            "php",
            "PhP://input",
            "new()",
            "NEW%28%29",
            "q=red%20shoes&sort=price",
            "a=%2527%2520or%25201%253D1",
            "a=union+select+1",
            "a=UNION%20SELECT",
            "%252e%252e%252f",
            "..%2F..%2Fetc",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "curl `id`",
            "%60whoami%60",
            "${jndi:ldap://x}",
            "$%7Bjndi:ldap://x%7D",
            "sleep(5)",
            "nosleep(5)",
            "{\"name\":\"Alice O'Brien\",\"note\":\"leave at door\"}",
            "%%32%65%%32%65/",
            "100%",
            "<ScRiPt>",
        ];
        let mut d = Injection::new(InjectionConfig::default());
        let mut checked = 0;
        for path in fields {
            for query in fields {
                for other in fields {
                    let ev = ApiEvent {
                        path: Cow::Borrowed(path),
                        query: Cow::Borrowed(query),
                        user_agent: Cow::Borrowed(other),
                        referer: Cow::Borrowed(if other.len() % 2 == 0 { other } else { "" }),
                        request_body: (!other.is_empty()).then_some(Cow::Borrowed(other)),
                        ..Default::default()
                    };
                    let cx = EventCtx::new(&ev);
                    // Twice: the second time user agent and referer may come from the cache.
                    for _ in 0..2 {
                        if d.clean(&cx) {
                            let hits = full_hits(&mut d, &cx);
                            assert!(
                                hits.is_empty(),
                                "{path:?} ? {query:?} / {other:?}: {hits:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        // And attacks are not clean.
        for (path, query) in [
            ("/x<", "php"),
            ("/x", "new()"),
            ("/a", "q=%2527%2520or%25201%253D1"),
        ] {
            let ev = ApiEvent {
                path: Cow::Borrowed(path),
                query: Cow::Borrowed(query),
                ..Default::default()
            };
            assert!(!d.clean(&EventCtx::new(&ev)), "{path}?{query}");
        }
    }

    #[test]
    fn needles_are_lower_case() {
        for (n, _, _) in NEEDLES {
            assert_eq!(*n, n.to_ascii_lowercase());
        }
    }
}
