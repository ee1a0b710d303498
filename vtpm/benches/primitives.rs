//! The symmetric primitives under the firmware's size-versus-speed choice: SHA-256 and SHA-384
//! over 1 KiB, AES-128-CFB encryption of 1 KiB (the core's parameter and blob encryption) and
//! AES-256-GCM sealing of 1 KiB (platform-snp's guest messages). Run it once per backend to see
//! what the firmware's compact soft backends cost (README, "Firmware fitness"):
//!
//! ```sh
//! cargo bench -p vtpm --bench primitives     # host: the hardware backends (SHA-NI, AES-NI)
//! RUSTFLAGS='--cfg sha2_backend="soft" --cfg aes_backend="soft" --cfg polyval_backend="soft"' \
//!   cargo bench -p vtpm --bench primitives     # the unrolled soft backends
//! RUSTFLAGS='--cfg sha2_backend="soft" --cfg sha2_backend_soft="compact" --cfg aes_backend="soft"
//!   --cfg aes_backend_soft="compact" --cfg polyval_backend="soft"' \
//!   cargo bench -p vtpm --bench primitives     # the firmware's compact soft backends
//! ```
//!
//! Each case runs 2,000 batches of 8 operations and prints the fastest batch and the median
//! batch per operation: on a shared machine the fastest batch is the one no other process
//! interrupted, the figure to compare between backends.
// Test scaffolding, not firmware: the strict no-panic lints of the core do not apply here.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use cfb_mode::cipher::KeyIvInit;
use sha2::{Digest, Sha256, Sha384};

const BATCHES: usize = 2_000;
const PER_BATCH: u32 = 8;

fn case(name: &str, mut op: impl FnMut()) {
    for _ in 0..PER_BATCH * 50 {
        op();
    }
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_BATCH {
                op();
            }
            t.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{name:<24} fastest {:>9.2} µs   median {:>9.2} µs",
        ns[0] / 1e3,
        ns[BATCHES / 2] / 1e3
    );
}

fn main() {
    let data = [0x5au8; 1024];
    case("sha256_1k", || {
        black_box(Sha256::digest(black_box(&data)));
    });
    case("sha384_1k", || {
        black_box(Sha384::digest(black_box(&data)));
    });
    case("aes128_cfb_encrypt_1k", || {
        let mut buf = data;
        cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&[7; 16], &[9; 16])
            .unwrap()
            .encrypt(black_box(&mut buf));
        black_box(buf);
    });
    let cipher = Aes256Gcm::new_from_slice(&[7; 32]).unwrap();
    let nonce = Nonce::<Aes256Gcm>::from([3; 12]);
    case("aes256_gcm_seal_1k", || {
        let mut buf = data;
        let tag = cipher
            .encrypt_inout_detached(&nonce, b"aad", black_box(&mut buf[..]).into())
            .unwrap();
        black_box((buf, tag));
    });
}
