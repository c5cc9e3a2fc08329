//! Multi-lane HMAC-MD5 (RFC 1321, RFC 2104): four independent tags computed at once, one 32-bit
//! word per lane, in safe Rust.
//!
//! MD5 is a chain of 64 dependent steps per 64-octet block, so one message cannot go faster than
//! that chain's latency; four messages side by side fill the processor's vector lanes instead. Each
//! word of the state is a `wide::u32x4` and every step is the same operation on all four lanes: SSE2
//! on every x86-64, NEON on aarch64, plain words elsewhere, with no `unsafe` in telcp. Lanes may carry messages of different lengths and different
//! keys: a lane whose message has no block left at a step keeps its state unchanged.
//!
//! The result is bit-for-bit the [`HmacMd5Key::tag`] of each lane (a property test checks it
//! against the `hmac`/`md-5` crates on random keys and messages). Verification stays in constant
//! time per lane ([`verify_lanes`]).
//!
//! ```
//! use telcp::io::HmacMd5Key;
//! use telcp::io::md5x::hmac_md5_lanes;
//!
//! let (k1, k2) = (HmacMd5Key::new(b"Jefe"), HmacMd5Key::new(b"other"));
//! let data: [&[u8]; 4] = [b"what do ya want for nothing?", b"", b"abc", &[7; 200]];
//! let tags = hmac_md5_lanes([&k1, &k2, &k1, &k2], data);
//! for (i, k) in [&k1, &k2, &k1, &k2].iter().enumerate() {
//!     assert_eq!(tags[i], k.tag(data[i]));
//! }
//! ```
use super::auth::{HmacMd5Key, TAG_LEN};
use std::array::from_fn;
use wide::u32x4;

/// The lane count: four 32-bit words fill one 128-bit vector register.
pub const LANES: usize = 4;

/// MD5's initial state (RFC 1321 section 3.3).
const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The sine table T[1..64] of RFC 1321 section 3.4: `floor(2^32 * abs(sin(i)))`.
const T: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Left-rotation amounts, four per round (RFC 1321 section 3.4).
const S: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// The state of four MD5 computations: word `w` of lane `l` is lane `l` of `state[w]`.
type State = [u32x4; 4];

/// One round (16 steps) of RFC 1321 section 3.4 on all lanes; `R` picks the round's function and
/// message-word order.
#[inline(always)]
fn round<const R: usize>(v: &mut State, x: &[u32x4; 16]) {
    for i in 0..16 {
        let g = match R {
            0 => i,
            1 => (5 * i + 1) % 16,
            2 => (3 * i + 5) % 16,
            _ => (7 * i) % 16,
        };
        let s = S[R][i % 4];
        let [a, b, c, d] = *v;
        let f = match R {
            0 => (b & c) | (!b & d),
            1 => (b & d) | (c & !d),
            2 => b ^ c ^ d,
            _ => c ^ (b | !d),
        };
        let sum = a + f + u32x4::splat(T[R * 16 + i]) + x[g];
        *v = [d, b + ((sum << s) | (sum >> (32 - s))), b, c];
    }
}

/// MD5's compression function on one 64-octet block per lane (`x[j]`: little-endian word `j` of
/// each lane's block).
#[inline(always)]
fn compress(state: &mut State, x: &[u32x4; 16]) {
    let mut v = *state;
    round::<0>(&mut v, x);
    round::<1>(&mut v, x);
    round::<2>(&mut v, x);
    round::<3>(&mut v, x);
    for (s, v) in state.iter_mut().zip(v) {
        *s += v;
    }
}

/// Block `i` of `data` as MD5 pads it, for a message that `prefix` octets (already compressed)
/// precede: the data, `0x80`, zeros, and the total length in bits, little-endian, in the last
/// block's final eight octets.
fn padded_block(data: &[u8], i: usize, prefix: usize) -> [u8; 64] {
    let start = i * 64;
    let mut b = [0; 64];
    if let Some(full) = data.get(start..start + 64) {
        b.copy_from_slice(full);
        return b;
    }
    let rest = data.get(start..).unwrap_or(&[]);
    b[..rest.len()].copy_from_slice(rest);
    if data.len() >= start {
        b[rest.len()] = 0x80;
    }
    if blocks(data.len()) == i + 1 {
        let bits = ((prefix + data.len()) as u64).wrapping_mul(8);
        b[56..].copy_from_slice(&bits.to_le_bytes());
    }
    b
}

/// Blocks MD5 compresses for `len` octets of data (data, `0x80`, the 8-octet length).
fn blocks(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// Lane-major words of one block per lane.
fn words(blocks: [&[u8; 64]; LANES]) -> [u32x4; 16] {
    from_fn(|j| {
        let w =
            |b: &[u8; 64]| u32::from_le_bytes([b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3]]);
        u32x4::new(blocks.map(w))
    })
}

/// The MD5 state after compressing one 64-octet block from the IV (HMAC's keyed pads).
pub(crate) fn state_after(block: &[u8; 64]) -> [u32; 4] {
    let mut st: State = IV.map(u32x4::splat);
    compress(&mut st, &words([block; LANES]));
    st.map(|w| w.to_array()[0])
}

/// The HMAC-MD5 tags of `data[l]` under `keys[l]` for every lane `l`; equal to
/// `keys[l].tag(data[l])` (RFC 2104 section 2). Cost: the longest message's blocks plus one outer
/// block, for all four lanes together.
pub fn hmac_md5_lanes(keys: [&HmacMd5Key; LANES], data: [&[u8]; LANES]) -> [[u8; TAG_LEN]; LANES] {
    hmac_md5_pads(keys.map(HmacMd5Key::pad_states), data)
}

/// [`hmac_md5_lanes`] from the keys' MD5 states after their `ipad` and `opad` blocks
/// (`HmacMd5Key::pad_states`), for a caller that keeps only those.
pub(crate) fn hmac_md5_pads(
    pads: [([u32; 4], [u32; 4]); LANES],
    data: [&[u8]; LANES],
) -> [[u8; TAG_LEN]; LANES] {
    let mut st: State = from_fn(|w| u32x4::new(pads.map(|p| p.0[w])));
    let n = data.map(|d| blocks(d.len()));
    let most = n.iter().copied().max().unwrap_or(0);
    for i in 0..most {
        let b: [[u8; 64]; LANES] = from_fn(|l| padded_block(data[l], i, 64));
        let before = st;
        compress(&mut st, &words(from_fn(|l| &b[l])));
        // A lane whose message has ended keeps its state.
        let live = u32x4::new(n.map(|n| if i < n { u32::MAX } else { 0 }));
        for (s, old) in st.iter_mut().zip(before) {
            *s = live.blend(*s, old);
        }
    }
    // The outer block: the inner digest's four words (already little-endian words), 0x80, zeros,
    // and the length of the opad block plus the digest, 80 octets, in bits.
    let zero = u32x4::splat(0);
    let mut x = [zero; 16];
    x[..4].copy_from_slice(&st);
    x[4] = u32x4::splat(0x80);
    x[14] = u32x4::splat((64 + TAG_LEN as u32) * 8);
    let mut out: State = from_fn(|w| u32x4::new(pads.map(|p| p.1[w])));
    compress(&mut out, &x);
    let out = out.map(|w| w.to_array());
    from_fn(|l| {
        let mut tag = [0; TAG_LEN];
        for (w, word) in out.iter().enumerate() {
            tag[w * 4..w * 4 + 4].copy_from_slice(&word[l].to_le_bytes());
        }
        tag
    })
}

/// For every lane, whether `tags[l]` is the HMAC-MD5 of `data[l]` under `keys[l]`, each compared
/// in constant time ([`crate::io::ct_eq`]); a key made without octets never verifies, as in
/// [`HmacMd5Key::verify`].
pub fn verify_lanes(
    keys: [&HmacMd5Key; LANES],
    data: [&[u8]; LANES],
    tags: [&[u8]; LANES],
) -> [bool; LANES] {
    let want = hmac_md5_lanes(keys, data);
    from_fn(|l| keys[l].is_usable() && crate::io::ct_eq(&want[l], tags[l]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};
    use proptest::prelude::*;

    #[test]
    fn rfc1321_test_suite_through_one_lane() {
        // RFC 1321 appendix A.5: MD5("abc") and MD5 of the 80-digit string (two blocks).
        let md5 = |m: &[u8]| {
            let mut st: State = IV.map(u32x4::splat);
            for i in 0..blocks(m.len()) {
                let b = padded_block(m, i, 0);
                compress(&mut st, &words([&b; LANES]));
            }
            let mut o = [0u8; 16];
            for (w, v) in st.iter().enumerate() {
                o[w * 4..w * 4 + 4].copy_from_slice(&v.to_array()[0].to_le_bytes());
            }
            o
        };
        assert_eq!(md5(b"abc")[..4], [0x90, 0x01, 0x50, 0x98]);
        assert_eq!(md5(b"abc")[12..], [0x28, 0xe1, 0x7f, 0x72]);
        let digits =
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(md5(digits), <[u8; 16]>::from(Md5::digest(digits)));
    }

    #[test]
    fn rfc2202_cases_in_four_lanes() {
        // RFC 2202 section 2, test cases 1, 2, 6 (80-octet key, hashed first) and 7.
        let k1 = HmacMd5Key::new(&[0x0b; 16]);
        let k2 = HmacMd5Key::new(b"Jefe");
        let k6 = HmacMd5Key::new(&[0xaa; 80]);
        let d7: &[u8] =
            b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
        let t = hmac_md5_lanes(
            [&k1, &k2, &k6, &k6],
            [
                b"Hi There",
                b"what do ya want for nothing?",
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                d7,
            ],
        );
        assert_eq!(t[0][..4], [0x92, 0x94, 0x72, 0x7a]);
        assert_eq!(t[1][..4], [0x75, 0x0c, 0x78, 0x3e]);
        assert_eq!(t[2][..4], [0x6b, 0x1a, 0xb7, 0xfe]);
        assert_eq!(t[3][..4], [0x6f, 0x63, 0x0f, 0xad]);
    }

    #[test]
    fn a_wrong_tag_fails_only_its_lane() {
        let k = HmacMd5Key::new(b"k");
        let data: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];
        let good = hmac_md5_lanes([&k; 4], data);
        let mut bad = good[2];
        bad[15] ^= 1;
        let ok = verify_lanes([&k; 4], data, [&good[0], &good[1], &bad, &good[3]]);
        assert_eq!(ok, [true, true, false, true]);
    }

    proptest! {
        #[test]
        fn lanes_equal_the_hmac_crate(
            keys in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 4),
            data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 4),
        ) {
            let k: Vec<HmacMd5Key> = keys.iter().map(|k| HmacMd5Key::new(k)).collect();
            let four = hmac_md5_lanes(
                [&k[0], &k[1], &k[2], &k[3]],
                [&data[0][..], &data[1][..], &data[2][..], &data[3][..]],
            );
            for l in 0..4 {
                let mut mac = <hmac::Hmac<Md5> as hmac::Mac>::new_from_slice(&keys[l]).unwrap();
                hmac::Mac::update(&mut mac, &data[l]);
                let want: [u8; 16] = hmac::Mac::finalize(mac).into_bytes().into();
                prop_assert_eq!(four[l], want);
                prop_assert_eq!(four[l], k[l].tag(&data[l]));
            }
        }
    }
}
