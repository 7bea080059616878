//! Kubernetes resource quantities (`1Gi`, `512Mi`, `1.5G`, `100M`) as bytes.
//!
//! Written here because k8s-openapi keeps quantities as strings and the only
//! parsing crates are unmaintained; memory is all the operator needs.

/// Bytes in a quantity, or None if it is not a valid non-negative quantity.
pub fn bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    if num.is_empty() || num.matches('.').count() > 1 {
        return None;
    }
    let mult: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        _ => {
            // Exponent form: 1e9, 2E6.
            let exp: i32 = suffix.strip_prefix(['e', 'E'])?.parse().ok()?;
            10f64.powi(exp)
        }
    };
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v >= 0.0).then(|| v.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn binary_decimal_and_exponent_suffixes() {
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(bytes("100M"), Some(100_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("1024"), Some(1024));
        assert_eq!(bytes("500m"), Some(1));
        for bad in ["", "Gi", "1GB", "-1Gi", "1..2Mi", "abc"] {
            assert_eq!(bytes(bad), None, "{bad}");
        }
    }
}
