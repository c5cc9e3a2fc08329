//! Parse and emit of SCCRQ and ICRQ (ns per message).
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use telcp::l2tp::wire::avp::AvpValue;
use telcp::l2tp::wire::{Avp, ControlMessage, DEFAULT_ENTERPRISE, Message};

fn bench(c: &mut Criterion) {
    let sccrq = Message::Control(
        ControlMessage::sccrq(46317, b"lac.example.net".as_slice(), 3)
            .with(Avp::mandatory(AvpValue::BearerCapabilities(0)))
            .with(Avp::optional(AvpValue::FirmwareRevision(0x0690)))
            .with(Avp::optional(AvpValue::VendorName(
                b"telcp".as_slice().into(),
            )))
            .with(Avp::mandatory(AvpValue::ReceiveWindowSize(4)))
            .with(Avp::mandatory(AvpValue::TieBreaker(0x1122334455667788))),
    );
    let icrq = Message::Control(
        ControlMessage::icrq(100, 63611, 1)
            .with(Avp::mandatory(AvpValue::BearerType(0)))
            .with(Avp::optional(AvpValue::LoadBalanceCapable {
                vendor: DEFAULT_ENTERPRISE,
            })),
    );
    let mut g = c.benchmark_group("l2tp_wire");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300));
    for (name, m) in [("sccrq", &sccrq), ("icrq", &icrq)] {
        let bytes = m.to_vec();
        g.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| Message::parse(black_box(&bytes)).map(|m| m.encoded_len()))
        });
        let mut buf = Vec::with_capacity(256);
        g.bench_function(format!("emit_{name}"), |b| {
            b.iter(|| {
                buf.clear();
                black_box(m).emit(&mut buf);
                buf.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
