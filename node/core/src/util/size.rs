//! Memory sizes as Redis writes them in its config: `100mb`, `1gb`, `4096`.

/// Parses `N`, `Nk`, `Nkb`, `Nm`, `Nmb`, `Ng`, `Ngb` (case-insensitive). As in Redis,
/// `k`/`m`/`g` are powers of 1000 and `kb`/`mb`/`gb` powers of 1024.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Formats bytes in the largest exact binary unit, e.g. `512mb`, so CONFIG GET shows
/// what a user would have typed.
pub fn format_memory(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")];
    for (size, unit) in UNITS {
        if n != 0 && n.is_multiple_of(size) {
            return format!("{}{}", n / size, unit);
        }
    }
    n.to_string()
}

/// Human-readable bytes as INFO prints them (`used_memory_human:1.50M`).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{n}B")
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else {
        format!("{:.2}G", n / (K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("100MB"), Some(100 << 20));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("2g"), Some(2_000_000_000));
        assert_eq!(parse_memory("mb"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1tb"), None);
    }

    #[test]
    fn formats_round_trip() {
        for n in [0u64, 1, 1023, 1024, 100 << 20, 3 << 30, 1500] {
            assert_eq!(parse_memory(&format_memory(n)), Some(n));
        }
        assert_eq!(format_memory(512 << 20), "512mb");
    }
}
