//! The one protocol-free byte reader every codec of the crate uses.
//!
//! A cursor over a complete datagram built on nom's `complete` parsers: big-endian integers and
//! slices, each read naming the field it is for. A read past the end is a [`Short`] carrying the
//! byte offset where the field starts, the field (whatever type the codec names its fields with)
//! and how many octets were missing; each codec turns it into its own `Truncated` error. The reader
//! knows no protocol, so no codec depends on a state machine's module to parse.
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u24, be_u32, be_u64};
use std::net::Ipv4Addr;

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// The input ended inside `field`, which starts at byte `offset`; `needed` more octets would have
/// completed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short<F> {
    /// Byte offset (from the start of the datagram) of the incomplete field.
    pub offset: usize,
    /// The field being read.
    pub field: F,
    /// Octets missing.
    pub needed: usize,
}

/// A position-tracking reader over a datagram (or a part of one whose offsets count from a base).
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `input`, offsets counting from 0.
    pub fn new(input: &'a [u8]) -> Self {
        Reader::at(input, 0)
    }

    /// A reader over `input` whose first octet is byte `base` of the datagram.
    pub fn at(input: &'a [u8], base: usize) -> Self {
        Reader {
            rest: input,
            offset: base,
        }
    }

    /// Byte offset of the next octet to read.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Octets left.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether every octet has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The octets not read yet (the reader does not move).
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn step<T, F>(
        &mut self,
        r: nom::IResult<&'a [u8], T, NomError<'a>>,
        n: usize,
        field: F,
    ) -> Result<T, Short<F>> {
        match r {
            Ok((rest, v)) => {
                self.offset += self.rest.len() - rest.len();
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(Short {
                offset: self.offset,
                field,
                needed: n.saturating_sub(self.rest.len()),
            }),
        }
    }

    /// One octet.
    pub fn u8<F>(&mut self, field: F) -> Result<u8, Short<F>> {
        self.step(be_u8(self.rest), 1, field)
    }

    /// A big-endian 16-bit integer.
    pub fn u16<F>(&mut self, field: F) -> Result<u16, Short<F>> {
        self.step(be_u16(self.rest), 2, field)
    }

    /// A big-endian 24-bit integer (e.g. the sequence numbers of GTPv2-C, TS 29.274 section
    /// 5.5.1, and PFCP, TS 29.244 section 7.2.2.1).
    pub fn u24<F>(&mut self, field: F) -> Result<u32, Short<F>> {
        self.step(be_u24(self.rest), 3, field)
    }

    /// A big-endian 32-bit integer.
    pub fn u32<F>(&mut self, field: F) -> Result<u32, Short<F>> {
        self.step(be_u32(self.rest), 4, field)
    }

    /// A big-endian 64-bit integer.
    pub fn u64<F>(&mut self, field: F) -> Result<u64, Short<F>> {
        self.step(be_u64(self.rest), 8, field)
    }

    /// An IPv4 address (four octets, network order).
    pub fn addr<F>(&mut self, field: F) -> Result<Ipv4Addr, Short<F>> {
        self.u32(field).map(Ipv4Addr::from)
    }

    /// The next `N` octets as an array, the reader moved past them; `None`, the reader unmoved,
    /// when fewer than `N` are left. One bounds check for several fixed-size fields read
    /// together (the field-by-field reads above give the typed [`Short`] when this fails).
    #[inline(always)]
    pub fn array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>()?;
        self.rest = tail;
        self.offset += N;
        Some(head)
    }

    /// Moves past the next `n` octets, as many as are left when fewer (for octets already
    /// checked through [`Reader::rest`]).
    #[inline(always)]
    pub fn skip(&mut self, n: usize) {
        let n = n.min(self.rest.len());
        self.rest = self.rest.get(n..).unwrap_or_default();
        self.offset += n;
    }

    /// The next `n` octets.
    pub fn bytes<F>(&mut self, n: usize, field: F) -> Result<&'a [u8], Short<F>> {
        let r = take::<_, _, NomError<'a>>(n).parse(self.rest);
        self.step(r, n, field)
    }
}

/// Defines a codec's `Field` enum: the fields its reads name in [`Short`] and in its errors, each
/// with the name it is printed with (`name()` and `Display`), and the conversion of a [`Short`]
/// read into the codec error's `Truncated` variant (copying `offset`, `field` and the listed extra
/// fields of [`Short`]).
macro_rules! wire_fields {
    (
        $(#[$m:meta])* $vis:vis enum $name:ident for $err:ident { $($extra:ident),* }
        { $($v:ident => $s:literal,)* }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $(#[doc = concat!("The ", $s, " field.")] $v,)*
        }

        impl $name {
            /// The field's name, as the specification spells it.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl From<$crate::io::Short<$name>> for $err {
            fn from(s: $crate::io::Short<$name>) -> Self {
                $err::Truncated {
                    offset: s.offset,
                    field: s.field,
                    $($extra: s.$extra,)*
                }
            }
        }
    };
}
pub(crate) use wire_fields;

/// Defines an open code point: a newtype over an integer (`u8` unless given, e.g.
/// `MessageType(u16)`) with named constants, `name()` (the specification's name of a known value,
/// `None` for others), and `Debug`/`Display` that print the name and the value. Unknown values
/// survive parse and emit (DESIGN.md, "open newtypes"). Used by every codec that has code points.
macro_rules! code_point {
    ($(#[$doc:meta])* $name:ident { $($body:tt)* }) => {
        $crate::io::reader::code_point! { $(#[$doc])* $name(u8) { $($body)* } }
    };
    ($(#[$doc:meta])* $name:ident($repr:ty) { $($(#[$cdoc:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);
        impl $name {
            $($(#[$cdoc])* pub const $c: $name = $name($v);)*
            /// The specification's name of a known code point, `None` for others.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }
        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", self.name().unwrap_or(stringify!($name)), self.0)
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(self, f)
            }
        }
    };
}
pub(crate) use code_point;

#[cfg(test)]
mod tests {
    use super::{Reader, Short};

    #[test]
    fn reads_big_endian_and_reports_where_it_ran_short() {
        let mut r = Reader::at(&[1, 2, 3, 4, 5, 6, 7], 10);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(r.u16("b"), Ok(0x0203));
        assert_eq!(r.offset(), 13);
        assert_eq!(r.remaining(), 4);
        assert_eq!(
            r.u64("c"),
            Err(Short {
                offset: 13,
                field: "c",
                needed: 4
            })
        );
        // A failed read does not move the reader.
        assert_eq!(r.u32("d"), Ok(0x0405_0607));
        assert!(r.is_empty());
        assert_eq!(
            r.bytes(2, 7u8),
            Err(Short {
                offset: 17,
                field: 7,
                needed: 2
            })
        );
    }

    #[test]
    fn a_24_bit_read_takes_three_octets_big_endian() {
        let mut r = Reader::at(&[0xab, 0xcd, 0xef, 1, 2], 4);
        assert_eq!(r.u24("seq"), Ok(0x00ab_cdef));
        assert_eq!(r.offset(), 7);
        assert_eq!(
            r.u24("seq"),
            Err(Short {
                offset: 7,
                field: "seq",
                needed: 1
            })
        );
        assert_eq!(r.u16("rest"), Ok(0x0102));
    }

    #[test]
    fn an_array_read_moves_past_its_octets_or_not_at_all() {
        let mut r = Reader::at(&[1, 2, 3, 4, 5], 10);
        assert_eq!(r.array::<2>(), Some(&[1, 2]));
        assert_eq!((r.offset(), r.remaining()), (12, 3));
        // Too few left: nothing read, the reader where it was.
        assert_eq!(r.array::<4>(), None);
        assert_eq!((r.offset(), r.rest()), (12, &[3, 4, 5][..]));
        assert_eq!(r.array::<3>(), Some(&[3, 4, 5]));
        assert!(r.is_empty());
        assert_eq!(r.offset(), 15);
        assert_eq!(r.array::<0>(), Some(&[]));
    }

    /// `Reader::skip` moves past octets already checked, and never past the end.
    #[test]
    fn a_skip_moves_past_its_octets_and_stops_at_the_end() {
        let mut r = Reader::at(&[1, 2, 3, 4, 5], 10);
        r.skip(2);
        assert_eq!((r.offset(), r.rest()), (12, &[3, 4, 5][..]));
        r.skip(0);
        assert_eq!(r.offset(), 12);
        r.skip(9);
        assert!(r.is_empty());
        assert_eq!(r.offset(), 15);
    }
}
