//! Number parsing and formatting with Redis' exact rules.
//!
//! Redis is stricter than Rust's `str::parse`: no `+` sign, no leading zeros, no
//! surrounding spaces. Clients rely on the same input being accepted or refused by
//! every server, so these mirror `string2ll` and `string2ld` from Redis' util.c.

/// Parses a signed 64-bit integer the way Redis' `string2ll` does.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    // The first digit must be 1-9: "01", "-0" and "" are not integers for Redis.
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned integer with the same rules as [`parse_i64`].
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    parse_i64(s).and_then(|v| u64::try_from(v).ok())
}

/// Parses a float the way Redis' `string2ld` does: the whole input must be a
/// number, no leading space, no NaN, and an overflow is an error rather than
/// infinity (an explicit `inf` is accepted).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    if text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        let lower = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lower != "inf" && lower != "infinity" {
            return None;
        }
    }
    Some(v)
}

/// Formats a float for INCRBYFLOAT and HINCRBYFLOAT replies.
///
/// Redis computes in `long double` and prints `%.17Lf` with trailing zeros removed,
/// so `0.1 + 0.2` reads `0.3`. With `f64` we keep 15 significant digits, which gives
/// the same text for every value whose `long double` and `f64` results agree to that
/// precision, and never shows binary rounding noise.
pub fn format_human_f64(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (14 - magnitude).clamp(0, 17) as usize;
    let mut s = format!("{v:.decimals$}");
    trim_fraction(&mut s);
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Formats a double the way RESP3 `,` replies and Redis' `%.17g` do for scores:
/// the shortest text that parses back to the same value, `inf`/`-inf` for infinities.
pub fn format_f64(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let mut buf = ryu::Buffer::new();
    buf.format(v).to_string()
}

/// Formats a double as C's `%.17g` does: Redis 7.0's text for sorted-set
/// scores (ZSCORE, WITHSCORES, ZINCRBY), `inf`/`-inf` for infinities.
pub fn format_g17(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // 17 significant digits in scientific form tells the exponent %g uses.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..17).contains(&exp) {
        let mut m = mantissa.to_string();
        if m.contains('.') {
            while m.ends_with('0') {
                m.pop();
            }
            if m.ends_with('.') {
                m.pop();
            }
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (16 - exp).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    trim_fraction(&mut s);
    s
}

/// A double's exact text for replication: the shortest that parses back to
/// it, sign of zero included.
pub fn format_f64_exact(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        return "-0".into();
    }
    format_f64(v)
}

/// Drops a fixed-point number's trailing zeros after the point, and the point.
fn trim_fraction(s: &mut String) {
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn g17_matches_c_printf() {
        for (v, want) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (12345678901234567.0, "12345678901234568"),
            (0.0001, "0.0001"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0"),
        ] {
            assert_eq!(super::format_g17(v), want, "{v}");
        }
    }

    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"-",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_string2ld() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"abc"), None);
    }

    #[test]
    fn human_floats_match_redis_text() {
        assert_eq!(format_human_f64(0.1 + 0.2), "0.3");
        assert_eq!(format_human_f64(10.5 + 0.1), "10.6");
        assert_eq!(format_human_f64(3.0e3), "3000");
        assert_eq!(format_human_f64(-1.5), "-1.5");
        assert_eq!(format_human_f64(5.0e-5), "0.00005");
        assert_eq!(format_human_f64(1e20), "100000000000000000000");
        assert_eq!(format_human_f64(0.0), "0");
    }

    #[test]
    fn doubles_round_trip() {
        for v in [1.5, 0.1, 3.0, -2.25, 1e-9, 123456789.125] {
            let s = format_f64(v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(f64::INFINITY), "inf");
    }
}
