//! Bounded property test over every decoder: mutated lines (truncated, cut, spliced, with
//! quotes, escapes, multi-byte characters and secret-looking text inserted) must never panic
//! any decoder, and every event decoded from them is already within the field caps and
//! serializes.
//!
//! Deterministic (a fixed xorshift seed), so a failure names a reproducible input.

use rampart_decode::{DecodeConfig, DECODERS};

const SEEDS: &[&str] = &[
    r#"203.0.113.9 - alice [04/Jan/2026:08:00:00 +0000] "GET /a/1?access_token=t&x=1 HTTP/1.1" 200 10 "https://r/?token=t" "curl/8" "10.0.0.1""#,
    r#"203.0.113.9 - - [04/Jan/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 10"#,
    r#"[24/Jan/2022:16:51:02 +0000] - 404 404 - GET http openresty.local "/sdfdsf?a" [Client 1.2.3.4] [Length 192] [Gzip 3.10] [Sent-to openresty] "Mozilla/5.0" "-""#,
    r#"[10/Feb/2024:21:23:40 +0100] wings.example.com 192.168.1.101 0.002 "GET / HTTP/1.1" 401 77 935 - Uptime-Kuma/1.23.11"#,
    r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"POST","path":"/l","query":"a=1","status":200,"request":{"headers":{"authorization":["Bearer x\/y"],"cookie":"s=1"},"body":"{\"password\":\"p\"}"},"response":{"headers":{"set-cookie":"s=2; Path=/"},"body":"ok"}}"#,
    r#"{"time":"2026-01-01T00:00:00+00:00","remote_addr":"203.0.113.9","request_method":"GET","request_uri":"/x?api_key=k","status":200,"http_authorization":"Bearer \u0053x","http_cookie":"a=b"}"#,
    r#"{"level":"info","ts":1693840791.75,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"203.0.113.9","proto":"HTTP/1.1","method":"GET","host":"h","uri":"/a?b=1\u0026token=c","headers":{"Authorization":["Bearer c"]}},"status":200}"#,
    r#"{"ClientHost":"203.0.113.9","DownstreamStatus":200,"RequestHost":"h","RequestMethod":"GET","RequestPath":"/x?token=t","StartUTC":"2026-01-01T00:00:00Z","request_Authorization":"Bearer t"}"#,
    r#"{"start_time":"2024-01-01T10:00:00.000Z","method":"GET","path":"/api/x?y=1","response_code":200,"x_forwarded_for":"203.0.113.5"}"#,
    r#"{"request":{"method":"GET","uri":"/o?apikey=k","headers":{"host":"h","authorization":"Bearer k"}},"response":{"status":200},"latencies":{"request":1},"client_ip":"203.0.113.9","started_at":1704103200000}"#,
    r#"{"requestId":"abc","ip":"203.0.113.1","requestTime":"04/Jan/2020:08:41:43 +0000","httpMethod":"GET","path":"/prod/pets/7","status":"404"}"#,
    r#"{"time":"2024-02-01T12:00:00.5Z","callerIpAddress":"192.0.2.10","properties":{"method":"GET","url":"https://c/e?subscription-key=k","responseCode":200}}"#,
    r#"{"class_uid":4002,"time":1704103200000,"src_endpoint":{"ip":"203.0.113.9"},"http_request":{"http_method":"GET","url":{"path":"/v1/u"},"http_headers":[{"name":"Authorization","value":"Bearer o"}]},"http_response":{"code":200}}"#,
    r#"117.136.40.129:14853 [14/Jan/2015:12:48:57.127] https-in~ xx/node 170/0/0/3/173 200 739 - - --NN 0/0/0/0/0 0/0 "GET /x?secret=s HTTP/1.1""#,
    r#"https 2023-04-26T12:23:00.186641Z app/x/490d 192.168.1.11:44740 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/robots.txt?a=1 HTTP/1.1" "curl/7.46.0" ECDHE TLSv1.2 arn:x "Root=1" "www.example.com" "arn:y" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
    "2024-03-12\t15:22:28\tCDG50-P2\t703\t1.2.3.4\tGET\td.cloudfront.net\t/t\t400\t-\tcurl/7.81.0\tq=42\t-\tError\t375W==\th\thttps\t62\t0.113\t-\tTLSv1.3\tTLS\tError\tHTTP/2.0\t-\t-\t51754\t0.113\tError\ttext/plain\t20\t-\t-",
    "2025/05/01 07:57:03 [2025-05-01 07:57:03.150624] [router:host-http] [origin:test.com] [client: 192.168.1.1] [useragent: Mozilla/5.0 (Windows NT 10.0)] POST /xmlrpc.php?x=1 404",
    r#"<Event xmlns="x"> <System> <Provider Name="Microsoft-Windows-IIS-Logging" /> </System> <EventData> <Data Name="date">2022-10-01</Data> <Data Name="time">11:25:51</Data> <Data Name="c-ip">192.168.9.212</Data> <Data Name="cs-method">GET</Data> <Data Name="cs-uri-stem">/a</Data> <Data Name="cs-uri-query">a=1&amp;token=t</Data> <Data Name="sc-status">400</Data> <Data Name="csCookie">s=c</Data> </EventData> </Event>"#,
    "2024-05-01 10:00:00 10.0.0.5 GET /owa/auth.owa a=1 443 bob 203.0.113.7 Mozilla/5.0+(X11) - 401 1 0 15",
    r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0" "locations" "tcp://10.0.2.1:80""#,
    r#"2021/09/30 09:23:53 [error] 1#1: *17 user "foo" was not found in "/x", client: 127.0.0.1, server: _, request: "GET /?access_token=a HTTP/1.1", host: "localhost""#,
    "[Fri Oct 08 17:08:41.203277 2021] [core:error] [pid 7005:tid 140667133085440] [client 88.168.206.87:14532] AH00126: Invalid URI in request GET /cgi-bin/x HTTP/1.1",
    "2022-06-08 22:49:20.774649 [NOTICE] [1226033] [1.2.3.4:45164:HTTP2-41#_AdminVHost] [STDERR] [WebAdmin Console] Failed Login Attempt - username:asdasd ip:127.0.0.1 url:",
];

const PIECES: &[&str] = &[
    "\"",
    "\\",
    "\\\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    " ",
    "\t",
    "%",
    "%5F",
    "=",
    "&",
    "?",
    "/",
    "é",
    "🦀",
    "\u{0}",
    "\\u0053",
    "\\u00",
    "password=",
    "\"password\":",
    "Bearer ",
    "Basic ",
    "cookie",
    "form-data; name=\"pwd\"\r\n\r\n",
    "[redacted]",
    "-",
    "null",
    "1e999",
    "://",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(r: &mut Rng, seed: &str) -> String {
    let mut s = seed.to_owned();
    for _ in 0..1 + r.below(4) {
        let at = boundary(&s, r.below(s.len() + 1));
        match r.below(5) {
            0 => s.truncate(at),
            1 => s.insert_str(at, PIECES[r.below(PIECES.len())]),
            2 => {
                let end = boundary(&s, at + r.below(16));
                s.replace_range(at..end, "");
            }
            3 => {
                let end = boundary(&s, at + r.below(24));
                let dup = s[at..end].repeat(1 + r.below(3));
                s.insert_str(at, &dup);
            }
            _ => {
                let p = PIECES[r.below(PIECES.len())];
                s.insert_str(at, &p.repeat(1 + r.below(40)));
            }
        }
    }
    s
}

#[test]
fn mutated_lines_never_panic_and_decode_within_the_caps() {
    let cfg = DecodeConfig::default();
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut decoded = 0usize;
    let mut tried = 0usize;
    for seed in SEEDS {
        for _ in 0..250 {
            let line = mutate(&mut r, seed);
            for d in DECODERS {
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if !d.sniff(&line) {
                        return None;
                    }
                    d.decode(&line, &cfg).ok().map(|mut ev| {
                        let json = serde_json::to_string(&ev).unwrap_or_default();
                        (ev.cap_fields(cfg.body_sample_limit), json.len())
                    })
                }));
                tried += 1;
                match out {
                    Err(_) => panic!("{} panicked on {line:?}", d.name()),
                    Ok(Some((recut, len))) => {
                        decoded += 1;
                        assert!(!recut, "{}: event not capped from {line:?}", d.name());
                        assert!(len <= rampart_model::limits::MAX_EVENT_JSON);
                    }
                    Ok(None) => {}
                }
            }
        }
    }
    eprintln!("hostile: {tried} decoder runs, {decoded} events decoded");
    // the mutations keep most lines decodable: the test exercises decoders, not just sniffers
    assert!(decoded > SEEDS.len() * 50, "{decoded} of {tried} decoded");
}
