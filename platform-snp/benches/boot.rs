//! Boot to EK-ready (manufacture the ephemeral vTPM, Startup, CreatePrimary of the EK, persist
//! it), next to the attestation-report round trip through the simulated AMD-SP (seal with
//! VMPCK0, the PSP's decrypt / report / VCEK signature / encrypt, open) and the relying party's
//! report verification. Run with `cargo bench -p platform-snp --bench boot`.
//!
//! Issue target: boot to EK-ready under 2 ms on this machine.
// Test scaffolding, not firmware: the strict no-panic lints of the crate do not apply here.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss
)]

use core::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use host_sim::amdsp::SimAmdSp;
use host_sim::snp::snp_platform;
use platform_snp::report::{self, REPORT_SIZE};
use platform_snp::{BootConfig, VcekPublicKey, boot};

fn benches(c: &mut Criterion) {
    let sp = SimAmdSp::new(1);
    let mut g = c.benchmark_group("snp");

    for (name, config) in [
        ("boot_to_ek_ready/p384_h3_persistent", BootConfig::default()),
        ("boot_to_ek_ready/p256_l2_transient", BootConfig::p256()),
    ] {
        // Checked once before it is measured.
        let svc = boot(snp_platform(&sp, 7), &config).unwrap();
        assert!(!svc.ek().public().is_empty());
        g.bench_function(name, |b| {
            b.iter(|| {
                let svc = boot(snp_platform(&sp, 7), &config).unwrap();
                black_box(svc.ek().handle())
            });
        });
    }

    // The L-1 RSA-2048 EK (`--features rsa`): each boot has new seeds, so a new prime search;
    // every boot's own time is kept for the spread.
    #[cfg(feature = "rsa")]
    {
        use core::time::Duration;
        use std::time::Instant;
        let config = BootConfig::rsa2048();
        let svc = boot(snp_platform(&sp, 7), &config).unwrap();
        assert_eq!(svc.ek().public().len(), 314);
        let mut times: Vec<Duration> = Vec::new();
        let mut seed = 100u64;
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(40));
        g.bench_function("boot_to_ek_ready/rsa2048_l1_persistent", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    seed += 1;
                    let platform = snp_platform(&sp, seed);
                    let start = Instant::now();
                    let svc = boot(platform, &config).unwrap();
                    let t = start.elapsed();
                    black_box(svc.ek().handle());
                    times.push(t);
                    total += t;
                }
                total
            })
        });
        times.sort();
        if !times.is_empty() {
            let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
            eprintln!(
                "snp/boot_to_ek_ready/rsa2048_l1_persistent per boot over {} boots: min {:?}  p10 {:?}  median {:?}  p90 {:?}  max {:?}",
                times.len(),
                times[0],
                at(0.1),
                at(0.5),
                at(0.9),
                times[times.len() - 1]
            );
        }
        g.sample_size(100);
        g.measurement_time(Duration::from_secs(5));
    }

    let mut platform = snp_platform(&sp, 9);
    let rd = [0x5A; 64];
    let mut out = [0u8; REPORT_SIZE];
    platform.attestation_report(&rd, &mut out, None).unwrap();
    g.bench_function("report_round_trip_sim_amd_sp", |b| {
        b.iter(|| {
            platform
                .attestation_report(black_box(&rd), &mut out, None)
                .unwrap();
        });
    });

    let key = VcekPublicKey::from_sec1(&sp.lock().vcek_public_sec1()).unwrap();
    report::verify(&out, &key).unwrap();
    g.bench_function("verify_report", |b| {
        b.iter(|| report::verify(black_box(&out), &key).unwrap());
    });

    g.bench_function("boot_to_ek_ready_plus_report", |b| {
        b.iter(|| {
            let mut svc = boot(snp_platform(&sp, 7), &BootConfig::default()).unwrap();
            let mut report = [0u8; REPORT_SIZE];
            svc.tpm_mut()
                .platform_mut()
                .attestation_report(&rd, &mut report, None)
                .unwrap();
            black_box(report[0])
        });
    });
    g.finish();
}

criterion_group!(snp, benches);
criterion_main!(snp);
