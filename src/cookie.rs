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
    fn parts_equal_whole() {
        let c = Cookie::new("secret");
        assert_eq!(c.sign("{\"a\":1}"), c.sign_parts(&[b"{", b"\"a\":1}"]));
    }
}
