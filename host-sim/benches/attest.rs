//! `host-sim attest` from launch to verdict, and what it costs step by step: the firmware's boot
//! (vTPM manufacture, EK, CA key, boot report, EK and CA certificates), measuring the boot chain,
//! the simulated AMD-SP issuing its VCEK certificate, and each verifier step group (a: AMD chain
//! and report, b: the EK certificate chain, c: MakeCredential / ActivateCredential, d: quote,
//! e: event log). Run with `cargo bench -p host-sim --bench attest`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::hint::black_box;
use core::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use host_sim::amd_chain::{SIMULATED_ARK, sim};
use host_sim::amdsp::SimAmdSp;
use host_sim::attest::{Components, EkKind, Host, SimVm, reference_policy, run};
use host_sim::snp::snp_platform;
use host_sim::{eventlog, verifier};
use platform_snp::ekcert::{CA_CERT_INDEX, EK_CERT_INDEX_P384};
use platform_snp::{BootConfig, boot};
use verifier::Attester;

fn benches(c: &mut Criterion) {
    let seed = 1;
    let policy = reference_policy(seed);
    let components = Components::reference(false);
    let mut g = c.benchmark_group("attest");
    g.sample_size(20).measurement_time(Duration::from_secs(4));

    g.bench_function("boot_to_verdict", |b| {
        b.iter(|| {
            let r = run(seed, EkKind::Ecc384, None, &policy).unwrap();
            assert!(r.appraisal.verdict);
        });
    });
    g.bench_function("1_boot_ek_and_certificates", |b| {
        let sp = SimAmdSp::new(seed);
        b.iter(|| black_box(boot(snp_platform(&sp, seed), &BootConfig::default()).unwrap()));
    });
    g.bench_function("1+2_boot_and_measure", |b| {
        b.iter(|| black_box(SimVm::boot(seed, seed, false, EkKind::Ecc384, &components).unwrap()));
    });
    g.bench_function("amdsp_issue_vcek_certificate", |b| {
        let sp = SimAmdSp::new(seed);
        let point = sp.lock().vcek_public_sec1();
        let config = sp.lock().config().clone();
        b.iter(|| {
            black_box(sim::issue_vcek(sim::ASK_KEY_PEM, sim::ASK_DER, &point, &config).unwrap())
        });
    });

    // The verifier's steps on what one attested VM answers.
    let vm = SimVm::boot(seed, seed, false, EkKind::Ecc384, &components).unwrap();
    let mut host = Host {
        vm,
        other: None,
        tamper: None,
    };
    let certs = host.amd_certificates().unwrap();
    let nonce = [7u8; 64];
    let (report, manifest) = host.svsm_attest(&nonce).unwrap();
    let ca = host.nv_read(CA_CERT_INDEX).unwrap();
    let ek = host.nv_read(EK_CERT_INDEX_P384).unwrap();
    let ak = host.ak_public().unwrap();
    let qnonce = [9u8; 32];
    let (msg, sig) = host.quote(&qnonce, &policy.quoted_pcrs).unwrap();
    let log = host.event_log().unwrap();
    let (vcek, _, _) = verifier::check_amd_chain(&certs, &[SIMULATED_ARK]).unwrap();

    g.bench_function("verify_a_amd_chain", |b| {
        b.iter(|| black_box(verifier::check_amd_chain(&certs, &[SIMULATED_ARK]).unwrap()));
    });
    g.bench_function("verify_a_report", |b| {
        b.iter(|| {
            let r = verifier::check_report_signature(&report, &vcek).unwrap();
            verifier::check_vmpl(&r).unwrap();
            verifier::check_guest_policy(&r, &policy).unwrap();
            verifier::check_measurement(&r, &policy).unwrap();
            black_box(verifier::check_nonce_binding(&r, &nonce, &manifest).unwrap())
        });
    });
    let r = verifier::check_report_signature(&report, &vcek).unwrap();
    g.bench_function("verify_b_ek_certificate_chain", |b| {
        b.iter(|| {
            let (ca, car) = verifier::check_ca_report(&ca, &vcek, &r).unwrap();
            verifier::check_ca_binding(&ca, &car).unwrap();
            let ek = verifier::check_ek_certificate(&ek, &ca).unwrap();
            black_box(verifier::check_ek_matches_manifest(&ek, &manifest).unwrap())
        });
    });
    g.bench_function("verify_c_make_and_activate_credential", |b| {
        let name = verifier::object_name(&ak).unwrap();
        let mut random = |b: &mut [u8]| b.fill(0x42);
        b.iter(|| {
            let (id, secret) =
                verifier::make_credential(&manifest, &name, &[5; 32], &mut random).unwrap();
            let got = host.activate_credential(&id, &secret);
            black_box(verifier::check_activation(got, &[5; 32]).unwrap())
        });
    });
    g.bench_function("verify_d_quote_and_check", |b| {
        b.iter(|| {
            let (m, s) = host.quote(&qnonce, &policy.quoted_pcrs).unwrap();
            black_box(verifier::check_quote(&ak, &m, &s, &qnonce).unwrap())
        });
    });
    let q = verifier::check_quote(&ak, &msg, &sig, &qnonce).unwrap();
    g.bench_function("verify_e_event_log", |b| {
        b.iter(|| {
            let events = eventlog::parse(&log).unwrap();
            verifier::check_pcr_digest(&q, &events, &policy.quoted_pcrs).unwrap();
            black_box(verifier::check_event_policy(&events, &policy).unwrap())
        });
    });
    g.finish();
}

criterion_group!(attest, benches);
criterion_main!(attest);
