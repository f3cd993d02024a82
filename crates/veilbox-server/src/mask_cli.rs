//! `veilbox mask [FILE]`: masks a JSONL stream of messages with `veilbox-mask`.
//!
//! Input lines are `{"id", "text", "hints"?}`; each becomes one output line
//! `{"id", "findings": [{"kind", "start", "end", "confidence", "why"}], "masked"}` with
//! `start`/`end` in Unicode code points (as Python indexes a `str`), so `score_mask.py` can
//! score it. The stream is read line by line and written through one buffered stdout lock,
//! so memory stays flat however long the stream is. A malformed line is reported on stderr
//! by its line number only (never its content) and skipped; the stream goes on.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use veilbox_mask::{char_spans, mask, Hints, Kind, Policy, Scanner, ScannerConfig};

/// Arguments of `veilbox mask`.
#[derive(clap::Args, Debug)]
pub struct MaskArgs {
    /// JSONL file of `{"id", "text", "hints"?}` lines; standard input when absent.
    file: Option<PathBuf>,
    /// Print messages/s, MB/s and per-message latency percentiles to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// How the "masked" field hides findings: full (`[PHONE]`), partial (last 4 digits of
    /// numbers) or token (`PHONE·3f2a`, keyed by --token-key and --token-scope).
    #[arg(long, value_enum, default_value_t = PolicyArg::Full)]
    policy: PolicyArg,
    /// Secret key for --policy token.
    #[arg(long, env = "VEILBOX_MASK_TOKEN_KEY", hide_env_values = true)]
    token_key: Option<String>,
    /// Scope for --policy token: the same value gives the same token within one scope.
    #[arg(long, default_value = "")]
    token_scope: String,
    /// An extra courier tracking format, a regular expression matched against a whole token
    /// (for example `XB[0-9]{10}`); may be repeated. Matches are kept visible as TRACKING.
    #[arg(long = "tracking-format", value_name = "REGEX")]
    tracking_formats: Vec<String>,
}

/// The `--policy` choices.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PolicyArg {
    Full,
    Partial,
    Token,
}

/// Latency histogram with 100 ns buckets up to 1 ms: fixed memory for any stream length.
struct Latency {
    buckets: Vec<u64>,
    over: u64,
    max_ns: u64,
}

impl Latency {
    const BUCKET_NS: u64 = 100;
    const BUCKETS: usize = 10_000;

    fn new() -> Self {
        Latency {
            buckets: vec![0; Self::BUCKETS],
            over: 0,
            max_ns: 0,
        }
    }

    fn record(&mut self, ns: u64) {
        self.max_ns = self.max_ns.max(ns);
        match self.buckets.get_mut((ns / Self::BUCKET_NS) as usize) {
            Some(b) => *b += 1,
            None => self.over += 1,
        }
    }

    /// The latency (µs) under which `p` percent of messages fall.
    fn percentile_us(&self, p: f64) -> f64 {
        let total: u64 = self.buckets.iter().sum::<u64>() + self.over;
        if total == 0 {
            return 0.0;
        }
        let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return ((i as u64 + 1) * Self::BUCKET_NS) as f64 / 1000.0;
            }
        }
        self.max_ns as f64 / 1000.0
    }
}

/// Runs `veilbox mask`.
pub fn run(args: MaskArgs) -> anyhow::Result<()> {
    let config = ScannerConfig {
        tracking_formats: args.tracking_formats.clone(),
        ..ScannerConfig::default()
    };
    let scanner = Scanner::new(config).context("building the scanner (check --tracking-format)")?;
    let policy = match args.policy {
        PolicyArg::Full => Policy::full(),
        PolicyArg::Partial => Policy::partial(),
        PolicyArg::Token => {
            let key = args
                .token_key
                .as_deref()
                .context("--policy token needs --token-key or VEILBOX_MASK_TOKEN_KEY")?;
            Policy::token(key.as_bytes(), args.token_scope.as_bytes())
        }
    };
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock())),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let summary = stream(&scanner, &policy, input, &mut out, args.stats)?;
    out.flush().context("writing output")?;
    let mut err = io::stderr().lock();
    if summary.skipped > 0 {
        let _ = writeln!(
            err,
            "veilbox mask: {} malformed line(s) skipped",
            summary.skipped
        );
    }
    if args.stats {
        let secs = summary.elapsed_s.max(1e-9);
        let _ = writeln!(
            err,
            "veilbox mask: {} messages, {} text bytes in {:.3} s: {:.0} messages/s, {:.2} MB/s \
             (text), {:.2} MB/s (input lines); scan+mask latency per message p50 {:.1} µs, \
             p99 {:.1} µs, max {:.1} µs",
            summary.messages,
            summary.text_bytes,
            secs,
            summary.messages as f64 / secs,
            summary.text_bytes as f64 / 1e6 / secs,
            summary.line_bytes as f64 / 1e6 / secs,
            summary.latency.percentile_us(50.0),
            summary.latency.percentile_us(99.0),
            summary.latency.max_ns as f64 / 1000.0,
        );
    }
    Ok(())
}

struct Summary {
    messages: u64,
    skipped: u64,
    text_bytes: u64,
    line_bytes: u64,
    elapsed_s: f64,
    latency: Latency,
}

fn stream(
    scanner: &Scanner,
    policy: &Policy,
    mut input: Box<dyn BufRead>,
    out: &mut impl Write,
    timed: bool,
) -> anyhow::Result<Summary> {
    let mut s = Summary {
        messages: 0,
        skipped: 0,
        text_bytes: 0,
        line_bytes: 0,
        elapsed_s: 0.0,
        latency: Latency::new(),
    };
    let started = Instant::now();
    let mut line = Vec::with_capacity(4096);
    let mut lineno = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("reading input")?;
        if n == 0 {
            break;
        }
        lineno += 1;
        s.line_bytes += n as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(&line) {
            Ok((id, text, hints)) => {
                let t0 = timed.then(Instant::now);
                let findings = scanner.scan(&text, &hints);
                let masked = mask(&text, &findings, policy);
                if let Some(t0) = t0 {
                    s.latency.record(t0.elapsed().as_nanos() as u64);
                }
                write_line(out, &id, &text, &findings, &masked).context("writing output")?;
                s.messages += 1;
                s.text_bytes += text.len() as u64;
            }
            Err(reason) => {
                s.skipped += 1;
                let _ = writeln!(
                    io::stderr().lock(),
                    "veilbox mask: line {lineno}: {reason}; skipped"
                );
            }
        }
    }
    s.elapsed_s = started.elapsed().as_secs_f64();
    Ok(s)
}

/// Parses one input line. The error says what is wrong without quoting the line.
fn parse_line(line: &[u8]) -> Result<(Value, String, Hints), String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Io | serde_json::error::Category::Syntax => {
            format!("not valid JSON (column {})", e.column())
        }
        serde_json::error::Category::Eof => "truncated JSON".to_string(),
        serde_json::error::Category::Data => "unexpected JSON value".to_string(),
    })?;
    let Value::Object(mut obj) = v else {
        return Err("expected a JSON object {\"id\", \"text\", \"hints\"?}".to_string());
    };
    let id = obj
        .remove("id")
        .ok_or_else(|| "missing \"id\"".to_string())?;
    let text = match obj.remove("text") {
        Some(Value::String(t)) => t,
        Some(_) => return Err("\"text\" is not a string".to_string()),
        None => return Err("missing \"text\"".to_string()),
    };
    let hints = match obj.remove("hints") {
        None | Some(Value::Null) => Hints::new(),
        Some(h) => parse_hints(&h)?,
    };
    Ok((id, text, hints))
}

/// Hints may be a list of strings (kind guessed), a list of `{"kind", "value"}` objects, or
/// an object of kind name to a string or a list of strings (`{"name": "..", "phone": [..]}`).
fn parse_hints(h: &Value) -> Result<Hints, String> {
    let mut hints = Hints::new();
    let bad = || "\"hints\" must be a list or an object of strings".to_string();
    match h {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => {
                        hints.add_guess(s);
                    }
                    Value::Object(o) => {
                        let value = o.get("value").and_then(Value::as_str).ok_or_else(bad)?;
                        let kind = o.get("kind").and_then(Value::as_str).ok_or_else(bad)?;
                        let kind: Kind =
                            kind.parse().map_err(|_| "unknown hint kind".to_string())?;
                        hints.add(kind, value);
                    }
                    _ => return Err(bad()),
                }
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                let kind: Kind = k.parse().map_err(|_| "unknown hint kind".to_string())?;
                match v {
                    Value::String(s) => {
                        hints.add(kind, s);
                    }
                    Value::Array(a) => {
                        for s in a {
                            hints.add(kind, s.as_str().ok_or_else(bad)?);
                        }
                    }
                    Value::Null => {}
                    _ => return Err(bad()),
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(hints)
}

fn write_line(
    out: &mut impl Write,
    id: &Value,
    text: &str,
    findings: &[veilbox_mask::Finding],
    masked: &str,
) -> io::Result<()> {
    out.write_all(b"{\"id\":")?;
    serde_json::to_writer(&mut *out, id)?;
    out.write_all(b",\"findings\":[")?;
    for (i, (f, (s, e))) in findings.iter().zip(char_spans(text, findings)).enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "{{\"kind\":\"{}\",\"start\":{},\"end\":{},\"confidence\":{:.2},\"why\":",
            f.kind, s, e, f.confidence
        )?;
        serde_json::to_writer(&mut *out, &f.why.to_string())?;
        out.write_all(b"}")?;
    }
    out.write_all(b"],\"masked\":")?;
    serde_json::to_writer(&mut *out, masked)?;
    out.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_skipped_not_fatal() {
        let input = b"{\"id\":1,\"text\":\"call me on +91 98765 43210\"}\nnot json {secret}\n{\"id\":2}\n{\"id\":3,\"text\":\"ok\"}\n";
        let scanner = Scanner::new(ScannerConfig::default()).unwrap();
        let mut out = Vec::new();
        let s = stream(
            &scanner,
            &Policy::full(),
            Box::new(&input[..]),
            &mut out,
            true,
        )
        .unwrap();
        assert_eq!(s.messages, 2);
        assert_eq!(s.skipped, 2);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\"kind\":\"PHONE\""));
        assert!(out.contains("[PHONE]"));
        assert!(!out.contains("98765"));
    }

    #[test]
    fn parse_errors_do_not_quote_content() {
        let e = parse_line(b"{\"id\":1,\"text\":12345678}").unwrap_err();
        assert!(!e.contains("12345678"));
        let e = parse_line(b"{\"id\":1,\"text\":\"x\",\"hints\":\"secret value\"}").unwrap_err();
        assert!(!e.contains("secret"));
    }
}
