//! Key and attestation commands on P-384 beside the bare primitive in the same run: the TPM's
//! own overhead (dispatch, marshaling, authorization, attestation structure) should be small
//! beside the elliptic-curve math. Run with `cargo bench -p vtpm --bench keys` (and
//! `--features precomputed-tables` for the base-point tables). With `--features rsa` the
//! `rsa2048` group measures the RSA module beside a bare crypto-bigint CRT exponentiation
//! (`cargo bench -p vtpm --features rsa --bench keys -- rsa`).
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

/// RSA-2048: key generation over many seeds (its time depends on how far the sieve walks), the
/// private operation beside a bare crypto-bigint CRT exponentiation (the two reductions, two
/// 1024-bit constant-time Montgomery powers and the recombination, parameters precomputed as in
/// `RsaPrivate`; with the AMM ladder `RsaPrivate` uses and with the plain one), and the padded
/// operations built on it.
#[cfg(feature = "rsa")]
fn rsa_benches(c: &mut Criterion) {
    use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
    use crypto_bigint::{NonZero, Odd, U1024, U2048};
    use std::time::{Duration, Instant};
    use vtpm::crypto::drbg::HmacDrbg;
    use vtpm::crypto::rsa::{self, RsaPrivate};

    fn drbg(seed: u64) -> HmacDrbg {
        HmacDrbg::new(&seed.to_le_bytes(), b"rsa bench", &[])
    }

    let mut g = c.benchmark_group("rsa2048");

    // Key generation: every iteration a new seed; each key's own time is kept for the spread.
    let mut times: Vec<Duration> = Vec::new();
    let mut seed = 1000u64;
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    g.bench_function("generate", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                seed += 1;
                let mut rng = drbg(seed);
                let start = Instant::now();
                black_box(rsa::generate(0, &mut rng).unwrap());
                let t = start.elapsed();
                times.push(t);
                total += t;
            }
            total
        })
    });
    report_spread("rsa2048/generate", "seeds", &mut times);
    g.sample_size(100);
    g.measurement_time(Duration::from_secs(5));

    let (n, p) = rsa::generate(0, &mut drbg(1)).unwrap();
    let key = RsaPrivate::from_prime(&n, 0, p.expose()).unwrap();
    let mut rng = drbg(2);
    let mut input = [0u8; rsa::RSA_BYTES];
    rng.generate(&mut input, &[]).unwrap();
    input[0] &= 0x7F;
    let digest = HashAlg::Sha256.digest(&[b"message"]);
    // The DRBG refuses after RESEED_INTERVAL requests (one per private operation): reseed it
    // (a flag test per iteration otherwise).
    fn fresh(rng: &mut HmacDrbg) -> &mut HmacDrbg {
        if rng.needs_reseed() {
            rng.reseed(&[7; 32], &[]);
        }
        rng
    }

    // The bare CRT exponentiation the private operation is built around.
    let n_int = U2048::from_be_slice(&n);
    let p_int = U1024::from_be_slice(p.expose());
    let (q_wide, _) = n_int.div_rem(&NonZero::new(p_int.resize::<{ U2048::LIMBS }>()).unwrap());
    let q_int: U1024 = q_wide.resize();
    let e = U1024::from_u32(rsa::DEFAULT_EXPONENT);
    let dp = e
        .invert_mod(&NonZero::new(p_int.wrapping_sub(&U1024::ONE)).unwrap())
        .unwrap();
    let dq = e
        .invert_mod(&NonZero::new(q_int.wrapping_sub(&U1024::ONE)).unwrap())
        .unwrap();
    let p_params = FixedMontyParams::new(Odd::new(p_int).unwrap());
    let q_params = FixedMontyParams::new(Odd::new(q_int).unwrap());
    let qinv = FixedMontyForm::new(&q_int, &p_params).invert().unwrap();
    let c_int = U2048::from_be_slice(&input);
    // `amm`: the Almost Montgomery Multiplication ladder `RsaPrivate` uses; else the plain one.
    let bare = |c: &U2048, amm: bool| -> U2048 {
        let cp = FixedMontyForm::new(&c.rem(p_params.modulus().as_nz_ref()), &p_params);
        let cq = FixedMontyForm::new(&c.rem(q_params.modulus().as_nz_ref()), &q_params);
        let (m1, m2) = if amm {
            (cp.pow_amm(&dp), cq.pow_amm(&dq))
        } else {
            (cp.pow(&dp), cq.pow(&dq))
        };
        let m2 = m2.retrieve();
        let h = m1
            .sub(&FixedMontyForm::new(&m2, &p_params))
            .mul(&qinv)
            .retrieve();
        let hq: U2048 = h.concatenating_mul(&q_int);
        hq.wrapping_add(&m2.resize())
    };
    let ours = key.private_op(&input, &mut rng).unwrap();
    for amm in [false, true] {
        assert_eq!(
            U2048::from_be_slice(&ours),
            bare(&c_int, amm),
            "the baseline agrees"
        );
    }
    // The ratio private_op / bare CRT, measured interleaved (one of each in turn) so that load
    // from other processes hits both alike: min and median over 200 pairs.
    let (mut t_bare, mut t_ours) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let start = Instant::now();
        black_box(bare(black_box(&c_int), true));
        t_bare.push(start.elapsed());
        let start = Instant::now();
        black_box(key.private_op(black_box(&input), fresh(&mut rng)).unwrap());
        t_ours.push(start.elapsed());
    }
    t_bare.sort();
    t_ours.sort();
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    eprintln!(
        "rsa2048 interleaved: bare_crt_modexp_amm min {:?} median {:?}; private_op min {:?} \
         median {:?}; ratio min {:.3} median {:.3}",
        t_bare[0],
        t_bare[100],
        t_ours[0],
        t_ours[100],
        ratio(t_ours[0], t_bare[0]),
        ratio(t_ours[100], t_bare[100])
    );
    g.bench_function("bare_crt_modexp_amm", |bch| {
        bch.iter(|| bare(black_box(&c_int), true))
    });
    g.bench_function("bare_crt_modexp", |bch| {
        bch.iter(|| bare(black_box(&c_int), false))
    });
    g.bench_function("private_op", |bch| {
        bch.iter(|| key.private_op(black_box(&input), fresh(&mut rng)).unwrap())
    });
    g.bench_function("public_op", |bch| {
        bch.iter(|| rsa::public_op(&n, 0, black_box(&input)).unwrap())
    });
    g.bench_function("from_prime", |bch| {
        bch.iter(|| RsaPrivate::from_prime(black_box(&n), 0, p.expose()).unwrap())
    });
    g.bench_function("pkcs1v15_sign_sha256", |bch| {
        bch.iter(|| {
            rsa::pkcs1v15_sign(
                &key,
                HashAlg::Sha256,
                black_box(digest.as_slice()),
                fresh(&mut rng),
            )
            .unwrap()
        })
    });
    let sig = rsa::pkcs1v15_sign(&key, HashAlg::Sha256, digest.as_slice(), &mut rng).unwrap();
    g.bench_function("pkcs1v15_verify_sha256", |bch| {
        bch.iter(|| {
            rsa::pkcs1v15_verify(&n, 0, HashAlg::Sha256, digest.as_slice(), black_box(&sig))
                .unwrap()
        })
    });
    let ct = rsa::oaep_encrypt(&n, 0, HashAlg::Sha256, b"", &[0x42; 32], &mut rng).unwrap();
    let mut out = [0u8; rsa::RSA_BYTES];
    g.bench_function("oaep_decrypt_sha256", |bch| {
        bch.iter(|| {
            rsa::oaep_decrypt(
                &key,
                HashAlg::Sha256,
                b"",
                black_box(&ct),
                fresh(&mut rng),
                &mut out,
            )
            .unwrap()
        })
    });
    g.finish();
}

/// The RSA-2048 TPM commands, with the bytes `benches/libtpms_rsa.py` sends to libtpms:
/// CreatePrimary of the tpm2-tools default storage key (a new key each time: inSensitive.data
/// changes), Sign RSASSA-SHA256, RSA_Decrypt OAEP-SHA256 and ActivateCredential under an RSA
/// EK-like key.
#[cfg(feature = "rsa")]
fn rsa_tpm_benches(c: &mut Criterion) {
    use std::time::{Duration, Instant};

    fn rsa_template(attrs: u32) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend(0x0001u16.to_be_bytes());
        t.extend(0x000Bu16.to_be_bytes());
        t.extend(attrs.to_be_bytes());
        t.extend([0, 0]);
        if attrs & 0x0003_0000 == 0x0003_0000 {
            t.extend([0, 6, 0, 0x80, 0, 0x43]);
        } else {
            t.extend(NULL);
        }
        t.extend(NULL);
        t.extend(2048u16.to_be_bytes());
        t.extend(0u32.to_be_bytes());
        t.extend([0, 0]);
        t
    }
    fn create_primary_data(hierarchy: u32, t: &[u8], data: &[u8]) -> Vec<u8> {
        let mut sens = Vec::new();
        tpm2b(&mut sens, &[]);
        tpm2b(&mut sens, data);
        let mut p = Vec::new();
        tpm2b(&mut p, &sens);
        tpm2b(&mut p, t);
        p.extend([0, 0, 0, 0, 0, 0]);
        command(0x131, &[hierarchy], 1, &p)
    }

    let mut g = c.benchmark_group("rsa2048_tpm");
    let mut b = Bench::new();
    let storage = rsa_template(STORAGE);
    let mut times: Vec<Duration> = Vec::new();
    let mut i = 0u32;
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    g.bench_function("tpm_create_primary", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                i += 1;
                let cp = create_primary_data(RH_OWNER, &storage, &i.to_be_bytes());
                let start = Instant::now();
                let r = b.ok(black_box(&cp));
                let t = start.elapsed();
                times.push(t);
                total += t;
                let h = u32::from_be_bytes(r[10..14].try_into().unwrap());
                b.ok(&command(0x165, &[], 0, &h.to_be_bytes()));
            }
            total
        })
    });
    report_spread("rsa2048_tpm/tpm_create_primary", "keys", &mut times);
    g.sample_size(100);
    g.measurement_time(Duration::from_secs(5));

    let (signer, signer_name) = primary(&mut b, RH_OWNER, &rsa_template(SIGNER));
    let mut p = Vec::new();
    tpm2b(&mut p, &(0u8..32).collect::<Vec<_>>());
    p.extend([0, 0x14, 0, 0x0B]);
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    let sign = command(0x15D, &[signer], 1, &p);
    b.ok(&sign);
    g.bench_function("tpm_sign_rsassa_sha256", |bch| {
        bch.iter(|| b.run(black_box(&sign)))
    });

    let (dec, _) = primary(&mut b, RH_OWNER, &rsa_template(0x0002_0072));
    let oaep = [0, 0x17, 0, 0x0B];
    let mut e = Vec::new();
    tpm2b(&mut e, b"a 32-byte secret for the bench.");
    e.extend(oaep);
    tpm2b(&mut e, &[]);
    let r = b.ok(&command(0x174, &[dec], 0, &e));
    let mut d = Vec::new();
    tpm2b(&mut d, &r[12..12 + 256]);
    d.extend(oaep);
    tpm2b(&mut d, &[]);
    let decrypt = command(0x159, &[dec], 1, &d);
    b.ok(&decrypt);
    g.bench_function("tpm_rsa_decrypt_oaep_sha256", |bch| {
        bch.iter(|| b.run(black_box(&decrypt)))
    });

    let (ek, _) = primary(&mut b, RH_ENDORSEMENT, &storage);
    let mut mc = Vec::new();
    tpm2b(&mut mc, b"credential");
    tpm2b(&mut mc, &signer_name);
    let r = b.ok(&command(0x168, &[ek], 0, &mc));
    let activate = command(0x147, &[signer, ek], 2, &r[10..]);
    let out = b.ok(&activate);
    assert_eq!(&out[out.len() - 20..out.len() - 10], b"credential");
    g.bench_function("tpm_activate_credential", |bch| {
        bch.iter(|| b.run(black_box(&activate)))
    });
    g.finish();
}

/// Print the spread of per-key times (key generation depends on how far the prime search walks).
#[cfg(feature = "rsa")]
fn report_spread(label: &str, unit: &str, times: &mut [std::time::Duration]) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{label} per key over {} {unit}: min {:?}  p10 {:?}  median {:?}  p90 {:?}  max {:?}",
        times.len(),
        times[0],
        at(0.1),
        at(0.5),
        at(0.9),
        times[times.len() - 1]
    );
}

#[cfg(not(feature = "rsa"))]
fn rsa_benches(_: &mut Criterion) {}

#[cfg(not(feature = "rsa"))]
fn rsa_tpm_benches(_: &mut Criterion) {}

criterion_group!(keys, benches, rsa_benches, rsa_tpm_benches);
criterion_main!(keys);
