//! The attested channel's cost per TPM message, next to the same command through
//! `Tpm::execute` directly and to bare AES-256-GCM over the same bytes; the handshake (both
//! sides, simulated TDREPORTs and VERIFYREPORT); and vTPM instance creation to EK-ready.
//! Run with `cargo bench -p platform-tdx --bench channel`.
//!
//! - `direct/*`: `Tpm::execute` on a started TPM.
//! - `sealed/*`: client seal → vTPM-TD open → `Tpm::execute` → seal → client open, on a channel
//!   from a real handshake: the channel's own cost, no transport.
//! - `relayed/*`: `Client::execute` through the simulated VMM and the vTPM TD's service loop
//!   (SendMessage, WaitForRequest, open, execute, seal, ReportStatus, ReceiveMessage); the
//!   simulated VMM copies each message into `Vec`s, which a real VMM's shared pages do not.
//! - `aead/*`: AES-256-GCM seal + open of the command's and the response's bytes (no AAD).
//!
//! Issue target: under 5 µs per message beyond the AEAD cost of its bytes.
// Test scaffolding, not firmware: the strict no-panic lints of the crate do not apply here.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use core::cell::Cell;
use core::hint::black_box;
use std::rc::Rc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use criterion::{Criterion, criterion_group, criterion_main};
use host_sim::SimPlatform;
use host_sim::tdx::{SimQuotingService, SimTdDoor, SimTdxHost, SimTdxModule, TdIdentity};
use platform_tdx::channel::{MAX_RECORD, kind};
use platform_tdx::service::status;
use platform_tdx::{Channel, Client, Handshake, Policy, Role};
use vtpm::{MAX_RESPONSE_SIZE, PlatformError, Tpm};

const ID: [u8; 16] = *b"bench-user-td-01";
const RS_PW: u32 = 0x4000_0009;
const RH_ENDORSEMENT: u32 = 0x4000_000B;

/// A TPM command with one empty password session per authorized handle if `pw`.
fn command(cc: u32, handles: &[u32], pw: bool, params: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend(if pw { 0x8002u16 } else { 0x8001u16 }.to_be_bytes());
    c.extend([0; 4]);
    c.extend(cc.to_be_bytes());
    handles.iter().for_each(|h| c.extend(h.to_be_bytes()));
    if pw {
        c.extend(9u32.to_be_bytes());
        c.extend(RS_PW.to_be_bytes());
        c.extend([0, 0, 0, 0, 0]);
    }
    c.extend(params);
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

fn get_random8() -> Vec<u8> {
    command(0x17B, &[], false, &8u16.to_be_bytes())
}

/// CreatePrimary in the endorsement hierarchy: a P-384 restricted ECDSA-SHA384 signing key.
fn create_ak() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes()); // TPM_ALG_ECC
    t.extend(0x000Cu16.to_be_bytes()); // nameAlg SHA-384
    t.extend(0x0005_0072u32.to_be_bytes()); // restricted | sign | fixed* | sDO | userWithAuth
    t.extend([0, 0]); // authPolicy
    t.extend([0, 0x10]); // symmetric NULL
    t.extend([0, 0x18, 0, 0x0C]); // ECDSA-SHA384
    t.extend(4u16.to_be_bytes()); // NIST P-384
    t.extend([0, 0x10, 0, 0, 0, 0]); // kdf NULL, unique empty
    let mut p = vec![0, 4, 0, 0, 0, 0]; // inSensitive
    p.extend((t.len() as u16).to_be_bytes());
    p.extend(t);
    p.extend([0, 0, 0, 0, 0, 0]); // outsideInfo, creationPCR
    command(0x131, &[RH_ENDORSEMENT], true, &p)
}

/// TPM2_Quote over SHA-384 PCRs 0-7 with a 32-byte qualifying nonce.
fn quote(ak: u32) -> Vec<u8> {
    let mut q = 32u16.to_be_bytes().to_vec();
    q.extend([9; 32]);
    q.extend([0, 0x10]); // scheme NULL: the key's
    q.extend([0, 0, 0, 1, 0, 0x0C, 3, 0xFF, 0, 0]);
    command(0x158, &[ak], true, &q)
}

fn rc(rsp: &[u8]) -> u32 {
    u32::from_be_bytes(rsp[6..10].try_into().unwrap())
}

fn handle(rsp: &[u8]) -> u32 {
    u32::from_be_bytes(rsp[10..14].try_into().unwrap())
}

/// Counter-mode bytes for ephemeral keys (scaffolding, not entropy).
fn entropy(ctr: &Cell<u64>) -> impl FnOnce(&mut [u8]) -> Result<(), PlatformError> + '_ {
    move |b: &mut [u8]| {
        let c = ctr.get().wrapping_add(1);
        ctr.set(c);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (c as u8) ^ (i as u8).wrapping_mul(0x9d) ^ ((c >> 8) as u8);
        }
        Ok(())
    }
}

fn vtpm_id() -> TdIdentity {
    TdIdentity::named("vtpm-td")
}

fn server_policy() -> Policy {
    Policy {
        rtmr: [None, None, None, Some([0; 48])],
        ..Policy::default()
    }
}

fn client_policy() -> Policy {
    Policy {
        mrtd: Some(vtpm_id().mrtd),
        ..Policy::default()
    }
}

/// Two TDs on one simulated module and their doors.
struct Pair {
    client: SimTdDoor,
    server: SimTdDoor,
}

fn pair() -> Pair {
    let module = SimTdxModule::shared(7);
    let quoting = SimQuotingService::shared(7);
    let relay = Rc::default();
    let vt = module.borrow_mut().launch(&vtpm_id());
    let user = module
        .borrow_mut()
        .launch(&TdIdentity::named("user-td (TDVF)"));
    Pair {
        client: SimTdDoor::new(module.clone(), quoting.clone(), Rc::clone(&relay), user),
        server: SimTdDoor::new(module, quoting, relay, vt),
    }
}

/// Both sides of a handshake: (client channel, server channel).
fn handshake(p: &mut Pair, ctr: &Cell<u64>) -> (Channel, Channel) {
    let c = Handshake::start(Role::Client, &mut p.client, entropy(ctr)).unwrap();
    let s = Handshake::start(Role::Server, &mut p.server, entropy(ctr)).unwrap();
    let c_hello = *c.hello();
    let s_hello = *s.hello();
    let (sc, _) = s.finish(&c_hello, &server_policy(), &mut p.server).unwrap();
    let (cc, _) = c.finish(&s_hello, &client_policy(), &mut p.client).unwrap();
    (cc, sc)
}

/// The channel's round trip around `execute`, without a transport.
struct Sealed {
    client: Channel,
    server: Channel,
    tpm: Tpm<SimPlatform>,
    record: Box<[u8; MAX_RECORD]>,
    rsp: Box<[u8; MAX_RESPONSE_SIZE]>,
    out: Box<[u8; MAX_RESPONSE_SIZE]>,
}

impl Sealed {
    fn round_trip(&mut self, cmd: &[u8]) -> usize {
        let n = self
            .client
            .seal(kind::TPM, cmd, &mut self.record[..])
            .unwrap();
        let (k, c) = self.server.open(&mut self.record[..n]).unwrap();
        assert_eq!(k, kind::TPM);
        let len = self.tpm.execute(0, c, &mut self.rsp);
        let n = self
            .server
            .seal(kind::TPM, &self.rsp[..len], &mut self.record[..])
            .unwrap();
        let (_, r) = self.client.open(&mut self.record[..n]).unwrap();
        self.out[..r.len()].copy_from_slice(r);
        r.len()
    }
}

fn started_tpm(seed: u64) -> Tpm<SimPlatform> {
    let mut tpm = Tpm::new(SimPlatform::seeded(seed));
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let n = tpm.execute(0, &command(0x144, &[], false, &[0, 0]), &mut rsp);
    assert_eq!(rc(&rsp[..n]), 0);
    tpm
}

/// AES-256-GCM seal + open of `a` and of `b` (one command and one response), no AAD.
fn aead_round_trip(key: &Aes256Gcm, a: &mut [u8], b: &mut [u8]) {
    let nonce = Nonce::<Aes256Gcm>::from([1u8; 12]);
    for buf in [a, b] {
        let tag = key.encrypt_inout_detached(&nonce, &[], buf.into()).unwrap();
        key.decrypt_inout_detached(&nonce, &[], buf.into(), &tag)
            .unwrap();
    }
}

fn benches(c: &mut Criterion) {
    let ctr = Cell::new(0u64);

    // Handshake, both sides, on the simulated module.
    let mut g = c.benchmark_group("tdx");
    let mut p = pair();
    g.bench_function("handshake/both_sides", |b| {
        b.iter(|| black_box(handshake(&mut p, &ctr)))
    });

    // Instance creation to EK-ready through the vTPM TD's service loop (manufacture, Startup,
    // H-3 P-384 EK persisted), then Destroy.
    let host = SimTdxHost::new(7, &vtpm_id(), server_policy());
    g.bench_function("instance/create_to_ek_ready_and_destroy", |b| {
        b.iter(|| {
            let mut vmm = host.vmm.borrow_mut();
            assert_eq!(vmm.create(&ID), Some(status::OK));
            assert_eq!(vmm.destroy(&ID), Some(status::OK));
            vmm.events.clear();
        })
    });
    g.bench_function("instance/destroy_only_baseline", |b| {
        b.iter(|| {
            let mut vmm = host.vmm.borrow_mut();
            assert_eq!(vmm.destroy(&ID), Some(status::NOT_STARTED));
            vmm.events.clear();
        })
    });

    // The three paths for one command.
    let (cc, sc) = handshake(&mut p, &ctr);
    let mut sealed = Sealed {
        client: cc,
        server: sc,
        tpm: started_tpm(11),
        record: Box::new([0; MAX_RECORD]),
        rsp: Box::new([0; MAX_RESPONSE_SIZE]),
        out: Box::new([0; MAX_RESPONSE_SIZE]),
    };
    let mut direct = started_tpm(11);
    let mut rsp = Box::new([0u8; MAX_RESPONSE_SIZE]);

    let (_, door) = host.launch_user(&TdIdentity::named("user-td (TDVF)"), ID, true);
    assert_eq!(host.vmm.borrow_mut().create(&ID), Some(status::OK));
    let mut client = Client::new(door);
    client.connect(&client_policy(), entropy(&ctr)).unwrap();
    let mut out = vec![0u8; 4096];
    let relay = host.vmm.borrow().relay();

    let ak_cmd = create_ak();
    let n = direct.execute(0, &ak_cmd, &mut rsp);
    assert_eq!(rc(&rsp[..n]), 0);
    let direct_quote = quote(handle(&rsp[..n]));
    let n = sealed.round_trip(&ak_cmd);
    assert_eq!(rc(&sealed.out[..n]), 0);
    let sealed_quote = quote(handle(&sealed.out[..n]));
    let n = client.execute(&ak_cmd, &mut out).unwrap();
    assert_eq!(rc(&out[..n]), 0);
    let relayed_quote = quote(handle(&out[..n]));

    let key = Aes256Gcm::new(&[7u8; 32].into());
    for (name, direct_cmd, sealed_cmd, relayed_cmd) in [
        ("get_random8", get_random8(), get_random8(), get_random8()),
        ("quote_p384", direct_quote, sealed_quote, relayed_quote),
    ] {
        let n = direct.execute(0, &direct_cmd, &mut rsp);
        assert_eq!(rc(&rsp[..n]), 0, "{name}");
        let rsp_len = n;
        let n = sealed.round_trip(&sealed_cmd);
        assert_eq!(rc(&sealed.out[..n]), 0, "{name}");
        let n = client.execute(&relayed_cmd, &mut out).unwrap();
        assert_eq!(rc(&out[..n]), 0, "{name}");
        println!(
            "tdx/{name}: command {} bytes, response {rsp_len} bytes",
            direct_cmd.len()
        );

        g.bench_function(format!("direct/{name}"), |b| {
            b.iter(|| direct.execute(0, black_box(&direct_cmd), &mut rsp))
        });
        g.bench_function(format!("sealed/{name}"), |b| {
            b.iter(|| sealed.round_trip(black_box(&sealed_cmd)))
        });
        g.bench_function(format!("relayed/{name}"), |b| {
            b.iter(|| {
                let n = client.execute(black_box(&relayed_cmd), &mut out).unwrap();
                // What the simulated VMM keeps of each message, and the server's events.
                relay.borrow_mut().seen.clear();
                host.vmm.borrow_mut().events.clear();
                n
            })
        });
        let mut a = vec![0x11u8; direct_cmd.len()];
        let mut r = vec![0x22u8; rsp_len];
        g.bench_function(format!("aead/{name}_bytes"), |b| {
            b.iter(|| aead_round_trip(&key, black_box(&mut a), black_box(&mut r)))
        });

        // The same four paths interleaved round by round, so a load change on the shared
        // machine hits all of them alike; the overhead is the median of the per-round
        // differences.
        let (rounds, iters) = if name == "get_random8" {
            (400, 200)
        } else {
            (300, 2)
        };
        let mut paths: [Path<'_>; 4] = [
            (
                "direct",
                Box::new(|| {
                    black_box(direct.execute(0, black_box(&direct_cmd), &mut rsp));
                }),
            ),
            (
                "sealed",
                Box::new(|| {
                    black_box(sealed.round_trip(black_box(&sealed_cmd)));
                }),
            ),
            (
                "relayed",
                Box::new(|| {
                    black_box(client.execute(black_box(&relayed_cmd), &mut out).unwrap());
                    relay.borrow_mut().seen.clear();
                    host.vmm.borrow_mut().events.clear();
                }),
            ),
            (
                "aead",
                Box::new(|| aead_round_trip(&key, black_box(&mut a), black_box(&mut r))),
            ),
        ];
        interleaved(name, &mut paths, rounds, iters);
    }
    g.finish();
}

/// A named path of the interleaved measurement.
type Path<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Time `paths` (direct, sealed, relayed, aead) in turn, `iters` calls each per round, for
/// `rounds` rounds; print each path's median and the per-message overhead beyond the AEAD:
/// median over rounds of ((path − direct) − aead) / 2 (a round trip is two messages).
fn interleaved(name: &str, paths: &mut [Path<'_>; 4], rounds: usize, iters: u32) {
    let mut per: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); paths.len()];
    for (_, f) in paths.iter_mut() {
        for _ in 0..iters {
            f();
        }
    }
    for _ in 0..rounds {
        for (i, (_, f)) in paths.iter_mut().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                f();
            }
            per[i].push(t.elapsed().as_nanos() as f64 / f64::from(iters));
        }
    }
    let beyond = |k: usize| -> f64 {
        let mut d: Vec<f64> = (0..rounds)
            .map(|r| ((per[k][r] - per[0][r]) - per[3][r]) / 2.0)
            .collect();
        median(&mut d)
    };
    let (sealed, relayed) = (beyond(1), beyond(2));
    let m: Vec<f64> = per.iter_mut().map(|v| median(v)).collect();
    println!(
        "tdx/interleaved/{name} ({rounds} rounds x {iters}): median direct {:.0} ns, sealed {:.0} ns, relayed {:.0} ns, aead {:.0} ns",
        m[0], m[1], m[2], m[3]
    );
    println!(
        "tdx/interleaved/{name}: per message beyond the AEAD (median of per-round differences): sealed {sealed:.0} ns, relayed {relayed:.0} ns"
    );
}

criterion_group!(tdx, benches);
criterion_main!(tdx);
