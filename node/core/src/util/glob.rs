//! Redis' glob-style pattern matching (`KEYS`, `SCAN MATCH`, `CONFIG GET`, ACL key
//! patterns).
//!
//! Written by hand rather than taken from a glob crate: path globs treat `/`
//! specially and differ on `[` edge cases, while Redis clients expect exactly
//! `stringmatchlen` from Redis' util.c: `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\`
//! escapes, over raw bytes.

/// Returns whether `s` matches `pattern`. `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_inner(pattern, s, nocase, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// `skip_longer` is Redis' guard against exponential backtracking: once a `*` has
/// failed to match any suffix, no longer prefix for an outer `*` can succeed either.
fn match_inner(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_inner(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p {
                        [] => break,
                        [b'\\', c, ..] => {
                            if eq(*c, s[0], nocase) {
                                matched = true;
                            }
                            p = &p[2..];
                        }
                        [b']', ..] => break,
                        [lo, b'-', hi, ..] => {
                            let (mut lo, mut hi, mut c) = (*lo, *hi, s[0]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                c = c.to_ascii_lowercase();
                            }
                            if c >= lo && c <= hi {
                                matched = true;
                            }
                            p = &p[3..];
                        }
                        [c, ..] => {
                            if eq(*c, s[0], nocase) {
                                matched = true;
                            }
                            p = &p[1..];
                        }
                    }
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                // `p` is at the closing `]`, or exhausted for an unterminated class.
                if !p.is_empty() {
                    p = &p[1..];
                }
            }
            b'\\' if p.len() >= 2 => {
                if !eq(p[1], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
                p = &p[2..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
        }
    }
    if s.is_empty() {
        while p.first() == Some(&b'*') {
            p = &p[1..];
        }
    }
    p.is_empty() && s.is_empty()
}

/// Whether a pattern matches every string, so callers can skip matching entirely.
pub fn matches_all(pattern: &[u8]) -> bool {
    !pattern.is_empty() && pattern.iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_examples() {
        // The examples from the KEYS documentation.
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
    }

    #[test]
    fn stars_and_edges() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("*a", "bba"));
        assert!(!m("*a", "bab"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("[z-a]", "m"));
        assert!(!m("a[", "a"));
        assert!(!m("a[", "a["));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!matches(b"HELLO", b"hello", false));
    }

    #[test]
    fn hostile_pattern_terminates() {
        let p = "*a".repeat(30) + "b";
        let s = "a".repeat(60);
        assert!(!m(&p, &s));
    }
}
