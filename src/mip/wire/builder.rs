//! Building registration messages whose authenticators (RFC 5944 3.5) are computed over exactly
//! the octets they protect when the message is emitted.

use super::*;

/// One item of a [`Builder`]: an extension, or an authentication extension to compute at emit
/// time.
#[derive(Clone, Debug)]
enum Item<'a> {
    Ext(Extension<'a>),
    Auth {
        ext_type: ExtensionType,
        spi: u32,
        algorithm: AuthAlgorithm,
        key: Cow<'a, [u8]>,
    },
    Prepared {
        ext_type: ExtensionType,
        spi: u32,
        key: &'a PreparedKey,
    },
}

/// Builds a registration message whose authentication extensions are computed when it is
/// emitted, over exactly the bytes they protect (everything before them, plus their own type,
/// length and SPI).
#[derive(Clone, Debug)]
pub struct Builder<'a> {
    header: Header,
    items: Vec<Item<'a>>,
}

impl<'a> Builder<'a> {
    /// A Registration Request.
    pub fn request(request: Request) -> Self {
        Builder {
            header: Header::Request(request),
            items: Vec::new(),
        }
    }

    /// A Registration Reply.
    pub fn reply(reply: Reply) -> Self {
        Builder {
            header: Header::Reply(reply),
            items: Vec::new(),
        }
    }

    /// Appends an extension as is.
    pub fn extension(mut self, e: Extension<'a>) -> Self {
        self.items.push(Item::Ext(e));
        self
    }

    /// Appends a Mobile Node NAI extension (RFC 2794).
    pub fn nai(self, nai: &'a [u8]) -> Self {
        self.extension(Extension::Nai(Cow::Borrowed(nai)))
    }

    /// Appends an authentication extension of type `ext_type` (32, 33 or 34) computed with `sa`.
    pub fn auth(mut self, ext_type: ExtensionType, sa: &'a SecurityAssociation) -> Self {
        self.items.push(Item::Auth {
            ext_type,
            spi: sa.spi,
            algorithm: sa.algorithm,
            key: Cow::Borrowed(&sa.key),
        });
        self
    }

    /// Appends an authentication extension of type `ext_type` for SPI `spi`, computed with a
    /// prepared key (same bytes as [`Builder::auth`], cheaper when a key is used often).
    pub fn auth_prepared(
        mut self,
        ext_type: ExtensionType,
        spi: u32,
        key: &'a PreparedKey,
    ) -> Self {
        self.items.push(Item::Prepared { ext_type, spi, key });
        self
    }

    /// Appends a Mobile-Home authentication extension (32).
    pub fn mn_ha_auth(self, sa: &'a SecurityAssociation) -> Self {
        self.auth(ExtensionType::MN_HA_AUTH, sa)
    }

    /// Appends a Mobile-Foreign authentication extension (33).
    pub fn mn_fa_auth(self, sa: &'a SecurityAssociation) -> Self {
        self.auth(ExtensionType::MN_FA_AUTH, sa)
    }

    /// Appends a Foreign-Home authentication extension (34).
    pub fn fa_ha_auth(self, sa: &'a SecurityAssociation) -> Self {
        self.auth(ExtensionType::FA_HA_AUTH, sa)
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len()
            + self
                .items
                .iter()
                .map(|i| match i {
                    Item::Ext(e) => e.encoded_len(),
                    Item::Auth { .. } | Item::Prepared { .. } => 6 + auth::AUTHENTICATOR_LEN,
                })
                .sum::<usize>()
    }

    /// The encoded message in a new vector, authenticators computed.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.header.emit(&mut v);
        for item in &self.items {
            match item {
                Item::Ext(e) => e.emit(&mut v),
                Item::Auth {
                    ext_type,
                    spi,
                    algorithm,
                    key,
                } => append_auth(&mut v, *ext_type, *spi, *algorithm, key),
                Item::Prepared { ext_type, spi, key } => {
                    append_auth_prepared(&mut v, *ext_type, *spi, key)
                }
            }
        }
        v
    }

    /// Writes the message, authenticators computed.
    pub fn emit(&self, out: &mut impl BufMut) {
        out.put_slice(&self.to_vec());
    }
}

/// [`append_auth`] with a prepared key (no key set-up per message).
pub fn append_auth_prepared(
    message: &mut Vec<u8>,
    ext_type: ExtensionType,
    spi: u32,
    key: &PreparedKey,
) {
    message.push(ext_type.0);
    message.push((4 + auth::AUTHENTICATOR_LEN) as u8);
    message.extend_from_slice(&spi.to_be_bytes());
    let a = key.compute(message);
    message.extend_from_slice(&a);
}

/// Appends to `message` (an encoded registration message) an authentication extension of type
/// `ext_type` (32, 33 or 34) whose authenticator protects every byte already in `message`, as a
/// foreign agent does when it adds an FA-HA extension to a request it relays.
pub fn append_auth(
    message: &mut Vec<u8>,
    ext_type: ExtensionType,
    spi: u32,
    algorithm: AuthAlgorithm,
    key: &[u8],
) {
    message.push(ext_type.0);
    // Auth extensions written here always carry a 16-byte authenticator.
    message.push((4 + auth::AUTHENTICATOR_LEN) as u8);
    message.extend_from_slice(&spi.to_be_bytes());
    let a = auth::compute(algorithm, key, message);
    message.extend_from_slice(&a);
}
