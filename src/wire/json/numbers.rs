//! Numbers as JS prints them: `Number.prototype.toString` laid out from the shortest round-trip
//! digits, exact ties broken to the even neighbour, and the check that lets a literal already
//! in that form be copied as it is. Also [`SmallText`], the fixed buffer that number and escape
//! writers fill so that hot paths never allocate.
//!
//! Rust's own float formatting differs from JS's; all of the difference is kept here.

use std::fmt::{self, Write as _};

/// A small fixed-capacity text buffer for escapes and numbers, so hot paths never allocate.
/// Every use needs at most 26 bytes; pushes past the capacity are dropped (never reached).
pub(super) struct SmallText {
    buf: [u8; 40],
    len: usize,
}

impl SmallText {
    pub(super) fn new() -> Self {
        SmallText {
            buf: [0; 40],
            len: 0,
        }
    }

    pub(super) fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            self.push(b);
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for SmallText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(fmt::Error);
        }
        self.push_str(s);
        Ok(())
    }
}

/// Writes `value` as JS `Number.prototype.toString` would, except that non-finite values become
/// "null" (what JSON.stringify prints for them).
///
/// With the shortest round-trip digits d1..dk and the decimal exponent n (value = 0.d1..dk × 10^n),
/// ECMAScript's Number::toString picks plain or exponent layout from k and n.
pub(super) fn format_number(value: f64, out: &mut SmallText) {
    if !value.is_finite() {
        return out.push_str("null");
    }
    if value == 0.0 {
        return out.push(b'0'); // Also -0, which JS prints as "0".
    }
    if value < 0.0 {
        out.push(b'-');
    }
    let (significand, last) = shortest_decimal(value.abs());
    let mut digit_buf = [0u8; 20];
    let digits = decimal_digits(significand, &mut digit_buf);
    let k = digits.len() as i32;
    let n = last + k;

    if k <= n && n <= 21 {
        // Integer: digits then zeros ("1e20" -> "100000000000000000000").
        push_bytes(out, digits);
        for _ in 0..n - k {
            out.push(b'0');
        }
    } else if 0 < n && n <= 21 {
        // Decimal point inside the digits ("123.456").
        let (int, frac) = digits.split_at((n as usize).min(digits.len()));
        push_bytes(out, int);
        out.push(b'.');
        push_bytes(out, frac);
    } else if -6 < n && n <= 0 {
        // Small number with leading zeros ("0.000001").
        out.push_str("0.");
        for _ in 0..-n {
            out.push(b'0');
        }
        push_bytes(out, digits);
    } else {
        // Exponent form ("1e+21", "1.5e-7").
        let (first, rest) = digits.split_at(1.min(digits.len()));
        push_bytes(out, first);
        if !rest.is_empty() {
            out.push(b'.');
            push_bytes(out, rest);
        }
        out.push(b'e');
        out.push(if n > 0 { b'+' } else { b'-' });
        let _ = write!(out, "{}", (n - 1).unsigned_abs());
    }
}

/// The shortest decimal `significand × 10^last` that reads back as `value` (finite, positive),
/// chosen as ECMAScript specifies: fewest digits, then closest to `value`, then even.
///
/// Rust's `{:e}` prints the shortest closest digits (for example "1.2345e-7") but breaks exact
/// ties upwards, so those are corrected by [`even_tie_neighbor`].
fn shortest_decimal(value: f64) -> (u64, i32) {
    let mut text = SmallText::new();
    // Cannot fail: the longest form ("2.2250738585072014e-308") is 23 bytes.
    let _ = write!(text, "{value:e}");
    let text = text.as_str();
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut significand = 0u64;
    let mut k = 0i32;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        significand = significand
            .wrapping_mul(10)
            .wrapping_add(u64::from(b - b'0'));
        k += 1;
    }
    let last = exponent - (k - 1);
    even_tie_neighbor(value, significand, last).unwrap_or((significand, last))
}

/// When `value` lies exactly halfway between two shortest candidates (1132900541986359.25 lies
/// between ...359.2 and ...359.3) and Rust chose the odd one, returns the even one (without
/// trailing zeros) with its last-digit exponent. JS prints the even one.
fn even_tie_neighbor(value: f64, digits: u64, last: i32) -> Option<(u64, i32)> {
    if digits.is_multiple_of(2) {
        return None;
    }
    for up in [false, true] {
        let (midpoint, neighbor) = if up {
            (digits.checked_mul(10)?.checked_add(5)?, digits + 1)
        } else {
            (digits.checked_mul(10)?.checked_sub(5)?, digits - 1)
        };
        if neighbor == 0 || !decimal_equals(value, midpoint, last - 1) {
            continue;
        }
        // The neighbour must itself read back as `value` (it normally does, being equally close).
        let mut text = SmallText::new();
        if write!(text, "{neighbor}e{last}").is_err() {
            return None;
        }
        if text.as_str().parse::<f64>().ok() != Some(value) {
            continue;
        }
        let (mut neighbor, mut last) = (neighbor, last);
        while neighbor.is_multiple_of(10) {
            neighbor /= 10;
            last += 1;
        }
        return Some((neighbor, last));
    }
    None
}

/// Whether the finite, positive `value` is exactly `n × 10^p`, compared as odd × 2^e on both sides.
fn decimal_equals(value: f64, n: u64, p: i32) -> bool {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if mantissa == 0 || n == 0 {
        return false;
    }
    let value_odd = mantissa >> mantissa.trailing_zeros();
    let value_exp2 = exp2 + mantissa.trailing_zeros() as i32;

    // n × 10^p = n × 5^p × 2^p; fold the power of five into the odd part.
    let mut odd = n >> n.trailing_zeros();
    let exp2 = n.trailing_zeros() as i32 + p;
    for _ in 0..p.unsigned_abs() {
        if p > 0 {
            match odd.checked_mul(5) {
                Some(next) => odd = next,
                None => return false,
            }
        } else if odd.is_multiple_of(5) {
            odd /= 5;
        } else {
            return false;
        }
    }
    odd == value_odd && exp2 == value_exp2
}

/// The decimal digits of `n` as ASCII, written into `buf`.
fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or(&[])
}

fn push_bytes(out: &mut SmallText, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
    }
}

/// True when a number literal (grammar already checked) is exactly what JS would print for it,
/// so the common case skips float parsing and formatting.
///
/// That holds for a plain decimal (no exponent) with at most 15 significant digits, no trailing
/// zero after the point, and fewer than 6 zeros after "0.": every decimal with at most 15
/// significant digits survives a round trip through f64, so its shortest representation is
/// itself, and JS lays such values out without an exponent. "-0" is the exception (prints "0").
pub(super) fn is_canonical_number(literal: &[u8]) -> bool {
    let negative = literal.first() == Some(&b'-');
    let body = if negative {
        literal.get(1..).unwrap_or(&[])
    } else {
        literal
    };
    if body.iter().any(|&b| b == b'e' || b == b'E') {
        return false;
    }
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (
            body.get(..dot).unwrap_or(&[]),
            body.get(dot + 1..).unwrap_or(&[]),
        ),
        None => (body, &[][..]),
    };
    if frac.last() == Some(&b'0') {
        return false;
    }
    if int == b"0" {
        if frac.is_empty() {
            return !negative;
        }
        let zeros = frac.iter().take_while(|&&b| b == b'0').count();
        zeros <= 5 && frac.len() - zeros <= 15
    } else {
        int.len() + frac.len() <= 15
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical_number;
    use crate::wire::json::tests::{canon, err_kind, is_borrowed};
    use crate::wire::json::{as_f64, write_number, JsonErrorKind};

    fn number_text(n: f64) -> String {
        let mut out = String::new();
        write_number(&mut out, n);
        out
    }

    #[test]
    fn required_number_cases() {
        assert_eq!(canon("0.000001"), "0.000001");
        assert_eq!(canon("1e-7"), "1e-7");
        assert_eq!(canon("123456789012345680000"), "123456789012345680000");
        assert_eq!(canon("1e21"), "1e+21");
        assert_eq!(canon("5e-324"), "5e-324");
        assert_eq!(canon("9007199254740993"), "9007199254740992");
        assert_eq!(number_text(0.000001), "0.000001");
        assert_eq!(number_text(1e-7), "1e-7");
        assert_eq!(number_text(1e21), "1e+21");
        assert_eq!(number_text(1.5e-7), "1.5e-7");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(f64::NAN), "null");
        assert_eq!(number_text(f64::INFINITY), "null");
        assert_eq!(number_text(f64::NEG_INFINITY), "null");
        assert_eq!(number_text(100.0), "100");
        assert_eq!(number_text(-2.5), "-2.5");
    }

    #[test]
    fn number_literals_match_v8() {
        // (literal, JSON.stringify(JSON.parse(literal))) as V8 computes it.
        let cases = [
            ("1.0", "1"),
            ("1E2", "100"),
            ("-0", "0"),
            ("0.0", "0"),
            ("-0.0", "0"),
            ("1e-7", "1e-7"),
            ("100e-2", "1"),
            ("0.1e1", "1"),
            ("12345678901234567890", "12345678901234567000"),
            ("1e308", "1e+308"),
            ("1.7976931348623158e308", "1.7976931348623157e+308"),
            ("1.7976931348623159e308", "null"),
            ("2.4703282292062327e-324", "0"),
            ("2.4703282292062328e-324", "5e-324"),
            ("0.30000000000000000000000000000000000000001", "0.3"),
            ("-0.0e5", "0"),
            ("1e-400", "0"),
            ("-1e-400", "0"),
            ("1e21", "1e+21"),
            ("1E+21", "1e+21"),
            ("1e+21", "1e+21"),
            ("123456789012345680000", "123456789012345680000"),
            ("9007199254740993", "9007199254740992"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("-5", "-5"),
            ("0", "0"),
            ("10", "10"),
            ("999999999999999", "999999999999999"),
            ("1000000000000000", "1000000000000000"),
            ("123456789012345", "123456789012345"),
            ("1234567890123456", "1234567890123456"),
            ("0.10", "0.1"),
            ("1.50", "1.5"),
            ("-1.5e3", "-1500"),
            ("5e-324", "5e-324"),
            ("1e999999999999999999999", "null"),
            ("1e-999999999999999999999", "0"),
            ("0.1", "0.1"),
            ("123.456000", "123.456"),
            ("-1e21", "-1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.1e-6", "1e-7"),
            ("0.00001e-1", "0.000001"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("4.9e-324", "5e-324"),
            ("2e-323", "2e-323"),
            ("100000000000000000000000", "1e+23"),
        ];
        for (literal, expected) in cases {
            assert_eq!(canon(literal), expected, "literal {literal}");
            let wrapped = format!("[{literal}]");
            assert_eq!(canon(&wrapped), format!("[{expected}]"));
            if literal == expected {
                assert!(is_borrowed(literal), "{literal} is canonical");
            }
        }
        assert_eq!(err_kind("00000"), JsonErrorKind::BadNumber);
    }

    #[test]
    fn f64_formatting_matches_v8_table() {
        // (bits of an f64, String(value) in V8): boundaries, subnormals, integers around
        // 2^53, the 1e21 and 1e-7 layout switches, and deterministic pseudo-random values.
        const CASES: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x0000000000000002, "1e-323"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x7feffffffffffffe, "1.7976931348623155e+308"),
            (0x0010000000000000, "2.2250738585072014e-308"),
            (0x000fffffffffffff, "2.225073858507201e-308"),
            (0x0000000000002710, "4.9407e-320"),
            (0x000016b9f4b7f7d1, "1.2345678e-310"),
            (0x433fffffffffffff, "9007199254740991"),
            (0x4340000000000000, "9007199254740992"),
            (0x4340000000000001, "9007199254740994"),
            (0xc340000000000000, "-9007199254740992"),
            (0xc33fffffffffffff, "-9007199254740991"),
            (0x433ffffffffffffe, "9007199254740990"),
            (0x4350000000000000, "18014398509481984"),
            (0x41e0000000000000, "2147483648"),
            (0x41f0000000000000, "4294967296"),
            (0x41efffffffe00000, "4294967295"),
            (0x43e0000000000000, "9223372036854776000"),
            (0x43f0000000000000, "18446744073709552000"),
            (0xc3e0000000000000, "-9223372036854776000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef51, "1.0000000000000001e+21"),
            (0xc44b1ae4d6e2ef50, "-1e+21"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x4415af1d78b58c40, "100000000000000000000"),
            (0x4454542ba12a337c, "1.5e+21"),
            (0x441ac53a7e04bcda, "123456789012345680000"),
            (0x4480f0cf064dd592, "1e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x3e7ad7f29abcaf48, "1e-7"),
            (0x3e7ad7f29abcaf47, "9.999999999999998e-8"),
            (0x3e7ad7f29abcaf49, "1.0000000000000001e-7"),
            (0xbe7ad7f29abcaf48, "-1e-7"),
            (0x3e8421f5f40d8376, "1.5e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8e, "0.0000010000000000000002"),
            (0x3eb92a737110e454, "0.0000015"),
            (0x3eb92a737110e454, "0.0000015"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x3ee9e0fcaf9380fc, "0.00001234"),
            (0x3fb999999999999a, "0.1"),
            (0x3fc999999999999a, "0.2"),
            (0x3fd3333333333333, "0.3"),
            (0x3fd3333333333334, "0.30000000000000004"),
            (0x3fd5555555555555, "0.3333333333333333"),
            (0x3fe5555555555555, "0.6666666666666666"),
            (0x400921fb54442d18, "3.141592653589793"),
            (0x4005bf0a8b145769, "2.718281828459045"),
            (0xc00921fb54442d18, "-3.141592653589793"),
            (0x430c6bf526340000, "1000000000000000"),
            (0x4341c37937e08000, "10000000000000000"),
            (0x4376345785d8a000, "100000000000000000"),
            (0x3ff8000000000000, "1.5"),
            (0xbff8000000000000, "-1.5"),
            (0x4059000000000000, "100"),
            (0x54b249ad2594c37d, "1e+100"),
            (0x2b2bff2ee48e0530, "1e-100"),
            (0x4011666666666666, "4.35"),
            (0x3fe0000000000000, "0.5"),
            (0x3ff0000000000000, "1"),
            (0xbff0000000000000, "-1"),
            (0x4024000000000000, "10"),
            (0x405edd2f1a9fbe77, "123.456"),
            (0x3ea0c6f7a0b5ed8d, "5e-7"),
            (0x4039000000000000, "25"),
            (0x7e37e43c8800759c, "1e+300"),
            (0x01a56e1fc2f8f359, "1e-300"),
            (0x3eb4b66dc01ebe8e, "0.000001234567890123"),
            (0x4345ee2a2eb5a5c4, "12345678901234568"),
            (0x43118b54f22aeb03, "1234567890123456.8"),
            (0x41efffffffe00000, "4294967295"),
            (0x41f0000000000000, "4294967296"),
            (0x7fe1ccf385ebc8a0, "1e+308"),
            (0x0000000000000001, "5e-324"),
            (0x094391613c907b38, "4.854872276731145e-264"),
            (0xa8a4c2bffe0c95ce, "-6.744263152162654e-113"),
            (0x869bfbdceea63f65, "-7.893167252718218e-277"),
            (0xb59bd4f42dae0a5b, "-1.859699720364183e-50"),
            (0x795d859a2e22a08f, "4.088463304574647e+276"),
            (0xf3c090508adb260e, "-3.70599252170431e+249"),
            (0xc81ae7845e42d3c2, "-2.288770125499285e+39"),
            (0xe4ea80f151f8e6e5, "-1.3424980730716654e+178"),
            (0x32aae0e7cd6e0e68, "1.2761348461318853e-64"),
            (0x849a440c08524874, "-1.7249436483290893e-286"),
            (0x289b6930ae1671e4, "4.452305119560912e-113"),
            (0x49210fdecce4a407, "1.9024758384956757e+44"),
            (0xafd6da47c5ca8c8f, "-3.083740679876766e-78"),
            (0x4901cc5cdddfda56, "4.961439695056926e+43"),
            (0xf6fa92f8881c3062, "-1.3388590079969932e+265"),
            (0x341538e459085082, "8.452242454115718e-58"),
            (0xd36a13de98f820a3, "-6.7994931944330075e+93"),
            (0x56b3dceb2f919822, "4.6649015953867655e+109"),
            (0xe5a2b932c988f392, "-3.884658463752254e+181"),
            (0x606649695dbf46f5, "2.390533209874663e+156"),
            (0x402fe40d427b2538, "15.945413663418194"),
            (0x9c6255f998759d72, "-5.930800149616332e-172"),
            (0x6f055722101c6ac8, "6.319294060550844e+226"),
            (0x6a7d6bf41e45e01d, "9.224540430912523e+204"),
            (0x195459e94238cc9d, "1.1693191170775533e-186"),
            (0xd5d7ad7573943a44, "-3.39403011642082e+105"),
            (0xc23a076bfd550330, "-111793667413.01245"),
            (0x2fb3692215e56536, "6.548198154725656e-79"),
            (0x49810dabc0c9227c, "1.2169714324256104e+46"),
            (0x52571fc6df3faf38, "4.600066529507347e+88"),
            (0x879e4ab354411e66, "-5.5994966948017076e-272"),
            (0x2ea3b2be8ad6c5da, "5.069886078939621e-84"),
            (0x4e02beb1276b5ed1, "6.317015654336967e+67"),
            (0x7f36db38cc701c2c, "6.26963459569925e+304"),
            (0x677e25e74c427714, "3.3581234402616015e+190"),
            (0x316af0bcb151b6fa, "1.2198171424540677e-70"),
            (0x5714c9587cafeb17, "3.1243517156829305e+111"),
            (0xbd238cdd38cc9101, "-3.472822132599207e-14"),
            (0x7a071ce1f37f6863, "6.555396693937943e+279"),
            (0xb13e1054dea9ee73, "-1.7015504968930936e-71"),
            (0xb6ff23d4627f416f, "-8.727275480859611e-44"),
            (0x1ba9de48b51c042d, "2.0427742459536316e-175"),
            (0x32d5ce9fcd389765, "8.282841645198087e-64"),
            (0xfcbd6781907d9f0b, "-7.335791077445895e+292"),
            (0xcea7b092b231c6f5, "-8.175028274456336e+70"),
            (0x22f6caec538ab838, "2.9905922559494793e-140"),
            (0xd6646b157814a348, "-1.4985387008351367e+108"),
            (0xc88f4ed573b9580e, "-3.40913326867608e+41"),
            (0xb7d17370ce75e93e, "-8.013078685160623e-40"),
            (0xb05a0b02156c8d6c, "-8.996469695326007e-76"),
            (0x8aa18aadc5248f76, "-1.8254323488734456e-257"),
            (0x0e5956aaf1b3dbe8, "1.5200054622433215e-239"),
            (0x05de773b3f65465f, "2.0979536659267758e-280"),
            (0x0f4313f5cea7fb13, "3.750123278334575e-235"),
            (0xcf0d363953ec1025, "-6.451600592036348e+72"),
            (0x79e138ea9ac16145, "1.2211749833775221e+279"),
            (0x788a346df60a12c7, "4.4300332951502993e+272"),
            (0x35085fcd437e5722, "3.1809848935564306e-53"),
            (0x16178d5f8a91230c, "3.0047969099097027e-202"),
            (0xef986faf3139424a, "-3.704858064686561e+229"),
            (0x469f401ecddee24e, "1.5845870838668558e+32"),
            (0xeeed17fe43a00c0a, "-2.1538034499470126e+226"),
            (0xb8e0577f4b810e92, "-9.83535475835824e-35"),
            (0xf18d487ca499e80f, "-9.534203101318938e+238"),
            (0xea9f54003695381f, "-3.9289048231598795e+205"),
            (0xd8f1051cdfebf5af, "-2.7468637635180616e+120"),
            (0x8e1affe53114a984, "-1.0122800126601112e-240"),
            (0xfaadc3ace8c261d7, "-8.644551236346629e+282"),
            (0x9e4e756b2c1970d4, "-1.0578479314656059e-162"),
            (0xfdd172c63c6df735, "-1.1411159450175366e+298"),
            (0x9e6c8d3d96b8419b, "-3.966474231841371e-162"),
            (0x5cfe3ef9240637d8, "9.004628427613345e+139"),
            (0x2a8d7a3c8a56cdb7, "1.0282103008035255e-103"),
            (0x7980002f649fedec, "1.7727424120874823e+277"),
            (0xb7bd2745b27e2937, "-3.346647023851913e-40"),
            (0x6723fd4492fc78a5, "6.958016983106169e+188"),
            (0xeb302e6339fb0914, "-2.078010726080814e+208"),
            (0x8cbc711e94643a06, "-2.5423876110976804e-247"),
            (0x3b30f2d050e6b3f2, "1.4019463291481343e-23"),
            (0x7f5a12169bbfc215, "2.860537229446906e+305"),
            (0x44b7256a3600078b, "1.0930461194137825e+23"),
            (0xc05508553f85c4f2, "-84.13020313323412"),
            (0x40ffa5412cd96f7f, "129620.07344955018"),
            (0x3ebb5c173993e4f5, "0.00000163076695108697"),
            (0x439627212cb13892, "399070267190420600"),
            (0xc3d9fd13f25dbfa8, "-7490699806927397000"),
            (0x40d5de6644ad5809, "22393.59794171903"),
            (0xc2e8620c37548882, "-214475126514756.06"),
            (0xbe512748f81806cb, "-1.5975401895454636e-8"),
            (0xc48838b5799c0842, "-1.4297861238943943e+22"),
            (0xc108958fa9af11a4, "-201393.9578534487"),
            (0xc2fcb0b1a74934f2, "-504723525636943.1"),
            (0x43276b93b6c99466, "3296103317686835"),
            (0x4378728e88f76879, "110101695198300050"),
            (0x40e317bdd96273af, "39101.93278620333"),
            (0xc1e4718c6b62fda1, "-2743886683.0934606"),
            (0xc4a3da5276875bd4, "-4.687614773408939e+22"),
            (0x439c326945d47d38, "507950532634037760"),
            (0x3e24a9a42816c8f9, "2.4054503395335165e-9"),
            (0xbe46acce58753041, "-1.0558880671412073e-8"),
            (0x440bc8460f151961, "64061666078675970000"),
            (0xbdf7c4f884714e20, "-3.4589054228681965e-10"),
            (0x416437fd1f575b10, "10600424.97941354"),
            (0xc348ce4c9b11f2d7, "-13964455711073710"),
            (0xc14ac225585136df, "-3507274.689978465"),
            (0x3e55522fbf7656d7, "1.9856766867568796e-8"),
            (0xc08170eec47f1104, "-558.116585724551"),
            (0xbf48c443e274fb5a, "-0.0007558185069810139"),
            (0xc1308c315897a650, "-1084465.3460639901"),
            (0xbf2be3ed0440f753, "-0.00021278637189142222"),
            (0x3f948e3757c092f0, "0.020073761683437163"),
            (0xbf8fa8447489a8ca, "-0.015457663351487478"),
            (0xc48c84e64895e3b9, "-1.6834728176964008e+22"),
            (0xbf0807c66e3f542a, "-0.00004583429634378467"),
            (0x3fe31b5791812dbc, "0.5970876542937087"),
            (0x4093fedb7654e027, "1279.7143185865223"),
            (0x442a6ed3de604714, "243800658492898540000"),
            (0xc307ed4cf90d0734, "-841854914502886.5"),
            (0x44b2458e1334d29c, "8.628565961719668e+22"),
            (0xc1e0aada51f43066, "-2237059727.630908"),
            (0xc021ad11b53aebf3, "-8.83802572578677"),
            (0x3ea553477a26257e, "6.355437458953787e-7"),
            (0xbd8e484dee217fa0, "-3.442714742102766e-12"),
            (0x43f1ed34d243be29, "20667947932952203000"),
            (0xc09cd8d5781a8ced, "-1846.208465971805"),
            (0xc3a60d971900b2c8, "-794546188586673200"),
            (0x43abc95204b656be, "1001110844767690500"),
            (0x3ed273f53e906502, "0.000004399528713805143"),
            (0x40f8399b764087ec, "99225.71637013525"),
            (0xbf89229a600943dc, "-0.012273031287948592"),
            (0x4344722a6e243678, "11510052192546032"),
            (0x434837e4f513e014, "13633711889694760"),
            (0x434d2812a1ea52f4, "16413669631239656"),
            (0x4334d421c50356e2, "5862741038552802"),
            (0x434b4a2cfe8f5468, "15362762962020560"),
            (0x4341b401a875a32f, "9965987636659806"),
            (0x4323997715e98ea4, "2758380652644178"),
            (0x433eb0ebac82ba5c, "8638775559371356"),
            (0x43486d462e375414, "13751095263143976"),
            (0x43270ea2e912fef0, "3245008661086072"),
            (0x00075d32bcdcb386, "1.0240979541645143e-308"),
            (0x0007394e2e3b2b61, "1.0045998745623325e-308"),
            (0x000e52f3132fa577, "1.992000365849569e-308"),
            (0x000d646b45b447fd, "1.862423233616964e-308"),
            (0x0003616696b57032, "4.701124407537423e-309"),
            // Exact ties between two shortest candidates: JS picks the even one.
            (0x426228e3c0245100, "623963406626.5312"),
            (0x42725c3fc764b880, "1261713520203.5312"),
            (0x42a243d05e2487a0, "10041233969731.812"),
            (0x42d11256a82224a8, "75081843771538.62"),
            (0x42dbbea4d7377d48, "122022493216245.12"),
            (0x42e8022a2b700454, "211180611928098.62"),
            (0x42e82e4a43305c94, "212696747836132.62"),
            (0x42e9c43ba1338874, "226644837637187.62"),
            (0x43101977d97bd8dd, "1132900541986359.2"),
            (0x43107f225560fe45, "1160846266351505.2"),
            (0x43127cab1a64f955, "1300905976217173.2"),
            (0x431b20a574d64149, "1908929843269714.2"),
            (0x431ec380019d8701, "2164800962912704.2"),
            (0xc304aa1758a9542a, "-727064597834373.2"),
            (0xc30bd43867f7a872, "-979145387341070.2"),
        ];
        assert!(CASES.len() >= 200);
        for &(bits, expected) in CASES {
            let value = f64::from_bits(bits);
            assert_eq!(number_text(value), expected, "bits {bits:#018x}");
            // The same value as a literal must canonicalize to the same text.
            let literal = format!("{value:e}");
            assert_eq!(canon(&literal), expected, "literal {literal}");
            assert_eq!(
                as_f64(expected).map(f64::to_bits),
                Some(if value == 0.0 { 0 } else { bits })
            );
        }
    }

    #[test]
    fn canonical_number_fast_path_agrees_with_formatting() {
        for literal in [
            "0",
            "-1",
            "7",
            "100",
            "999999999999999",
            "0.1",
            "-0.5",
            "0.000001",
            "0.00001234",
            "123.456",
            "12345678901234.5",
            "0.123456789012345",
            "4.35",
        ] {
            assert!(is_canonical_number(literal.as_bytes()), "{literal}");
            let value: f64 = literal.parse().unwrap();
            assert_eq!(number_text(value), literal);
        }
        for literal in [
            "-0",
            "0.0",
            "1.0",
            "1e2",
            "0.0000001",
            "1000000000000000",
            "0.1234567890123456",
            "1234567890123456",
            "1.50",
        ] {
            assert!(!is_canonical_number(literal.as_bytes()), "{literal}");
        }
    }
}
