//! A cursor over a datagram built on nom's `complete` parsers, turning nom failures into a
//! [`Short`] read (byte offset and field name) that each codec converts into its own error.
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// The input ended inside `field`, which starts at byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short {
    pub(crate) offset: usize,
    pub(crate) field: &'static str,
}

pub(crate) struct Reader<'a> {
    input: &'a [u8],
    total: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader {
            input,
            total: input.len(),
        }
    }

    /// A reader over `input` whose offsets count from `base`.
    pub(crate) fn at(input: &'a [u8], base: usize) -> Self {
        Reader {
            input,
            total: input.len().saturating_add(base),
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.total - self.input.len()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.input.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.input
    }

    fn truncated(&self, field: &'static str) -> Short {
        Short {
            offset: self.offset(),
            field,
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Short> {
        let (rest, v) = be_u8::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Short> {
        let (rest, v) = be_u16::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Short> {
        let (rest, v) = be_u32::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Short> {
        let (rest, v) = take::<_, _, NomError<'a>>(n)
            .parse(self.input)
            .map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Short> {
        let (rest, v) = nom::number::complete::be_u64::<_, NomError<'a>>(self.input)
            .map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }
}
