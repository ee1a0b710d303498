//! Generate the simulated AMD root once: `cargo run --release -p host-sim --example
//! gen_sim_amd_root -- host-sim/data/sim-amd`. Writes the ARK and ASK certificates (RSA-4096,
//! RSASSA-PSS / SHA-384, AMD's names with a "simulated" organization), the ASK private key, and a
//! forged root of the same shape for `attest --tamper root`; prints the ARK pin for
//! `amd_chain::SIMULATED_ARK` and how long key generation took.

use std::path::PathBuf;
use std::time::Instant;

use host_sim::amd_chain::{amd_name, ca_extensions, issue, sim};
use rsa::PrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: gen_sim_amd_root DIR")?,
    );
    let keygen = |what: &str| -> Result<PrivateKey, String> {
        let t = Instant::now();
        let k = PrivateKey::new(&mut getrandom::SysRng, 4096).map_err(|e| e.to_string())?;
        eprintln!(
            "{what}: RSA-4096 key generated in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        Ok(k)
    };
    let write =
        |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).map_err(|e| e.to_string());
    for (prefix, label) in [("", "ARK"), ("forged-", "forged ARK")] {
        let ark = keygen(label)?;
        let ask = keygen("ASK")?;
        let ark_name = amd_name(sim::ORG, "ARK-Milan")?;
        let ask_name = amd_name(sim::ORG, "SEV-Milan")?;
        let spki = |k: &PrivateKey| {
            SubjectPublicKeyInfoOwned::from_key(&k.to_public_key()).map_err(|e| e.to_string())
        };
        let ark_der = issue(&ark, &ark_name, &ark_name, spki(&ark)?, 1, ca_extensions()?)?;
        let ask_der = issue(&ark, &ark_name, &ask_name, spki(&ask)?, 2, ca_extensions()?)?;
        write(&format!("{prefix}ark.der"), &ark_der)?;
        write(&format!("{prefix}ask.der"), &ask_der)?;
        let pem = ask
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        write(&format!("{prefix}ask-key.pem"), pem.as_bytes())?;
        let cert = Certificate::from_der(&ark_der).map_err(|e| e.to_string())?;
        let pin = host_sim::amd_chain::spki_sha384(&cert).ok_or("ARK key")?;
        println!("{prefix}ark pin: {}", host_sim::snp_verify::hex(&pin));
    }
    Ok(())
}
