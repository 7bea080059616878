//! Redis' start/end index normalisation, shared by GETRANGE, BITCOUNT and BITPOS.

/// Resolves inclusive `start`/`end` indexes over `len` items: negative values
/// count from the end, results are clamped, and None means an empty range.
pub fn clamp(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    (start <= end && len > 0).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::clamp;

    #[test]
    fn matches_redis_examples() {
        // "This is a string" (16 bytes): GETRANGE 0 3, -3 -1, 0 -1, 10 100.
        assert_eq!(clamp(0, 3, 16), Some((0, 3)));
        assert_eq!(clamp(-3, -1, 16), Some((13, 15)));
        assert_eq!(clamp(0, -1, 16), Some((0, 15)));
        assert_eq!(clamp(10, 100, 16), Some((10, 15)));
        assert_eq!(clamp(5, 2, 16), None);
        assert_eq!(clamp(-1, -5, 16), None);
        assert_eq!(clamp(0, 0, 0), None);
        assert_eq!(clamp(-100, 2, 16), Some((0, 2)));
    }
}
