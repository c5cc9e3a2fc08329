//! Multi-lane HMAC-MD5 (RFC 1321, RFC 2104): [`LANES`] (eight; or four) independent tags computed
//! at once, one 32-bit word per lane, in safe Rust; [`hmac_md5_many`] computes any number of
//! tags [`GROUP`] at a time (sixteen where the build enables AVX2, else eight).
//!
//! MD5 is a chain of 64 dependent steps per 64-octet block, so one message cannot go faster than
//! that chain's latency; messages side by side fill the processor's vector lanes instead. Each
//! word of the state is a `wide::u32x8` (or `u32x4`, or two `u32x8`) and every step is the same
//! operation on all lanes: SSE2 (two independent registers, whose chains overlap) or AVX2 (two
//! 256-bit registers, sixteen lanes) on x86-64, NEON on aarch64, plain words elsewhere, with no
//! `unsafe` in telcp ([`ISA`] says which this build uses). Lanes may carry messages of
//! different lengths and different keys: a lane whose message has no block left at a step keeps
//! its state unchanged.
//!
//! The array functions ([`hmac_md5_lanes`], [`verify_lanes`], [`hmac_md5_lanes4`]) have the same
//! lane count in every build, so code written against them builds the same way with or without
//! AVX2. Only [`GROUP`], the widest group this build computes at once, depends on the build: it
//! sizes batches ([`hmac_md5_many`]'s groups, `mip::HomeAgent::handle_batch`'s), never a public
//! array.
//!
//! The result is bit-for-bit the [`HmacMd5Key::tag`] of each lane (a property test checks it
//! against the `hmac`/`md-5` crates on random keys and messages). Verification stays in constant
//! time per lane ([`verify_lanes`]).
//!
//! ```
//! use telcp::io::HmacMd5Key;
//! use telcp::io::md5x::{LANES, hmac_md5_lanes, hmac_md5_many};
//!
//! let (k1, k2) = (HmacMd5Key::new(b"Jefe"), HmacMd5Key::new(b"other"));
//! let data: [&[u8]; 4] = [b"what do ya want for nothing?", b"", b"abc", &[7; 200]];
//! let keys = [&k1, &k2, &k1, &k2];
//! // Eight lanes in every build.
//! let tags: [[u8; 16]; 8] =
//!     hmac_md5_lanes(std::array::from_fn(|l| keys[l % 4]), std::array::from_fn(|l| data[l % 4]));
//! for l in 0..LANES {
//!     assert_eq!(tags[l], keys[l % 4].tag(data[l % 4]));
//! }
//! // Any number of tags, as wide as the build computes them.
//! let many_keys: Vec<&HmacMd5Key> = (0..21).map(|i| keys[i % 4]).collect();
//! let many_data: Vec<&[u8]> = (0..21).map(|i| data[i % 4]).collect();
//! let mut many = vec![[0; 16]; 21];
//! hmac_md5_many(&many_keys, &many_data, &mut many);
//! for (i, t) in many.iter().enumerate() {
//!     assert_eq!(*t, keys[i % 4].tag(data[i % 4]));
//! }
//! ```
use super::auth::{HmacMd5Key, TAG_LEN};
use std::array::from_fn;
use std::ops::{Add, BitAnd, BitOr, BitXor, Not, Shl, Shr};
use wide::{u32x4, u32x8};

/// The lane count of [`hmac_md5_lanes`] and [`verify_lanes`]: eight, in every build (eight 32-bit
/// words: two 128-bit vector registers, or one 256-bit register where the build enables AVX2).
/// Code sized by it, or by a literal 8, builds the same way with or without AVX2. For the
/// build's widest group (sixteen with AVX2), see [`GROUP`] and [`hmac_md5_many`].
pub const LANES: usize = 8;

/// The widest group of tags this build computes at once, **build-dependent**: sixteen where the
/// build enables AVX2 (two 256-bit registers side by side: two independent chains keep the vector
/// units busy where one chain waits on its own latency, as MD5's 64 steps are one dependent
/// chain), else eight (as [`LANES`]). Fixed at compile time, as [`ISA`] is. Use it to size
/// batches (how many messages to hand [`hmac_md5_many`] at a time, how many datagrams
/// `mip::HomeAgent::handle_batch` takes per group); no public function's array type depends on
/// it.
pub const GROUP: usize = if cfg!(target_feature = "avx2") { 16 } else { 8 };

/// How this build computes its widest groups ([`GROUP`] lanes), fixed at compile time by the target
/// features the build enables (`wide` picks its registers by `cfg(target_feature)`; telcp has no
/// `unsafe`, so no run-time CPU detection): `"AVX2, two 256-bit registers"` (sixteen lanes) when the build enables
/// AVX2 (for example `RUSTFLAGS="-C target-feature=+avx2"` or `-C target-cpu=x86-64-v3`),
/// `"SSE2, two 128-bit registers"` on other x86-64 builds, `"NEON, two 128-bit registers"` on
/// aarch64, `"WebAssembly SIMD128, two 128-bit registers"` with that feature, else `"portable,
/// plain 32-bit words"`. The tags are the same in every build; benches
/// print this beside their figures.
pub const ISA: &str = if cfg!(target_feature = "avx2") {
    "AVX2, two 256-bit registers"
} else if cfg!(target_feature = "sse2") {
    "SSE2, two 128-bit registers"
} else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
    "NEON, two 128-bit registers"
} else if cfg!(target_feature = "simd128") {
    "WebAssembly SIMD128, two 128-bit registers"
} else {
    "portable, plain 32-bit words"
};

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

/// A vector of `N` 32-bit lanes (`wide::u32x4`, `wide::u32x8`): every MD5 step is the same
/// operation on all of them.
pub(crate) trait Lanes<const N: usize>:
    Copy
    + Add<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
{
    /// Every lane `x`.
    fn splat(x: u32) -> Self;
    /// Lane `l` is `a[l]`.
    fn from_array(a: [u32; N]) -> Self;
    /// The lanes.
    fn to_array(self) -> [u32; N];
    /// Lane by lane: `t` where `self` is all ones, `f` where it is zero.
    fn blend(self, t: Self, f: Self) -> Self;
}

macro_rules! lanes {
    ($t:ty, $n:expr) => {
        impl Lanes<$n> for $t {
            #[inline(always)]
            fn splat(x: u32) -> Self {
                <$t>::splat(x)
            }
            #[inline(always)]
            fn from_array(a: [u32; $n]) -> Self {
                <$t>::new(a)
            }
            #[inline(always)]
            fn to_array(self) -> [u32; $n] {
                <$t>::to_array(self)
            }
            #[inline(always)]
            fn blend(self, t: Self, f: Self) -> Self {
                <$t>::blend(self, t, f)
            }
        }
    };
}
lanes!(u32x4, 4);
lanes!(u32x8, 8);

/// Sixteen lanes as two `u32x8` side by side (two independent chains of 256-bit operations where
/// the build enables AVX2): every operation is applied to both halves.
/// Built only where the build enables AVX2 (and in tests, which check it in every build).
#[derive(Clone, Copy)]
#[cfg_attr(not(target_feature = "avx2"), allow(dead_code))]
pub(crate) struct Pair(u32x8, u32x8);

macro_rules! pair_op {
    ($tr:ident, $f:ident) => {
        impl $tr for Pair {
            type Output = Pair;
            #[inline(always)]
            fn $f(self, o: Pair) -> Pair {
                Pair(self.0.$f(o.0), self.1.$f(o.1))
            }
        }
    };
}
pair_op!(Add, add);
pair_op!(BitAnd, bitand);
pair_op!(BitOr, bitor);
pair_op!(BitXor, bitxor);

impl Not for Pair {
    type Output = Pair;
    #[inline(always)]
    fn not(self) -> Pair {
        Pair(!self.0, !self.1)
    }
}

impl Shl<u32> for Pair {
    type Output = Pair;
    #[inline(always)]
    fn shl(self, s: u32) -> Pair {
        Pair(self.0 << s, self.1 << s)
    }
}

impl Shr<u32> for Pair {
    type Output = Pair;
    #[inline(always)]
    fn shr(self, s: u32) -> Pair {
        Pair(self.0 >> s, self.1 >> s)
    }
}

impl Lanes<16> for Pair {
    #[inline(always)]
    fn splat(x: u32) -> Self {
        Pair(u32x8::splat(x), u32x8::splat(x))
    }
    #[inline(always)]
    fn from_array(a: [u32; 16]) -> Self {
        Pair(
            u32x8::new(from_fn(|l| a[l])),
            u32x8::new(from_fn(|l| a[8 + l])),
        )
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 16] {
        let (lo, hi) = (self.0.to_array(), self.1.to_array());
        from_fn(|l| if l < 8 { lo[l] } else { hi[l - 8] })
    }
    #[inline(always)]
    fn blend(self, t: Self, f: Self) -> Self {
        Pair(self.0.blend(t.0, f.0), self.1.blend(t.1, f.1))
    }
}

/// The vector of [`GROUP`] lanes: `u32x8`, or [`Pair`] where the build enables AVX2.
#[cfg(target_feature = "avx2")]
type Wide = Pair;
/// The vector of [`GROUP`] lanes: `u32x8`, or [`Pair`] where the build enables AVX2.
#[cfg(not(target_feature = "avx2"))]
type Wide = u32x8;

/// One lane in a plain 32-bit word: one message at a time ([`HmacMd5Key::tag`]), through the
/// same unrolled steps as the vector lanes.
#[derive(Clone, Copy)]
pub(crate) struct One(u32);

macro_rules! one_op {
    ($tr:ident, $f:ident, $e:expr) => {
        impl $tr for One {
            type Output = One;
            #[inline(always)]
            fn $f(self, o: One) -> One {
                One($e(self.0, o.0))
            }
        }
    };
}
one_op!(Add, add, u32::wrapping_add);
one_op!(BitAnd, bitand, |a, b| a & b);
one_op!(BitOr, bitor, |a, b| a | b);
one_op!(BitXor, bitxor, |a, b| a ^ b);

impl Not for One {
    type Output = One;
    #[inline(always)]
    fn not(self) -> One {
        One(!self.0)
    }
}

impl Shl<u32> for One {
    type Output = One;
    #[inline(always)]
    fn shl(self, s: u32) -> One {
        One(self.0.wrapping_shl(s))
    }
}

impl Shr<u32> for One {
    type Output = One;
    #[inline(always)]
    fn shr(self, s: u32) -> One {
        One(self.0.wrapping_shr(s))
    }
}

impl Lanes<1> for One {
    #[inline(always)]
    fn splat(x: u32) -> Self {
        One(x)
    }
    #[inline(always)]
    fn from_array(a: [u32; 1]) -> Self {
        One(a[0])
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 1] {
        [self.0]
    }
    #[inline(always)]
    fn blend(self, t: Self, f: Self) -> Self {
        One((self.0 & t.0) | (!self.0 & f.0))
    }
}

/// Step `I` (0..16) of round `R` of RFC 1321 section 3.4 on all lanes: the round's function,
/// message word, rotation and sine-table entry are constants of the step, so that every step
/// compiles to straight-line vector code with immediate shift counts (a loop over the steps
/// would fetch them from tables and keep the state in memory).
#[inline(always)]
fn step<V: Lanes<N>, const N: usize, const R: usize, const I: usize>(v: &mut [V; 4], x: &[V; 16]) {
    let g = match R {
        0 => I,
        1 => (5 * I + 1) % 16,
        2 => (3 * I + 5) % 16,
        _ => (7 * I) % 16,
    };
    let s = S[R][I % 4];
    let [a, b, c, d] = *v;
    // The round functions F, G, H, I in forms with one operation fewer: `d ^ (b & (c ^ d))` is
    // `(b & c) | (!b & d)`, `c ^ (d & (b ^ c))` is `(b & d) | (c & !d)`.
    let f = match R {
        0 => d ^ (b & (c ^ d)),
        1 => c ^ (d & (b ^ c)),
        2 => b ^ c ^ d,
        _ => c ^ (b | !d),
    };
    let sum = a + f + (V::splat(T[R * 16 + I]) + x[g]);
    *v = [d, b + ((sum << s) | (sum >> (32 - s))), b, c];
}

/// One round (16 steps) of RFC 1321 section 3.4 on all lanes, unrolled.
#[inline(always)]
fn round<V: Lanes<N>, const N: usize, const R: usize>(v: &mut [V; 4], x: &[V; 16]) {
    step::<V, N, R, 0>(v, x);
    step::<V, N, R, 1>(v, x);
    step::<V, N, R, 2>(v, x);
    step::<V, N, R, 3>(v, x);
    step::<V, N, R, 4>(v, x);
    step::<V, N, R, 5>(v, x);
    step::<V, N, R, 6>(v, x);
    step::<V, N, R, 7>(v, x);
    step::<V, N, R, 8>(v, x);
    step::<V, N, R, 9>(v, x);
    step::<V, N, R, 10>(v, x);
    step::<V, N, R, 11>(v, x);
    step::<V, N, R, 12>(v, x);
    step::<V, N, R, 13>(v, x);
    step::<V, N, R, 14>(v, x);
    step::<V, N, R, 15>(v, x);
}

/// MD5's compression function on one 64-octet block per lane (`x[j]`: little-endian word `j` of
/// each lane's block).
#[inline(always)]
fn compress<V: Lanes<N>, const N: usize>(state: &mut [V; 4], x: &[V; 16]) {
    let mut v = *state;
    round::<V, N, 0>(&mut v, x);
    round::<V, N, 1>(&mut v, x);
    round::<V, N, 2>(&mut v, x);
    round::<V, N, 3>(&mut v, x);
    for (s, v) in state.iter_mut().zip(v) {
        *s = *s + v;
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

/// The sixteen little-endian words of block `i` of `data` as MD5 pads it (see
/// [`padded_block`]), each passed to `out(j, word)`; a block of data alone is read in place.
#[inline(always)]
fn block_words(data: &[u8], i: usize, prefix: usize, mut out: impl FnMut(usize, u32)) {
    let word = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let start = i * 64;
    match data.get(start..start + 64) {
        Some(full) => {
            for (j, c) in full.chunks_exact(4).enumerate() {
                out(j, word(c));
            }
        }
        None => {
            let b = padded_block(data, i, prefix);
            for (j, c) in b.chunks_exact(4).enumerate() {
                out(j, word(c));
            }
        }
    }
}

/// Blocks MD5 compresses for `len` octets of data (data, `0x80`, the 8-octet length).
fn blocks(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// Lane-major words of one block per lane.
fn words<V: Lanes<N>, const N: usize>(blocks: [&[u8; 64]; N]) -> [V; 16] {
    from_fn(|j| {
        let w =
            |b: &[u8; 64]| u32::from_le_bytes([b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3]]);
        V::from_array(blocks.map(w))
    })
}

/// The MD5 state after compressing one 64-octet block from the IV (HMAC's keyed pads).
pub(crate) fn state_after(block: &[u8; 64]) -> [u32; 4] {
    let mut st: [u32x4; 4] = IV.map(u32x4::splat);
    compress(&mut st, &words([block; 4]));
    st.map(|w| w.to_array()[0])
}

/// The HMAC-MD5 tags of `data[l]` under `keys[l]` for every lane `l`; equal to
/// `keys[l].tag(data[l])` (RFC 2104 section 2). Cost: the longest message's blocks plus one outer
/// block, for all lanes together.
pub fn hmac_md5_lanes(keys: [&HmacMd5Key; LANES], data: [&[u8]; LANES]) -> [[u8; TAG_LEN]; LANES] {
    pads_n::<u32x8, LANES>(keys.map(HmacMd5Key::pad_states), data)
}

/// The HMAC-MD5 tags of `data[i]` under `keys[i]`, into `tags[i]`, for every `i` below the
/// shortest of the three slices' lengths (the rest of `tags` is left as it was): equal to
/// `keys[i].tag(data[i])`. Computed [`GROUP`] lanes at a time (sixteen where the build enables
/// AVX2, else eight; a last group of four or fewer four lanes wide), so a caller with many
/// messages gets the build's widest vectors without an array type that depends on the build.
pub fn hmac_md5_many(keys: &[&HmacMd5Key], data: &[&[u8]], tags: &mut [[u8; TAG_LEN]]) {
    let n = keys.len().min(data.len()).min(tags.len());
    for ((k, d), t) in keys[..n]
        .chunks(GROUP)
        .zip(data[..n].chunks(GROUP))
        .zip(tags[..n].chunks_mut(GROUP))
    {
        let lanes: arrayvec::ArrayVec<(Pads, &[u8]), GROUP> =
            k.iter().zip(d).map(|(k, d)| (k.pad_states(), *d)).collect();
        hmac_md5_each(&lanes, |i, tag| {
            if let Some(t) = t.get_mut(i) {
                *t = tag;
            }
        });
    }
}

/// The HMAC-MD5 tag of one message from its key's pad states (one lane in plain words).
pub(crate) fn hmac_md5_one(pads: Pads, data: &[u8]) -> [u8; TAG_LEN] {
    let [tag] = pads_n::<One, 1>([pads], [data]);
    tag
}

/// [`hmac_md5_lanes`] four lanes wide (one 128-bit vector): for four messages or fewer.
pub fn hmac_md5_lanes4(keys: [&HmacMd5Key; 4], data: [&[u8]; 4]) -> [[u8; TAG_LEN]; 4] {
    pads_n::<u32x4, 4>(keys.map(HmacMd5Key::pad_states), data)
}

/// The MD5 states of an HMAC-MD5 key after its `ipad` and `opad` blocks.
pub(crate) type Pads = ([u32; 4], [u32; 4]);

/// The tags of any number of messages (`lanes[i]`: the key's pad states and the message), up to
/// [`GROUP`] at a time, each group as wide as it needs: four lanes for four or fewer, eight for
/// eight or fewer, else [`GROUP`] (a short group repeats its first lane). `out(i, tag)` gets
/// each.
pub(crate) fn hmac_md5_each(lanes: &[(Pads, &[u8])], mut out: impl FnMut(usize, [u8; TAG_LEN])) {
    for (g, group) in lanes.chunks(GROUP).enumerate() {
        let Some(&first) = group.first() else {
            continue;
        };
        let lane = |l: usize| group.get(l).copied().unwrap_or(first);
        let mut emit = |tags: &[[u8; TAG_LEN]]| {
            for (l, t) in tags.iter().enumerate().take(group.len()) {
                out(g * GROUP + l, *t);
            }
        };
        if group.len() <= 4 {
            let tags = pads_n::<u32x4, 4>(from_fn(|l| lane(l).0), from_fn(|l| lane(l).1));
            emit(&tags);
        } else if group.len() <= 8 {
            let tags = pads_n::<u32x8, 8>(from_fn(|l| lane(l).0), from_fn(|l| lane(l).1));
            emit(&tags);
        } else {
            let tags = pads_n::<Wide, GROUP>(from_fn(|l| lane(l).0), from_fn(|l| lane(l).1));
            emit(&tags);
        }
    }
}

/// The HMAC-MD5 tags of `N` lanes from their keys' pad states.
fn pads_n<V: Lanes<N>, const N: usize>(pads: [Pads; N], data: [&[u8]; N]) -> [[u8; TAG_LEN]; N] {
    let mut st: [V; 4] = from_fn(|w| V::from_array(pads.map(|p| p.0[w])));
    let n = data.map(|d| blocks(d.len()));
    let most = n.iter().copied().max().unwrap_or(0);
    // Blocks every lane has: no lane to hold back before this.
    let all = n.iter().copied().min().unwrap_or(0);
    for i in 0..most {
        // Word `j` of every lane's block `i`, written straight into the lane-major layout (no
        // per-lane padded block copied and gathered again).
        let mut x = [[0u32; N]; 16];
        for (l, d) in data.iter().enumerate() {
            block_words(d, i, 64, |j, w| x[j][l] = w);
        }
        let before = st;
        compress(&mut st, &x.map(V::from_array));
        if i >= all {
            // A lane whose message has ended keeps its state.
            let live = V::from_array(n.map(|n| if i < n { u32::MAX } else { 0 }));
            for (s, old) in st.iter_mut().zip(before) {
                *s = live.blend(*s, old);
            }
        }
    }
    // The outer block: the inner digest's four words (already little-endian words), 0x80, zeros,
    // and the length of the opad block plus the digest, 80 octets, in bits.
    let zero = V::splat(0);
    let mut x = [zero; 16];
    x[..4].copy_from_slice(&st);
    x[4] = V::splat(0x80);
    x[14] = V::splat((64 + TAG_LEN as u32) * 8);
    let mut out: [V; 4] = from_fn(|w| V::from_array(pads.map(|p| p.1[w])));
    compress(&mut out, &x);
    let out = out.map(V::to_array);
    from_fn(|l| {
        let mut tag = [0; TAG_LEN];
        for (w, word) in out.iter().enumerate() {
            tag[w * 4..w * 4 + 4].copy_from_slice(&word[l].to_le_bytes());
        }
        tag
    })
}

/// For every lane, whether `tags[l]` is the HMAC-MD5 of `data[l]` under `keys[l]`, each compared
/// in constant time ([`crate::io::ct_eq`]), as [`HmacMd5Key::verify`] does.
pub fn verify_lanes(
    keys: [&HmacMd5Key; LANES],
    data: [&[u8]; LANES],
    tags: [&[u8]; LANES],
) -> [bool; LANES] {
    let want = hmac_md5_lanes(keys, data);
    from_fn(|l| crate::io::ct_eq(&want[l], tags[l]))
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
            let mut st: [u32x4; 4] = IV.map(u32x4::splat);
            for i in 0..blocks(m.len()) {
                let b = padded_block(m, i, 0);
                compress(&mut st, &words([&b; 4]));
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
    fn rfc2202_cases_in_eight_lanes() {
        // RFC 2202 section 2, test cases 1, 2, 6 (80-octet key, hashed first) and 7.
        let k1 = HmacMd5Key::new(&[0x0b; 16]);
        let k2 = HmacMd5Key::new(b"Jefe");
        let k6 = HmacMd5Key::new(&[0xaa; 80]);
        let d7: &[u8] =
            b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
        let data: [&[u8]; 4] = [
            b"Hi There",
            b"what do ya want for nothing?",
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            d7,
        ];
        let keys = [&k1, &k2, &k6, &k6];
        // The same cases in every four of the lanes, and in four lanes.
        let t = hmac_md5_lanes(from_fn(|l| keys[l % 4]), from_fn(|l| data[l % 4]));
        let t4 = hmac_md5_lanes4(keys, data);
        for h in (0..LANES).step_by(4) {
            assert_eq!(t[h][..4], [0x92, 0x94, 0x72, 0x7a]);
            assert_eq!(t[h + 1][..4], [0x75, 0x0c, 0x78, 0x3e]);
            assert_eq!(t[h + 2][..4], [0x6b, 0x1a, 0xb7, 0xfe]);
            assert_eq!(t[h + 3][..4], [0x6f, 0x63, 0x0f, 0xad]);
            assert_eq!(t[h..h + 4], t4[..]);
        }
    }

    /// The public array functions take eight lanes in every build (with AVX2 too): code written
    /// with a literal 8 compiles and computes the same tags however the crate is built.
    #[test]
    fn the_public_arrays_are_eight_lanes_in_every_build() {
        let k = HmacMd5Key::new(b"key");
        let data: [&[u8]; 8] = [
            b"a", b"bb", b"", b"ccc", &[1; 64], &[2; 55], &[3; 56], &[4; 130],
        ];
        let tags: [[u8; TAG_LEN]; 8] = hmac_md5_lanes([&k; 8], data);
        let refs: [&[u8]; 8] = from_fn(|l| &tags[l][..]);
        let ok: [bool; 8] = verify_lanes([&k; 8], data, refs);
        assert_eq!(ok, [true; 8]);
        for (t, d) in tags.iter().zip(data) {
            assert_eq!(*t, k.tag(d));
        }
    }

    #[test]
    fn a_wrong_tag_fails_only_its_lane() {
        let k = HmacMd5Key::new(b"k");
        let octets: Vec<[u8; 1]> = (0..LANES as u8).map(|l| [b'a' + l]).collect();
        let data: [&[u8]; LANES] = from_fn(|l| &octets[l][..]);
        let good = hmac_md5_lanes([&k; LANES], data);
        let mut bad = good[6];
        bad[15] ^= 1;
        let tags: [&[u8]; LANES] = from_fn(|l| if l == 6 { &bad[..] } else { &good[l][..] });
        let ok = verify_lanes([&k; LANES], data, tags);
        assert_eq!(ok, from_fn(|l| l != 6));
    }

    proptest! {
        /// Sixteen lanes as two `u32x8` ([`Pair`], the AVX2 build's [`GROUP`]) in every build:
        /// each lane the `hmac`/`md-5` crates' tag, messages of different lengths side by side.
        #[test]
        fn sixteen_lanes_equal_the_hmac_crate(
            keys in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 16),
            data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 16),
        ) {
            let k: Vec<HmacMd5Key> = keys.iter().map(|k| HmacMd5Key::new(k)).collect();
            let tags = pads_n::<Pair, 16>(from_fn(|l| k[l].pad_states()), from_fn(|l| &data[l][..]));
            for l in 0..16 {
                let mut mac = <hmac::Hmac<Md5> as hmac::Mac>::new_from_slice(&keys[l]).unwrap();
                hmac::Mac::update(&mut mac, &data[l]);
                let want: [u8; 16] = hmac::Mac::finalize(mac).into_bytes().into();
                prop_assert_eq!(tags[l], want);
            }
        }

        /// Every width ([`hmac_md5_lanes`] [`LANES`] lanes, [`hmac_md5_lanes4`] four,
        /// `hmac_md5_each` and [`hmac_md5_many`] for any count up to two [`GROUP`]s and a
        /// lane: four-, eight- and, where the build enables AVX2, sixteen-lane passes) gives the
        /// `hmac`/`md-5` crates' tag; sixteen different messages and keys, so that a group of
        /// sixteen holds no repeated lane.
        #[test]
        fn lanes_equal_the_hmac_crate(
            keys in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 16),
            data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 16),
            count in 0usize..=2 * GROUP + 1,
        ) {
            let k: Vec<HmacMd5Key> = keys.iter().map(|k| HmacMd5Key::new(k)).collect();
            let want: Vec<[u8; 16]> = (0..16)
                .map(|l| {
                    let mut mac = <hmac::Hmac<Md5> as hmac::Mac>::new_from_slice(&keys[l]).unwrap();
                    hmac::Mac::update(&mut mac, &data[l]);
                    hmac::Mac::finalize(mac).into_bytes().into()
                })
                .collect();
            let all = hmac_md5_lanes(from_fn(|l| &k[l]), from_fn(|l| &data[l][..]));
            let four = hmac_md5_lanes4(from_fn(|l| &k[l]), from_fn(|l| &data[l][..]));
            for l in 0..LANES {
                prop_assert_eq!(all[l], want[l]);
                prop_assert_eq!(all[l], k[l].tag(&data[l]));
                if l < 4 {
                    prop_assert_eq!(four[l], want[l]);
                }
            }
            let lanes: Vec<(Pads, &[u8])> = (0..count)
                .map(|i| (k[i % 16].pad_states(), &data[i % 16][..]))
                .collect();
            let mut got = vec![None; count];
            hmac_md5_each(&lanes, |i, t| got[i] = Some(t));
            for (i, t) in got.into_iter().enumerate() {
                prop_assert_eq!(t, Some(want[i % 16]));
            }
            // The public slice form: one tag more than the messages to write, left as it was.
            let ks: Vec<&HmacMd5Key> = (0..count).map(|i| &k[i % 16]).collect();
            let ds: Vec<&[u8]> = (0..count).map(|i| &data[i % 16][..]).collect();
            let mut many = vec![[0xa5; 16]; count + 1];
            hmac_md5_many(&ks, &ds, &mut many);
            for (i, t) in many.iter().enumerate() {
                let w = if i < count { want[i % 16] } else { [0xa5; 16] };
                prop_assert_eq!(*t, w);
            }
        }
    }
}
