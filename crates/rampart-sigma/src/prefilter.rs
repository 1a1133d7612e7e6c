//! A literal prefilter in front of rsigma's rule evaluation.
//!
//! For each compiled rule we derive a *necessary* condition in conjunctive normal form over
//! literal needles: "the rule can only match if, for every clause, at least one of the
//! clause's needles occurs (ASCII case-insensitively) in one of the event's scanned texts"
//! ([`EventView::visit_scan_texts`]) of the group (keywords, URI, user agent...) its matcher
//! reads. One Aho-Corasick automaton per group, over the needles of all rules for that group,
//! scans the group's texts once per event; a rule is evaluated by rsigma only when its
//! *primary* clause (the most selective one) hit and its other clauses hold too. Rules for
//! which no clause can be derived (a regex without literals, a CIDR, numbers, a field the
//! view does not scan, only negations...) are evaluated on every event ("always evaluate").
//!
//! The derivation works on rsigma's compiled form ([`CompiledRule`]) rather than the parsed
//! YAML, so it sees exactly what is evaluated: modifiers resolved (`contains`, `all`,
//! `base64`, `windash`...), optimizer groupings (`AhoCorasickSet`,
//! `CaseInsensitiveGroup`), and Sigma filters already applied to the rules.
//!
//! Regexes (`|re`, and values with `*` / `?` wildcards, which rsigma compiles to regexes)
//! contribute the literal runs their syntax tree requires (via `regex-syntax`): a run ends at
//! any repetition, alternation or class that is not one letter in either case.
//!
//! **Soundness: the prefilter may only over-approximate.** Every construct it does not
//! understand becomes "no constraint"; `or` keeps one clause per branch (their union);
//! `not` gives no constraint. Case-insensitive values are stored Unicode-lowercased by
//! rsigma and compared against the Unicode-lowercased haystack, so a text that is not pure
//! ASCII is also scanned in its Unicode-lowercased form, and in a form where the two
//! non-ASCII characters regex case folding equates with ASCII letters are replaced by them.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};
use rsigma_eval::{CompiledDetection, CompiledDetectionItem, CompiledMatcher, CompiledRule};
use rsigma_parser::{ConditionExpr, Quantifier};

use crate::view::{scan_group, EventView, ScanGroup};

/// A disjunction of needle ids: at least one must occur. Sorted, deduplicated, never empty.
type Clause = Vec<u32>;

/// Written before every scanned text, so a needle can require "at the start of a value".
const START: char = '\u{1}';
/// Written after every scanned text, so a needle can require "at the end of a value".
const END: char = '\u{2}';

/// A conjunction of clauses; empty means "no constraint".
type Cnf = Vec<Clause>;

/// How one rule is gated.
#[derive(Debug, Clone)]
enum Plan {
    /// Evaluated on every event.
    Always,
    /// Evaluated when the primary clause (indexed in the automaton) hit and every one of
    /// `rest` holds.
    Gated { rest: Vec<Clause> },
}

/// Figures about a built prefilter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefilterStats {
    /// Detection rules behind the prefilter.
    pub rules: usize,
    /// Rules evaluated on every event (no literal condition could be derived).
    pub always_evaluate: usize,
    /// Distinct needles in the automaton.
    pub needles: usize,
    /// Heap bytes of the automaton.
    pub automaton_bytes: usize,
}

/// The per-rule necessary conditions and the automaton over their needles.
pub(crate) struct Prefilter {
    /// Per [`ScanGroup`]: an automaton over the needles looked for in that group's texts
    /// (unanchored, ASCII case-insensitive, reporting every needle ending at each position;
    /// used directly, not through `AhoCorasick`, so the per-byte transition is inlined), and
    /// its pattern index to needle id.
    dfas: Vec<Option<(DFA, Vec<u32>)>>,
    /// Per [`ScanGroup`], the length of its longest needle.
    max_len: Vec<usize>,
    /// Needle id to the rules whose primary clause holds it (CSR layout).
    by_needle_start: Vec<u32>,
    by_needle: Vec<u32>,
    plans: Vec<Plan>,
    always: Vec<u32>,
    needles: usize,
    /// Unique per built prefilter: a scratch's memo of hits holds needle ids of one prefilter.
    id: u64,
}

/// The groups whose texts repeat from event to event (a popular path and query, a client's
/// user agent, a referer, the host, a cookie): their needle hits are remembered by text, so a
/// repeated value costs a hash and a compare instead of a walk of the automaton (the raw line
/// of the keyword group never repeats: it holds the time). With the URI group too: 3.2% fewer
/// instructions per event with the 141 web rules than with the other four alone.
const MEMO_GROUPS: [ScanGroup; 5] = [
    ScanGroup::Uri,
    ScanGroup::UserAgent,
    ScanGroup::Referer,
    ScanGroup::Host,
    ScanGroup::Other,
];
/// Remembered texts per memo group (direct-mapped by hash; a collision replaces).
const MEMO_SLOTS: usize = 256;
/// Longer group texts are scanned, not remembered.
const MEMO_MAX_TEXT: usize = 1024;

static NEXT_PREFILTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One remembered group text and the needles it holds (`text` empty: vacant).
#[derive(Debug, Default, Clone)]
struct Memo {
    text: String,
    hits: Vec<u32>,
}

/// Reusable buffers for prefiltered evaluation ([`crate::RuleSet::evaluate`]); one per
/// detector, so evaluating an event allocates nothing for the prefilter.
#[derive(Debug, Default)]
pub struct Scratch {
    stamp: u32,
    needle_seen: Vec<u32>,
    rule_seen: Vec<u32>,
    /// The event's scanned texts by [`ScanGroup`], each between `START` and `END`.
    texts: [String; ScanGroup::COUNT],
    /// Rules whose primary clause hit.
    gated: Vec<u32>,
    /// Needles found, with repeats.
    hits: Vec<u32>,
    /// Output: rule indices to evaluate, ascending.
    pub(crate) candidates: Vec<u32>,
    /// Remembered hits of [`MEMO_GROUPS`] texts, [`MEMO_SLOTS`] per group, for the prefilter
    /// `memo_of` names.
    memo: Vec<Memo>,
    memo_of: u64,
}

impl Scratch {
    /// Empty buffers; they grow to the rule set's size on first use.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_stamp(&mut self, needles: usize, rules: usize) {
        if self.needle_seen.len() != needles || self.rule_seen.len() != rules {
            self.needle_seen = vec![0; needles];
            self.rule_seen = vec![0; rules];
            self.stamp = 0;
        }
        if self.stamp == u32::MAX {
            self.needle_seen.iter_mut().for_each(|s| *s = 0);
            self.rule_seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 0;
        }
        self.stamp += 1;
    }
}

/// Interns needles by their ASCII-lowercased form (the automata are ASCII
/// case-insensitive, so two needles equal under ASCII folding hit together), recording which
/// groups' texts each must be looked for in.
struct Needles {
    ids: HashMap<String, u32>,
    list: Vec<String>,
    /// Per needle, a bit per [`ScanGroup`] it is looked for in.
    groups: Vec<u8>,
    /// The group whose texts the matcher being derived is applied to.
    group: ScanGroup,
}

impl Needles {
    fn new() -> Self {
        Needles {
            ids: HashMap::new(),
            list: Vec::new(),
            groups: Vec::new(),
            group: ScanGroup::Keywords,
        }
    }

    fn id(&mut self, s: &str) -> u32 {
        let key = s.to_ascii_lowercase();
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.list.len()).expect("fewer than 2^32 needles");
                self.list.push(key.clone());
                self.groups.push(0);
                self.ids.insert(key, id);
                id
            }
        };
        self.groups[id as usize] |= 1 << self.group as u8;
        id
    }

    fn len_of(&self, id: u32) -> usize {
        self.list[id as usize].len()
    }

    /// A clause from literal values; `None` (no constraint) when one is empty, since the
    /// empty string occurs everywhere.
    fn clause<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> Option<Clause> {
        let mut c = Vec::new();
        for v in values {
            if v.is_empty() {
                return None;
            }
            c.push(self.id(v));
        }
        c.sort_unstable();
        c.dedup();
        (!c.is_empty()).then_some(c)
    }

    /// How selective a clause is expected to be: longer shortest needle first, then fewer
    /// needles. Short needles (`/`, `=`) occur in most traffic.
    fn score(&self, c: &Clause) -> (usize, std::cmp::Reverse<usize>) {
        let shortest = c.iter().map(|&n| self.len_of(n)).min().unwrap_or(0);
        (shortest.min(8), std::cmp::Reverse(c.len()))
    }

    fn best(&self, cnf: &Cnf) -> Option<Clause> {
        cnf.iter().max_by_key(|c| self.score(c)).cloned()
    }

    /// `a or b` over CNFs: one clause, the union of each side's best clause. Sound because
    /// each side implies its best clause. No constraint when either side has none.
    /// A single part is kept whole.
    fn or(&self, parts: Vec<Cnf>) -> Cnf {
        if parts.len() == 1 {
            return parts.into_iter().next().unwrap_or_default();
        }
        let mut union = Vec::new();
        let mut any = false;
        for p in parts {
            any = true;
            match self.best(&p) {
                Some(c) => union.extend(c),
                None => return Vec::new(),
            }
        }
        if !any {
            // `or` of nothing is false; "no constraint" is the conservative answer.
            return Vec::new();
        }
        union.sort_unstable();
        union.dedup();
        vec![union]
    }
}

fn and(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut out: Cnf = parts.into_iter().flatten().collect();
    out.sort();
    out.dedup();
    out
}

/// Necessary condition for `m` to match one of the (scanned) strings it is applied to.
fn matcher_cnf(m: &CompiledMatcher, n: &mut Needles) -> Cnf {
    match m {
        CompiledMatcher::Exact { value, .. } => n
            .clause([format!("{START}{value}{END}").as_str()])
            .into_iter()
            .collect(),
        CompiledMatcher::StartsWith { value, .. } => n
            .clause([format!("{START}{value}").as_str()])
            .into_iter()
            .collect(),
        CompiledMatcher::EndsWith { value, .. } => n
            .clause([format!("{value}{END}").as_str()])
            .into_iter()
            .collect(),
        CompiledMatcher::Contains { value, .. } => n.clause([value.as_str()]).into_iter().collect(),
        CompiledMatcher::AhoCorasickSet { needles, .. } => n
            .clause(needles.iter().map(String::as_str))
            .into_iter()
            .collect(),
        CompiledMatcher::AnyOf(children) => {
            let parts: Vec<Cnf> = children.iter().map(|c| matcher_cnf(c, n)).collect();
            n.or(parts)
        }
        CompiledMatcher::AllOf(children) => and(children
            .iter()
            .map(|c| matcher_cnf(c, n))
            .collect::<Vec<_>>()),
        CompiledMatcher::CaseInsensitiveGroup { children, mode } => {
            let parts: Vec<Cnf> = children.iter().map(|c| matcher_cnf(c, n)).collect();
            match mode {
                rsigma_eval::matcher::GroupMode::Any => n.or(parts),
                rsigma_eval::matcher::GroupMode::All => and(parts),
            }
        }
        CompiledMatcher::Regex(re) => regex_cnf(re.as_str(), n),
        CompiledMatcher::RegexSetMatch { set, mode } => {
            let parts: Vec<Cnf> = set.patterns().iter().map(|p| regex_cnf(p, n)).collect();
            match mode {
                rsigma_eval::matcher::GroupMode::Any => n.or(parts),
                rsigma_eval::matcher::GroupMode::All => and(parts),
            }
        }
        // CIDR, numbers, existence, field references, null, booleans, expansion,
        // timestamps, negation: no literal is required.
        _ => Vec::new(),
    }
}

/// The character the prefilter folds `c` to in the extra scan form of non-ASCII texts
/// ([`fold_text`]): the two non-ASCII characters that Unicode simple case folding (regex
/// `(?i)`) equates with an ASCII letter, the long s and the Kelvin sign; others unchanged.
fn fold_char(c: char) -> char {
    match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c,
    }
}

/// `text` with [`fold_char`] applied to every character (lengths in characters preserved).
fn fold_text(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// A run of literal text a regex match must contain contiguously.
#[derive(Default)]
struct Run {
    text: String,
    /// Holds a class member found only in the folded form of the haystack.
    folded: bool,
    /// Holds a non-ASCII literal character (found only in the raw haystack).
    raw_only: bool,
}

/// The one character (ASCII-lowercased) every member of `class` matches under the
/// prefilter's ASCII case-insensitive scan, or `None`. Members outside ASCII count only if
/// [`fold_char`] maps them onto that character; `folded` reports that.
fn class_char(class: &regex_syntax::hir::Class) -> Option<(char, bool)> {
    use regex_syntax::hir::Class;
    let mut members = Vec::new();
    match class {
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (a, b) = (r.start() as u32, r.end() as u32);
                if b - a > 4 || members.len() > 4 {
                    return None;
                }
                members.extend((a..=b).filter_map(char::from_u32));
            }
        }
        Class::Bytes(by) => {
            for r in by.ranges() {
                if r.end() - r.start() > 4 || members.len() > 4 || !r.end().is_ascii() {
                    return None;
                }
                members.extend((r.start()..=r.end()).map(char::from));
            }
        }
    }
    let mut want = None;
    let mut folded = false;
    for m in members {
        let c = if m.is_ascii() {
            m.to_ascii_lowercase()
        } else {
            folded = true;
            fold_char(m).to_ascii_lowercase()
        };
        if !c.is_ascii() || want.is_some_and(|w| w != c) {
            return None;
        }
        want = Some(c);
    }
    want.map(|c| (c, folded))
}

/// Walks a regex's syntax tree collecting the literal runs a match must contain.
struct RegexWalk<'n> {
    n: &'n mut Needles,
    cnf: Cnf,
    run: Run,
}

impl RegexWalk<'_> {
    /// End the current run: a non-empty run becomes a one-needle clause.
    fn flush(&mut self) {
        let run = std::mem::take(&mut self.run);
        if !run.text.is_empty() {
            let id = self.n.id(&run.text);
            self.cnf.push(vec![id]);
        }
    }

    fn push_char(&mut self, c: char, folded: bool) {
        let raw_only = !c.is_ascii() && !folded;
        if (folded && self.run.raw_only) || (raw_only && self.run.folded) {
            self.flush();
        }
        self.run.text.push(c);
        self.run.folded |= folded;
        self.run.raw_only |= raw_only;
    }

    /// Add what `hir` requires, appending to the current run while it stays literal.
    fn walk(&mut self, hir: &regex_syntax::hir::Hir) {
        use regex_syntax::hir::HirKind;
        match hir.kind() {
            HirKind::Look(regex_syntax::hir::Look::Start) => self.push_char(START, false),
            HirKind::Look(regex_syntax::hir::Look::End) => self.push_char(END, false),
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
                Ok(s) => s.chars().for_each(|c| self.push_char(c, false)),
                Err(_) => self.flush(),
            },
            HirKind::Class(class) => match class_char(class) {
                Some((c, folded)) => self.push_char(c, folded),
                None => self.flush(),
            },
            HirKind::Capture(cap) => self.walk(&cap.sub),
            HirKind::Concat(subs) => subs.iter().for_each(|h| self.walk(h)),
            HirKind::Repetition(rep) => {
                self.flush();
                if rep.min >= 1 {
                    let sub = regex_hir_cnf(&rep.sub, self.n);
                    self.cnf.extend(sub);
                }
            }
            HirKind::Alternation(alts) => {
                self.flush();
                let parts: Vec<Cnf> = alts.iter().map(|h| regex_hir_cnf(h, self.n)).collect();
                let or = self.n.or(parts);
                self.cnf.extend(or);
            }
        }
    }
}

fn regex_hir_cnf(hir: &regex_syntax::hir::Hir, n: &mut Needles) -> Cnf {
    let mut w = RegexWalk {
        n,
        cnf: Vec::new(),
        run: Run::default(),
    };
    w.walk(hir);
    w.flush();
    and([w.cnf])
}

/// Necessary condition for a regex (as rsigma compiled it, flags inline) to find a match.
/// No constraint when the pattern does not parse with the default syntax.
fn regex_cnf(pattern: &str, n: &mut Needles) -> Cnf {
    match regex_syntax::Parser::new().parse(pattern) {
        Ok(hir) => regex_hir_cnf(&hir, n),
        Err(_) => Vec::new(),
    }
}

fn item_cnf(item: &CompiledDetectionItem, n: &mut Needles) -> Cnf {
    if item.exists.is_some() {
        return Vec::new();
    }
    match &item.field {
        // A keyword item: matched against the keyword texts.
        None => {
            n.group = ScanGroup::Keywords;
            matcher_cnf(&item.matcher, n)
        }
        Some(f) => match scan_group(f) {
            Some(g) => {
                n.group = g;
                matcher_cnf(&item.matcher, n)
            }
            None => Vec::new(),
        },
    }
}

fn detection_cnf(d: &CompiledDetection, n: &mut Needles) -> Cnf {
    match d {
        CompiledDetection::AllOf(items) => {
            and(items.iter().map(|i| item_cnf(i, n)).collect::<Vec<_>>())
        }
        CompiledDetection::AnyOf(dets) => {
            let parts: Vec<Cnf> = dets.iter().map(|d| detection_cnf(d, n)).collect();
            n.or(parts)
        }
        CompiledDetection::Keywords(m) => {
            n.group = ScanGroup::Keywords;
            matcher_cnf(m, n)
        }
        CompiledDetection::And(dets) => {
            and(dets.iter().map(|d| detection_cnf(d, n)).collect::<Vec<_>>())
        }
        // Array scopes and element-scoped conditions: the view has no arrays of objects.
        _ => Vec::new(),
    }
}

fn condition_cnf(
    c: &ConditionExpr,
    dets: &HashMap<String, CompiledDetection>,
    n: &mut Needles,
) -> Cnf {
    match c {
        ConditionExpr::Identifier(name) => match dets.get(name) {
            Some(d) => detection_cnf(d, n),
            None => Vec::new(),
        },
        ConditionExpr::And(xs) => and(xs
            .iter()
            .map(|x| condition_cnf(x, dets, n))
            .collect::<Vec<_>>()),
        ConditionExpr::Or(xs) => {
            let parts: Vec<Cnf> = xs.iter().map(|x| condition_cnf(x, dets, n)).collect();
            n.or(parts)
        }
        ConditionExpr::Not(_) => Vec::new(),
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut names: Vec<&String> = dets
                .keys()
                .filter(|k| pattern.matches_detection_name(k))
                .collect();
            names.sort();
            let parts: Vec<Cnf> = names.iter().map(|k| detection_cnf(&dets[*k], n)).collect();
            match quantifier {
                Quantifier::All => and(parts),
                // At least one (`1 of`, `N of` with N >= 1) must match.
                Quantifier::Any | Quantifier::Count(1..) => n.or(parts),
                Quantifier::Count(0) => Vec::new(),
            }
        }
    }
}

fn rule_cnf(rule: &CompiledRule, n: &mut Needles) -> Cnf {
    // A rule matches when any of its conditions does.
    let parts: Vec<Cnf> = rule
        .conditions
        .iter()
        .map(|c| condition_cnf(c, &rule.detections, n))
        .collect();
    n.or(parts)
}

/// One automaton walk: the automaton, its pattern index to needle id, the bytes.
type Lane<'a> = (&'a DFA, &'a [u32], &'a [u8]);

/// Push the needle ids found by `lane`'s automaton in its state `sid`.
#[inline(always)]
fn report(dfa: &DFA, ids: &[u32], sid: aho_corasick::automaton::StateID, hits: &mut Vec<u32>) {
    if dfa.is_special(sid) && dfa.is_match(sid) {
        for i in 0..dfa.match_len(sid) {
            hits.push(ids[dfa.match_pattern(sid, i).as_usize()]);
        }
    }
}

/// A memo slot for a text: FNV-1a, eight bytes at a time, folded to [`MEMO_SLOTS`].
fn memo_slot(b: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &x in chunks.remainder() {
        h = (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 29;
    (h as usize) % MEMO_SLOTS
}

/// Walk `a` and (if any) `b` in lockstep, pushing every needle occurrence to `hits`.
fn scan(
    a: Lane<'_>,
    b: Option<Lane<'_>>,
    hits: &mut Vec<u32>,
) -> Result<(), aho_corasick::MatchError> {
    let (da, ia, ta) = a;
    let mut sa = da.start_state(Anchored::No)?;
    let mut rest_a = ta;
    if let Some((db, ib, tb)) = b {
        let mut sb = db.start_state(Anchored::No)?;
        let n = ta.len().min(tb.len());
        for (&x, &y) in ta[..n].iter().zip(&tb[..n]) {
            sa = da.next_state(Anchored::No, sa, x);
            sb = db.next_state(Anchored::No, sb, y);
            report(da, ia, sa, hits);
            report(db, ib, sb, hits);
        }
        rest_a = &ta[n..];
        for &y in &tb[n..] {
            sb = db.next_state(Anchored::No, sb, y);
            report(db, ib, sb, hits);
        }
    }
    for &x in rest_a {
        sa = da.next_state(Anchored::No, sa, x);
        report(da, ia, sa, hits);
    }
    Ok(())
}

impl Prefilter {
    /// Derive every rule's condition and build the automaton.
    pub(crate) fn build(rules: &[CompiledRule]) -> Prefilter {
        let mut n = Needles::new();
        let mut primaries: Vec<Option<Clause>> = Vec::with_capacity(rules.len());
        let mut plans = Vec::with_capacity(rules.len());
        let mut always = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let cnf = rule_cnf(rule, &mut n);
            match n.best(&cnf) {
                Some(primary) => {
                    let rest = cnf.into_iter().filter(|c| *c != primary).collect();
                    primaries.push(Some(primary));
                    plans.push(Plan::Gated { rest });
                }
                None => {
                    primaries.push(None);
                    plans.push(Plan::Always);
                    always.push(u32::try_from(i).expect("fewer than 2^32 rules"));
                }
            }
        }
        // Only needles of primary clauses and of the rest clauses of gated rules matter; all
        // interned needles are in the automaton (rest clauses are checked against hits).
        let needles = n.list.len();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); needles];
        for (i, p) in primaries.iter().enumerate() {
            for &id in p.iter().flatten() {
                lists[id as usize].push(i as u32);
            }
        }
        let mut by_needle_start = Vec::with_capacity(needles + 1);
        let mut by_needle = Vec::new();
        for l in &lists {
            by_needle_start.push(by_needle.len() as u32);
            by_needle.extend_from_slice(l);
        }
        by_needle_start.push(by_needle.len() as u32);
        let dfas = (0..ScanGroup::COUNT)
            .map(|g| {
                let ids: Vec<u32> = (0..needles as u32)
                    .filter(|&id| n.groups[id as usize] & (1 << g) != 0)
                    .collect();
                if ids.is_empty() {
                    return None;
                }
                let dfa = DFA::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .start_kind(StartKind::Unanchored)
                    // A prefilter would be consulted at every return to the start state.
                    .prefilter(false)
                    .build(ids.iter().map(|&id| &n.list[id as usize]))
                    .expect("literal needles always build an automaton");
                Some((dfa, ids))
            })
            .collect();
        let max_len = (0..ScanGroup::COUNT)
            .map(|g| {
                (0..needles)
                    .filter(|&id| n.groups[id] & (1 << g) != 0)
                    .map(|id| n.list[id].len())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        Prefilter {
            dfas,
            max_len,
            by_needle_start,
            by_needle,
            plans,
            always,
            needles,
            id: NEXT_PREFILTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Figures for reports and benches.
    pub(crate) fn stats(&self) -> PrefilterStats {
        PrefilterStats {
            rules: self.plans.len(),
            always_evaluate: self.always.len(),
            needles: self.needles,
            automaton_bytes: self
                .dfas
                .iter()
                .flatten()
                .map(|(d, _)| d.memory_usage())
                .sum(),
        }
    }

    /// Indices of the rules evaluated on every event.
    pub(crate) fn always(&self) -> impl Iterator<Item = usize> + '_ {
        self.always.iter().map(|&i| i as usize)
    }

    /// Fill `s.candidates` with the rules that may match `view`, ascending.
    pub(crate) fn candidates(&self, view: &EventView<'_>, s: &mut Scratch) {
        s.candidates.clear();
        s.next_stamp(self.needles, self.plans.len());
        let stamp = s.stamp;
        {
            for t in &mut s.texts {
                t.clear();
            }
            let texts = &mut s.texts;
            let mut push = |g: ScanGroup, t: &str| {
                let buf = &mut texts[g as usize];
                buf.push(START);
                buf.push_str(t);
                buf.push(END);
            };
            view.visit_scan_texts(&mut |g, text| {
                push(g, text);
                if !text.is_ascii() {
                    push(g, &text.to_lowercase());
                    push(g, &fold_text(text));
                }
            });
            let mut gated = std::mem::take(&mut s.gated);
            gated.clear();
            let hits = &mut s.hits;
            hits.clear();
            // Jobs: (group, byte range of its text). A long text is cut in two overlapping
            // halves (every needle occurrence lies wholly in one). Jobs are then scanned two
            // at a time in lockstep: the walks are chains of dependent table loads, so two
            // independent chains run in about the time of one.
            let mut jobs: [(usize, usize, usize); 2 * ScanGroup::COUNT] =
                [(0, 0, 0); 2 * ScanGroup::COUNT];
            let mut njobs = 0;
            if s.memo_of != self.id {
                s.memo.clear();
                s.memo
                    .resize(MEMO_GROUPS.len() * MEMO_SLOTS, Memo::default());
                s.memo_of = self.id;
            }
            for (g, text) in s.texts.iter().enumerate() {
                if text.is_empty() || self.dfas[g].is_none() {
                    continue;
                }
                if let Some(m) = MEMO_GROUPS.iter().position(|&x| x as usize == g) {
                    if text.len() <= MEMO_MAX_TEXT {
                        let slot = m * MEMO_SLOTS + memo_slot(text.as_bytes());
                        let memo = &mut s.memo[slot];
                        if memo.text == *text {
                            hits.extend_from_slice(&memo.hits);
                            continue;
                        }
                        let (dfa, ids) = self.dfas[g].as_ref().expect("checked above");
                        let start = hits.len();
                        if scan((dfa, ids.as_slice(), text.as_bytes()), None, hits).is_err() {
                            s.candidates.clear();
                            s.candidates.extend(0..self.plans.len() as u32);
                            return;
                        }
                        memo.text.clone_from(text);
                        memo.hits.clear();
                        memo.hits.extend_from_slice(&hits[start..]);
                        continue;
                    }
                }
                let (len, overlap) = (text.len(), self.max_len[g].saturating_sub(1));
                if len > 2 * overlap + 64 {
                    let mid = len / 2;
                    jobs[njobs] = (g, 0, mid);
                    jobs[njobs + 1] = (g, mid - overlap, len);
                    njobs += 2;
                } else {
                    jobs[njobs] = (g, 0, len);
                    njobs += 1;
                }
            }
            let jobs = &mut jobs[..njobs];
            jobs.sort_unstable_by_key(|&(_, a, b)| std::cmp::Reverse(b - a));
            for pair in jobs.chunks(2) {
                let lane = |&(g, a, b): &(usize, usize, usize)| {
                    let (dfa, ids) = self.dfas[g].as_ref().expect("jobs have automata");
                    (dfa, ids.as_slice(), &s.texts[g].as_bytes()[a..b])
                };
                let first = lane(&pair[0]);
                let second = pair.get(1).map(lane);
                if scan(first, second, hits).is_err() {
                    // Unreachable (built for unanchored searches); fail open.
                    s.candidates.clear();
                    s.candidates.extend(0..self.plans.len() as u32);
                    return;
                }
            }
            for &id in hits.iter() {
                let id = id as usize;
                if s.needle_seen[id] == stamp {
                    continue;
                }
                s.needle_seen[id] = stamp;
                let (a, b) = (self.by_needle_start[id], self.by_needle_start[id + 1]);
                for &r in &self.by_needle[a as usize..b as usize] {
                    if s.rule_seen[r as usize] != stamp {
                        s.rule_seen[r as usize] = stamp;
                        gated.push(r);
                    }
                }
            }
            for &r in &gated {
                let Plan::Gated { rest } = &self.plans[r as usize] else {
                    continue;
                };
                let holds = rest
                    .iter()
                    .all(|c| c.iter().any(|&id| s.needle_seen[id as usize] == stamp));
                if holds {
                    s.candidates.push(r);
                }
            }
            s.gated = gated;
        }
        s.candidates.extend_from_slice(&self.always);
        s.candidates.sort_unstable();
    }
}
