//! A cursor over a datagram built on nom's `complete` parsers, turning nom failures into
//! [`WireError`]s that carry the byte offset and the field name.

use super::WireError;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

type NomError<'a> = nom::error::Error<&'a [u8]>;

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

    fn truncated(&self, field: &'static str) -> WireError {
        WireError::Truncated {
            offset: self.offset(),
            field,
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        let (rest, v) = be_u8::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        let (rest, v) = be_u16::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        let (rest, v) = be_u32::<_, NomError<'a>>(self.input).map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        let (rest, v) = take::<_, _, NomError<'a>>(n)
            .parse(self.input)
            .map_err(|_| self.truncated(field))?;
        self.input = rest;
        Ok(v)
    }
}
