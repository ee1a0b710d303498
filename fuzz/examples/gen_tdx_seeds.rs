//! Write the seeds of the TDX targets into `seeds/tdx_quote` and `seeds/tdx_channel`:
//!
//! - `tdx_quote`: the genuine quotes of `platform-tdx/tests/data/tdx` (v4 and v5 / TD 1.5, as
//!   Intel's quoting enclave made them), quotes of the simulated quoting service (v4, v5) over a
//!   TDREPORT of the simulated module, that TDREPORT, and an EK evidence answer around a quote.
//! - `tdx_channel` (format in `fuzz_targets/tdx_channel.rs`): scripts for both receiving sides
//!   over fixed keys (messages in order, a replay, a reorder, a drop, an altered, truncated and
//!   padded record, a record of the VMM's own, a reply, an oversized message), and the genuine
//!   hello of each side from the simulated module (the same handshake the target makes), alone
//!   and followed by a script on the channel it establishes.
//!
//! Run: `cargo run --manifest-path fuzz/Cargo.toml --example gen_tdx_seeds` (any toolchain).

use std::fs;
use std::path::Path;

use host_sim::tdx::SimQuotingService;
use host_sim::tdx_verify::{INTEL_SGX_ROOT_CA_KEY, verify_quote};
use platform_tdx::Role;
use platform_tdx::report::{Quote, TdReport};
use vtpm_fuzz::tdx::{MODULE_SEED, TdxWorld};

/// TPM2_GetRandom(8) and TPM2_GetCapability(TPM_PROPERTIES, PT_MANUFACTURER, 1).
const GET_RANDOM: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];
const GET_CAP: [u8; 22] = [
    0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7A, 0, 0, 0, 6, 0, 0, 0x01, 0x05, 0, 0, 0, 1,
];

fn write(dir: &Path, name: &str, data: &[u8]) {
    fs::write(dir.join(name), data).unwrap();
    println!("{:>40} {:6} bytes", name, data.len());
}

fn quote_seeds(dir: &Path) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../platform-tdx/tests/data/tdx");
    for name in [
        "quote_v4_spr_e4.dat",
        "quote_v5_td15.dat",
        "quote_v4_cos113.dat",
    ] {
        let q = fs::read(data.join(name)).unwrap();
        verify_quote(&q, &INTEL_SGX_ROOT_CA_KEY, None).expect("a genuine quote verifies");
        let len = Quote::parse(&q).unwrap().len;
        // Without the zero padding of the buffer it was read into.
        write(dir, &format!("genuine_{name}"), &q[..len]);
    }

    let world = TdxWorld::new();
    let mut rd = [0u8; 64];
    rd[..12].copy_from_slice(b"fuzz nonce 1");
    let report = world.module.report(world.user, &rd);
    write(dir, "sim_tdreport", &report);
    let mut qs = SimQuotingService::new(MODULE_SEED);
    let parsed = TdReport::parse(&report).unwrap();
    for v in [4u16, 5] {
        qs.version = v;
        let q = qs.quote(&parsed);
        verify_quote(&q, &qs.root_point(), None).expect("a simulated quote verifies");
        write(dir, &format!("sim_quote_v{v}"), &q);
        if v == 4 {
            // EK evidence: EK public length u16 ‖ EK public (a stand-in) ‖ quote.
            let ek = [0x5Au8; 120];
            let mut ev = (ek.len() as u16).to_le_bytes().to_vec();
            ev.extend_from_slice(&ek);
            ev.extend_from_slice(&q);
            write(dir, "ek_evidence", &ev);
        }
    }
}

/// Script builders (see the target's documentation).
fn send(kind: u8, msg: &[u8]) -> Vec<u8> {
    let mut v = vec![0, kind];
    v.extend_from_slice(&(msg.len() as u16).to_le_bytes());
    v.extend_from_slice(msg);
    v
}

fn hold(kind: u8, msg: &[u8]) -> Vec<u8> {
    let mut v = send(kind, msg);
    v[0] = 1;
    v
}

fn again(index: u8, mutation: u8, pos: u16) -> Vec<u8> {
    let mut v = vec![2, index, mutation];
    v.extend_from_slice(&pos.to_le_bytes());
    v
}

fn raw(bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![3];
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
    v
}

const REPLY: [u8; 1] = [4];

fn hello_op(bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![5];
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
    v
}

fn scripts() -> Vec<(&'static str, Vec<u8>)> {
    let mut header = vec![1u8, 2, 0, 0];
    header.extend_from_slice(&0u64.to_le_bytes());
    header.extend_from_slice(&12u32.to_le_bytes());
    let mut forged = header.clone();
    forged.extend_from_slice(&GET_RANDOM);
    forged.extend_from_slice(&[0; 16]);
    vec![
        (
            "in_order",
            [
                send(2, &GET_RANDOM),
                REPLY.to_vec(),
                send(2, &GET_CAP),
                REPLY.to_vec(),
                send(3, &[7; 32]),
            ]
            .concat(),
        ),
        ("replay", [send(2, &GET_RANDOM), again(0, 0, 0)].concat()),
        (
            "reorder",
            [hold(2, &GET_RANDOM), send(2, &GET_CAP), again(0, 0, 0)].concat(),
        ),
        (
            "drop",
            [hold(2, &GET_RANDOM), send(2, &GET_CAP), REPLY.to_vec()].concat(),
        ),
        (
            "alter_tag",
            [hold(2, &GET_RANDOM), again(0, 1, 8 * 40 + 3)].concat(),
        ),
        (
            "alter_header",
            [hold(2, &GET_RANDOM), again(0, 1, 8)].concat(),
        ),
        ("truncate", [hold(2, &GET_RANDOM), again(0, 2, 30)].concat()),
        ("pad", [hold(2, &GET_RANDOM), again(0, 3, 0)].concat()),
        (
            "swap_header",
            [hold(2, &GET_RANDOM), hold(2, &GET_CAP), again(0, 4, 1)].concat(),
        ),
        ("forged", [raw(&forged), REPLY.to_vec()].concat()),
        ("oversized", [send(2, &[]), vec![0, 2, 0x01, 0x20]].concat()),
        ("hello_parser", hello_op(&[1, 1, 1, 0])),
    ]
}

fn channel_seeds(dir: &Path) {
    for (rx, bit) in [(Role::Server, 0u8), (Role::Client, 1)] {
        let side = if bit == 0 { "to_vtpm" } else { "to_user" };
        for (name, s) in scripts() {
            let mut v = vec![bit];
            v.extend_from_slice(&s);
            write(dir, &format!("{side}_{name}"), &v);
        }
        // The genuine hello of the peer, as the target's handshake makes it.
        let peer = match rx {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        let mut world = TdxWorld::new();
        let hello = *world.handshake(peer, 0).hello();
        let mut v = vec![bit | 2];
        v.extend_from_slice(&hello);
        write(dir, &format!("{side}_hello"), &v);
        v.extend_from_slice(&[send(2, &GET_RANDOM), REPLY.to_vec(), again(0, 0, 0)].concat());
        write(dir, &format!("{side}_hello_then_records"), &v);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for (target, f) in [
        ("tdx_quote", quote_seeds as fn(&Path)),
        ("tdx_channel", channel_seeds),
    ] {
        let dir = root.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
        println!("{target}:");
        f(&dir);
    }
}
