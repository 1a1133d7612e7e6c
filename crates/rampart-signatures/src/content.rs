//! `content_inspection`: every value a request carries (path segments, query names and
//! values, cookies, every request header, form / multipart / JSON / XML / GraphQL bodies),
//! normalised by `rampart-inspect` (URL decoding repeated, `%uXXXX`, HTML entities, JS
//! escapes, base64 where a value is base64, case, whitespace, SQL comments), checked by one
//! matcher per attack family ([`FAMILIES`]): SQL injection and XSS through libinjection's
//! tokenizers (the `libinjectionrs` port) plus signatures, command injection, path traversal
//! and file inclusion, template injection, Log4Shell with its lookup obfuscations, XXE, NoSQL
//! operators, LDAP filters, CRLF / header injection and log forging, server-side includes,
//! mail header injection, serialized objects, prototype pollution, GraphQL introspection
//! and abuse. The alert says where the match was: location, parameter name, decoded value.
//!
//! Severity follows confidence: a request the API refused (4xx) is a probe (medium); one it
//! answered 2xx is high, critical for code-execution families.

use std::borrow::Cow;

use rampart_detect::common::{alert, endpoint_key, evidence_copy};
use rampart_detect::registry::Resources;
use rampart_detect::state::{combine, Footprint, KeyedState};
use rampart_detect::{Detector, EventCtx};
use rampart_inspect::{Flow, InspectConfig, Inspector, Location, Value};
use rampart_model::{AlertDraft, ApiEvent, AttackStage, Entity, Severity, Timestamp};

use crate::common::{build_alert, clip, ip_text, reason, AlertSpec, CleanCache, Cooldown};
use crate::injection::{Family as SigFamily, Hit, Signatures};

/// Configuration of `content_inspection`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentConfig {
    /// Seconds during which a second hit of the same family from the same IP raises nothing.
    pub cooldown_secs: i64,
    /// Most (IP, family) cooldown entries held.
    pub max_entries: usize,
    /// Families not to check (ids of [`FAMILIES`]).
    pub disabled_families: Vec<String>,
    /// Bounds of the inspection (body bytes, depth, values, value size).
    pub inspect: InspectConfig,
    /// Window of a campaign: one family against one endpoint from many sources (each sending
    /// one or two requests) is one campaign within this many seconds.
    pub campaign_window_secs: i64,
    /// Most sources one campaign alert lists; the next source starts a new campaign window
    /// (so no source goes unreported).
    pub campaign_max_sources: usize,
    /// Most campaigns tracked (family x endpoint).
    pub max_campaigns: usize,
    /// GraphQL documents nested deeper than this are abuse.
    pub graphql_max_depth: usize,
    /// GraphQL documents with more aliases than this are abuse.
    pub graphql_max_aliases: usize,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            cooldown_secs: 600,
            max_entries: 100_000,
            disabled_families: Vec::new(),
            inspect: InspectConfig::default(),
            campaign_window_secs: 600,
            campaign_max_sources: 1000,
            max_campaigns: 1000,
            graphql_max_depth: 12,
            graphql_max_aliases: 30,
        }
    }
}

/// What one family matcher found in a value.
pub struct Found {
    /// What matched (a needle, a libinjection fingerprint, a rule name).
    pub what: Cow<'static, str>,
    /// How sure the match is: a strong match stands on its own; a weak one only in a
    /// parameter-like place.
    pub strong: bool,
}

/// Checks one value for one attack family.
pub type Check = fn(&Value<'_>, &mut Scratch) -> Option<Found>;

/// One attack family: the registry entry of a matcher.
#[derive(Debug)]
pub struct FamilySpec {
    /// Stable id (`sqli`, `xss`, ...).
    pub id: &'static str,
    /// Human name, used in titles.
    pub name: &'static str,
    /// MITRE ATT&CK techniques.
    pub mitre: &'static [&'static str],
    /// Code execution if it worked.
    pub rce: bool,
    /// Can match a value made only of letters, digits and `/_.-` (a path-like value): the
    /// other families skip such values.
    pub pathlike: bool,
    /// The matcher.
    pub check: Check,
}

/// Classes of the bytes a value holds, one bit each: a family that cannot match without one
/// of its trigger classes skips values that hold none (prose such as `Blue mug, 350 ml` runs
/// only the families that match words).
mod class {
    pub const QUOTE: u32 = 1;
    pub const PAREN: u32 = 1 << 1;
    pub const BRACKET: u32 = 1 << 2;
    pub const BRACE: u32 = 1 << 3;
    pub const ANGLE: u32 = 1 << 4;
    pub const SEMI: u32 = 1 << 5;
    pub const PIPE: u32 = 1 << 6;
    pub const AMP: u32 = 1 << 7;
    pub const DOLLAR: u32 = 1 << 8;
    pub const SLASH: u32 = 1 << 9;
    pub const BSLASH: u32 = 1 << 10;
    pub const DOT: u32 = 1 << 11;
    pub const COLON: u32 = 1 << 12;
    pub const EQ: u32 = 1 << 13;
    pub const PCT: u32 = 1 << 14;
    pub const HASH: u32 = 1 << 15;
    pub const AT: u32 = 1 << 16;
    pub const STAR: u32 = 1 << 17;
    pub const TILDE: u32 = 1 << 18;
    pub const PLUS: u32 = 1 << 19;
    pub const QMARK: u32 = 1 << 20;
    pub const CTRL: u32 = 1 << 21;
    pub const HIGH: u32 = 1 << 22;
    pub const UNDERSCORE: u32 = 1 << 23;
    pub const OTHER: u32 = 1 << 24;
    /// Run on every value.
    pub const ALWAYS: u32 = u32::MAX;

    const fn table() -> [u32; 256] {
        let mut t = [0u32; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = match b {
                b'\'' | b'"' | b'`' => QUOTE,
                b'(' | b')' => PAREN,
                b'[' | b']' => BRACKET,
                b'{' | b'}' => BRACE,
                b'<' | b'>' => ANGLE,
                b';' => SEMI,
                b'|' => PIPE,
                b'&' => AMP,
                b'$' => DOLLAR,
                b'/' => SLASH,
                b'\\' => BSLASH,
                b'.' => DOT,
                b':' => COLON,
                b'=' => EQ,
                b'%' => PCT,
                b'#' => HASH,
                b'@' => AT,
                b'*' => STAR,
                b'~' => TILDE,
                b'+' => PLUS,
                b'?' => QMARK,
                b'_' => UNDERSCORE,
                0..=8 | 10..=31 | 127 => CTRL,
                128..=255 => HIGH,
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b' ' | b'\t' | b',' | b'-' => 0,
                _ => OTHER,
            };
            c += 1;
        }
        t
    }
    static TABLE: [u32; 256] = table();

    /// The classes of the bytes of `s`.
    pub fn of(s: &str) -> u32 {
        s.bytes().fold(0, |m, b| m | TABLE[b as usize])
    }

    /// The classes a family needs at least one of (by family id); [`ALWAYS`] for families
    /// that match words alone (SQL, shell, serialized objects, ...).
    pub fn triggers(id: &str) -> u32 {
        match id {
            "xss" => {
                ANGLE
                    | PAREN
                    | QUOTE
                    | EQ
                    | DOT
                    | BRACKET
                    | BRACE
                    | PLUS
                    | COLON
                    | AMP
                    | BSLASH
                    | PCT
                    | HIGH
            }
            "path_traversal" => DOT | SLASH | BSLASH | COLON | PCT | TILDE | ANGLE,
            "rfi" => DOT | COLON | SLASH | QMARK | BRACKET,
            "log4shell" => BRACE | DOLLAR | PCT,
            "ssti" => BRACE | DOLLAR | PCT | ANGLE | HASH | AT | BRACKET | STAR | PAREN,
            "xxe" => ANGLE | PCT | AMP | COLON,
            "ldap_injection" => PAREN | STAR | COLON,
            "crlf_injection" => CTRL | PCT | HIGH | SLASH,
            "ssi" => ANGLE | HASH,
            "php_injection" => {
                PAREN
                    | DOLLAR
                    | ANGLE
                    | BRACKET
                    | BRACE
                    | COLON
                    | QUOTE
                    | UNDERSCORE
                    | EQ
                    | DOT
                    | SEMI
                    | BSLASH
            }
            "java_injection" => DOT | DOLLAR | BRACE | PCT | PAREN,
            "nodejs_injection" => DOT | PAREN | BRACKET | UNDERSCORE | DOLLAR | BRACE | QUOTE,
            "oast_probe" => DOT,
            "nosql_injection" => {
                PAREN | DOLLAR | PIPE | AMP | EQ | DOT | QUOTE | SEMI | BRACKET | BRACE
            }
            "mail_injection" => CTRL | PCT,
            "prototype_pollution" => UNDERSCORE | DOT | BRACKET | QUOTE,
            "code_injection" => DOLLAR | PCT | BRACE | DOT | HASH | PAREN | BRACKET | AT,
            "session_fixation" => DOT | EQ,
            _ => ALWAYS,
        }
    }
}

/// A list of needles matched at once (one Aho-Corasick automaton, built on first use).
struct Needles {
    words: &'static [&'static str],
    ac: std::sync::OnceLock<aho_corasick::AhoCorasick>,
}

impl Needles {
    const fn new(words: &'static [&'static str]) -> Self {
        Needles {
            words,
            ac: std::sync::OnceLock::new(),
        }
    }
    /// The first needle (leftmost) found in `hay`.
    fn find(&self, hay: &str) -> Option<&'static str> {
        let ac = self.ac.get_or_init(|| {
            aho_corasick::AhoCorasick::new(self.words).expect("built-in needles are valid")
        });
        ac.find(hay).map(|m| self.words[m.pattern().as_usize()])
    }
}

/// A set of words looked up exactly (built on first use).
struct WordSet {
    words: &'static [&'static str],
    set: std::sync::OnceLock<std::collections::HashSet<&'static str>>,
}

impl WordSet {
    const fn new(words: &'static [&'static str]) -> Self {
        WordSet {
            words,
            set: std::sync::OnceLock::new(),
        }
    }
    fn get(&self, w: &str) -> Option<&'static str> {
        self.set
            .get_or_init(|| self.words.iter().copied().collect())
            .get(w)
            .copied()
    }
    fn contains(&self, w: &str) -> bool {
        self.get(w).is_some()
    }
}

static COMMAND_SET: WordSet = WordSet::new(COMMANDS);
static WORDLIKE_SET: WordSet = WordSet::new(WORDLIKE);
static SQL_FUNCTION_SET: WordSet = WordSet::new(SQL_FUNCTIONS);
static PHP_FUNCTION_SET: WordSet = WordSet::new(PHP_FUNCTIONS);
static JAVA_NEEDLES: Needles = Needles::new(JAVA_CLASSES);
static SENSITIVE_NEEDLES: Needles = Needles::new(SENSITIVE_FILES);
static OAST_NEEDLES: Needles = Needles::new(OAST);
static PHP_DANGEROUS_NEEDLES: Needles = Needles::new(PHP_DANGEROUS);
static PHP_HIGH_RISK_NEEDLES: Needles = Needles::new(PHP_HIGH_RISK);
static PHP_CALL_SET: WordSet = WordSet::new(PHP_CALLS);

/// Reused buffers of the matchers.
#[derive(Default)]
pub struct Scratch {
    graphql_max_depth: usize,
    graphql_max_aliases: usize,
    sigs: Option<Signatures>,
    /// Which text (address, length) `hits` were found in.
    scanned: Option<(usize, usize)>,
    hits: Vec<Hit>,
    text: String,
    /// [`class::of`] the value being checked (set before the families run).
    classes: u32,
}

impl Scratch {
    /// The signature set's hit of family `fam` in `hay`: the set is scanned once per text
    /// (every family that asks about the same text reads the same hits).
    fn sig_hit(&mut self, hay: &str, fam: SigFamily) -> Option<&'static str> {
        let key = (hay.as_ptr() as usize, hay.len());
        if self.scanned != Some(key) {
            let sigs = self.sigs.get_or_insert_with(Signatures::new);
            self.hits.clear();
            sigs.scan(hay.as_bytes(), &mut self.hits);
            self.scanned = Some(key);
        }
        self.hits.iter().find(|h| h.0 == fam).map(|h| h.1)
    }
}

/// The form of a value most matchers look at: folded (the base64-decoded text of a value is
/// checked as a value of its own).
fn forms<'v>(v: &'v Value<'v>) -> impl Iterator<Item = &'v str> {
    std::iter::once(v.folded)
}

fn found(what: impl Into<Cow<'static, str>>, strong: bool) -> Option<Found> {
    Some(Found {
        what: what.into(),
        strong,
    })
}

/// Whether a value has anything of SQL's grammar beyond words and parentheses: libinjection
/// alone reads prose like `while (foo) is bar.` or `Left (WA, RR)` as code.
fn sql_context(text: &str) -> bool {
    if text.bytes().any(|b| {
        matches!(
            b,
            b'\'' | b'"' | b'`' | b';' | b'=' | b'<' | b'>' | b'|' | b'&' | b'#'
        )
    }) || text.contains("--")
        || text.contains("/*")
    {
        return true;
    }
    let t = text.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "union",
        "select",
        "sleep(",
        "benchmark(",
        "having ",
        "order by",
        "group by",
        "waitfor",
        "information_schema",
        "exec(",
        "char(",
        "0x",
    ];
    WORDS.iter().any(|w| t.contains(w))
}

/// SQL functions an injection calls (`concat(`, `coalesce (`): the name, then `(`.
const SQL_FUNCTIONS: &[&str] = &[
    "div",
    "lo_get",
    "lo_import",
    "lo_export",
    "pg_read_file",
    "pg_ls_dir",
    "concat",
    "concat_ws",
    "coalesce",
    "compress",
    "uncompress",
    "find_in_set",
    "group_concat",
    "sqlite_compileoption_used",
    "sqlite_compileoption_get",
    "sqlite_version",
    "starts_with",
    "jsonb_pretty",
    "json_build_object",
    "json_extract",
    "json_keys",
    "json_object",
    "unistr",
    "extractvalue",
    "updatexml",
    "load_file",
    "benchmark",
    "pg_sleep",
    "sleep",
    "ascii",
    "substring",
    "substr",
    "mid",
    "ord",
    "hex",
    "unhex",
    "char",
    "nchar",
    "chr",
    "cast",
    "convert",
    "ifnull",
    "nullif",
    "isnull",
    "iif",
    "version",
    "database",
    "user",
    "current_user",
    "system_user",
    "session_user",
    "schema",
    "md5",
    "sha1",
    "sha2",
    "randomblob",
    "lpad",
    "rpad",
    "instr",
    "locate",
    "position",
    "elt",
    "make_set",
    "name_const",
    "exp",
    "floor",
    "rand",
    "geometrycollection",
    "multipoint",
    "polygon",
    "linestring",
    "xmltype",
    "utl_inaddr.get_host_address",
    "dbms_pipe.receive_message",
    "ctxsys.drithsx.sn",
    "to_char",
    "to_number",
    "string_agg",
    "array_agg",
    "pg_read_file",
    "pg_ls_dir",
    "lo_import",
    "current_setting",
    "query_to_xml",
    "xp_dirtree",
    "openrowset",
    "opendatasource",
    "json_depth",
    "json_valid",
    "json_type",
    "json_length",
    "json_array",
    "json_contains",
    "json_search",
    "json_unquote",
    "json_quote",
    "json_set",
    "json_replace",
    "json_insert",
    "json_merge",
    "db_name",
    "host_name",
    "has_dbaccess",
    "is_srvrolemember",
    "fn_xe_file_target_read_file",
    "dbms_xmlgen.getxml",
    "sys_context",
    "waitfor",
];

/// The identifier `head` ends with (ASCII letters, digits, `_`, and `.` when `dots`): scanned
/// by bytes from the end, so the cut is always on a char boundary.
fn trailing_word(head: &str, dots: bool) -> &str {
    let b = head.as_bytes();
    let mut start = b.len();
    while start > 0
        && (b[start - 1].is_ascii_alphanumeric()
            || b[start - 1] == b'_'
            || (dots && b[start - 1] == b'.'))
    {
        start -= 1;
    }
    &head[start..]
}

/// SQL functions that are also common words or math (`trim`, `pow`, `sin`): named alone and
/// left open (`pow(`, `sysdate(`), they are a probe for a function-call injection point.
const SQL_OPEN_CALLS: &[&str] = &[
    "div",
    "lo_get",
    "lo_import",
    "lo_export",
    "pg_read_file",
    "pg_ls_dir",
    "abs",
    "ascii",
    "bin",
    "cos",
    "sin",
    "tan",
    "pow",
    "power",
    "sqrt",
    "exp",
    "floor",
    "ceil",
    "round",
    "rand",
    "trim",
    "ltrim",
    "rtrim",
    "insert",
    "decode",
    "encode",
    "md5",
    "sha1",
    "sha2",
    "sysdate",
    "strcmp",
    "substr",
    "substring",
    "mid",
    "left",
    "right",
    "lower",
    "upper",
    "length",
    "len",
    "char",
    "chr",
    "now",
    "user",
    "database",
    "version",
    "sleep",
    "benchmark",
    "if",
    "ifnull",
    "nullif",
    "isnull",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "hex",
    "unhex",
    "conv",
    "elt",
    "field",
    "instr",
    "locate",
    "position",
    "replace",
    "reverse",
    "space",
    "repeat",
    "lpad",
    "rpad",
    "cast",
    "convert",
    "extractvalue",
    "updatexml",
    "load_file",
    "pg_sleep",
    "waitfor",
    "current_user",
    "session_user",
];

/// A value that is only a SQL function name and an opening parenthesis, maybe with a short
/// argument (`pow(`, `sin (`, `md5\(`): no closing parenthesis, nothing else.
fn sql_open_call(text: &str) -> Option<&'static str> {
    let t = text.trim();
    let (name, rest) = t.split_at(t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?);
    let rest = rest.trim_start().trim_start_matches('\\');
    let arg = rest.strip_prefix('(')?;
    if arg.contains([')', ' ']) || arg.len() > 12 {
        return None;
    }
    SQL_OPEN_CALLS
        .iter()
        .copied()
        .find(|f| f.eq_ignore_ascii_case(name))
}

fn sql_function_call(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'(', &b[i..]) {
        let open = i + off;
        i = open + 1;
        let head = text[..open].trim_end();
        let name = trailing_word(head, true);
        let start = head.len() - name.len();
        if name.is_empty() {
            continue;
        }
        if let Some(f) = SQL_FUNCTION_SET.get(name) {
            // A call with SQL around it: a quote, an operator or a keyword elsewhere.
            if sql_context(text) || start == 0 {
                return Some(f);
            }
        }
    }
    None
}

/// PostgreSQL cast targets: `password::int`, `f(x)::double precision`.
const PG_CASTS: &[&str] = &[
    "int",
    "integer",
    "bigint",
    "smallint",
    "text",
    "varchar",
    "jsonb",
    "json",
    "numeric",
    "double precision",
    "bool",
    "boolean",
    "regclass",
    "oid",
    "bytea",
    "char",
];

/// SQL grammar libinjection's fingerprints miss (folded text: lower case, blanks collapsed,
/// comments turned to blanks; `decoded` keeps MySQL's `/*!` version comments).
fn sql_grammar(t: &str, decoded: &str, classes: u32) -> Option<&'static str> {
    const NEEDLES: &[(&str, &str)] = &[
        ("union select", "UNION SELECT"),
        ("union all select", "UNION SELECT"),
        ("union distinct select", "UNION SELECT"),
        ("unionselect", "UNION SELECT"),
        ("execute immediate", "EXECUTE IMMEDIATE"),
        ("procedure analyse", "PROCEDURE ANALYSE"),
        ("declare @", "DECLARE @variable"),
        ("pg_sleep", "pg_sleep"),
        ("create table ", "CREATE TABLE"),
        (") like (", "LIKE between expressions"),
        (")like(", "LIKE between expressions"),
        ("?| array[", "PostgreSQL JSON operator"),
        ("?& array[", "PostgreSQL JSON operator"),
        ("exec master.", "EXEC master."),
        ("` regexp", "REGEXP after a backtick"),
        ("select if(", "SELECT IF("),
        ("having count(", "HAVING COUNT("),
    ];
    static WORDS: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    let ac = WORDS.get_or_init(|| {
        aho_corasick::AhoCorasick::new(NEEDLES.iter().map(|n| n.0))
            .expect("built-in needles are valid")
    });
    if let Some(m) = ac.find(t) {
        return Some(NEEDLES[m.pattern().as_usize()].1);
    }
    if classes & class::STAR != 0 && decoded.contains("/*!") {
        return Some("MySQL version comment /*!");
    }
    if t.contains("case when ") && t.contains(" then ") {
        return Some("CASE WHEN ... THEN");
    }
    if classes & (class::QUOTE | class::SEMI | class::DOT | class::COLON) == 0 {
        return None;
    }
    // A quote (maybe `;`) then a statement keyword at the start: `';select p`, `'union ...`.
    let q = t.trim_start_matches(['\'', '"', '`']);
    if q.len() < t.len() {
        let q = q.trim_start_matches([';', ' ']);
        for k in [
            "select ", "union ", "insert ", "update ", "delete ", "drop ", "exec ", "declare ",
            "waitfor ",
        ] {
            if q.starts_with(k) {
                return Some("quote then a statement");
            }
        }
        if q.starts_with("!`") || q.starts_with("x'!=") {
            return Some("quote then an operator");
        }
    }
    // `1234 AS "foobar" FROM t`: an alias then FROM.
    for (i, _) in t.match_indices("as") {
        let before = t[..i].chars().next_back();
        if !matches!(before, Some(' ') | None) {
            continue;
        }
        let r = t[i + 2..].trim_start();
        if let Some(q) = r.strip_prefix(['"', '\'', '`']) {
            let w = q
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let after = q[w..].trim_start_matches(['"', '\'', '`']);
            if after.trim_start().starts_with("from") && after.starts_with(' ') {
                return Some("AS alias then FROM");
            }
        }
    }
    if t.contains("'x'!='y") || t.contains("'!='") {
        return Some("quoted comparison");
    }
    // `; truncate[`, `;replace (id) values (`: a statement after `;`.
    for (i, _) in t.match_indices(';') {
        let r = t[i + 1..].trim_start();
        for k in ["truncate", "replace", "alter ", "drop ", "create "] {
            if let Some(after) = r.strip_prefix(k) {
                if after.starts_with(['[', '(', ' '])
                    && (k != "replace" || after.contains("values"))
                {
                    return Some("statement after ;");
                }
            }
        }
    }
    // `email@x';`, `x@y"/* c */;`: a value ended by a quote and `;`, the login-bypass shape.
    let e = t.trim_end();
    if e.ends_with("';")
        || e.ends_with("\";")
        || e.ends_with("`;")
        || (e.ends_with("' ;") && t.contains('@'))
    {
        return Some("quote and ; ending the value");
    }
    // `1.e(ascii)`, `1.e.tables`: MySQL's scientific-notation keyword glue.
    let b = t.as_bytes();
    for (i, _) in t.match_indices(".e") {
        if i > 0 && b[i - 1].is_ascii_digit() && matches!(b.get(i + 2), Some(b'(' | b'.')) {
            return Some("MySQL number-keyword glue 1.e");
        }
    }
    // `x::int`, `f(x)::text`: a PostgreSQL cast.
    for (i, _) in t.match_indices("::") {
        let before = b[..i].last().copied().unwrap_or(b' ');
        if !(before.is_ascii_alphanumeric() || before == b')' || before == b'_') {
            continue;
        }
        let after = &t[i + 2..];
        if PG_CASTS.iter().any(|c| {
            after.starts_with(c)
                && !after[c.len()..].starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
        }) && !t[..i].contains("::")
        {
            return Some("PostgreSQL cast ::");
        }
    }
    None
}

/// Whole values naming a system database or catalogue: what an injection enumerates.
const SYSTEM_DATABASES: &[&str] = &[
    "tempdb",
    "msdb",
    "mysql.db",
    "mysql.user",
    "msysaccessobjects",
    "msysobjects",
    "northwind",
    "information_schema",
    "pg_catalog",
    "sysobjects",
    "syscolumns",
    "schema_name",
    "pg_shadow",
];

fn sqli(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    if v.location.is_name() {
        // A name with a quote or `;` is no name: `';SELECT p` sent as a bare form field.
        if s.classes & (class::QUOTE | class::SEMI) != 0 {
            if let Some(w) = sql_grammar(v.folded, v.decoded, s.classes) {
                return found(w, true);
            }
        }
        return None;
    }
    // A path made of names, slashes and dots is no SQL; other path-like values (a query value
    // such as `Xunionselectfrom`) are read for SQL words only.
    let plain = s.classes & !(class::SLASH | class::DOT | class::UNDERSCORE) == 0;
    if plain && matches!(v.location, Location::Path | Location::PathSegment) {
        return None;
    }
    if let Some(w) = sql_grammar(v.folded, v.decoded, s.classes) {
        return found(w, true);
    }
    if plain {
        return None;
    }
    if SYSTEM_DATABASES.contains(&v.folded.trim()) {
        return found(format!("system database {}", v.folded.trim()), false);
    }
    for text in std::iter::once(v.decoded) {
        if !sql_context(text) {
            continue;
        }
        let r = libinjectionrs::detect_sqli(text.as_bytes());
        if r.is_injection() {
            let fp = r.fingerprint.map(|f| f.to_string()).unwrap_or_default();
            return found(format!("libinjection fingerprint {fp}"), true);
        }
    }
    for text in forms(v) {
        if let Some(n) = s.sig_hit(text, SigFamily::Sqli) {
            return found(n, true);
        }
        if let Some(f) = sql_function_call(text) {
            return found(format!("SQL function {f}()"), true);
        }
        if let Some(f) = sql_open_call(text) {
            return found(format!("SQL function {f}( left open"), false);
        }
        // JSON operators of PostgreSQL / SQLite used to build a condition.
        if s.classes & class::QUOTE != 0
            && (text.contains("::json")
                || text.contains("json_extract(")
                || text.contains("' <@ ")
                || text.contains("' @> ")
                || text.contains("' ? '")
                || text.contains("'->")
                || text.contains("' -> '"))
        {
            return found("JSON operator condition", true);
        }
        // Stacked queries: `';SELECT ...`, `1; drop table`.
        if let Some(i) = text.find(';') {
            let rest = text[i + 1..].trim_start();
            const VERBS: &[&str] = &[
                "select ",
                "select*",
                "insert ",
                "update ",
                "delete ",
                "drop ",
                "exec ",
                "execute ",
                "declare ",
                "shutdown",
                "truncate ",
                "create ",
                "alter ",
            ];
            let before = &text[..i];
            if VERBS.iter().any(|w| rest.starts_with(w))
                && (before.ends_with('\'')
                    || before.ends_with('"')
                    || before.ends_with(')')
                    || before.bytes().all(|b| b.is_ascii_digit()))
            {
                return found("stacked query", true);
            }
        }
    }
    None
}

/// Whether a value has what HTML injection needs: a tag, a script URL, an event handler or
/// a CSS expression (libinjection alone flags `style=color:red` and XML prologs).
fn html_context(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let tag = t.match_indices('<').any(|(i, _)| {
        let rest = &t[i + 1..];
        !rest.starts_with("?xml")
            && rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!')
    });
    let handler = t.match_indices("on").any(|(i, _)| {
        let rest = &t[i + 2..];
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        (i == 0 || !t.as_bytes()[i - 1].is_ascii_alphanumeric())
            && name_len >= 3
            && rest[name_len..].trim_start().starts_with('=')
    });
    let script_url = t.match_indices("script:").any(|(i, _)| {
        let rest = t[i + 7..].trim_start();
        rest.contains(['(', '=', '`']) || rest.starts_with("//")
    });
    tag || handler
        || script_url
        || t.contains("expression(")
        || t.contains("url(javascript")
        || t.contains("data:text/html")
}

/// Script that reads or writes what XSS is after, without any tag: `alert?.(document?.cookie)`,
/// `document["cookie"]`, `window['location']=`.
fn js_sink(t: &str) -> Option<&'static str> {
    const SINKS: &[&str] = &[
        "document.cookie",
        "document?.cookie",
        "document[",
        "document.domain",
        "document.write(",
        "document.location",
        "window.location",
        "window[",
        "top[",
        "self[",
        "parent[",
        "alert(",
        "alert?.(",
        "alert`",
        "prompt(",
        "prompt`",
        "confirm(",
        "confirm`",
        "string.fromcharcode(",
        ".innerhtml",
        ".outerhtml",
        "eval(atob(",
        "constructor(",
        "location.hash",
        "location.href=",
        "importscripts(",
        "postmessage(",
        "alert.call(",
        "alert.apply(",
        "alert.bind(",
        "confirm.call(",
        "confirm.apply(",
        "prompt.call(",
        "prompt.apply(",
        "[\"alert\"]",
        "['alert']",
        "(alert)(",
    ];
    static SINK_NEEDLES: Needles = Needles::new(SINKS);
    SINK_NEEDLES.find(t)
}

/// The text without short tags spliced into words (`o<x>nfocus=alert<x>(1)`, an evasion of
/// filters that strip tags); `None` when there is none.
fn without_spliced_tags(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let spliced = memchr::memchr_iter(b'<', b).any(|i| {
        let n = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        (1..=2).contains(&n) && b.get(i + 1 + n) == Some(&b'>')
    });
    if !spliced {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let (mut i, mut changed) = (0, false);
    while i < b.len() {
        if b[i] == b'<' {
            let n = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase())
                .count();
            if (1..=2).contains(&n) && b.get(i + 1 + n) == Some(&b'>') {
                i += n + 2;
                changed = true;
                continue;
            }
        }
        let ch = t[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    changed.then_some(out)
}

/// Browser-side script spelled to slip past tag matching: an event-handler attribute after
/// a blank or quote, DOM sinks split by comments, entity-split `javascript:`, UTF-7 `<`,
/// VML and HTC behaviours, JSFuck, spaced-out tag names.
fn xss_evasion(v: &Value<'_>) -> Option<&'static str> {
    let t = v.folded;
    if matches!(v.location, Location::Path | Location::PathSegment) {
        return None;
    }
    let header = v.location == Location::HeaderValue;
    if !header {
        // ` onload=`, `"onzoom=`: an event handler where an attribute could start.
        for (i, _) in t.match_indices("on") {
            let before = t[..i].chars().next_back();
            // A name holding `onload=` is an attribute: names never hold `=` otherwise.
            let start_of_name = before.is_none() && v.location.is_name();
            if !matches!(before, Some(' ' | '\t' | '\n' | '"' | '\'' | '/' | '<')) && !start_of_name
            {
                continue;
            }
            let rest = &t[i + 2..];
            let n = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            let min = if t[..i].contains('<') { 3 } else { 4 };
            if (min..=48).contains(&n) && rest[n..].trim_start().starts_with('=') {
                return Some("event handler attribute");
            }
        }
    }
    if !t.contains(['&', '/', '+', '<', '[', '(', '.', ':', '=', '\'', '"']) {
        return None;
    }
    // Blanks and comments removed, the HTML5 whitespace entities dropped.
    let c = compact_code(t, |r, c| {
        if r.starts_with("&tab;") {
            Some(5)
        } else if r.starts_with("&newline;") {
            Some(9)
        } else if r.starts_with("&colon;") {
            c.push(':');
            Some(7)
        } else {
            None
        }
    });
    for (needle, what) in [
        ("document.cookie", "document.cookie"),
        ("document[\"cookie\"]", "document.cookie"),
        ("(document)[\"cookie\"]", "document.cookie"),
        ("document.body.appendchild", "DOM write"),
        ("document.queryselector(", "DOM write"),
        ("document.createelement(", "DOM write"),
        ("document.write(", "DOM write"),
        ("window.location", "window.location"),
        ("self[\"alert\"]", "alert through self[]"),
        ("top[\"alert\"]", "alert through top[]"),
        ("javascript:", "javascript: URL"),
        ("javascript:\\", "javascript: URL with escapes"),
        ("data:,<", "data: URL with markup"),
        ("'formaction=", "formaction attribute"),
        ("\"formaction=", "formaction attribute"),
        ("vbscript:", "vbscript: URL"),
        ("<v:vmlframe", "VML frame"),
        ("<:vmlframe", "VML frame"),
        ("<?importimplementation", "HTC behaviour import"),
        ("<importimplementation", "HTC behaviour import"),
        ("-moz-binding:", "XBL binding"),
        ("+adw-", "UTF-7 encoded <"),
        ("(![]+[])", "JSFuck"),
        ("+!![]", "JSFuck"),
        ("(![]", "JSFuck"),
        ("!![]", "JSFuck"),
        ("atob()", "base64 decode call"),
        ("btoa()", "base64 encode call"),
        ("reflect.", "Reflect call"),
        (":url(javascript", "javascript in CSS url()"),
    ] {
        if c.contains(needle) {
            // A path segment named `document.cookie` is a page about it, not a read of it.
            if what == "document.cookie"
                && matches!(v.location, Location::Path | Location::PathSegment)
                && !c.contains(['(', '=', '`', '<'])
            {
                continue;
            }
            // A URL scheme counts when taking blanks, comments or entities out made it.
            if (needle == "javascript:" || needle == "vbscript:") && t.contains(needle) {
                continue;
            }
            if needle == "reflect."
                && !(c.contains("call`") || c.contains(".call(") || c.contains(".apply("))
            {
                continue;
            }
            if header && !needle.starts_with(['<', '(', '+']) {
                continue;
            }
            return Some(what);
        }
    }
    // `<f o r m`, `<d i a l o g`: a tag name spelled with blanks between its letters.
    for (i, _) in t.match_indices('<') {
        let r = t[i + 1..].trim_start();
        let spaced: String = r
            .chars()
            .take(24)
            .collect::<String>()
            .split(' ')
            .take_while(|p| p.len() == 1 && p.bytes().all(|b| b.is_ascii_alphabetic()))
            .collect();
        if spaced.len() >= 3
            && [
                "form", "dialog", "script", "iframe", "img", "svg", "body", "object", "embed",
                "input", "details", "video", "audio",
            ]
            .iter()
            .any(|tag| spaced.starts_with(tag))
        {
            return Some("tag name spelled with blanks");
        }
    }
    None
}

fn xss(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    if v.location == Location::Xml && v.name == "doctype" {
        return None;
    }
    if let Some(w) = xss_evasion(v) {
        return found(w, true);
    }
    if let Some(t) = without_spliced_tags(v.folded) {
        if html_context(&t) && (js_sink(&t).is_some() || t.contains("script")) {
            return found("script split by spliced tags", true);
        }
    }
    if !v.location.is_name() {
        // In a path only a call counts (`/alert.call(1)`), not a name (`/document.cookie`).
        let in_path = matches!(v.location, Location::Path | Location::PathSegment);
        if let Some(k) = js_sink(v.folded).filter(|k| !in_path || k.contains(['(', '`'])) {
            return found(format!("script sink {k}"), true);
        }
    }
    for text in std::iter::once(v.decoded) {
        if !html_context(text) {
            continue;
        }
        // An XML document in a parameter is XML, not HTML, unless it carries script.
        let t = v.folded;
        if (t.starts_with("<?xml") || t.starts_with("<?xpacket"))
            && !t.contains("script")
            && !t.contains(" on")
            && !svg_with_attributes(t)
        {
            continue;
        }
        if libinjectionrs::detect_xss(text.as_bytes()) != libinjectionrs::XssResult::Safe {
            return found("libinjection html5 tokenizer", true);
        }
    }
    for text in forms(v) {
        if let Some(n) = s.sig_hit(text, SigFamily::Xss) {
            return found(n, true);
        }
    }
    None
}

/// Commands an injected shell runs first.
const COMMANDS: &[&str] = &[
    "invoke-webrequest",
    "invoke-restmethod",
    "invoke-expression",
    "invoke-wmimethod",
    "iwmi",
    "iwr",
    "start-process",
    "regedit",
    "bcdboot",
    "bcdedit",
    "aptitude",
    "htop",
    "aa-disable",
    "aa-enforce",
    "aa-complain",
    "chef",
    "cscli",
    "rmt",
    "trap",
    "lastlog",
    "lastlogin",
    "irb",
    "c89",
    "c99",
    "gdb",
    "cat",
    "id",
    "whoami",
    "uname",
    "wget",
    "curl",
    "nc",
    "ncat",
    "netcat",
    "bash",
    "sh",
    "zsh",
    "ksh",
    "ping",
    "sleep",
    "ls",
    "echo",
    "rm",
    "chmod",
    "chown",
    "python",
    "python3",
    "perl",
    "ruby",
    "php",
    "telnet",
    "nslookup",
    "dig",
    "ifconfig",
    "ipconfig",
    "net",
    "cmd",
    "powershell",
    "systeminfo",
    "tasklist",
    "type",
    "dir",
    "more",
    "head",
    "tail",
    "env",
    "printenv",
    "passwd",
    "useradd",
    "crontab",
    "busybox",
    "nohup",
    "xterm",
    "mkfifo",
    "base64",
    "awk",
    "sed",
    "find",
    "grep",
    "ps",
    "kill",
    "reboot",
    "shutdown",
    "touch",
    "cp",
    "mv",
    "tftp",
    "ftp",
    "scp",
    "ssh",
    "socat",
    "sudo",
    "su",
    "eval",
    "exec",
    "hostname",
    "certutil",
    "bitsadmin",
    "wmic",
    "reg",
    "del",
    "copy",
    "timeout",
    "lwp-download",
    "cd",
    "set",
    "column",
    "fold",
    "flock",
    "base32",
    "cpulimit",
    "comm",
    "perf",
    "time",
    "strace",
    "ltrace",
    "nice",
    "ionice",
    "taskset",
    "xargs",
    "watch",
    "at",
    "batch",
    "who",
    "w",
    "last",
    "top",
    "less",
    "cut",
    "sort",
    "uniq",
    "tr",
    "xxd",
    "od",
    "hexdump",
    "strings",
    "dd",
    "tee",
    "gzip",
    "gunzip",
    "zcat",
    "tar",
    "zip",
    "unzip",
    "bzip2",
    "xz",
    "openssl",
    "gpg",
    "mount",
    "umount",
    "iptables",
    "systemctl",
    "service",
    "kill",
    "killall",
    "pkill",
    "useradd",
    "usermod",
    "groupadd",
    "visudo",
    "chattr",
    "lsattr",
    "setfacl",
    "getfacl",
    "lsof",
    "netstat",
    "ss",
    "route",
    "arp",
    "traceroute",
    "tracepath",
    "host",
    "whois",
    "finger",
    "rsync",
    "rcp",
    "rlogin",
    "rsh",
    "lua",
    "node",
    "nodejs",
    "java",
    "gcc",
    "cc",
    "make",
    "docker",
    "kubectl",
    "vi",
    "vim",
    "nano",
    "ed",
    "emacs",
    "man",
    "info",
    "apt",
    "apt-get",
    "yum",
    "dnf",
    "rpm",
    "dpkg",
    "pip",
    "npm",
    "gem",
    "cargo",
    "go",
    "tclsh",
    "expect",
    "jq",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "date",
    "file",
    "stat",
    "readlink",
    "realpath",
    "ln",
    "mkdir",
    "rmdir",
    "shred",
    "unlink",
    "diff",
    "cmp",
    "paste",
    "join",
    "split",
    "csplit",
    "fmt",
    "pr",
    "nl",
    "rev",
    "tac",
    "expand",
    "unexpand",
    "iconv",
    "getent",
    "id",
    "groups",
    "ulimit",
    "uptime",
    "free",
    "df",
    "du",
    "lscpu",
    "lsblk",
    "dmesg",
    "journalctl",
    "sysctl",
    "modprobe",
    "insmod",
    "lsmod",
    "chroot",
    "setsid",
    "script",
    "screen",
    "tmux",
    "start-process",
    "invoke-expression",
    "iex",
    "invoke-webrequest",
    "iwr",
    "new-object",
    "get-content",
    "set-content",
    "get-childitem",
    "regsvr32",
    "rundll32",
    "mshta",
    "cscript",
    "wscript",
    "schtasks",
    "sc",
    "netsh",
    "vssadmin",
    "bcdedit",
    "icacls",
    "takeown",
    "attrib",
    "findstr",
    "query",
    "quser",
    "whoami.exe",
    "cmd.exe",
    "ansible",
    "bsdtar",
    "bridge",
    "nmap",
    "masscan",
    "sqlmap",
    "hydra",
    "msfconsole",
    "msfvenom",
];

fn command_after(rest: &str) -> Option<&'static str> {
    let rest = rest.trim_start_matches([' ', '\t', '{', '(', '!']);
    let rest = rest
        .strip_prefix("/usr/bin/")
        .or_else(|| rest.strip_prefix("/bin/"))
        .or_else(|| rest.strip_prefix("/usr/local/bin/"))
        .unwrap_or(rest);
    let word_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let word = &rest[..word_end];
    let word = word.strip_suffix(".exe").unwrap_or(word);
    let next = rest[word_end..].chars().next();
    // A command word alone at the end, or followed by an argument or another separator.
    if !matches!(
        next,
        None | Some(
            ' ' | '\t' | ';' | '|' | '&' | '`' | ')' | '$' | '<' | '>' | '\'' | '"' | '+' | ','
        )
    ) {
        return None;
    }
    let cmd = COMMAND_SET
        .get(word)
        .or_else(|| tool_family(word))
        .or_else(|| versioned(word))?;
    if WORDLIKE_SET.contains(cmd) {
        // `a hero; more than`: an English word after `;` is prose unless its argument is a
        // path, a flag, a variable or nothing at all.
        let arg = rest[word_end..].trim_start();
        let codey = arg.is_empty()
            || arg.starts_with([
                '/', '-', '$', '.', '~', '\\', '`', '|', ';', '&', '>', '<', '\'', '"',
            ])
            || arg
                .split(' ')
                .next()
                .is_some_and(|a| COMMAND_SET.contains(a) && !WORDLIKE_SET.contains(a));
        if !codey {
            return None;
        }
    }
    Some(cmd)
}

/// Commands that are also English words.
const WORDLIKE: &[&str] = &[
    "more", "type", "time", "find", "head", "tail", "touch", "copy", "del", "dir", "echo", "env",
    "kill", "net", "su", "sleep", "ping", "eval", "exec", "reg", "timeout", "cd", "set", "print",
    "id", "cat", "sh", "ps", "cp", "mv", "rm", "ls", "dig", "column", "fold", "comm", "nice",
    "watch", "at", "who", "top", "less", "cut", "sort", "join", "split", "paste", "date", "file",
    "test", "true", "false", "yes", "wait", "read", "source", "zip", "tar", "man",
];

/// The interpreter a versioned name (`gcc10.1`, `python3.10`) runs.
fn versioned(word: &str) -> Option<&'static str> {
    VERSIONED.iter().copied().find(|v| {
        word.strip_prefix(v)
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    })
}

/// Interpreters whose name carries a version (`python3.10`, `php8.1`).
const VERSIONED: &[&str] = &[
    "python", "perl", "ruby", "php", "node", "lua", "java", "bash", "pip", "gcc",
];

fn command_at_start(text: &str) -> Option<&'static str> {
    let word_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let word = &text[..word_end];
    let rest = text[word_end..].trim_start();
    // A hyphenated tool name (`ansible-console`, `ansible-config dump`) is specific enough
    // to be a command line on its own.
    if let Some(cmd) = tool_family(word) {
        if rest.is_empty() || text[word_end..].starts_with([' ', '\t', '\n']) {
            return Some(cmd);
        }
    }
    if rest.is_empty() || !text[word_end..].starts_with([' ', '\t']) {
        return None;
    }
    let cmd = COMMAND_SET
        .get(word)
        .or_else(|| tool_family(word))
        .or_else(|| {
            VERSIONED.iter().copied().find(|v| {
                word.strip_prefix(v).is_some_and(|r| {
                    !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                })
            })
        })?;
    let mut args = rest.split([' ', '\t']).filter(|a| !a.is_empty());
    let arg = args.next().unwrap_or("");
    // `time sh -c whoami`: a command word, then a flag.
    let chained = COMMAND_SET.contains(arg) && args.next().is_some_and(|a| a.starts_with('-'));
    let codey = arg.starts_with(['/', '-', '$', '~', '\\', '`', '|', ';', '&', '>', '<'])
        // A downloader or shell tool given a URL: `Invoke-WebRequest http://x/a.ps1`.
        || (!WORDLIKE_SET.contains(cmd)
            && (arg.starts_with("http://") || arg.starts_with("https://") || arg.starts_with("ftp://")))
        || chained
        || (COMMAND_SET.contains(arg) && !WORDLIKE_SET.contains(arg))
        || (arg.starts_with(['\'', '"']) && rest.contains(' '));
    (codey
        && !(WORDLIKE_SET.contains(cmd)
            && !arg.starts_with(['/', '-', '$', '`', '|', ';', '&', '>', '<'])
            && !COMMAND_SET.contains(arg)
            && !chained))
        .then_some(cmd)
}

/// A tool of a family named by its first part (`ansible-config`, `git-upload-pack`): the
/// part before the first `-`, when it is a command that is not an English word.
fn tool_family(word: &str) -> Option<&'static str> {
    let (head, tail) = word.split_once('-')?;
    let cmd = COMMAND_SET.get(head)?;
    (!tail.is_empty() && !WORDLIKE_SET.contains(cmd)).then_some(cmd)
}

/// `/etc/pa[s]swd`, `/[?]tc/pa[?]swd`, `/e??/p*wd`: a path spelled with glob patterns.
fn shell_glob_path(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || c == ';' || c == '|')
        .any(|tok| {
            // A regular expression (`/[a-z]{1,5}/`) is not a path.
            !tok.contains(['{', '}', '^', '$', '+', '\\'])
                && tok.starts_with('/')
                && tok.matches('/').count() >= 2
                && (tok.contains("[?]")
                    || tok.contains("??")
                    || (tok.contains('[')
                        && tok.contains(']')
                        && tok.find('[').zip(tok.find(']')).is_some_and(|(a, b)| {
                            // `[s]`, `[!q]`, `[m-z]`, `[e///]`: a bracket expression.
                            b == a + 2
                                || (b > a + 2
                                    && b <= a + 8
                                    && (tok[a + 1..b].starts_with('!')
                                        || tok[a + 1..b].contains(['-', '/'])))
                        }))
                    || tok.contains("/*/")
                    || tok.contains("?/"))
        })
}

/// The value with shell quoting removed (`ti''me`, `'curl'`, `"cscli"`, `\\w\\get`) and
/// unset-looking variables dropped (`sh$XX`, `$u wget`): what the shell would run. `None`
/// when there is nothing to remove.
fn shell_unquoted(text: &str) -> Option<String> {
    if !text.contains(['\'', '"', '\\', '$']) {
        return None;
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'\\' => i += 1,
            b'$' => {
                let n = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                let var = &text[i + 1..i + 1 + n];
                const KEEP: &[&str] = &["shell", "home", "path", "ifs", "pwd", "user", "0"];
                if n > 0 && !KEEP.contains(&var) && !var.bytes().all(|c| c.is_ascii_digit()) {
                    i += 1 + n;
                } else {
                    out.push('$');
                    i += 1;
                }
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    (out != text).then_some(out)
}

/// Bash brace expansion that spells a command: `{l,-lh}s` is `ls -lhs`, `c{a,oun}t` is
/// `cat count`, `{,ifconfig,eth0}` is `ifconfig eth0`.
fn brace_command(text: &str) -> Option<&'static str> {
    for (open, _) in text.match_indices('{') {
        let rest = &text[open + 1..];
        let Some(close) = rest.find('}') else {
            continue;
        };
        let inner = &rest[..close];
        if !inner.contains(',') || inner.contains(['{', ' ', '"', ':']) || inner.len() > 40 {
            continue;
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
        let pre_start = text[..open]
            .char_indices()
            .rev()
            .take_while(|(_, c)| word(*c))
            .last()
            .map_or(open, |(i, _)| i);
        let prefix = &text[pre_start..open];
        let after = &rest[close + 1..];
        let suffix = &after[..after.find(|c: char| !word(c)).unwrap_or(after.len())];
        let first = inner
            .split(',')
            .map(|alt| format!("{prefix}{alt}{suffix}"))
            .find(|w| !w.is_empty())?;
        if let Some(cmd) = COMMAND_SET.get(first.as_str()) {
            return Some(cmd);
        }
    }
    None
}

fn command_injection(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    if v.location.is_name() {
        // A name is not a command line, but a Shellshock function definition is one anywhere.
        return v.folded.trim_start().starts_with("() {").then_some(Found {
            what: Cow::Borrowed("shellshock function definition"),
            strong: true,
        });
    }
    let unquoted = shell_unquoted(v.folded);
    for text in forms(v).chain(unquoted.as_deref()) {
        if let Some(n) = s.sig_hit(text, SigFamily::CommandInjection) {
            return found(n, true);
        }
        let b = text.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            let rest = match c {
                b';' | b'|' | b'&' | b'`' | b'\n' => &text[i + 1..],
                b'$' if b.get(i + 1) == Some(&b'(') => &text[i + 2..],
                _ => continue,
            };
            let rest = rest.trim_start_matches(['|', '&']);
            if let Some(cmd) = command_after(rest) {
                // `a;b` in prose is common: a command after `;`/`&` needs an argument or the
                // value to end there; `|`, backticks and `$(` are code on their own.
                return found(format!("separator then `{cmd}`"), true);
            }
        }
        if text.starts_with("() {") {
            return found("shellshock function definition", true);
        }
        // Prose (letters, digits, blanks, `,` and `-` only) can be a command line or a
        // `cmd` conditional; everything below needs punctuation.
        if s.classes == 0 {
            if let Some(cmd) = command_at_start(text) {
                return found(format!("command line `{cmd}`"), true);
            }
            if let Some(w) = windows_batch(text) {
                return found(w, true);
            }
            continue;
        }
        // A command line as the whole value: `strace ifconfig`, `cat /etc/pa[s]swd`,
        // `busybox -c "echo hi"`, `python3.10 cmd` (the argument must look like code).
        if let Some(cmd) = command_at_start(text) {
            return found(format!("command line `{cmd}`"), true);
        }
        for (pat, what) in [
            ("<(", "process substitution"),
            (">(", "process substitution"),
            ("${ifs}", "$IFS"),
        ] {
            if let Some(i) = text.find(pat) {
                if text[i + pat.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
                    || pat == "${ifs}"
                {
                    return found(what, true);
                }
            }
        }
        if let Some(a) = text.strip_prefix("alias ").or_else(|| {
            text.match_indices("alias ")
                .find(|(i, _)| text[..*i].trim_end().ends_with([';', '&', '|']))
                .map(|(i, _)| &text[i + 6..])
        }) {
            // `alias name=cmd`, with flags first (`alias -p a=id`, `alias +m a=b`).
            if a.split(' ')
                .find(|d| !d.starts_with(['-', '+']))
                .is_some_and(|d| d.contains('='))
            {
                return found("shell alias definition", true);
            }
        }
        if shell_glob_path(text) {
            return found("shell glob in a path", true);
        }
        if let Some(cmd) = brace_command(text) {
            return found(format!("brace expansion spelling `{cmd}`"), true);
        }
        // `whoami`, `visudo`: a probe command alone as the whole value.
        if [
            "whoami",
            "visudo",
            "ifconfig",
            "ipconfig",
            "netstat",
            "systeminfo",
            "cscli",
        ]
        .contains(&text.trim())
        {
            return found(format!("command `{}` alone", text.trim()), true);
        }
        // `~+`, `~-1`: tilde expansion of the directory stack, alone as a value.
        let t = text.trim();
        if t.len() <= 4
            && t.starts_with("~+") | t.starts_with("~-")
            && t[2..].bytes().all(|c| c.is_ascii_digit())
        {
            return found("tilde expansion", true);
        }
        // `!-1`: bash history expansion.
        if text
            .match_indices("!-")
            .any(|(i, _)| text[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
        {
            return found("history expansion !-N", true);
        }
        // `/bin/ab`, `bin/ansible`, `/usr/bin/perl -e ...`: a binary named by its path.
        {
            let p = text.trim_start();
            let p = p
                .strip_prefix("/usr/local/")
                .or_else(|| p.strip_prefix("/usr/"))
                .unwrap_or(p);
            let p = p.strip_prefix('/').unwrap_or(p);
            if let Some(bin) = p.strip_prefix("bin/").or_else(|| p.strip_prefix("sbin/")) {
                let w = bin
                    .bytes()
                    .take_while(|b| {
                        b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_' || *b == b'.'
                    })
                    .count();
                let word = &bin[..w];
                let known = COMMAND_SET.contains(word)
                    || VERSIONED.iter().any(|v| {
                        word.strip_prefix(v)
                            .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                    });
                if w > 0 && known {
                    return found(format!("binary path bin/{word}"), true);
                }
            }
        }
        // `$[2+2]`: bash arithmetic expansion.
        if text.contains("$[") {
            return found("arithmetic expansion $[", true);
        }
        // `${x#{}}`, `${PATH%/*}`: parameter expansion with a pattern operator.
        for (i, _) in text.match_indices("${") {
            let r = &text[i + 2..];
            let n = r
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if n > 0 && r[n..].starts_with(['#', '%', '/', '^']) && r[n..].contains('}') {
                return found("shell parameter expansion", true);
            }
        }
        // `${SHELL} -c ...`, `$SHELL -c`: the user's shell run with a command.
        if (text.starts_with("${shell}") || text.starts_with("$shell")) && text.contains(" -c") {
            return found("$SHELL -c", true);
        }
        // `whoami;...`: a command word (not English) at the start, then a separator.
        let w = text
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if w > 0
            && text[w..].starts_with([';', '|', '&', '`'])
            && COMMAND_SET
                .get(&text[..w])
                .is_some_and(|c| !WORDLIKE_SET.contains(c))
        {
            return found(format!("command `{}` then a separator", &text[..w]), true);
        }
        if let Some(w) = windows_batch(text) {
            return found(w, true);
        }
    }
    None
}

const SENSITIVE_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/hosts",
    "/etc/group",
    "/etc/issue",
    "/proc/self/",
    "/proc/version",
    "boot.ini",
    "win.ini",
    "system32",
    "/windows/",
    "web.config",
    "/.htaccess",
    ".htpasswd",
    "/var/log/",
    "wp-config.php",
    "/.ssh/",
    "id_rsa",
    "/etc/motd",
    "/.claude/",
    "/.roo/",
    "/.zed/",
    "/.cline/",
    "/.kiro/",
    "/.rovodev/",
    "/.vscode/",
    "/.idea/",
    "/.cursor/",
    "/.continue/",
    "/.aider",
    "/.codeium/",
    "/.windsurf",
    "/.aws/credentials",
    "/.docker/config.json",
    "/.kube/config",
    "/.npmrc",
    "/.pypirc",
    "/etc/crontab",
    "/.bash_history",
    "/etc/environment",
    "ntuser.dat",
    "/windows/win.ini",
    "/.codex/",
    "/.opencode/",
    "/.a0proj/",
    "/.plandex/",
    "/.fabric/",
    "/.n8n/",
    "/.junie/",
    "/.gemini/",
    "/.aiignore",
    "/.cursorignore",
    "/.docker/secrets",
    "/sys/class",
    "/sys/kernel",
    "/proc/interrupts",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/net/",
    "/wp-content/debug.log",
    "/wp-content/error.log",
    "/wp-content/errors.log",
    ">/tmp/",
    "backup.sql",
];

const WRAPPERS: &[&str] = &[
    "file://",
    "php://",
    "expect://",
    "zip://",
    "phar://",
    "glob://",
    "data://",
    "jar:",
    "data:text/plain;base64",
    "data:text/plain",
    "data:text/html",
    "gopher://",
    "dict://",
    "ogg://",
    "rar://",
];

/// Where `pat` occurs in `b`, first byte found with `memchr`: the same positions as
/// `str::match_indices` for a pattern that cannot overlap itself (`if`, `for `), without
/// building a substring searcher per call (that cost showed in the body profile).
fn occurrences<'b>(b: &'b [u8], pat: &'static [u8]) -> impl Iterator<Item = usize> + 'b {
    memchr::memchr_iter(pat[0], b).filter(move |&i| b[i..].starts_with(pat))
}

fn windows_batch(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    // One pass finds which of the sections below can match at all (each needs its word).
    let (mut has_for, mut has_if) = (false, false);
    for i in memchr::memchr2_iter(b'i', b'f', b) {
        has_for |= b[i..].starts_with(b"for ");
        has_if |= b[i..].starts_with(b"if ") || b[i..].starts_with(b"if/");
        if has_for && has_if {
            break;
        }
    }
    if !has_for && !has_if {
        return None;
    }
    // `for %i in (set) do command`, `for /f "tokens" %a in ('cmd') do ...`.
    for i in occurrences(b, b"for ").take_while(|_| has_for) {
        let rest = &text[i + 4..];
        let at_word = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        if at_word
            && (rest.starts_with('%') || rest.starts_with('/'))
            && (rest.contains(" in (") || rest.contains(" in(") || rest.contains(" in  ("))
        {
            // The set's closing `)`, then `do`.
            let set = rest.find(" in").map_or(rest, |k| &rest[k..]);
            if let Some(close) = set.find(')') {
                if set[close + 1..].trim_start().starts_with("do") {
                    return Some("cmd for loop");
                }
            }
        }
    }
    // `if exist x`, ... at the start or after a separator: the first pattern of the list
    // found so (every one starts with `if `, so only those positions are looked at).
    const IF_PATTERNS: [(&str, &str); 5] = [
        ("if exist ", "cmd if exist"),
        ("if not exist ", "cmd if exist"),
        ("if defined ", "cmd if defined"),
        ("if errorlevel ", "cmd if errorlevel"),
        ("if /i ", "cmd if"),
    ];
    let mut matched = 0u8;
    for i in occurrences(b, b"if ").take_while(|_| has_if) {
        if i != 0 && !text[..i].trim_end().ends_with(['&', '|', ';']) {
            continue;
        }
        for (k, (pat, _)) in IF_PATTERNS.iter().enumerate() {
            if text[i..].starts_with(pat) {
                matched |= 1 << k;
            }
        }
    }
    if matched != 0 {
        return Some(IF_PATTERNS[matched.trailing_zeros() as usize].1);
    }
    // `IF "%1"=="/?" GOTO help`, `if not defined var (set var=1)`, `if %a% gtr %b% echo x`:
    // a cmd condition, then a command.
    for i in occurrences(b, b"if").take_while(|_| has_if) {
        let at_start = i == 0 || text[..i].trim_end().ends_with(['&', '|', ';', '(']);
        let rest = &text[i + 2..];
        if !at_start || !rest.starts_with([' ', '/']) {
            continue;
        }
        const CONDITIONS: &[&str] = &[
            "==",
            " equ ",
            " neq ",
            " lss ",
            " leq ",
            " gtr ",
            " geq ",
            "defined ",
            "exist ",
            "errorlevel ",
            "cmdextversion ",
        ];
        const ACTIONS: &[&str] = &[
            " echo", "@echo", " goto ", " set ", " exit", " cd ", " call ", " start ", " cmd",
            " del ", " copy ", " type ", " (", "...",
        ];
        let cmdish = rest.contains('%') || rest.contains(" not ") || rest.starts_with("/i");
        if CONDITIONS.iter().any(|c| rest.contains(c))
            && (ACTIONS.iter().any(|a| rest.contains(a)) || rest.trim_end().ends_with('('))
            && (cmdish
                || CONDITIONS[1..].iter().any(|c| rest.contains(c))
                || rest.contains(" echo"))
        {
            return Some("cmd if statement");
        }
    }
    None
}

/// Java classes and packages that an injected expression or gadget chain names.
const JAVA_CLASSES: &[&str] = &[
    "java.lang.",
    "javax.",
    "org.apache.commons",
    "org.omg.",
    "com.sun.",
    "org.jboss.",
    "weblogic.",
    "com.caucho.",
    "com.mchange.",
    "org.apache.bcel",
    "com.alibaba.fastjson",
    "clojure.",
    "java.lang.runtime",
    "java.runtime",
    "java.lang.processbuilder",
    "java.lang.process",
    "java.lang.system",
    "java.lang.reflect",
    "java.lang.class",
    "java.lang.classloader",
    "java.lang.thread",
    "java.lang.object",
    "java.lang.string",
    "java.beans.",
    "java.io.",
    "java.net.",
    "java.nio.",
    "java.util.",
    "java.rmi.",
    "java.security.",
    "javax.script",
    "javax.naming",
    "javax.management",
    "javax.el.",
    "javax.xml",
    "com.opensymphony.xwork2",
    "com.sun.org.apache",
    "com.sun.rowset",
    "com.sun.jndi",
    "com.sun.jmx",
    "com.sun.corba",
    "com.sun.script",
    "org.apache.commons.collections",
    "org.apache.commons.beanutils",
    "org.apache.xalan",
    "org.apache.xbean",
    "org.apache.tomcat",
    "org.apache.catalina",
    "org.apache.struts",
    "org.apache.naming",
    "org.springframework.",
    "org.codehaus.groovy",
    "org.hibernate.",
    "org.mozilla.javascript",
    "org.python.",
    "groovy.lang",
    "bsh.interpreter",
    "ognl.",
    "sun.misc.",
    "sun.reflect.",
    "sun.rmi.",
    "jdk.nashorn",
    "freemarker.template",
    "clonetransformer",
    "forclosure",
    "instantiatefactory",
    "instantiatetransformer",
    "invokertransformer",
    "prototypeclonefactory",
    "prototypeserializationfactory",
    "whileclosure",
    "chainedtransformer",
    "constanttransformer",
    "lazymap",
    "templatesimpl",
    "getruntime",
    "processbuilder",
    "xwork.methodaccessor",
    "_memberaccess",
    "class.module.classloader",
    "class.classloader",
    "@java.lang",
    "ysoserial",
];

/// Extensions of Java server pages: an upload with one is a web shell.
const JSP_EXTENSIONS: &[&str] = &[".jsp", ".jspx", ".jspf", ".jsw", ".jsv", ".jtml"];

/// An uploaded file name (header or multipart) with blanks and trailing dots taken out, as
/// Windows and lenient servers store it: `shell. jsp ` is `shell.jsp`.
fn upload_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
        .trim_end_matches(['.', '/'])
        .to_string()
}

fn has_extension(name: &str, exts: &'static [&'static str]) -> Option<&'static str> {
    exts.iter().copied().find(|e| name.ends_with(e))
}

fn java(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if v.location == Location::MultipartFilename {
        if let Some(e) = has_extension(&upload_name(v.raw), JSP_EXTENSIONS) {
            return found(format!("uploads a {e} file"), true);
        }
    }
    for text in forms(v) {
        if let Some(c) = JAVA_NEEDLES.find(text) {
            return found(format!("Java class {c}"), true);
        }
    }
    None
}

/// PHP's variable functions: `$a(1)`, `$$b(2)`, `$__['o'](4)`, `${@a}(10)`,
/// `$GLOBALS['x'](14)`.
fn php_variable_call(text: &str) -> bool {
    let b = text.as_bytes();
    for (i, _) in text.match_indices('$') {
        let mut j = i + 1;
        while j < b.len() && matches!(b[j], b'$' | b'{' | b'@') {
            j += 1;
        }
        let id_start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        if j == id_start && !(j > i + 1 && b[j - 1] == b'{') {
            continue;
        }
        // Index and brace segments: `['o']`, `[@$c]`, `}`.
        loop {
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            match b.get(j) {
                Some(b'}') => j += 1,
                Some(b'[') => match memchr::memchr(b']', &b[j..]) {
                    Some(k) if k < 64 => j += k + 1,
                    _ => break,
                },
                _ => break,
            }
        }
        if b.get(j) == Some(&b'(') {
            return true;
        }
    }
    false
}

/// PHP functions an injection calls.
const PHP_FUNCTIONS: &[&str] = &[
    "system",
    "exec",
    "passthru",
    "shell_exec",
    "popen",
    "proc_open",
    "pcntl_exec",
    "eval",
    "assert",
    "phpinfo",
    "base64_decode",
    "gzinflate",
    "gzuncompress",
    "str_rot13",
    "create_function",
    "call_user_func",
    "call_user_func_array",
    "preg_replace",
    "file_get_contents",
    "file_put_contents",
    "fopen",
    "fwrite",
    "readfile",
    "include",
    "require",
    "include_once",
    "require_once",
    "unserialize",
    "serialize",
    "var_dump",
    "print_r",
    "highlight_file",
    "show_source",
    "php_uname",
    "getenv",
    "putenv",
    "ini_set",
    "ini_get",
    "chmod",
    "chown",
    "unlink",
    "rmdir",
    "mkdir",
    "move_uploaded_file",
    "copy",
    "curl_exec",
    "fsockopen",
    "pfsockopen",
    "stream_socket_client",
    "mail",
    "array_map",
    "array_filter",
    "usort",
    "uasort",
    "uksort",
    "ob_start",
    "register_shutdown_function",
    "posix_getpwuid",
    "posix_kill",
    "posix_setuid",
    "dl",
    "symlink",
    "link",
    "scandir",
    "glob",
    "opendir",
    "readdir",
    "file",
    "parse_str",
    "extract",
    "putenv",
    "apache_setenv",
    "get_defined_vars",
    "get_defined_functions",
    "func_get_args",
    "phpversion",
];

/// PHP functions that only code calls: their name, then (after blanks and comments) `(`.
const PHP_DANGEROUS: &[&str] = &[
    "system",
    "exec",
    "passthru",
    "shell_exec",
    "popen",
    "proc_open",
    "pcntl_exec",
    "eval",
    "assert",
    "phpinfo",
    "base64_decode",
    "gzinflate",
    "str_rot13",
    "create_function",
    "call_user_func",
    "call_user_func_array",
    "preg_replace",
    "file_get_contents",
    "file_put_contents",
    "fputcsv",
    "fwrite",
    "fopen",
    "readfile",
    "show_source",
    "highlight_file",
    "php_uname",
    "posix_getpwuid",
    "unserialize",
    "move_uploaded_file",
];

/// PHP functions so specific to PHP and to attacks (code loading, shell access, decoding of
/// packed payloads) that their name anywhere in a value is the signal (CRS 933150).
const PHP_HIGH_RISK: &[&str] = &[
    "__halt_compiler",
    "apache_child_terminate",
    "base64_decode",
    "bzdecompress",
    "call_user_func",
    "call_user_method",
    "convert_uudecode",
    "file_get_contents",
    "file_put_contents",
    "fsockopen",
    "get_class_methods",
    "get_class_vars",
    "get_defined_constants",
    "get_defined_functions",
    "get_defined_vars",
    "gzdecode",
    "gzinflate",
    "gzuncompress",
    "include_once",
    "invokeargs",
    "pcntl_exec",
    "pcntl_fork",
    "pfsockopen",
    "posix_getcwd",
    "posix_getpwuid",
    "posix_getuid",
    "posix_uname",
    "reflectionfunction",
    "require_once",
    "shell_exec",
    "str_rot13",
    "sys_get_temp_dir",
    "wp_remote_fopen",
    "wp_remote_get",
    "wp_remote_head",
    "wp_remote_post",
    "wp_remote_request",
    "wp_safe_remote_get",
    "wp_safe_remote_head",
    "wp_safe_remote_post",
    "wp_safe_remote_request",
    "zlib_decode",
];

/// PHP functions that are no English word: their name then `(` is a call whatever the
/// argument (CRS 933160's list, trimmed to names prose never uses).
const PHP_CALLS: &[&str] = &[
    "assert_options",
    "bzdecompress",
    "bzopen",
    "chgrp",
    "chown",
    "chmod",
    "curl_exec",
    "curl_init",
    "curl_setopt",
    "escapeshellarg",
    "escapeshellcmd",
    "fileatime",
    "filectime",
    "filegroup",
    "fileinode",
    "fileowner",
    "fileperms",
    "file_exists",
    "fpassthru",
    "fputs",
    "fsockopen",
    "ftp_connect",
    "ftp_get",
    "ftp_put",
    "getcwd",
    "getenv",
    "getmypid",
    "getmyuid",
    "get_current_user",
    "gzdecode",
    "gzencode",
    "gzfile",
    "gzopen",
    "gzread",
    "hex2bin",
    "highlight_string",
    "ini_get",
    "ini_set",
    "intval",
    "is_array",
    "is_dir",
    "is_executable",
    "is_file",
    "is_readable",
    "is_writable",
    "lchgrp",
    "lchown",
    "md5_file",
    "mb_send_mail",
    "move_uploaded_file",
    "opendir",
    "parse_str",
    "parse_ini_file",
    "pcntl_fork",
    "php_uname",
    "phpversion",
    "posix_getegid",
    "posix_geteuid",
    "posix_getgid",
    "posix_kill",
    "posix_mkfifo",
    "posix_setuid",
    "print_r",
    "proc_nice",
    "proc_terminate",
    "putenv",
    "readdir",
    "readlink",
    "rawurldecode",
    "scandir",
    "set_time_limit",
    "sha1_file",
    "show_source",
    "stream_get_contents",
    "stream_socket_client",
    "strip_tags",
    "strrev",
    "str_replace",
    "symlink",
    "tempnam",
    "tmpfile",
    "ucfirst",
    "unlink",
    "unpack",
    "urldecode",
    "var_dump",
    "var_export",
    "zlib_encode",
];

/// `text` lower-cased with blanks and `/* */` comments taken out, the way script engines read
/// it; `special` may consume an escape at the front of what is left (returning its length in
/// bytes, after writing what it stands for).
fn compact_code(text: &str, mut special: impl FnMut(&str, &mut String) -> Option<usize>) -> String {
    let mut c = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |n| &r[n + 2..]);
            continue;
        }
        if let Some(n) = special(rest, &mut c) {
            rest = &rest[n..];
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if !ch.is_whitespace() {
            c.push(ch.to_ascii_lowercase());
        }
        rest = &rest[ch.len_utf8()..];
    }
    c
}

/// A PHP callee hidden in an expression: `(system)('ls')`, `[system][0](ls)`,
/// `"sys"."tem"(ls)`, `"\x73ystem"(ls)`; blanks and comments are dropped first.
fn php_expression_call(text: &str) -> bool {
    if !text.contains('(') || !text.contains([')', ']', '"', '\'']) {
        return false;
    }
    // `\x73` escapes decoded.
    let c = compact_code(text, |r, c| {
        let h = r.strip_prefix("\\x")?.get(..2)?;
        let b = u8::from_str_radix(h, 16).ok()?;
        c.push(char::from(b).to_ascii_lowercase());
        Some(4)
    });
    let c = c.replace("'.'", "").replace("\".\"", "");
    const CALLEES: &[&str] = &[
        "system",
        "exec",
        "passthru",
        "shell_exec",
        "popen",
        "proc_open",
        "assert",
        "eval",
        "phpinfo",
        "uname",
    ];
    CALLEES.iter().any(|f| {
        c.match_indices(f).any(|(i, _)| {
            let before = c[..i].chars().next_back();
            let after = &c[i + f.len()..];
            let wrapped = matches!(before, Some('(' | '[' | '"' | '\''));
            // The wrapper closes, an optional `[0]` index follows, then the call.
            let after = after.trim_start_matches(['"', '\'', ')', ']']);
            let after = after
                .trim_start_matches("[0]")
                .trim_start_matches(['}', ')']);
            let after = after.strip_prefix("{0}").unwrap_or(after);
            wrapped && after.starts_with('(')
        })
    })
}

/// php.ini directives an attacker sets through `PHP_VALUE` or a config upload.
const PHP_INI: &[&str] = &[
    "allow_url_include",
    "allow_url_fopen",
    "auto_prepend_file",
    "auto_append_file",
    "disable_functions",
    "open_basedir",
    "engine",
    "extension",
    "extension_dir",
    "memory_limit",
    "precision",
    "smtp",
    "sendmail_path",
    "unserialize_max_depth",
    "display_errors",
    "error_log",
    "include_path",
    "safe_mode",
    "short_open_tag",
    "upload_tmp_dir",
    "max_execution_time",
    "register_globals",
    "session.save_path",
    "session.auto_start",
    "zend_extension",
    "phar.readonly",
];

fn php_ini_directive(text: &str) -> Option<&'static str> {
    let (k, _) = text.split_once('=')?;
    let k = k.trim();
    if let Some(d) = PHP_INI.iter().copied().find(|d| *d == k) {
        return Some(d);
    }
    ["opcache.", "mbstring.", "pcre.", "xdebug.", "assert."]
        .iter()
        .copied()
        .find(|p| {
            k.strip_prefix(p).is_some_and(|r| {
                !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
        })
}

/// `$__[$_[1]](7)`, `$OOO000000{0}(15)`, `${@_.__}(31)`, `$a //x\n()`: a variable, maybe
/// indexed by brackets or braces, called; comments and blanks between are dropped.
fn php_obfuscated_variable_call(text: &str) -> bool {
    if !text.contains('$') || !text.contains('(') {
        return false;
    }
    let b = text.as_bytes();
    for (i, _) in text.match_indices('$') {
        let mut j = i + 1;
        let mut depth = 0i32;
        let mut body = 0;
        while j < b.len() {
            let c = b[j];
            match c {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth < 0 {
                        break;
                    }
                }
                b'(' if depth == 0 => break,
                b'/' if depth == 0 && b.get(j + 1) == Some(&b'/') => {
                    // A line comment up to the newline.
                    while j < b.len() && b[j] != b'\n' {
                        j += 1;
                    }
                    continue;
                }
                b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {}
                _ if c.is_ascii_alphanumeric() || b"_@.$'\"".contains(&c) || depth > 0 => body += 1,
                _ => break,
            }
            j += 1;
        }
        if j < b.len() && b[j] == b'(' && depth == 0 && body > 0 {
            let name = &text[i + 1..j];
            // A plain `$name(` needs brackets, braces or a comment: `$price (USD)` is prose.
            if (name.contains(['[', '{', '/', '@']) || name.starts_with('_'))
                && !name.contains("{}")
                && !name.contains("[]")
            {
                return true;
            }
        }
    }
    false
}

/// `<?` that opens code: at the end, before blanks, `php`, `=`, or `xml` not followed by a
/// version (`<?xml :echo 1;` is PHP with short tags on).
fn php_short_tag(text: &str) -> bool {
    text.match_indices("<?").any(|(i, _)| {
        let r = &text[i + 2..];
        if r.is_empty() {
            return true;
        }
        if let Some(x) = r.strip_prefix("xml") {
            return x.trim_start().starts_with([':', '(', ';']);
        }
        // `<? echo 1;`: blanks, then something with code punctuation before the tag closes.
        let body = r.split("?>").next().unwrap_or(r);
        r.starts_with('=')
            || (r.starts_with([' ', '\t', '\n'])
                && (body.contains([';', '(', '$'])
                    || ["echo ", "print ", "system", "exec", "include", "require"]
                        .iter()
                        .any(|k| body.trim_start().starts_with(k))))
    })
}

fn php_dangerous_call(decoded: &str) -> Option<&'static str> {
    let t = decoded.to_ascii_lowercase();
    PHP_DANGEROUS_NEEDLES.find(&t)?;
    for f in PHP_DANGEROUS {
        for (i, _) in t.match_indices(f) {
            if i > 0 && (t.as_bytes()[i - 1].is_ascii_alphanumeric() || t.as_bytes()[i - 1] == b'_')
            {
                continue;
            }
            let mut rest = &t[i + f.len()..];
            // Blanks and comments between the name and `(`.
            loop {
                let r = rest.trim_start();
                if let Some(c) = r.strip_prefix("//").or_else(|| r.strip_prefix('#')) {
                    rest = c.find('\n').map_or("", |n| &c[n..]);
                } else if let Some(c) = r.strip_prefix("/*") {
                    rest = c.find("*/").map_or("", |n| &c[n + 2..]);
                } else {
                    rest = r;
                    break;
                }
            }
            if rest.starts_with('(') && (f.len() > 4 || rest.len() > 1) {
                return Some(f);
            }
        }
    }
    None
}

const PHP_EXTENSIONS: &[&str] = &[
    ".php",
    ".phtml",
    ".php3",
    ".php4",
    ".php5",
    ".php7",
    ".phar",
    ".phps",
    ".pht",
    ".phpt",
    ".pgif",
    ".shtml",
    ".htaccess",
    ".user.ini",
];

fn php(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    let upload = v.location == Location::MultipartFilename
        || (v.location == Location::HeaderValue
            && (v.name.contains("file") || v.name.contains("File")));
    if upload {
        let squeezed = upload_name(v.raw);
        let name = squeezed.as_str();
        if let Some(i) = name.rfind(".php") {
            let tail = &name[i + 4..];
            if tail == "t" || (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())) {
                return found(format!("uploads a {} file", &name[i..]), true);
            }
        }
        // `sess_<id>`: an upload named as a PHP session file, to overwrite one.
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        if base.strip_prefix("sess_").is_some_and(|id| {
            id.len() >= 20
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b',')
        }) {
            return found("uploads a PHP session file", true);
        }
        if let Some(e) = PHP_EXTENSIONS
            .iter()
            .find(|e| name.ends_with(*e) || name.contains(&format!("{e}.")))
        {
            return found(format!("uploads a {e} file"), true);
        }
    }
    for text in forms(v) {
        if let Some(n) = s.sig_hit(text, SigFamily::Php) {
            return found(format!("PHP ({n})"), true);
        }
        if text.contains("<?php") || text.contains("<?=") && text.contains("?>") {
            return found("PHP open tag", true);
        }
        // `(system)('uname')`, `"sys"."t"."em"('uname')`: an expression called with a string.
        if [")('", ")(\"", "\"('", "'('", ") ('", "\" ('"]
            .iter()
            .any(|p| text.contains(p))
        {
            return found("PHP dynamic call", true);
        }
        if php_variable_call(text) {
            return found("PHP variable function call", true);
        }
        if let Some(f) = PHP_HIGH_RISK_NEEDLES.find(text) {
            return found(format!("PHP function {f}"), true);
        }
        for g in [
            "$_server",
            "$_cookie",
            "$_get[",
            "$_post[",
            "$_request",
            "$_files",
            "$_env[",
            "$_session[",
            "$globals[",
            "$http_raw_post_data",
            "$http_server_vars",
        ] {
            if text.contains(g) {
                return found(format!("PHP superglobal {g}"), true);
            }
        }
        if text.contains("${'") || text.contains("${\"") {
            return found("PHP variable variable ${'", true);
        }
        if text
            .match_indices("$ {")
            .any(|(i, _)| !text[i + 3..].trim_start().starts_with('}'))
        {
            return found("PHP variable variable $ {", true);
        }
        if let Some(d) = php_ini_directive(text) {
            return found(format!("php.ini directive {d}"), true);
        }
        if php_obfuscated_variable_call(text) {
            return found("PHP variable function call", true);
        }
        if php_expression_call(text) {
            return found("PHP call through an expression", true);
        }
        if text.contains("{/php}") || php_short_tag(text) {
            return found("PHP open tag", true);
        }
        if text.contains("<?=") || text.contains("<? php") || text.contains("{php}") {
            return found("PHP open tag", true);
        }
        if text.contains("[php]") || text.contains("[/php]") || text.contains("[\\php]") {
            return found("PHP block tag", true);
        }
        if let Some(f) = text
            .contains('(')
            .then(|| php_dangerous_call(v.decoded))
            .flatten()
        {
            return found(format!("PHP function {f}()"), true);
        }
        // `system('id')`, `phpinfo()`: a PHP function name then `(`, with a quote, `$` or `)`.
        for (i, _) in text.match_indices('(') {
            let head = text[..i].trim_end();
            let name = trailing_word(head, false);
            if PHP_CALL_SET.contains(name) {
                return found(format!("PHP function {name}()"), true);
            }
            if PHP_FUNCTION_SET.contains(name) {
                let arg = text[i + 1..].trim_start();
                if arg.starts_with(['\'', '"', '$', ')', '`'])
                    || arg.starts_with("chr(")
                    || arg.starts_with("base64_decode")
                {
                    return found(format!("PHP function {name}()"), true);
                }
            }
        }
        for w in [
            "php://",
            "phar://",
            "data://text/plain",
            "expect://",
            "zlib://",
            "compress.bzip2://",
            "compress.zlib://",
            "ssh2.shell://",
            "ssh2.exec://",
            "ssh2.tunnel://",
            "ssh2.scp://",
            "ssh2.sftp://",
            "rar://",
            "ogg://",
            "glob://",
        ] {
            if text.contains(w) {
                return found(format!("PHP wrapper {w}"), true);
            }
        }
    }
    None
}

/// Whether an `<svg` tag in `t` carries attributes or is not closed at once (`<svg>` alone
/// is an image, `<svg onload=...>` and `<svg/onload=...>` are script).
fn svg_with_attributes(t: &str) -> bool {
    t.match_indices("<svg")
        .any(|(i, _)| !t[i + 4..].starts_with('>'))
}

/// Whether the condition of the `while(...)` that `t` starts with is constant false
/// (`while(!true);` ends at once).
fn falsy_condition(t: &str) -> bool {
    let cond = t
        .split_once('(')
        .map_or("", |(_, r)| r)
        .trim_start_matches('(')
        .split(')')
        .next()
        .unwrap_or("")
        .trim();
    matches!(
        cond,
        "!true" | "!1" | "false" | "0" | "null" | "undefined" | "!this" | "" | "!!0" | "!!false"
    )
}

fn nodejs(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        // `while(this);`, `while((true)))`: a server-side busy loop.
        let t = text.trim_start();
        if t.starts_with("while(") && (t.ends_with(';') || t.ends_with(')')) && !falsy_condition(t)
        {
            return found("JavaScript busy loop", true);
        }
        const NODE: &[&str] = &[
            "_$$nd_func$$_",
            "__js_function",
            "child_process",
            "console.info.call(",
            "console.log.call(",
            ".call(this,",
            "require.main",
            "require[",
            "process.spawn(",
            "require(",
            "process.env",
            "process[",
            "process.mainmodule",
            "process.binding",
            "module.exports",
            "this.constructor.constructor",
            "constructor.constructor(",
            "new function",
            "global.process",
            "fs.readfile",
            "fs.writefile",
            ".execsync(",
            ".spawnsync(",
            "console.log(",
            "console.info(",
            "console[",
            "settimeout(",
            "setinterval(",
            "import(",
        ];
        static NODE_NEEDLES: Needles = Needles::new(NODE);
        if let Some(n) = NODE_NEEDLES.find(text) {
            return found(format!("JavaScript {n}"), true);
        }
        // An anonymous function; `myfunction(){ ... }` names one (shell or prose). One search
        // for `function` gates the three spellings: this family sees most values.
        let spellings: &[&str] = if text.contains("function") {
            &["function(){", "function() {", "function (){"]
        } else {
            &[]
        };
        for f in spellings {
            if text
                .match_indices(f)
                .any(|(i, _)| i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
            {
                return found(format!("JavaScript {f}"), true);
            }
        }
        // `while(true);`, `while(!0)`: a busy loop that never ends.
        if let Some(i) = text.find("while(").or_else(|| text.find("while (")) {
            let rest = text[i..]
                .split_once('(')
                .map_or("", |(_, r)| r)
                .trim_start();
            let cond = rest.split(')').next().unwrap_or("").trim();
            let truthy = (cond.starts_with('!') && !falsy_condition(&text[i..]))
                || matches!(
                    cond,
                    "true" | "1" | "-1" | "infinity" | "-infinity" | "+infinity"
                )
                || cond.parse::<f64>().is_ok_and(|n| n != 0.0);
            if truthy {
                return found("endless loop", true);
            }
        }
    }
    None
}

/// Cookie names that carry a session.
const SESSION_NAMES: &[&str] = &[
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "aspsessionid",
    "sessionid",
    "session_id",
    "sid",
    "laravel_session",
    "connect.sid",
    "_flask_session",
    "next-auth.session-token",
    "meteor_login_token",
    "rack.session",
    "play_session",
    "sails.sid",
    "ci_session",
    "cfid",
    "cftoken",
    "_session_id",
    "express.sid",
    "koa.sess",
    "symfony",
    "django_session",
    "sessid",
    "session",
    "sess",
];

fn session_fixation(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    let t = v.folded;
    // `document.cookie` or a `Set-Cookie` planted through a parameter.
    if !v.location.is_name()
        && !matches!(v.location, Location::Path | Location::PathSegment)
        && (t.contains("document.cookie")
            || t.contains(".cookie=")
            || t.contains("http-equiv=\"set-cookie")
            || t.contains("http-equiv=set-cookie")
            || (t.contains(".cookie") && t.contains("expires=")))
    {
        return found("cookie set from a parameter", true);
    }
    if v.location == Location::QueryName || v.location == Location::FormName {
        let name = t.split(';').next().unwrap_or(t);
        if SESSION_NAMES.contains(&name) {
            return found(format!("session id {name} passed as a parameter"), false);
        }
    }
    None
}

fn path_traversal(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        let t: Cow<'_, str> = if text.contains('\\') {
            Cow::Owned(text.replace('\\', "/"))
        } else {
            Cow::Borrowed(text)
        };
        let t = t.as_ref();
        for hex in ["0x2e0x2e", "0x5c0x2e", "0x2e0x5c", "0x2e0x2f", "0x2f0x2e"] {
            if t.contains(hex) {
                return found(format!("hex-spelled traversal {hex}"), true);
            }
        }
        if t.contains("..;") && v.location != Location::Path {
            return found("..; path parameter traversal", true);
        }
        if t.contains("..") {
            let dots = t.matches("../").count() + t.matches("..;/").count();
            if dots >= 2 || (dots == 1 && v.location != Location::Path) {
                return found("../ traversal", true);
            }
            // `/get/..` climbs inside the site (a server normalises it); in a value, or as a
            // parameter on its own, it names a parent directory.
            let in_path = matches!(v.location, Location::Path | Location::PathSegment);
            if !in_path && (t.ends_with("/..") || t == "..") {
                return found("trailing ..", true);
            }
        }
        if (t.starts_with("//") || t.starts_with("/\\"))
            && ["/c$", "/admin$", "/ipc$", "/d$", "ntuser.dat"]
                .iter()
                .any(|x| t.contains(x))
        {
            return found("UNC path to an administrative share", true);
        }
        if t.contains(['/', '.']) {
            if let Some(f) = SENSITIVE_NEEDLES.find(t) {
                return found(format!("sensitive file {f}"), v.location != Location::Path);
            }
        }
        if t.contains(':') {
            if let Some(w) = WRAPPERS.iter().find(|w| {
                t.starts_with(*w) || t.match_indices(*w).any(|(i, _)| t[..i].ends_with('='))
            }) {
                return found(format!("wrapper {w}"), true);
            }
        }
    }
    None
}

/// Names that resolve to the local machine, its container host or the cluster: used instead
/// of `localhost` to reach internal services (CRS 934190).
const LOCAL_NAMES: &[&str] = &[
    "ipv6-localhost",
    "ip6-localhost",
    "ip6-loopback",
    "host.docker.internal",
    "gateway.docker.internal",
    "kubernetes.docker.internal",
    "host.containers.internal",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localtest.me",
    "lvh.me",
    "metadata.packet.net",
    "metadata.azure.com",
];

fn remote_file_inclusion(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if v.location == Location::QueryName
        && v.folded.starts_with("unix:")
        && v.folded.contains("|http")
    {
        return found("unix socket proxy URL", true);
    }
    if !matches!(
        v.location,
        Location::QueryValue
            | Location::FormValue
            | Location::JsonValue
            | Location::MultipartValue
            | Location::Cookie
            | Location::Xml
    ) {
        return None;
    }
    let t = v.folded;
    // A scheme then the host without `//` (`http:127.0.0.1`): lenient URL parsers accept it.
    let t = match t.strip_prefix("http:").or_else(|| t.strip_prefix("https:")) {
        Some(r) if !r.starts_with('/') && r.starts_with(|c: char| c.is_ascii_alphanumeric()) => r,
        _ => t,
    };
    {
        let bare = t
            .strip_prefix("http://")
            .or_else(|| t.strip_prefix("https://"))
            .unwrap_or(t);
        let host = bare.split(['/', ':', '?']).next().unwrap_or(bare);
        if LOCAL_NAMES.contains(&host) || host.ends_with(".svc.cluster.local") {
            return found(format!("internal host name {host}"), true);
        }
        if v.location == Location::Cookie && !t.starts_with("localhost/") {
            return None;
        }
        if t != v.folded && host.parse::<std::net::IpAddr>().is_ok() {
            return found("internal address after a bare scheme", true);
        }
    }
    // An internal address where a URL is expected (server-side request forgery).
    const INTERNAL: &[&str] = &[
        "localhost",
        "127.",
        "0.0.0.0",
        "[::1]",
        "169.254.169.254",
        "metadata.google.internal",
        "[::ffff:127",
    ];
    if INTERNAL.iter().any(|i| t.starts_with(i)) {
        let host = t.split(['/', ':']).next().unwrap_or(t);
        let internal = host.starts_with("localhost")
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            || host.parse::<std::net::IpAddr>().is_ok()
            || host == "metadata.google.internal"
            || t.starts_with('[');
        if internal && t.len() > host.len() {
            return found("internal address as a URL", true);
        }
    }
    // `unix:/path|http://host/`: Apache mod_proxy's socket syntax (CVE-2021-40438).
    if t.starts_with("unix:") && t.contains("|http") {
        return found("unix socket proxy URL", true);
    }
    // `http?`, `file?`: a scheme and `?`, the probe for an include that appends a suffix.
    if ["http?", "https?", "ftp?", "ftps?", "file?"].contains(&t) {
        return found("scheme probe for a file include", true);
    }
    let rest = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
        .or_else(|| t.strip_prefix("ftp://"))
        .or_else(|| t.strip_prefix("ftps://"))?;
    // `_CONF[path]=https://...`, `mosConfig_absolute_path=http://...`: a URL where an
    // include path is expected.
    let n = v.name.to_ascii_lowercase();
    let n = n.trim_end_matches(']');
    if n.ends_with("path") || n.ends_with("_dir") || n.ends_with("root") || n.ends_with("include") {
        return found("remote URL as an include path", true);
    }
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => rest.split(['/', '?', ':']).next().unwrap_or(""),
    };
    let ip_host = host.parse::<std::net::IpAddr>().is_ok();
    let script = [".txt?", ".php?", ".txt", "??", "?"]
        .iter()
        .any(|e| rest.ends_with(e));
    if ip_host || script {
        return found("remote URL as a file parameter", true);
    }
    None
}

/// Reduce Log4j lookups (`${lower:j}`, `${::-n}`, `${env:X:-d}`) to what they print.
fn reduce_lookups(text: &str, out: &mut String) {
    out.clear();
    out.push_str(text);
    for _ in 0..16 {
        let Some(end) = out.find('}') else { break };
        let Some(start) = out[..end].rfind("${") else {
            break;
        };
        let inner = &out[start + 2..end];
        let printed = if let Some(i) = inner.rfind(":-") {
            inner[i + 2..].to_string()
        } else if let Some(r) = inner
            .strip_prefix("lower:")
            .or_else(|| inner.strip_prefix("upper:"))
        {
            r.to_string()
        } else {
            // Not a printing lookup: mark it so the scan sees `jndi:` and friends.
            format!("\u{1}{inner}\u{2}")
        };
        out.replace_range(start..=end, &printed);
    }
}

fn log4shell(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        if !text.contains("${") && !text.contains("%24%7b") {
            continue;
        }
        let mut buf = std::mem::take(&mut s.text);
        reduce_lookups(text, &mut buf);
        let hit = [
            "\u{1}jndi:",
            "jndi:ldap",
            "jndi:rmi",
            "jndi:dns",
            "jndi:iiop",
            "jndi:nis",
            "jndi:corba",
            "jndi:nds",
            "jndi:http",
        ]
        .iter()
        .any(|n| buf.contains(n));
        s.text = buf;
        if hit {
            return found("JNDI lookup", true);
        }
        if let Some(n) = s.sig_hit(text, SigFamily::Log4Shell) {
            return found(n, true);
        }
    }
    None
}

fn ssti(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        if let Some(n) = s.sig_hit(text, SigFamily::Ssti) {
            return found(n, true);
        }
        let pairs: &[(&str, &str)] = &[
            ("{{", "}}"),
            ("${", "}"),
            ("<%", "%>"),
            ("#{", "}"),
            ("{%", "%}"),
            ("*{", "}"),
            ("@(", ")"),
        ];
        for (open, close) in pairs {
            if let Some(i) = text.find(open) {
                if let Some(j) = text[i + open.len()..].find(close) {
                    let inner = &text[i + open.len()..i + open.len() + j];
                    const CODE: &[&str] = &[
                        "*",
                        "__class__",
                        "__mro__",
                        "__subclasses__",
                        "__globals__",
                        "__init__",
                        "__builtins__",
                        "config",
                        "self.",
                        "request.",
                        "lipsum",
                        "cycler",
                        "joiner",
                        "namespace",
                        "getclass",
                        "runtime",
                        "exec(",
                        "system(",
                        "popen",
                        "import ",
                        "os.",
                        ".new(",
                        "?new",
                        "t(java",
                        "include ",
                        "for ",
                        "set ",
                        "print",
                        "+",
                    ];
                    if CODE.iter().any(|c| inner.contains(c)) {
                        return found(format!("template expression {open}..{close}"), true);
                    }
                }
            }
        }
        if text.contains("<#assign")
            || text.contains("freemarker.template")
            || text.contains("?new()")
        {
            return found("freemarker directive", true);
        }
    }
    None
}

fn xxe(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    // An XML attribute that makes the parser fetch a schema from elsewhere.
    if v.location == Location::Xml {
        let name = v.name.to_ascii_lowercase();
        let fetches = name.ends_with("schemalocation") || name == "namespace" || name == "href";
        let t = v.folded;
        if fetches
            && (t.starts_with("http://") || t.starts_with("https://") || t.starts_with("file:"))
            && !t.contains("www.w3.org/")
            && !t.contains("schemas.xmlsoap.org/")
        {
            return found(format!("external schema via {name}"), true);
        }
    }
    for text in forms(v) {
        if text.contains("<!entity")
            && (text.contains("system") || text.contains("public") || text.contains('%'))
        {
            return found("external entity", true);
        }
        if text.contains("<!doctype") && text.contains('[') && text.contains("<!element") {
            return found("inline DTD", true);
        }
        if text.contains("<xi:include") || text.contains("xmlns:xi=") {
            return found("XInclude", true);
        }
        // UTF-7 `<!DOCTYPE` / `<!ENTITY` (`+ADwAIQ-`).
        if text.contains("+adwaiq-doctype") || text.contains("+adwaiq-entity") {
            return found("UTF-7 encoded DTD", true);
        }
        if let Some(i) = text.find("<!doctype") {
            let decl = &text[i..text[i..].find('>').map_or(text.len(), |e| i + e)];
            if decl.contains(" system ") || decl.contains(" public ") {
                return found("external DTD", true);
            }
        }
        if (text.contains("<xs:include")
            || text.contains("<xs:import")
            || text.contains("schemalocation="))
            && text.contains("http")
        {
            return found("external schema", true);
        }
    }
    None
}

const NOSQL_OPS: &[&str] = &[
    "$text",
    "$search",
    "$jsonschema",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$where",
    "$regex",
    "$exists",
    "$nin",
    "$in",
    "$or",
    "$and",
    "$not",
    "$nor",
    "$expr",
    "$function",
    "$accumulator",
    "$eq",
    "$elemmatch",
];

/// A MongoDB operator used as a key: `{"$ne"`, `{$gt:`, `[$ne]`, `, $or:`, `'$in':`.
fn nosql_operator(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    for i in memchr::memchr_iter(b'$', b) {
        let name_end = i
            + 1
            + b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase())
                .count();
        let Some(op) = NOSQL_OPS
            .iter()
            .copied()
            .find(|op| op.as_bytes() == &b[i..name_end])
        else {
            continue;
        };
        let before = b[..i].iter().rev().find(|c| **c != b' ').copied();
        let after = b.get(name_end).copied();
        let quoted = matches!(before, Some(b'"' | b'\'')) && matches!(after, Some(b'"' | b'\''));
        let keyish =
            matches!(before, Some(b'{' | b',' | b'[')) && matches!(after, Some(b':' | b']' | b'"'));
        if quoted
            && b.get(name_end + 1..)
                .is_some_and(|r| r.iter().find(|c| **c != b' ') == Some(&b':'))
            || keyish
        {
            return Some(op);
        }
    }
    None
}

fn nosql(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if v.location.is_name() || v.location == Location::JsonKey {
        let n = v.folded;
        // `{"$ne": 1}`, `user[$ne]=x`.
        let op = n
            .rsplit(['[', '.'])
            .next()
            .unwrap_or(n)
            .trim_end_matches(']');
        if NOSQL_OPS.contains(&op) {
            return found(format!("operator {op}"), true);
        }
        return None;
    }
    {
        for text in forms(v) {
            if text.contains("new date()") && (text.contains("while(") || text.contains("do{")) {
                return found("server-side JavaScript busy loop", true);
            }
            if text.contains("$where")
                || text.contains("db.")
                    && (text.contains(".insert(")
                        || text.contains(".find(")
                        || text.contains(".drop(")
                        || text.contains(".remove(")
                        || text.contains("injection"))
            {
                return found("MongoDB expression", true);
            }
            if (text.contains("this.") || text.contains("sleep("))
                && (text.contains("||") || text.contains("&&") || text.contains("=="))
                && text.contains('\'')
            {
                return found("JavaScript predicate", true);
            }
            if let Some(op) = nosql_operator(text) {
                return found(format!("operator {op}"), true);
            }
        }
    }
    None
}

/// `)(cn>=bob`, `)(sn~=x`, `) ( & `: a filter closed and another opened with an
/// attribute comparison or an operator.
fn ldap_reopen(text: &str) -> bool {
    text.match_indices(')').any(|(i, _)| {
        let r = text[i + 1..].trim_start();
        let Some(r) = r.strip_prefix('(') else {
            return false;
        };
        let r = r.trim_start();
        if r.starts_with(['&', '|', '!']) {
            return true;
        }
        let n = r
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
            .count();
        n > 0 && {
            let op = &r[n..];
            op.starts_with(">=")
                || op.starts_with("<=")
                || op.starts_with("~=")
                || op.starts_with("=*")
                || (op.starts_with('=')
                    && r[..n].bytes().all(|b| b.is_ascii_alphabetic())
                    && n <= 20)
        }
    })
}

/// Whether `text` is one or more whole LDAP filters: it opens with `(` and its parentheses
/// balance without closing one that was never opened. An injection breaks out of the filter
/// the application wraps the value in, so it closes first (`x)(uid=*`); a directory search
/// API that takes a whole filter receives `(&(objectCategory=computer)(...))`. Filters
/// with the tautology tools (negation, wildcards, constant clauses) are not exempt.
fn whole_ldap_filter(text: &str) -> bool {
    let t = text.trim();
    if !t.starts_with('(') {
        return false;
    }
    // Negation, presence wildcards, empty and constant clauses are how a filter is turned
    // into a tautology (`(&(uid=admin)(!(&(1=0)(userPassword=q))))`): never exempt.
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if ["(!", "=*", "(&)", "(|)", "(1=", "(0="]
        .iter()
        .any(|p| compact.contains(p))
    {
        return false;
    }
    let mut depth = 0i32;
    for b in t.bytes() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

fn ldap(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if whole_ldap_filter(v.folded) {
        return None;
    }
    if (!v.location.is_name() || v.location == Location::JsonKey) && ldap_reopen(v.folded) {
        return found("filter closed and reopened", true);
    }
    if v.location.is_name() {
        return None;
    }
    for text in forms(v) {
        const SHAPES: &[&str] = &[
            "*)(", ")(|", ")(&", "(|(", "(&(", ")(!", "*))", "(!(", "))(|", "*)%00",
        ];
        if let Some(s) = SHAPES.iter().find(|s| text.contains(*s)) {
            return found(format!("filter fragment {s}"), true);
        }
        // Extensible match: `userPassword:2.5.13.18:=123`.
        if let Some(i) = text.find(":=") {
            let head = &text[..i];
            if let Some(c) = head.rfind(':') {
                let oid = &head[c + 1..];
                if oid.contains('.')
                    && oid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && c > 0
                {
                    return found("extensible match filter", true);
                }
            }
        }
        const ATTRS: &[&str] = &[
            "(uid=",
            "(cn=",
            "(objectclass=",
            "(userpassword=",
            "(sn=",
            "(mail=",
            "(samaccountname=",
        ];
        if ATTRS.iter().any(|a| text.contains(a)) && text.contains(')') {
            return found("filter clause", true);
        }
    }
    None
}

fn has_header_line(text: &str) -> Option<&'static str> {
    const HEADERS: &[&str] = &[
        "set-cookie:",
        "location:",
        "content-type:",
        "content-length:",
        "x-",
        "refresh:",
        "access-control-",
        "http/1.",
        "cache-control:",
        "host:",
        "cookie:",
        "<script",
        "<html",
    ];
    for (i, c) in text.char_indices() {
        if c == '\n' || c == '\r' {
            let rest = text[i + 1..].trim_start_matches(['\r', '\n', ' ', '\t']);
            if let Some(h) = HEADERS.iter().find(|h| rest.starts_with(*h)) {
                return Some(h);
            }
        }
    }
    None
}

fn log_like(line: &str) -> bool {
    let first = line.split([' ', '\t']).next().unwrap_or("");
    if first.parse::<std::net::IpAddr>().is_ok() || first.starts_with('[') {
        return true;
    }
    let b = first.as_bytes();
    if b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-' {
        return true;
    }
    const WORDS: &[&str] = &[
        "info", "info:", "warn", "warn:", "warning", "warning:", "error", "error:", "debug",
        "debug:", "notice", "critical", "fatal", "audit", "user", "admin",
    ];
    WORDS.contains(&first)
        || [
            " login",
            " logged in",
            " succeeded",
            " authenticated",
            " granted",
            " accepted password",
        ]
        .iter()
        .any(|w| line.contains(w))
}

/// An HTTP request line inside a value (`GET http://x HTTP/1.2`): request smuggling or
/// splitting, with or without the line break before it.
fn request_line_inside(t: &str) -> bool {
    for m in [
        "get ", "post ", "head ", "put ", "delete ", "options ", "connect ", "trace ", "patch ",
    ] {
        for (i, _) in t.match_indices(m) {
            if i > 0 && t.as_bytes()[i - 1].is_ascii_alphanumeric() {
                continue;
            }
            let r = &t[i + m.len()..];
            let Some(target) = r.split(' ').next() else {
                continue;
            };
            let after = r[target.len()..].trim_start();
            if (target.starts_with('/') || target.starts_with("http")) && after.starts_with("http/")
            {
                return true;
            }
        }
    }
    false
}

fn crlf(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if request_line_inside(v.folded) {
        return found("HTTP request line inside a value", true);
    }
    if v.location == Location::HeaderValue {
        // Header values are not percent-decoded: `%0d` then `Name:` is a split attempt.
        let r = v.raw.to_ascii_lowercase();
        if let Some(i) = r.find("%0d").or_else(|| r.find("%0a")) {
            let rest = r[i + 3..]
                .trim_start_matches("%0a")
                .trim_start_matches("%0d");
            let n = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
                .count();
            if n > 0 && rest[n..].starts_with(':') {
                return found("encoded line break then a header", true);
            }
        }
    }
    let text = v.decoded;
    // A line break in a parameter name or the path: names and paths are single-line.
    // (Form names are left out: a chunked body seen raw carries CRLF between chunks.)
    if matches!(
        v.location,
        Location::QueryName | Location::Path | Location::PathSegment
    ) && text.contains(['\n', '\r'])
    {
        return found("line break in a name or path", true);
    }
    // `嘊` / `嘍` (U+560A / U+560D): servers that keep the low byte turn them into LF / CR.
    let best_fit = text
        .chars()
        .any(|c| (c as u32) > 0xff && matches!((c as u32) & 0xff, 0x0a | 0x0d));
    if !text.contains(['\n', '\r']) && !best_fit {
        return None;
    }
    let lowered: String = text
        .chars()
        .map(|c| {
            let n = c as u32;
            if n > 0xff && matches!(n & 0xff, 0x0a | 0x0d) {
                '\n'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if let Some(h) = has_header_line(&lowered) {
        return found(format!("line break then {h}"), true);
    }
    // In a query, cookie or header (single-line places), a line break then `Name: value`.
    if matches!(
        v.location,
        Location::QueryValue | Location::QueryName | Location::Cookie | Location::HeaderValue
    ) {
        for line in lowered.split('\n').skip(1) {
            let line = line.trim_start_matches('\r');
            let n = line
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || *b == b'-')
                .count();
            if (2..=40).contains(&n) && line[n..].trim_start_matches('\r').starts_with(": ") {
                return found("line break then a header line", true);
            }
        }
    }
    // Log forging: a line break inside a single-line value, then what reads as a log line
    // (an address, a date, a level, a login outcome).
    if matches!(
        v.location,
        Location::Path
            | Location::PathSegment
            | Location::QueryName
            | Location::QueryValue
            | Location::Cookie
            | Location::HeaderValue
            | Location::FormValue
            | Location::JsonValue
    ) {
        for line in lowered.split(['\n', '\r']).skip(1) {
            if log_like(line.trim_start()) {
                return found("line break then a forged log line", true);
            }
        }
    }
    None
}

fn ssi(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        if let Some(i) = text.find("<!--#") {
            let rest = &text[i + 5..];
            for d in [
                "exec", "include", "echo", "printenv", "config", "fsize", "flastmod", "set",
            ] {
                if rest.starts_with(d) {
                    return found(format!("<!--#{d}"), true);
                }
            }
        }
    }
    None
}

fn mail(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if v.location.is_name() {
        return None;
    }
    for text in std::iter::once(v.decoded) {
        if !text.contains(['\n', '\r']) {
            continue;
        }
        let t = text.to_ascii_lowercase();
        for line in t.split(['\n', '\r']).skip(1) {
            let line = line.trim_start();
            const MAIL: &[&str] = &[
                "bcc:",
                "cc:",
                "to:",
                "from:",
                "subject:",
                "reply-to:",
                "content-type:",
                "mime-version:",
                "rcpt to:",
                "mail from:",
                "helo ",
                "ehlo ",
            ];
            if let Some(h) = MAIL.iter().find(|h| line.starts_with(*h)) {
                return found(format!("mail header {h}"), true);
            }
            // SMTP / POP3 commands alone on their line.
            const SMTP: &[&str] = &[
                "quit", "rset", "noop", "vrfy", "expn", "turn", "auth", "starttls", "retr", "dele",
                "stat", "user", "pass",
            ];
            let verb = line.split(' ').next().unwrap_or("");
            // A command alone on its line, or with one argument (`DATA`, `USER admin`).
            if (SMTP.contains(&verb) || verb == "data")
                && line.split_whitespace().count() <= 2
                && line.len() < 64
            {
                return found(format!("mail protocol command {verb}"), true);
            }
            // IMAP: `V100 CAPABILITY`, `a1 LOGIN`, `x FETCH`.
            let mut words = line.split(' ');
            if let (Some(tag), Some(cmd)) = (words.next(), words.next()) {
                const IMAP: &[&str] = &[
                    "capability",
                    "login",
                    "fetch",
                    "select",
                    "examine",
                    "list",
                    "logout",
                    "authenticate",
                    "append",
                    "store",
                    "copy",
                    "uid",
                    "search",
                    "create",
                    "delete",
                    "rename",
                    "noop",
                    "starttls",
                ];
                if !tag.is_empty()
                    && tag.len() <= 8
                    && tag.bytes().all(|b| b.is_ascii_alphanumeric())
                    && IMAP.contains(&cmd)
                {
                    return found(format!("IMAP command {cmd}"), true);
                }
            }
        }
    }
    None
}

fn serialized(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    if let Some(b) = v.base64_bytes {
        if b.starts_with(&[0xac, 0xed, 0x00, 0x05]) {
            return found("Java serialized object (base64)", true);
        }
        if b.len() > 2 && b[0] == 0x80 && (2..=5).contains(&b[1]) {
            return found("Python pickle (base64)", true);
        }
        if b.starts_with(&[0x00, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]) {
            return found(".NET BinaryFormatter object (base64)", true);
        }
    }
    let raw = v.decoded;
    if raw.starts_with("rO0AB") || raw.starts_with("H4sIAAAAAAAA") && raw.len() > 40 {
        return found("Java serialized object", true);
    }
    if raw.starts_with("AAEAAAD/////") {
        return found(".NET BinaryFormatter object", true);
    }
    let t = v.folded;
    // PHP: `O:8:"stdClass":1:{...}`, `a:2:{i:0;...}`.
    let b = t.as_bytes();
    for (i, w) in b.windows(3).enumerate() {
        if (w[0] == b'o' || w[0] == b'c' || w[0] == b'a') && w[1] == b':' && w[2].is_ascii_digit() {
            let rest = &t[i + 2..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let after = &rest[digits..];
            let opens = (w[0] != b'a' && after.starts_with(":\""))
                || (w[0] == b'a' && after.starts_with(":{"));
            if opens && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
                return found("PHP serialized object", true);
            }
        }
    }
    // Each needle below holds `!`, a newline, `_` or `"`: a value with none of them (most
    // prose) skips the substring searches.
    let (mut bang, mut nl, mut us, mut quote) = (false, false, false, false);
    for &c in b {
        match c {
            b'!' => bang = true,
            b'\n' => nl = true,
            b'_' => us = true,
            b'"' => quote = true,
            _ => {}
        }
    }
    if (bang && t.contains("!!python/object"))
        || (nl && t.contains("cos\nsystem"))
        || (us && t.contains("c__builtin__"))
        || (nl && t.contains("cposix\nsystem"))
    {
        return found("Python object constructor", true);
    }
    if quote && t.contains("\"$type\":") && t.contains("system.") {
        return found(".NET JSON type hint", true);
    }
    if quote && (t.contains("\"@type\":") || t.contains("\"@class\":")) {
        return found("Java JSON type hint", false);
    }
    None
}

/// Out-of-band interaction domains and scanner artefacts: a value that names one is a probe
/// waiting for a callback.
const OAST: &[&str] = &[
    "burpcollaborator.net",
    "oastify.com",
    "interact.sh",
    "oast.pro",
    "oast.live",
    "oast.site",
    "oast.online",
    "oast.fun",
    "oast.me",
    "dnslog.cn",
    "ceye.io",
    "requestbin.",
    "pipedream.net",
    "canarytokens.",
    "xss.ht",
    "bxss.me",
    ".nasl",
    "appspot.com/xss",
];

fn oast(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    let t = v.folded;
    OAST_NEEDLES
        .find(t)
        .and_then(|d| found(format!("out-of-band probe domain {d}"), true))
}

fn prototype_pollution(v: &Value<'_>, _s: &mut Scratch) -> Option<Found> {
    let t = v.folded;
    if t.contains("__proto__") {
        return found("__proto__", true);
    }
    if t.contains("constructor") && t.contains("prototype") {
        return found("constructor.prototype", true);
    }
    None
}

fn graphql(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    if v.location != Location::GraphQl {
        return None;
    }
    let t = v.folded;
    if t.contains("__schema") || t.contains("__type") {
        return found("introspection query", false);
    }
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut aliases = 0usize;
    let mut prev_word = false;
    for c in t.chars() {
        match c {
            '{' => {
                depth += 1;
                max = max.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            ':' if prev_word && depth > 0 => aliases += 1,
            _ => {}
        }
        prev_word = c.is_ascii_alphanumeric() || c == '_' || (prev_word && c == ' ');
    }
    if max > s.graphql_max_depth {
        return found(format!("nesting depth {max}"), true);
    }
    if aliases > s.graphql_max_aliases {
        return found(format!("{aliases} aliases"), true);
    }
    None
}

fn other_rce(v: &Value<'_>, s: &mut Scratch) -> Option<Found> {
    for text in forms(v) {
        for fam in [
            SigFamily::Ognl,
            SigFamily::Spring4Shell,
            SigFamily::Text4Shell,
        ] {
            if let Some(n) = s.sig_hit(text, fam) {
                return found(format!("{} ({n})", fam.name()), true);
            }
        }
    }
    None
}

/// Every family matcher, one line each.
pub const FAMILIES: &[FamilySpec] = &[
    FamilySpec {
        id: "sqli",
        name: "SQL injection",
        mitre: &["T1190"],
        rce: false,
        pathlike: true,
        check: sqli,
    },
    FamilySpec {
        id: "xss",
        name: "Cross-site scripting",
        mitre: &["T1189", "T1059.007"],
        rce: false,
        pathlike: true,
        check: xss,
    },
    FamilySpec {
        id: "command_injection",
        name: "OS command injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: true,
        check: command_injection,
    },
    FamilySpec {
        id: "path_traversal",
        name: "Path traversal / local file inclusion",
        mitre: &["T1190", "T1083"],
        rce: false,
        pathlike: true,
        check: path_traversal,
    },
    FamilySpec {
        id: "rfi",
        name: "Remote file inclusion",
        mitre: &["T1190", "T1105"],
        rce: true,
        pathlike: true,
        check: remote_file_inclusion,
    },
    FamilySpec {
        id: "log4shell",
        name: "Log4Shell JNDI injection",
        mitre: &["T1190", "T1203"],
        rce: true,
        pathlike: false,
        check: log4shell,
    },
    FamilySpec {
        id: "ssti",
        name: "Server-side template injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: false,
        check: ssti,
    },
    FamilySpec {
        id: "xxe",
        name: "XML external entity injection",
        mitre: &["T1190"],
        rce: false,
        pathlike: false,
        check: xxe,
    },
    FamilySpec {
        id: "nosql_injection",
        name: "NoSQL operator injection",
        mitre: &["T1190"],
        rce: false,
        pathlike: false,
        check: nosql,
    },
    FamilySpec {
        id: "ldap_injection",
        name: "LDAP injection",
        mitre: &["T1190"],
        rce: false,
        pathlike: false,
        check: ldap,
    },
    FamilySpec {
        id: "crlf_injection",
        name: "CRLF / header injection",
        mitre: &["T1190", "T1070"],
        rce: false,
        pathlike: false,
        check: crlf,
    },
    FamilySpec {
        id: "ssi",
        name: "Server-side include injection",
        mitre: &["T1190"],
        rce: true,
        pathlike: false,
        check: ssi,
    },
    FamilySpec {
        id: "mail_injection",
        name: "Mail header / command injection",
        mitre: &["T1190"],
        rce: false,
        pathlike: false,
        check: mail,
    },
    FamilySpec {
        id: "deserialization",
        name: "Serialized object injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: true,
        check: serialized,
    },
    FamilySpec {
        id: "prototype_pollution",
        name: "Prototype pollution",
        mitre: &["T1190"],
        rce: false,
        pathlike: true,
        check: prototype_pollution,
    },
    FamilySpec {
        id: "graphql_abuse",
        name: "GraphQL introspection / abuse",
        mitre: &["T1190", "T1592"],
        rce: false,
        pathlike: false,
        check: graphql,
    },
    FamilySpec {
        id: "code_injection",
        name: "Expression / code injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: true,
        check: other_rce,
    },
    FamilySpec {
        id: "php_injection",
        name: "PHP code injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: true,
        check: php,
    },
    FamilySpec {
        id: "java_injection",
        name: "Java class / gadget injection",
        mitre: &["T1190", "T1059"],
        rce: true,
        pathlike: true,
        check: java,
    },
    FamilySpec {
        id: "nodejs_injection",
        name: "JavaScript / Node.js injection",
        mitre: &["T1190", "T1059.007"],
        rce: true,
        pathlike: true,
        check: nodejs,
    },
    FamilySpec {
        id: "oast_probe",
        name: "Out-of-band interaction probe",
        mitre: &["T1595.002"],
        rce: false,
        pathlike: true,
        check: oast,
    },
    FamilySpec {
        id: "session_fixation",
        name: "Session fixation",
        mitre: &["T1563"],
        rce: false,
        pathlike: true,
        check: session_fixation,
    },
];

/// Headers whose values are protocol metadata, never user data worth matching.
fn skip_header(name: &str) -> bool {
    const SKIP: &[&str] = &[
        "accept",
        "accept-language",
        "accept-charset",
        "if-modified-since",
        "if-none-match",
        "content-type",
        "authorization",
        "date",
        "dnt",
        "origin",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "x-request-id",
        "traceparent",
        "tracestate",
        "via",
        "range",
        "if-match",
        "keep-alive",
        "expect",
    ];
    SKIP.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// The `content_inspection` detector.
pub struct ContentInspection {
    families: Vec<&'static FamilySpec>,
    /// [`class::triggers`] of each of `families`.
    triggers: Vec<u32>,
    inspector: Inspector,
    scratch: Scratch,
    cooldown: Cooldown,
    clean: CleanCache,
    /// Header and cookie values (place and bytes) found clean.
    clean_values: CleanCache,
    /// Reused key buffer of `clean_values`.
    key: Vec<u8>,
    /// Campaigns by (endpoint, family).
    campaigns: KeyedState<Campaign>,
    campaign_window_ms: i64,
    campaign_max_sources: usize,
    /// Some campaign holds sources no alert listed yet (`tick` looks only then).
    campaigns_pending: bool,
    /// `php_injection` and `session_fixation` are on (they also read headers and the query
    /// directly, outside the visit).
    php_on: bool,
    session_fixation_on: bool,
}

/// One attack family against one endpoint from several sources within a window.
#[derive(Debug, Clone, Default)]
struct Campaign {
    start: i64,
    sources: Vec<std::net::IpAddr>,
    /// The source count at which the next campaign alert goes out (2, 4, 8, ...).
    next: usize,
    /// Sources listed by the last campaign alert.
    announced: usize,
    /// The latest hit, for the alert that closes the window.
    last: Option<Box<CampaignHit>>,
}

/// What a campaign alert says about its latest hit.
#[derive(Debug, Clone)]
struct CampaignHit {
    family: &'static FamilySpec,
    endpoint: String,
    place: String,
    what: String,
    value: String,
    severity: Severity,
    evidence: ApiEvent<'static>,
}

impl Footprint for Campaign {
    fn heap_bytes(&self) -> usize {
        self.sources.capacity() * std::mem::size_of::<std::net::IpAddr>()
            + self
                .last
                .as_ref()
                .map_or(0, |l| 1024 + l.evidence.raw.len())
    }
}

impl Campaign {
    /// The alert listing every source so far.
    fn alert(&mut self) -> Option<AlertDraft> {
        let h = self.last.as_ref()?;
        self.announced = self.sources.len();
        let mut b = alert(
            "content_inspection",
            format!(
                "{} against {} from {} sources",
                h.family.name,
                h.endpoint,
                self.sources.len()
            ),
            h.severity,
            AttackStage::Exploitation,
            h.evidence.ts,
        )
        .first_seen(Timestamp::from_millis(self.start))
        .description(format!(
            "{} sources sent {} payloads to {}, one or two requests each (the latest in {}, matched {}; decoded {}). They are listed as attackers: one campaign, so contain them together.",
            self.sources.len(),
            h.family.name,
            h.endpoint,
            h.place,
            h.what,
            h.value,
        ))
        .mitre(h.family.mitre)
        .owasp("API8:2023")
        .entity(Entity::target_endpoint(h.endpoint.clone()))
        .reason("sources", self.sources.len() as f64, Some(2.0))
        .evidence(&h.evidence);
        for ip in &self.sources {
            b = b.entity(Entity::attacker_ip(*ip));
        }
        Some(b.build())
    }
}

/// One family hit in one value, kept until the visit ends.
struct Hit1 {
    family: &'static FamilySpec,
    location: Location,
    name: String,
    decoded: String,
    what: Cow<'static, str>,
    strong: bool,
}

impl ContentInspection {
    /// A detector with this configuration.
    pub fn new(cfg: ContentConfig) -> Self {
        let families: Vec<&'static FamilySpec> = FAMILIES
            .iter()
            .filter(|f| !cfg.disabled_families.iter().any(|d| d == f.id))
            .collect();
        let triggers = families.iter().map(|f| class::triggers(f.id)).collect();
        ContentInspection {
            inspector: Inspector::new(cfg.inspect.clone()),
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            families,
            triggers,
            scratch: Scratch {
                graphql_max_depth: cfg.graphql_max_depth,
                graphql_max_aliases: cfg.graphql_max_aliases,
                ..Scratch::default()
            },
            clean: CleanCache::with_slots(4096),
            clean_values: CleanCache::with_slots(4096),
            key: Vec::new(),
            campaigns: KeyedState::new(
                cfg.max_campaigns.max(1),
                cfg.campaign_window_secs.max(1) * 3000,
            ),
            campaign_window_ms: cfg.campaign_window_secs.max(1) * 1000,
            campaign_max_sources: cfg.campaign_max_sources.max(2),
            campaigns_pending: false,
            php_on: !cfg.disabled_families.iter().any(|d| d == "php_injection"),
            session_fixation_on: !cfg
                .disabled_families
                .iter()
                .any(|d| d == "session_fixation"),
        }
    }

    /// Whether the event carries nothing to inspect (the fast road of access logs): no
    /// headers beyond user agent and referer known clean, no body, a plain path and query.
    fn nothing_to_inspect(&self, cx: &EventCtx<'_>) -> bool {
        let ev = cx.ev;
        let plain = |s: &str| plain_bytes(s, &PATH_PLAIN);
        ev.request_headers.is_empty()
            && ev.request_body.as_deref().is_none_or(str::is_empty)
            && plain(&ev.path)
            && (ev.query.is_empty() || plain_query(&ev.query))
            && (ev.user_agent.is_empty() || self.clean.contains(ev.user_agent.as_bytes()))
            && (ev.referer.is_empty() || self.clean.contains(ev.referer.as_bytes()))
    }

    /// Every family hit of the event (at most one per family).
    fn hits(&mut self, cx: &EventCtx<'_>) -> Vec<Hit1> {
        let mut hits: Vec<Hit1> = Vec::new();
        let families = &self.families;
        let triggers = &self.triggers;
        let scratch = &mut self.scratch;
        let mut seen: u64 = 0;
        let mut b64_folded = String::new();
        let clean_values = &mut self.clean_values;
        let key = &mut self.key;
        self.inspector.visit(cx.ev, &mut |v: &Value<'_>| {
            if v.location == Location::HeaderValue && skip_header(v.name) {
                return Flow::Continue;
            }
            // Header, cookie and query values and paths repeat from request to request: one
            // found clean at this place is not checked again (exact bytes, bounded cache).
            let cacheable = matches!(
                v.location,
                Location::HeaderValue | Location::Cookie | Location::QueryValue | Location::Path
            );
            if cacheable {
                key.clear();
                key.push(v.location as u8);
                key.extend_from_slice(v.name.as_bytes());
                key.push(0);
                key.extend_from_slice(v.raw.as_bytes());
                if clean_values.contains(key) {
                    return Flow::Continue;
                }
            }
            let hits_before = hits.len();
            // Only a value every family looked at may be remembered as clean.
            let all_families = seen == 0;
            let mut check = |v: &Value<'_>, scratch: &mut Scratch| {
                scratch.scanned = None;
                let pathlike = v
                    .decoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'));
                let classes = class::of(v.decoded) | class::of(v.folded);
                scratch.classes = classes;
                for (i, f) in families.iter().enumerate() {
                    if seen & (1 << i) != 0
                        || (pathlike && !f.pathlike)
                        || (triggers[i] != class::ALWAYS
                            && classes & triggers[i] == 0
                            && !v.location.is_name())
                    {
                        continue;
                    }
                    if let Some(m) = (f.check)(v, scratch) {
                        seen |= 1 << i;
                        hits.push(Hit1 {
                            family: f,
                            location: v.location,
                            name: clip(v.name, 128).to_string(),
                            decoded: clip(v.decoded, 300).to_string(),
                            what: m.what,
                            strong: m.strong,
                        });
                    }
                }
            };
            check(&Value { base64: None, ..*v }, scratch);
            // A cookie's name is attacker-chosen too (`com.sun.org.apache=test`).
            if v.location == Location::Cookie && !rampart_inspect::is_plain(v.name) {
                let (mut dec, mut fold) = (String::new(), String::new());
                rampart_inspect::normalize_into(v.name, false, &mut dec, &mut fold);
                check(
                    &Value {
                        raw: v.name,
                        decoded: &dec,
                        folded: &fold,
                        base64: None,
                        base64_bytes: None,
                        ..*v
                    },
                    scratch,
                );
            }
            // A base64 value is checked again as what it decodes to.
            if let Some(text) = v.base64 {
                let mut dec = String::new();
                rampart_inspect::normalize_into(text, false, &mut dec, &mut b64_folded);
                check(
                    &Value {
                        decoded: text,
                        folded: &b64_folded,
                        base64: None,
                        ..*v
                    },
                    scratch,
                );
            }
            if cacheable && all_families && hits.len() == hits_before {
                clean_values.insert(key);
            }
            Flow::Continue
        });
        hits
    }
}

/// A session id passed in the URL of a request that comes from another site (a fixation
/// link): the query names a session cookie and the referer's host is not the request's.
/// A parameter name that carries a session id: a known framework cookie name, or a name
/// built on `session` / `sess` (`zend_session_id`, `koa:sess`, `session-id`).
fn is_session_name(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    (SESSION_NAMES.contains(&k.as_str()) && k.len() > 4)
        || k.contains("session")
        || k.starts_with("sess")
        || k.ends_with(":sess")
        || k.ends_with(".sess")
        || ["cakephp", "shiny-token", "sessid", "zend_session", "cfsid"].contains(&k.as_str())
}

fn session_in_url(cx: &EventCtx<'_>) -> Option<Hit1> {
    let ev = cx.ev;
    if ev.referer.is_empty() && !ev.query.is_empty() && ev.request_header("cookie").is_none() {
        // A platform session id in the URL of a request that came from no page and carries no
        // cookie: a link handed to the victim (CRS 943120).
        const PLATFORM: &[&str] = &[
            "jsessionid",
            "phpsessid",
            "aspsessionid",
            "asp.net_sessionid",
        ];
        let (name, value) = ev
            .query_params()
            .find(|(k, v)| PLATFORM.iter().any(|p| k.eq_ignore_ascii_case(p)) && v.len() >= 16)?;
        let family = FAMILIES.iter().find(|f| f.id == "session_fixation")?;
        return Some(Hit1 {
            family,
            location: Location::QueryValue,
            name: clip(name, 128).to_string(),
            decoded: clip(value, 128).to_string(),
            what: Cow::Borrowed("platform session id in a URL with no referer or cookie"),
            strong: false,
        });
    }
    if ev.referer.is_empty() || (ev.query.is_empty() && ev.request_body.is_none()) {
        return None;
    }
    let form = ev
        .request_body
        .as_deref()
        .filter(|_| {
            ev.request_header("content-type")
                .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        })
        .unwrap_or("");
    let (name, value) = ev
        .query_params()
        .find(|(k, _)| is_session_name(k))
        .or_else(|| {
            form.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| is_session_name(k))
        })?;
    let referer_host = ev
        .referer
        .split_once("://")
        .map_or("", |(_, r)| r)
        .split(['/', ':', '?'])
        .next()
        .unwrap_or("");
    let host = ev.host.split(':').next().unwrap_or("");
    if referer_host.is_empty() || referer_host.eq_ignore_ascii_case(host) {
        return None;
    }
    let family = FAMILIES.iter().find(|f| f.id == "session_fixation")?;
    Some(Hit1 {
        family,
        location: Location::QueryValue,
        name: clip(name, 128).to_string(),
        decoded: clip(value, 128).to_string(),
        what: Cow::Owned(format!(
            "session id in a link from {}",
            clip(referer_host, 64)
        )),
        strong: true,
    })
}

/// A request header naming an uploaded file with a PHP extension (`X-File-Name: a.php5`);
/// such plain values are not visited, so headers are read here.
fn php_upload_header(cx: &EventCtx<'_>) -> Option<Hit1> {
    for (k, v) in &cx.ev.request_headers {
        // Header names are lower-case on events; only file-naming headers are read.
        if !(k.contains("file") || k.contains("name")) || !v.contains('.') {
            continue;
        }
        let n = upload_name(v);
        let (id, what) = if PHP_EXTENSIONS
            .iter()
            .any(|e| n.ends_with(e) || n.contains(&format!("{e}.")))
        {
            ("php_injection", "uploads a PHP file")
        } else if has_extension(&n, JSP_EXTENSIONS).is_some() {
            ("java_injection", "uploads a JSP file")
        } else {
            continue;
        };
        let family = FAMILIES.iter().find(|f| f.id == id)?;
        return Some(Hit1 {
            family,
            location: Location::HeaderValue,
            name: clip(k, 128).to_string(),
            decoded: clip(v, 128).to_string(),
            what: Cow::Borrowed(what),
            strong: true,
        });
    }
    None
}

/// A query made only of `name=value` pairs of plain characters.
fn plain_query(q: &str) -> bool {
    plain_bytes(q, &QUERY_PLAIN)
}

/// Bytes of a path (`PATH_PLAIN`) or a query (`QUERY_PLAIN`) that carry nothing to inspect.
const fn plain_table(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}
static PATH_PLAIN: [bool; 256] = plain_table(b"/-_.=");
static QUERY_PLAIN: [bool; 256] = plain_table(b"=&_-./");

/// Every byte plain by `table`, and no `..` (traversal).
#[inline]
fn plain_bytes(s: &str, table: &[bool; 256]) -> bool {
    let mut prev_dot = false;
    for &b in s.as_bytes() {
        if !table[usize::from(b)] || (prev_dot && b == b'.') {
            return false;
        }
        prev_dot = b == b'.';
    }
    true
}

fn severity(f: &FamilySpec, status: u16, strong: bool) -> Severity {
    let answered = (200..300).contains(&status) || status == 0;
    match (answered, strong) {
        (_, false) => Severity::Low,
        (false, true) => Severity::Medium,
        (true, true) if f.rce && status != 0 => Severity::Critical,
        (true, true) => Severity::High,
    }
}

/// The decoded value as `{"name": "value"}` (JSON-escaped): the shape the pipeline's secret
/// redaction recognises, so the value of a secret field (a password carrying an injection) is
/// redacted from the alert's text like everywhere else.
fn quoted_value(name: &str, value: &str) -> String {
    let v = serde_json::to_string(value).unwrap_or_default();
    if name.is_empty() {
        v
    } else {
        format!(
            "{{{}: {v}}}",
            serde_json::to_string(name).unwrap_or_default()
        )
    }
}

fn where_text(location: Location, name: &str) -> String {
    match (location, name.is_empty()) {
        (Location::Path, _) => "the path".to_string(),
        (Location::PathSegment, _) => "a path segment".to_string(),
        (Location::RawBody, _) => "the request body".to_string(),
        (Location::HeaderValue, false) => format!("header `{name}`"),
        (Location::Cookie, false) => format!("cookie `{name}`"),
        (Location::QueryValue, false) => format!("query parameter `{name}`"),
        (Location::QueryName, _) => "a query parameter name".to_string(),
        (Location::FormValue | Location::MultipartValue, false) => format!("form field `{name}`"),
        (Location::JsonValue, false) => format!("JSON field `{name}`"),
        (Location::JsonKey, _) => "a JSON key".to_string(),
        (Location::Xml, false) => format!("XML `{name}`"),
        (Location::GraphQl, _) => "the GraphQL document".to_string(),
        (l, _) => l.as_str().replace('_', " "),
    }
}

impl Detector for ContentInspection {
    fn id(&self) -> &'static str {
        "content_inspection"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        if self.nothing_to_inspect(cx) {
            return;
        }
        let mut hits = self.hits(cx);
        let ev = cx.ev;
        if self.php_on && !hits.iter().any(|h| h.family.id == "php_injection") {
            hits.extend(php_upload_header(cx));
        }
        if self.session_fixation_on && !hits.iter().any(|h| h.family.id == "session_fixation") {
            hits.extend(session_in_url(cx));
        }
        if hits.is_empty() {
            if !ev.user_agent.is_empty() {
                self.clean.insert(ev.user_agent.as_bytes());
            }
            if !ev.referer.is_empty() {
                self.clean.insert(ev.referer.as_bytes());
            }
            return;
        }
        let now = ev.ts.millis();
        for (i, h) in hits.iter().enumerate() {
            let fam_index = FAMILIES
                .iter()
                .position(|f| f.id == h.family.id)
                .unwrap_or(i);
            if !self.cooldown.ready_for(cx.ip, fam_index as u32, now) {
                continue;
            }
            // Many sources, one or two requests each: one campaign, announced when its
            // source count reaches 2, 4, 8, ... and when its window closes (each alert lists
            // every source so far).
            if let Some(ip) = ev.client_ip {
                let (window, max) = (self.campaign_window_ms, self.campaign_max_sources);
                let c = self.campaigns.get_or_insert_with(
                    combine(cx.endpoint, fam_index as u64),
                    now,
                    Campaign::default,
                );
                if c.sources.is_empty() || now - c.start >= window || c.sources.len() >= max {
                    if c.sources.len() > c.announced && c.sources.len() >= 2 {
                        out.extend(c.alert());
                    }
                    *c = Campaign {
                        start: now,
                        next: 2,
                        ..Campaign::default()
                    };
                }
                if !c.sources.contains(&ip) {
                    c.sources.push(ip);
                }
                let n = c.sources.len();
                if n >= 2 {
                    c.last = Some(Box::new(CampaignHit {
                        family: h.family,
                        endpoint: endpoint_key(cx),
                        place: where_text(h.location, &h.name),
                        what: h.what.to_string(),
                        value: quoted_value(&h.name, &h.decoded),
                        severity: severity(h.family, ev.status, h.strong),
                        evidence: evidence_copy(ev),
                    }));
                    if n >= c.next {
                        c.next = n * 2;
                        out.extend(c.alert());
                    }
                    // Counted: listed by the next campaign alert.
                    self.campaigns_pending = true;
                    continue;
                }
            }
            let place = where_text(h.location, &h.name);
            let sev = severity(h.family, ev.status, h.strong);
            let outcome = if ev.status == 0 {
                "no answer was logged".to_string()
            } else if (200..300).contains(&ev.status) {
                format!("the API answered {} (it may have worked)", ev.status)
            } else {
                format!(
                    "the API answered {} (a probe or a refused attempt)",
                    ev.status
                )
            };
            out.push(build_alert(
                cx,
                AlertSpec {
                    detector: "content_inspection",
                    title: format!("{} in {place}", h.family.name),
                    description: format!(
                        "{} from {} in {place} (location {}, matched {}); decoded {}; {outcome}.",
                        h.family.name,
                        ip_text(ev),
                        h.location.as_str(),
                        h.what,
                        quoted_value(&h.name, &h.decoded),
                    ),
                    severity: sev,
                    mitre: h.family.mitre,
                    owasp: Some("API8:2023"),
                    stage: AttackStage::Exploitation,
                    with_user_agent: false,
                    reasons: vec![reason("families_matched", hits.len() as f64, None)],
                },
            ));
        }
    }

    fn tick(&mut self, now: Timestamp, out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
        // A campaign whose window has closed lists the sources its last alert did not: its
        // content is fixed by the traffic, only when it goes out depends on the tick.
        if self.campaigns_pending {
            let window = self.campaign_window_ms;
            let mut pending = false;
            for (_, c) in self.campaigns.iter_mut() {
                if c.sources.len() > c.announced && c.sources.len() >= 2 {
                    if now.millis() - c.start >= window {
                        out.extend(c.alert());
                    } else {
                        pending = true;
                    }
                }
            }
            self.campaigns_pending = pending;
        }
        self.campaigns.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes()
            + self.campaigns.approx_bytes()
            + self.clean.bytes()
            + self.clean_values.bytes()
            + self.scratch.text.capacity()
    }
}

/// Registry constructor.
pub fn build(c: ContentConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(ContentInspection::new(c))
}

#[cfg(test)]
mod tests;
