//! Fuzz harnesses for the Mobile IPv4 subsystem.

use crate::mip::wire::auth::{AuthAlgorithm, SaTable, SecurityAssociation};
use crate::mip::wire::{ExtensionType, Header, Message};

/// Parses arbitrary bytes as a registration message; on success checks `emit(parse(b)) == b`,
/// `parse(emit(m)) == m`, `encoded_len`, and runs authenticator verification (which must not
/// panic whatever the message says).
pub fn message(data: &[u8]) {
    let header = Header::parse(data);
    match Message::parse(data) {
        Ok(m) => {
            let out = m.to_vec();
            assert_eq!(out, data, "emit(parse(b)) != b");
            assert_eq!(m.encoded_len(), data.len());
            let again = Message::parse(&out).ok();
            assert_eq!(again.as_ref(), Some(&m), "parse(emit(m)) != m");
            assert_eq!(header.ok().map(|h| h.0), Some(m.header));
            let mut table = SaTable::new();
            table.allow_keyed_md5(true);
            for (spi, alg) in [
                (256, AuthAlgorithm::HmacMd5),
                (257, AuthAlgorithm::KeyedMd5PrefixSuffix),
            ] {
                let _ = table.insert(SecurityAssociation::new(spi, alg, b"fuzz".to_vec()));
            }
            for t in [
                ExtensionType::MN_HA_AUTH,
                ExtensionType::MN_FA_AUTH,
                ExtensionType::FA_HA_AUTH,
                ExtensionType::GENERALIZED_AUTH,
            ] {
                let _ = table.verify(&m, data, t);
            }
            for i in 0..m.extensions.len() {
                let _ = m.authenticated_len(i);
            }
            let _ = m.unknown_non_skippable();
            let _ = m.nai();
            let _ = m.into_owned();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
