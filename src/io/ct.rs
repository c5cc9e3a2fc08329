//! Constant-time comparison of authenticators.

/// Constant-time equality of two byte strings: the time taken depends on the lengths only, never
/// on where the first difference lies (the lengths are not secret). Every authenticator, challenge
/// response and MAC check in the crate goes through this one function.
#[inline]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // A 16-octet tag or authenticator (every MAC and token of the crate): one XOR of two
    // 128-bit numbers, inline.
    if let (Ok(x), Ok(y)) = (<&[u8; 16]>::try_from(a), <&[u8; 16]>::try_from(b)) {
        return std::hint::black_box(u128::from_ne_bytes(*x) ^ u128::from_ne_bytes(*y)) == 0;
    }
    ct_eq_any(a, b)
}

/// [`ct_eq`] of strings of any length.
fn ct_eq_any(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Eight octets at a time (a 16-octet tag is two XORs), then the rest one by one: the
    // differences OR-ed together, no branch on the data.
    let (mut acc, mut a, mut b) = (0u64, a, b);
    while let (Some((x, ra)), Some((y, rb))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        acc |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
        (a, b) = (ra, rb);
    }
    for (x, y) in a.iter().zip(b) {
        acc |= u64::from(x ^ y);
    }
    std::hint::black_box(acc) == 0
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn equal_unequal_and_lengths() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"bbc"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    #[test]
    fn a_difference_anywhere_in_words_or_tail_is_seen() {
        // Lengths around the 8-octet words: a difference in every position of a word or of the
        // octets after the last word.
        for len in [1usize, 7, 8, 9, 15, 16, 17, 24, 35] {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(ct_eq(&a, &a.clone()), "{len}");
            for at in 0..len {
                for bit in [0x01u8, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= bit;
                    assert!(!ct_eq(&a, &b), "{len} {at} {bit}");
                }
            }
        }
    }
}
