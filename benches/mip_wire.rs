//! Mobile IPv4 codec: parse + HMAC-MD5 verification of a typical Registration Request.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;
use telcp::mip::wire::auth::{AuthAlgorithm, SaTable, SecurityAssociation};
use telcp::mip::wire::{Builder, ExtensionType, Message, Request, RequestFlags, Summary};

fn typical_rrq(mn: &SecurityAssociation, fa: &SecurityAssociation) -> Vec<u8> {
    Builder::request(Request {
        flags: RequestFlags(RequestFlags::T),
        lifetime: 1800,
        home_address: Ipv4Addr::UNSPECIFIED,
        home_agent: Ipv4Addr::new(192, 0, 2, 1),
        care_of: Ipv4Addr::new(198, 51, 100, 7),
        identification: 0xE7A1_B2C3_1234_5678,
    })
    .nai(b"alice@home.example.net")
    .mn_ha_auth(mn)
    .fa_ha_auth(fa)
    .to_vec()
}

fn bench(c: &mut Criterion) {
    let mn = SecurityAssociation::new(0x1001, AuthAlgorithm::HmacMd5, b"mn-ha shared key".to_vec());
    let fa = SecurityAssociation::new(0x2002, AuthAlgorithm::HmacMd5, b"fa-ha shared key".to_vec());
    let mut table = SaTable::new();
    table.insert(mn.clone()).unwrap();
    table.insert(fa.clone()).unwrap();
    let raw = typical_rrq(&mn, &fa);
    let mut g = c.benchmark_group("mip_wire");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("parse_rrq", |b| {
        b.iter(|| Message::parse(black_box(&raw)).unwrap())
    });
    g.bench_function("parse_and_verify_mn_ha_rrq", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&raw)).unwrap();
            table
                .verify(&m, &raw, ExtensionType::MN_HA_AUTH)
                .unwrap()
                .spi
        })
    });
    // What the Home Agent does: one allocation-free pass, then a prepared (pre-keyed) HMAC.
    let prepared = mn.prepare();
    g.bench_function("summary_rrq", |b| {
        b.iter(|| Summary::parse(black_box(&raw)).unwrap())
    });
    g.bench_function("summary_and_prepared_verify_mn_ha_rrq", |b| {
        b.iter(|| {
            let s = Summary::parse(black_box(&raw)).unwrap();
            let a = s.mn_ha.unwrap();
            a.verify_prepared(&raw, mn.spi, &prepared).unwrap();
            a.spi
        })
    });
    g.bench_function("build_rrq_with_two_authenticators", |b| {
        b.iter(|| typical_rrq(black_box(&mn), &fa))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
