//! The cluster cookie: HMAC-SHA256 over the canonical JSON of a message.
//!
//! The key is absorbed once per cookie ([`Cookie::new`]); every message then
//! starts from a clone of that keyed state instead of re-hashing the key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex of a SHA-256 HMAC: what the JS kernel puts in `checkSum`.
pub type Digest = [u8; 64];

#[derive(Clone)]
pub struct Cookie {
    keyed: HmacSha256,
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str("Cookie(..)")
    }
}

impl Cookie {
    /// A cookie from its secret. Strings are keys as UTF-8, as Node's
    /// `crypto.createHmac` takes them.
    pub fn new(secret: &str) -> Cookie {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Cookie { keyed }
    }

    /// The hex digest of the concatenation of `parts`.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Digest {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        to_hex(&mac.finalize().into_bytes())
    }

    /// The hex digest of `text`.
    pub fn sign(&self, text: &str) -> Digest {
        self.sign_parts(&[text.as_bytes()])
    }

    /// Checks `sent` (the hex text a peer put in `checkSum`) against the
    /// HMAC of the concatenation of `parts`, in constant time: the MAC
    /// crate's own comparison, so how long a check takes says nothing about
    /// how much of a forged sum was right. Only lower-case hex, the exact
    /// text a JS kernel compares, can match. On a mismatch, the digest
    /// computed (for the `_skip` report).
    pub fn verify_parts(&self, parts: &[&[u8]], sent: Option<&str>) -> Result<(), Digest> {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        if let Some(bytes) = sent.and_then(from_hex) {
            let report = mac.clone();
            return match mac.verify_slice(&bytes) {
                Ok(()) => Ok(()),
                Err(_) => Err(to_hex(&report.finalize().into_bytes())),
            };
        }
        Err(to_hex(&mac.finalize().into_bytes()))
    }

    /// [`Cookie::verify_parts`] of one text.
    pub fn verify(&self, text: &str, sent: Option<&str>) -> Result<(), Digest> {
        self.verify_parts(&[text.as_bytes()], sent)
    }
}

/// The 32 bytes of a digest written as 64 lower-case hex digits, or `None`
/// for any other text (which then matches no digest, as in a JS kernel's
/// string comparison).
fn from_hex(text: &str) -> Option<[u8; 32]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let t = text.as_bytes();
    if t.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (digit(t[2 * i])? << 4) | digit(t[2 * i + 1])?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> Digest {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().take(32).enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// The digest as text.
pub fn digest_str(d: &Digest) -> &str {
    // Only ASCII hex digits are ever written into a digest.
    std::str::from_utf8(d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_hmac() {
        // RFC 4231 test case 2.
        let c = Cookie::new("Jefe");
        let d = c.sign("what do ya want for nothing?");
        assert_eq!(
            digest_str(&d),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verifies_exactly_the_lower_case_digest() {
        let c = Cookie::new("Jefe");
        let text = "what do ya want for nothing?";
        let good = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(c.verify(text, Some(good)), Ok(()));
        assert_eq!(c.verify_parts(&[b"what do ya ", b"want for nothing?"], Some(good)), Ok(()));
        // Upper case, one digit off, too short, too long, absent, not hex:
        // each a mismatch reporting the digest computed.
        let mut off = good.to_string();
        off.replace_range(63..64, "4");
        let long = format!("{good}0");
        for bad in [Some(good.to_uppercase().as_str()), Some(off.as_str()), Some(&good[..62]), Some(long.as_str()), None, Some("zz")] {
            let err = c.verify(text, bad).expect_err("must not verify");
            assert_eq!(digest_str(&err), good, "for {bad:?}");
        }
        assert!(c.verify("another text", Some(good)).is_err());
    }

    #[test]
    fn parts_equal_whole() {
        let c = Cookie::new("secret");
        assert_eq!(c.sign("{\"a\":1}"), c.sign_parts(&[b"{", b"\"a\":1}"]));
    }
}
