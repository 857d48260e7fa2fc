//! The [`Output`] that builds `JSON.stringify(JSON.parse(input))`. It stays a slice of the input while
//! the output matches it, and rebuilds an object (array-index keys first, a repeated key at its
//! first position with its last value) only when V8 would print it differently.
//!
//! It is one of the parser's sinks, kept apart so that validation runs the same grammar without
//! any of this bookkeeping.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::numbers::{format_number, is_canonical_number, SmallText};
use super::parse::{skip_ws_from, Output};
use super::strings::{escape_unit, Unit};

/// Largest property key V8 treats as an array index (2^32 - 2); such keys are enumerated first.
const MAX_ARRAY_INDEX: u64 = 4_294_967_294;

/// Objects with at most this many members are checked for duplicate keys by pairwise comparison,
/// which beats building a hash set for the small objects that dominate real traffic.
const LINEAR_DUPLICATE_SCAN: usize = 16;

/// Where an object started in the output and where its members start on the member stack.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ObjectFrame {
    out_start: usize,
    first_member: usize,
}

/// One emitted object member, in output offsets: `"key"` is `start..key_end`, the whole
/// `"key":value` is `start..end`. `first` and `last` are the key's first and last content
/// bytes (0 if empty): cheap summaries that let the checks in `object_end` skip most key text.
#[derive(Debug, Clone, Copy, Default)]
struct Member {
    start: usize,
    key_end: usize,
    end: usize,
    first: u8,
    last: u8,
}

impl Member {
    /// False when the keys certainly differ, without looking at their text.
    fn may_equal(&self, other: &Member) -> bool {
        self.key_end - self.start == other.key_end - other.start
            && self.first == other.first
            && self.last == other.last
    }
}

/// Members of all currently open objects. Typical documents fit in the inline array, so
/// canonicalizing them does not touch the heap; larger ones spill into a vector.
struct MemberStack {
    inline: [Member; 64],
    len: usize,
    spill: Vec<Member>,
}

impl MemberStack {
    fn new() -> Self {
        MemberStack {
            inline: [Member::default(); 64],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, member: Member) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = member;
                self.len += 1;
                return;
            }
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(member);
        self.len += 1;
    }

    fn since(&self, first: usize) -> &[Member] {
        let all = if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        };
        all.get(first..).unwrap_or(&[])
    }

    fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len);
        if !self.spill.is_empty() {
            self.spill.truncate(self.len);
            if self.len <= self.inline.len() {
                if let Some(dst) = self.inline.get_mut(..self.len) {
                    dst.copy_from_slice(&self.spill);
                }
                self.spill.clear();
            }
        }
    }
}

/// Builds the canonical text. While the output so far equals a slice of the input
/// (`input[start..end]`), nothing is copied; the first difference copies that prefix into an
/// owned string and writing continues there.
pub(super) struct Canonical<'a> {
    input: &'a str,
    start: usize,
    end: usize,
    owned: Option<String>,
    members: MemberStack,
}

impl<'a> Canonical<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        let start = skip_ws_from(input.as_bytes(), 0);
        Canonical {
            input,
            start,
            end: start,
            owned: None,
            members: MemberStack::new(),
        }
    }

    pub(super) fn finish(self) -> Cow<'a, str> {
        match self.owned {
            Some(text) => Cow::Owned(text),
            None => Cow::Borrowed(self.input.get(self.start..self.end).unwrap_or("")),
        }
    }

    /// Switches to (or returns) the owned output.
    fn owned_mut(&mut self) -> &mut String {
        let prefix = self.input.get(self.start..self.end).unwrap_or("");
        let capacity = self.input.len() + 16;
        self.owned.get_or_insert_with(|| {
            let mut text = String::with_capacity(capacity);
            text.push_str(prefix);
            text
        })
    }

    /// Appends generated text, staying borrowed if it matches the input at this point.
    fn text(&mut self, s: &str) {
        if self.owned.is_none() {
            let next = self.end + s.len();
            if self.input.as_bytes().get(self.end..next) == Some(s.as_bytes()) {
                self.end = next;
                return;
            }
        }
        self.owned_mut().push_str(s);
    }

    /// Output text between output offsets `from` and `to`.
    fn slice(&self, from: usize, to: usize) -> &str {
        match &self.owned {
            Some(text) => text.get(from..to).unwrap_or(""),
            None => self
                .input
                .get(self.start + from..self.start + to)
                .unwrap_or(""),
        }
    }

    fn key(&self, member: &Member) -> &str {
        self.slice(member.start, member.key_end)
    }

    /// Whether V8 would print these members differently: an array-index key after a named key
    /// or after a larger index, or any repeated key. Keys are compared in canonical form, which
    /// is one-to-one with their decoded value.
    fn needs_rebuild(&self, members: &[Member]) -> bool {
        let mut last_index: Option<u32> = None;
        let mut seen_named = false;
        for member in members {
            let index = if member.first.is_ascii_digit() {
                array_index(self.key(member))
            } else {
                None
            };
            match index {
                Some(index) => {
                    if seen_named || last_index.is_some_and(|last| index <= last) {
                        return true;
                    }
                    last_index = Some(index);
                }
                None => seen_named = true,
            }
        }
        self.has_duplicate_key(members)
    }

    fn has_duplicate_key(&self, members: &[Member]) -> bool {
        if members.len() <= LINEAR_DUPLICATE_SCAN {
            members.iter().enumerate().any(|(i, a)| {
                members
                    .iter()
                    .skip(i + 1)
                    .any(|b| a.may_equal(b) && self.key(a) == self.key(b))
            })
        } else {
            let mut seen = HashSet::with_capacity(members.len());
            members.iter().any(|m| !seen.insert(self.key(m)))
        }
    }

    /// The object as V8 holds it after JSON.parse: each key at its first position with its last
    /// value, then array-index keys in ascending order before the named keys (in insertion order).
    fn rebuilt_object(&self, members: &[Member]) -> String {
        let mut entries: Vec<(Option<u32>, &str)> = Vec::with_capacity(members.len());
        let mut position: HashMap<&str, usize> = HashMap::with_capacity(members.len());
        for member in members {
            let key = self.key(member);
            let text = self.slice(member.start, member.end);
            match position.get(key) {
                Some(&i) => {
                    if let Some(entry) = entries.get_mut(i) {
                        entry.1 = text;
                    }
                }
                None => {
                    position.insert(key, entries.len());
                    entries.push((array_index(key), text));
                }
            }
        }
        // Stable sort: named keys keep their relative order.
        entries.sort_by_key(|&(index, _)| (index.is_none(), index.unwrap_or(0)));
        let total: usize = entries.iter().map(|(_, text)| text.len() + 1).sum();
        let mut object = String::with_capacity(total + 2);
        object.push('{');
        for (i, (_, text)) in entries.iter().enumerate() {
            if i > 0 {
                object.push(',');
            }
            object.push_str(text);
        }
        object.push('}');
        object
    }
}

impl Output for Canonical<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        if self.owned.is_none() && self.input.as_bytes().get(self.end) == Some(&b) {
            self.end += 1;
        } else {
            self.owned_mut().push(char::from(b));
        }
    }

    #[inline]
    fn copy(&mut self, start: usize, end: usize) {
        if self.owned.is_none() && start == self.end {
            self.end = end;
        } else {
            let input = self.input;
            self.text(input.get(start..end).unwrap_or(""));
        }
    }

    fn unit(&mut self, unit: Unit) {
        let mut escaped = SmallText::new();
        escape_unit(unit, &mut escaped);
        self.text(escaped.as_str());
    }

    fn number(&mut self, start: usize, end: usize, short_integer: bool) -> bool {
        if short_integer {
            self.copy(start, end);
            return true;
        }
        let input = self.input;
        let Some(literal) = input.get(start..end) else {
            return false;
        };
        if is_canonical_number(literal.as_bytes()) {
            self.copy(start, end);
            return true;
        }
        let Ok(value) = literal.parse::<f64>() else {
            return false;
        };
        let mut formatted = SmallText::new();
        format_number(value, &mut formatted);
        self.text(formatted.as_str());
        true
    }

    fn mark(&self) -> usize {
        match &self.owned {
            Some(text) => text.len(),
            None => self.end - self.start,
        }
    }

    fn object_begin(&mut self) -> ObjectFrame {
        ObjectFrame {
            out_start: self.mark(),
            first_member: self.members.len(),
        }
    }

    fn member(&mut self, start: usize, key_end: usize) {
        let end = self.mark();
        let key = self.slice(start, key_end).as_bytes();
        let (first, last) = match key {
            [b'"', first, .., last, b'"'] => (*first, *last),
            [b'"', only, b'"'] => (*only, *only),
            _ => (0, 0),
        };
        self.members.push(Member {
            start,
            key_end,
            end,
            first,
            last,
        });
    }

    fn object_end(&mut self, frame: ObjectFrame) {
        let members = self.members.since(frame.first_member);
        if self.needs_rebuild(members) {
            let object = self.rebuilt_object(members);
            let out = self.owned_mut();
            if out.is_char_boundary(frame.out_start) {
                out.truncate(frame.out_start);
                out.push_str(&object);
            }
        }
        self.members.truncate(frame.first_member);
    }
}

/// The array index a canonical key (quotes included) denotes, if any: the canonical decimal
/// form of an integer in 0..=2^32-2. V8 enumerates such keys first, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    let digits = key.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
    match digits {
        [b'0'] => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.len() < 10 && rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let value = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if value <= MAX_ARRAY_INDEX {
        u32::try_from(value).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::wire::json::canonicalize;
    use crate::wire::json::tests::{canon, is_borrowed};

    #[test]
    fn whitespace_is_removed() {
        assert_eq!(canon(r#" { "a" : [ 1 , 2 ] } "#), r#"{"a":[1,2]}"#);
        assert_eq!(
            canon("\t[\r\n1,\n{ }, [ ] ,\"x y\"]\n"),
            r#"[1,{},[],"x y"]"#
        );
        // Whitespace only around a canonical value: still borrowed (the trimmed slice).
        let out = canonicalize("  \n{\"a\":1}\r\n").unwrap();
        assert!(matches!(out, Cow::Borrowed("{\"a\":1}")));
    }

    #[test]
    fn top_level_scalars() {
        assert_eq!(canon("true"), "true");
        assert_eq!(canon(" null "), "null");
        assert_eq!(canon("\"x\""), "\"x\"");
        assert_eq!(canon("-0"), "0");
        assert!(is_borrowed("false"));
    }

    #[test]
    fn object_key_order_follows_v8() {
        let cases = [
            (
                r#"{"b":1,"2":2,"1":3,"01":4}"#,
                r#"{"1":3,"2":2,"b":1,"01":4}"#,
            ),
            (
                r#"{"b":1,"4294967294":1,"4294967295":2,"1":3,"01":4,"-1":5}"#,
                r#"{"1":3,"4294967294":1,"b":1,"4294967295":2,"01":4,"-1":5}"#,
            ),
            (
                r#"{"10":1,"9":2,"1.0":3,"0":4}"#,
                r#"{"0":4,"9":2,"10":1,"1.0":3}"#,
            ),
            (r#"{"\u0032":1,"1":2}"#, r#"{"1":2,"2":1}"#),
            (
                r#"{"a":{"3":1,"2":2},"0":[{"y":1,"1":1}]}"#,
                r#"{"0":[{"1":1,"y":1}],"a":{"2":2,"3":1}}"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
        assert!(is_borrowed(
            r#"{"0":1,"1":2,"10":3,"a":4,"01":5,"4294967295":6}"#
        ));
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let cases = [
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (r#"{"1":1,"a":2,"1":3}"#, r#"{"1":3,"a":2}"#),
            (r#"{"a":1,"\u0061":2}"#, r#"{"a":2}"#),
            (
                r#"{"a":1,"a":{"x":1,"x":[2]},"b":0}"#,
                r#"{"a":{"x":[2]},"b":0}"#,
            ),
            (
                r#"{"\ud800":1,"\\ud800":2,"\uD800":3}"#,
                r#"{"\ud800":3,"\\ud800":2}"#,
            ),
            (r#"{ "a" : 1 , "a" : 2 }"#, r#"{"a":2}"#),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
    }

    #[test]
    fn large_objects_use_the_hashed_duplicate_check() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let canonical = format!("{{{}}}", keys.join(","));
        assert!(is_borrowed(&canonical));
        let with_dup = format!("{{{},\"k7\":\"last\"}}", keys.join(","));
        assert_eq!(
            canon(&with_dup),
            canonical.replace("\"k7\":7", "\"k7\":\"last\"")
        );
        let mut reversed: Vec<String> = (0..40).map(|i| format!("\"{i}\":{i}")).collect();
        reversed.reverse();
        let expected: Vec<String> = (0..40).map(|i| format!("\"{i}\":{i}")).collect();
        assert_eq!(
            canon(&format!("{{{}}}", reversed.join(","))),
            format!("{{{}}}", expected.join(","))
        );
    }

    #[test]
    fn many_members_spill_the_member_stack() {
        // More open members than the inline storage holds, with a reorder deep inside.
        let mut doc = String::new();
        for i in 0..100 {
            doc.push_str(&format!("{{\"k{i}\":1,\"v\":"));
        }
        doc.push_str("{\"b\":1,\"0\":2}");
        doc.push_str(&"}".repeat(100));
        let expected = doc.replace("{\"b\":1,\"0\":2}", "{\"0\":2,\"b\":1}");
        assert_eq!(canon(&doc), expected);
        assert_eq!(canon(&expected), expected);
        assert!(is_borrowed(&expected));
    }

    #[test]
    fn arrays_keep_order() {
        assert_eq!(
            canon("[3,1,2,\"b\",\"a\",[2,1]]"),
            "[3,1,2,\"b\",\"a\",[2,1]]"
        );
        assert_eq!(canon("[1e400,-1e400]"), "[null,null]");
    }
}
