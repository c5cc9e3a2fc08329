//! Fuzz harnesses for the L2TP subsystem.

use crate::l2tp::wire::{Message, ParseOptions};

/// `l2tp_message`: parses arbitrary bytes; on success, emitting and re-parsing must give the same
/// message, and the re-emitted bytes must be a fixed point. Also parses with a secret (hidden AVPs
/// unhidden), which must never panic.
pub fn message(data: &[u8]) {
    if let Ok(m) = Message::parse(data) {
        let bytes = m.to_vec();
        assert_eq!(bytes.len(), m.encoded_len());
        let again = Message::parse(&bytes).expect("re-parse of emitted message");
        assert_eq!(again, m);
        assert_eq!(again.to_vec(), bytes);
    }
    let opts = ParseOptions {
        secret: Some(b"fuzz"),
        ..ParseOptions::default()
    };
    if let Ok(m) = Message::parse_with(data, &opts) {
        let _ = m.encoded_len();
    }
}

#[cfg(test)]
mod tests {
    use crate::Rng;

    #[test]
    fn message_harness_on_random_and_mutated_inputs() {
        let mut rng = Rng::seed_from_u64(3);
        let seeds: Vec<Vec<u8>> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/l2tp"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                        .filter_map(|e| std::fs::read(e.path()).ok())
                        .collect()
                })
                .unwrap_or_default();
        for i in 0..600 {
            let mut data = if !seeds.is_empty() && i % 2 == 0 {
                seeds[i % seeds.len()].clone()
            } else {
                let mut d = vec![0u8; rng.below(80) as usize];
                rng.fill_bytes(&mut d);
                if d.len() > 2 && i % 3 == 0 {
                    d[0] = 0xc8;
                    d[1] = 0x02;
                }
                d
            };
            for _ in 0..rng.below(4) {
                if data.is_empty() {
                    break;
                }
                let at = rng.below(data.len() as u64) as usize;
                data[at] = rng.next_u32() as u8;
            }
            super::message(&data);
        }
    }
}
