//! `DEBUG=clusterluck:*` for the Rust side.
//!
//! clusterluck apps turn logs on with the `debug` package's `DEBUG` variable
//! (`clusterluck:lib:kernel`, `clusterluck:*`, `-clusterluck:lib:gossip`).
//! This module reads the same variable, with the same syntax, and prints the
//! `tracing` events of this crate under `clusterluck:native:<module>`
//! (`clusterluck_native::link::peer` is `clusterluck:native:peer`) to stderr, as
//! `debug` prints when stderr is not a terminal: an ISO time, the namespace,
//! the message. It is a small subscriber of its own rather than
//! tracing-subscriber: events are all this crate emits, and the output must
//! look like the JS side's.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// The namespaces of the crate's modules that emit events (see
/// [`namespace`]), for "does DEBUG enable any of them".
const MODULES: &[&str] = &["peer", "health", "server", "node"];

/// One name pattern of DEBUG: `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(String);

impl Pattern {
    fn matches(&self, name: &str) -> bool {
        wildcard(self.0.as_bytes(), name.as_bytes())
    }
}

/// Glob match with `*` only, iterative (no recursion on hostile input).
fn wildcard(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pat.len() && pat[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// The namespaces DEBUG enables, in the `debug` package's syntax: names
/// separated by commas or spaces, `*` wildcards, `-name` to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    names: Vec<Pattern>,
    skips: Vec<Pattern>,
}

impl Filter {
    pub(crate) fn parse(spec: &str) -> Filter {
        let mut f = Filter::default();
        for part in spec.split([',', ' ', '\t', '\n']).filter(|p| !p.is_empty()) {
            match part.strip_prefix('-') {
                Some(rest) => f.skips.push(Pattern(rest.to_string())),
                None => f.names.push(Pattern(part.to_string())),
            }
        }
        f
    }

    /// Whether `namespace` is enabled (a skip wins, as in `debug`).
    pub(crate) fn enabled(&self, namespace: &str) -> bool {
        !self.skips.iter().any(|p| p.matches(namespace)) && self.names.iter().any(|p| p.matches(namespace))
    }

    /// Whether any of this crate's namespaces is enabled.
    pub(crate) fn any_native(&self) -> bool {
        MODULES.iter().any(|m| self.enabled(&format!("clusterluck:native:{m}")))
    }
}

/// `clusterluck_native::link::peer::task` -> `clusterluck:native:peer`;
/// None for the targets of other crates.
///
/// The namespace is the module a layer's folder holds (`link::peer`,
/// `wire::json`), or the top module outside them (`node`, `debug_log`): the
/// layers and the files a module is cut into are how the crate is arranged,
/// and an operator's `DEBUG` line should not change when code moves between
/// them.
pub(crate) fn namespace(target: &str) -> Option<String> {
    let rest = target.strip_prefix("clusterluck_native")?;
    if !(rest.is_empty() || rest.starts_with("::")) {
        return None;
    }
    let mut parts = rest.split("::").filter(|p| !p.is_empty());
    let mut ns = String::from("clusterluck:native");
    let module = match parts.next() {
        Some(layer @ ("wire" | "link" | "node" | "napi")) => Some(parts.next().unwrap_or(layer)),
        other => other,
    };
    if let Some(module) = module {
        ns.push(':');
        ns.push_str(module);
    }
    Some(ns)
}

/// Prints the enabled events to stderr, one line each.
pub(crate) struct DebugSubscriber {
    filter: Filter,
}

impl DebugSubscriber {
    pub(crate) fn new(filter: Filter) -> Self {
        DebugSubscriber { filter }
    }

    fn wants(&self, meta: &Metadata<'_>) -> bool {
        meta.is_event() && namespace(meta.target()).is_some_and(|ns| self.filter.enabled(&ns))
    }
}

/// The message and the other fields of an event, as `message key=value`.
struct Line(String);

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for DebugSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wants(meta)
    }

    // Spans are not used by this crate; they get one id and are ignored.
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(ns) = namespace(event.metadata().target()) else { return };
        let mut line = Line(String::new());
        event.record(&mut line);
        let text = format!("{} {} {}\n", iso_now(), ns, line.0);
        // A closed stderr must not take the process down.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Installs the subscriber for the DEBUG of the environment when it enables
/// any of this crate's namespaces and no global subscriber is set yet (an
/// app's own wins). True when installed.
pub(crate) fn init_from_env() -> bool {
    let Ok(spec) = std::env::var("DEBUG") else { return false };
    let filter = Filter::parse(&spec);
    if !filter.any_native() {
        return false;
    }
    tracing::subscriber::set_global_default(DebugSubscriber::new(filter)).is_ok()
}

/// [`init_from_env`] once per process, for a Rust program's first node:
/// `DEBUG=clusterluck:*` prints the same lines as in the addon, unless the
/// program set its own tracing subscriber first.
pub(crate) fn init_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        init_from_env();
    });
}

/// Now as `Date#toISOString` writes it (UTC, milliseconds).
fn iso_now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    iso(since.as_millis() as i64)
}

fn iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_the_debug_package_does() {
        let f = Filter::parse("clusterluck:*,-clusterluck:native:events");
        assert!(f.enabled("clusterluck:lib:kernel"));
        assert!(f.enabled("clusterluck:native:peer"));
        assert!(!f.enabled("clusterluck:native:events"));
        assert!(!f.enabled("other:thing"));
        assert!(f.any_native());
        let f = Filter::parse("clusterluck:lib:kernel clusterluck:lib:conn");
        assert!(f.enabled("clusterluck:lib:conn"));
        assert!(!f.any_native());
        assert!(Filter::parse("*").any_native());
        assert!(!Filter::parse("*,-clusterluck:native:*").any_native());
        assert!(!Filter::parse("").enabled("clusterluck:native:peer"));
    }

    #[test]
    fn wildcards_match_runs_of_characters() {
        assert!(wildcard(b"a*c", b"abbbc"));
        assert!(wildcard(b"a*", b"a"));
        assert!(!wildcard(b"a*c", b"abd"));
        assert!(wildcard(b"*:native:*", b"clusterluck:native:peer"));
        // No blow-up on many stars against a long text.
        let pat = "*a".repeat(50);
        assert!(!wildcard(pat.as_bytes(), "b".repeat(10_000).as_bytes()));
    }

    #[test]
    fn namespaces_follow_the_module_path() {
        assert_eq!(namespace("clusterluck_native::link::peer").as_deref(), Some("clusterluck:native:peer"));
        assert_eq!(namespace("clusterluck_native::link::peer::task").as_deref(), Some("clusterluck:native:peer"));
        assert_eq!(namespace("clusterluck_native::link::server::read").as_deref(), Some("clusterluck:native:server"));
        assert_eq!(namespace("clusterluck_native::link::health").as_deref(), Some("clusterluck:native:health"));
        assert_eq!(namespace("clusterluck_native::wire::json::parse").as_deref(), Some("clusterluck:native:json"));
        assert_eq!(namespace("clusterluck_native::node").as_deref(), Some("clusterluck:native:node"));
        assert_eq!(namespace("clusterluck_native::node::delivery").as_deref(), Some("clusterluck:native:delivery"));
        assert_eq!(namespace("clusterluck_nativeother::x"), None);
        assert_eq!(namespace("clusterluck_native").as_deref(), Some("clusterluck:native"));
        assert_eq!(namespace("rustls::conn"), None);
    }

    #[test]
    fn times_are_written_as_iso_strings() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }
}
