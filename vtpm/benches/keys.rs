//! Key and attestation commands on P-384 beside the bare primitive in the same run: the TPM's
//! own overhead (dispatch, marshaling, authorization, attestation structure) should be small
//! beside the elliptic-curve math. Run with `cargo bench -p vtpm --bench keys` (and
//! `--features precomputed-tables` for the base-point tables).
// Test scaffolding, not firmware: the strict no-panic lints of the core do not apply here.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vtpm::crypto::ecc::{self, Curve};
use vtpm::crypto::hash::HashAlg;
use vtpm::crypto::kdf::kdfa;
use vtpm::{MAX_RESPONSE_SIZE, Platform, PlatformError, Tpm};

/// Entropy from a splitmix64 counter (scaffolding, not a source of entropy); 1 ms per reading.
struct BenchPlatform(u64);

impl Platform for BenchPlatform {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        Ok(0)
    }
    fn evidence(&mut self, _: &[u8; 64], _: &mut [u8]) -> Result<usize, PlatformError> {
        Err(PlatformError::EvidenceUnavailable)
    }
}

const RS_PW: u32 = 0x4000_0009;
const RH_OWNER: u32 = 0x4000_0001;
const RH_ENDORSEMENT: u32 = 0x4000_000B;

fn tpm2b(out: &mut Vec<u8>, data: &[u8]) {
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// A command with `pw` password sessions (one per authorized handle) if `pw > 0`.
fn command(cc: u32, handles: &[u32], pw: usize, params: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend(if pw > 0 { 0x8002u16 } else { 0x8001u16 }.to_be_bytes());
    c.extend([0; 4]);
    c.extend(cc.to_be_bytes());
    handles.iter().for_each(|h| c.extend(h.to_be_bytes()));
    if pw > 0 {
        c.extend((9 * pw as u32).to_be_bytes());
        for _ in 0..pw {
            c.extend(RS_PW.to_be_bytes());
            c.extend([0, 0, 0, 0, 0]);
        }
    }
    c.extend(params);
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

struct Bench {
    tpm: Tpm<BenchPlatform>,
    rsp: Box<[u8; MAX_RESPONSE_SIZE]>,
}

impl Bench {
    fn new() -> Self {
        let mut b = Self {
            tpm: Tpm::new(BenchPlatform(7)),
            rsp: Box::new([0; MAX_RESPONSE_SIZE]),
        };
        b.ok(&command(0x144, &[], 0, &[0, 0]));
        b
    }

    /// Execute and require TPM_RC_SUCCESS; returns the response.
    fn ok(&mut self, cmd: &[u8]) -> Vec<u8> {
        let n = self.tpm.execute(0, cmd, &mut self.rsp);
        let rc = u32::from_be_bytes(self.rsp[6..10].try_into().unwrap());
        assert_eq!(
            rc,
            0,
            "command {:#x} failed: {rc:#x}",
            u32::from_be_bytes(cmd[6..10].try_into().unwrap())
        );
        self.rsp[..n].to_vec()
    }

    fn run(&mut self, cmd: &[u8]) -> usize {
        self.tpm.execute(0, cmd, &mut self.rsp)
    }
}

/// A P-384 ECC template: nameAlg SHA-384, attributes, symmetric, scheme.
fn template(attrs: u32, sym: &[u8], scheme: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(0x000Cu16.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]);
    t.extend(sym);
    t.extend(scheme);
    t.extend(4u16.to_be_bytes());
    t.extend([0, 0x10, 0, 0, 0, 0]);
    t
}

const SIGNER: u32 = 0x0004_0072; // sign | fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth
const AK: u32 = 0x0005_0072; // + restricted
const STORAGE: u32 = 0x0003_0072; // restricted | decrypt | ...
const ECDSA_SHA384: [u8; 4] = [0, 0x18, 0, 0x0C];
const AES256CFB: [u8; 6] = [0, 6, 1, 0, 0, 0x43];
const NULL: [u8; 2] = [0, 0x10];

fn create_primary_cmd(hierarchy: u32, t: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, t);
    p.extend([0, 0, 0, 0, 0, 0]);
    command(0x131, &[hierarchy], 1, &p)
}

/// CreatePrimary; returns (handle, name).
fn primary(b: &mut Bench, hierarchy: u32, t: &[u8]) -> (u32, Vec<u8>) {
    let r = b.ok(&create_primary_cmd(hierarchy, t));
    let h = u32::from_be_bytes(r[10..14].try_into().unwrap());
    let rp = b.ok(&command(0x173, &[h], 0, &[]));
    let n = u16::from_be_bytes(rp[10..12].try_into().unwrap()) as usize;
    let m = u16::from_be_bytes(rp[12 + n..14 + n].try_into().unwrap()) as usize;
    (h, rp[14 + n..14 + n + m].to_vec())
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("p384");
    let digest = HashAlg::Sha384.digest(&[b"message"]);

    // The bare primitives the TPM commands stand on.
    let d = ecc::derive_private(Curve::P384, &[0x5A; 56]).unwrap();
    g.bench_function("bare_ecdsa_sign", |bch| {
        bch.iter(|| {
            ecc::ecdsa_sign(
                Curve::P384,
                d.expose(),
                black_box(digest.as_slice()),
                &[1; 48],
            )
        })
    });
    g.bench_function("bare_derive_and_keygen", |bch| {
        bch.iter(|| {
            let mut bits = [0u8; 56 + 48];
            kdfa(
                HashAlg::Sha384,
                &[3; 64],
                b"Primary Object Creation",
                black_box(&[1; 50]),
                &[],
                &mut bits,
            )
            .unwrap();
            let d = ecc::derive_private(Curve::P384, &bits[..56]).unwrap();
            ecc::public_from_private(Curve::P384, d.expose()).unwrap()
        })
    });

    let mut b = Bench::new();
    let cp = create_primary_cmd(RH_OWNER, &template(SIGNER, &NULL, &ECDSA_SHA384));
    g.bench_function("tpm_create_primary", |bch| {
        bch.iter(|| {
            let r = b.ok(black_box(&cp));
            let h = u32::from_be_bytes(r[10..14].try_into().unwrap());
            b.ok(&command(0x165, &[], 0, &h.to_be_bytes()));
        })
    });

    let (key, _) = primary(&mut b, RH_OWNER, &template(SIGNER, &NULL, &ECDSA_SHA384));
    let mut p = Vec::new();
    tpm2b(&mut p, digest.as_slice());
    p.extend(NULL);
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    let sign = command(0x15D, &[key], 1, &p);
    b.ok(&sign);
    g.bench_function("tpm_sign", |bch| bch.iter(|| b.run(black_box(&sign))));

    let (ak, ak_name) = primary(&mut b, RH_ENDORSEMENT, &template(AK, &NULL, &ECDSA_SHA384));
    let mut q = Vec::new();
    tpm2b(&mut q, &[9; 32]);
    q.extend(NULL);
    q.extend([0, 0, 0, 1, 0, 0x0C, 3, 0xFF, 0, 0]);
    let quote = command(0x158, &[ak], 1, &q);
    b.ok(&quote);
    g.bench_function("tpm_quote_8pcr", |bch| {
        bch.iter(|| b.run(black_box(&quote)))
    });

    let save = command(0x162, &[key], 0, &[]);
    g.bench_function("tpm_context_save_load", |bch| {
        bch.iter(|| {
            let ctx = b.ok(&save);
            let r = b.ok(&command(0x161, &[], 0, &ctx[10..]));
            let h = u32::from_be_bytes(r[10..14].try_into().unwrap());
            b.ok(&command(0x165, &[], 0, &h.to_be_bytes()));
        })
    });

    // An EK-like storage key without a policy, so that a password authorizes it.
    let (ek, _) = primary(
        &mut b,
        RH_ENDORSEMENT,
        &template(STORAGE, &AES256CFB, &NULL),
    );
    let mut mc = Vec::new();
    tpm2b(&mut mc, &[0x42; 32]);
    tpm2b(&mut mc, &ak_name);
    let r = b.ok(&command(0x168, &[ek], 0, &mc));
    let activate = command(0x147, &[ak, ek], 2, &r[10..]);
    let out = b.ok(&activate);
    assert_eq!(
        &out[out.len() - 42..out.len() - 10],
        &[0x42; 32],
        "the credential comes back"
    );
    g.bench_function("tpm_activate_credential", |bch| {
        bch.iter(|| b.run(black_box(&activate)))
    });
    g.finish();
}

criterion_group!(keys, benches);
criterion_main!(keys);
