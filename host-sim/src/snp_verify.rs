//! `host-sim verify-snp-report REPORT.bin VCEK`: print an SEV-SNP ATTESTATION_REPORT (AMD 56860
//! Table 21) readably and verify its signature with a VCEK given as an X.509 certificate (DER or
//! PEM, AMD 57230), an SPKI public key (DER or PEM), or a raw P-384 point (`04 ‖ X ‖ Y`, or
//! `X ‖ Y`).
//!
//! The verification is `platform_snp::report::verify`: ECDSA P-384 over SHA-384 of bytes
//! 0x000..0x29F, R and S little-endian. With a certificate, its AMD extensions are compared with
//! the report (hwID = CHIP_ID, the SPLs = REPORTED_TCB) and the comparison printed; a mismatch
//! is reported but the signature decides.

use core::fmt::Write as _;
use std::path::PathBuf;

use crate::amd_chain::{AMD_ARKS, PinnedArk, SIMULATED_ARK, split_ask_ark, verify_chain};

use platform_snp::report::{self, AttestationReport, VcekPublicKey, VerifyError};
use x509_cert::Certificate;
use x509_cert::der::{Decode, pem};
use x509_cert::spki::SubjectPublicKeyInfoRef;

/// OID of id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of secp384r1.
const OID_SECP384R1: &str = "1.3.132.0.34";
/// AMD's VCEK extension arc.
const OID_AMD: &str = "1.3.6.1.4.1.3704.1.";

/// What the VCEK file held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vcek {
    /// The public key.
    pub key: VcekPublicKey,
    /// Where it came from ("X.509 certificate", "SPKI public key", "raw point").
    pub source: &'static str,
    /// The certificate's subject, if a certificate.
    pub subject: Option<String>,
    /// The certificate's hwID extension (1.3.6.1.4.1.3704.1.4).
    pub hw_id: Option<Vec<u8>>,
    /// The certificate's SPL extensions (name, value): blSPL, teeSPL, snpSPL, ucodeSPL ...
    pub spls: Vec<(&'static str, u64)>,
}

fn key_from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<VcekPublicKey, String> {
    if spki.algorithm.oid.to_string() != OID_EC_PUBLIC_KEY {
        return Err(format!(
            "the key is not an EC public key (algorithm {})",
            spki.algorithm.oid
        ));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok());
    if curve.map(|c| c.to_string()).as_deref() != Some(OID_SECP384R1) {
        return Err("the key is not on secp384r1 (P-384)".into());
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the public key BIT STRING has unused bits")?;
    VcekPublicKey::from_sec1(bits).ok_or_else(|| "the public key is not a valid P-384 point".into())
}

fn spl_name(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "3.1" => "blSPL",
        "3.2" => "teeSPL",
        "3.3" => "snpSPL",
        "3.4" => "spl_4",
        "3.5" => "spl_5",
        "3.6" => "spl_6",
        "3.7" => "spl_7",
        "3.8" => "ucodeSPL",
        "3.9" => "fmcSPL",
        _ => return None,
    })
}

fn from_certificate(der: &[u8]) -> Result<Vcek, String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let spki_der = x509_cert::der::Encode::to_der(tbs.subject_public_key_info())
        .map_err(|e| format!("certificate public key: {e}"))?;
    let spki = SubjectPublicKeyInfoRef::from_der(&spki_der)
        .map_err(|e| format!("certificate public key: {e}"))?;
    let key = key_from_spki(&spki)?;
    let mut hw_id = None;
    let mut spls = Vec::new();
    for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
        let oid = ext.extn_id.to_string();
        let Some(suffix) = oid.strip_prefix(OID_AMD) else {
            continue;
        };
        let value = ext.extn_value.as_bytes();
        if suffix == "4" {
            hw_id = Some(value.to_vec());
        } else if let Some(name) = spl_name(suffix) {
            // A DER INTEGER: 02 len value...
            if let [0x02, n, rest @ ..] = value
                && usize::from(*n) == rest.len()
                && rest.len() <= 8
            {
                let v = rest.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                spls.push((name, v));
            }
        }
    }
    Ok(Vcek {
        key,
        source: "X.509 certificate",
        subject: Some(tbs.subject().to_string()),
        hw_id,
        spls,
    })
}

/// Read a VCEK from the bytes of a file: certificate or SPKI (DER or PEM), or a raw point.
pub fn parse_vcek(bytes: &[u8]) -> Result<Vcek, String> {
    if let Ok(text) = core::str::from_utf8(bytes)
        && text.trim_start().starts_with("-----BEGIN")
    {
        let (label, der) =
            pem::decode_vec(text.trim().as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
        return match label {
            "CERTIFICATE" => from_certificate(&der),
            "PUBLIC KEY" => from_spki_der(&der),
            other => Err(format!(
                "PEM label {other:?}: expected CERTIFICATE or PUBLIC KEY"
            )),
        };
    }
    match bytes {
        [0x04, ..] if bytes.len() == 97 => raw(bytes),
        _ if bytes.len() == 96 => raw(&[&[0x04][..], bytes].concat()),
        [0x30, ..] => {
            from_certificate(bytes).or_else(|cert_err| from_spki_der(bytes).map_err(|_| cert_err))
        }
        _ => Err(format!(
            "{} bytes: not a certificate, an SPKI key or a raw P-384 point (04 || X || Y)",
            bytes.len()
        )),
    }
}

fn from_spki_der(der: &[u8]) -> Result<Vcek, String> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(der).map_err(|e| format!("not an SPKI key: {e}"))?;
    Ok(Vcek {
        key: key_from_spki(&spki)?,
        source: "SPKI public key",
        subject: None,
        hw_id: None,
        spls: Vec::new(),
    })
}

fn raw(point: &[u8]) -> Result<Vcek, String> {
    Ok(Vcek {
        key: VcekPublicKey::from_sec1(point).ok_or("not a valid P-384 point")?,
        source: "raw point",
        subject: None,
        hw_id: None,
        spls: Vec::new(),
    })
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn tcb_line(r: &AttestationReport, v: u64) -> String {
    let p = r.tcb_parts(v);
    match p.fmc {
        Some(fmc) => format!(
            "{v:#018x} (fmc {fmc}, bootloader {}, tee {}, snp {}, microcode {})",
            p.bootloader, p.tee, p.snp, p.microcode
        ),
        None => format!(
            "{v:#018x} (bootloader {}, tee {}, snp {}, microcode {})",
            p.bootloader, p.tee, p.snp, p.microcode
        ),
    }
}

/// The report's fields, one per line.
pub fn describe(r: &AttestationReport) -> String {
    let mut s = String::new();
    let pol = r.policy();
    let pi = r.platform_info();
    let ki = r.key_info();
    let flag = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(s, "version:            {}", r.version);
    let _ = writeln!(s, "guest_svn:          {}", r.guest_svn);
    let _ = writeln!(
        s,
        "policy:             {:#018x} (abi {}.{}, smt {}, migrate_ma {}, debug {}, single_socket {})",
        r.policy,
        pol.abi_major(),
        pol.abi_minor(),
        flag(pol.smt()),
        flag(pol.migrate_ma()),
        flag(pol.debug()),
        flag(pol.single_socket())
    );
    let _ = writeln!(s, "family_id:          {}", hex(&r.family_id));
    let _ = writeln!(s, "image_id:           {}", hex(&r.image_id));
    let _ = writeln!(s, "vmpl:               {}", r.vmpl);
    let _ = writeln!(
        s,
        "signature_algo:     {} ({})",
        r.signature_algo,
        if r.signature_algo == 1 {
            "ECDSA P-384 with SHA-384"
        } else {
            "unknown"
        }
    );
    let _ = writeln!(s, "current_tcb:        {}", tcb_line(r, r.current_tcb));
    let _ = writeln!(
        s,
        "platform_info:      {:#x} (smt {}, tsme {}, ecc {}, rapl_dis {}, ciphertext_hiding {})",
        r.platform_info,
        flag(pi.smt_enabled()),
        flag(pi.tsme_enabled()),
        flag(pi.ecc_enabled()),
        flag(pi.rapl_disabled()),
        flag(pi.ciphertext_hiding_enabled())
    );
    let _ = writeln!(
        s,
        "key_info:           {:#x} (signing key {:?}, author_key_en {}, mask_chip_key {})",
        r.key_info,
        ki.signing_key(),
        flag(ki.author_key_en()),
        flag(ki.mask_chip_key())
    );
    let _ = writeln!(s, "report_data:        {}", hex(&r.report_data));
    let _ = writeln!(s, "measurement:        {}", hex(&r.measurement));
    let _ = writeln!(s, "host_data:          {}", hex(&r.host_data));
    let _ = writeln!(s, "id_key_digest:      {}", hex(&r.id_key_digest));
    let _ = writeln!(s, "author_key_digest:  {}", hex(&r.author_key_digest));
    let _ = writeln!(s, "report_id:          {}", hex(&r.report_id));
    let _ = writeln!(s, "report_id_ma:       {}", hex(&r.report_id_ma));
    let _ = writeln!(s, "reported_tcb:       {}", tcb_line(r, r.reported_tcb));
    match r.cpuid() {
        Some(c) => {
            let _ = writeln!(
                s,
                "cpuid:              family {:#x}, model {:#x}, stepping {:#x}",
                c.family, c.model, c.stepping
            );
        }
        None => {
            let _ = writeln!(s, "cpuid:              (not in version {})", r.version);
        }
    }
    let _ = writeln!(s, "chip_id:            {}", hex(&r.chip_id));
    let _ = writeln!(s, "committed_tcb:      {}", tcb_line(r, r.committed_tcb));
    let _ = writeln!(
        s,
        "current firmware:   {}.{} build {}",
        r.current_major, r.current_minor, r.current_build
    );
    let _ = writeln!(
        s,
        "committed firmware: {}.{} build {}",
        r.committed_major, r.committed_minor, r.committed_build
    );
    let _ = writeln!(s, "launch_tcb:         {}", tcb_line(r, r.launch_tcb));
    if let Some((l, c)) = r.mit_vectors() {
        let _ = writeln!(s, "launch_mit_vector:  {l:#018x}");
        let _ = writeln!(s, "current_mit_vector: {c:#018x}");
    }
    let mut rr = r.signature_r[..48].to_vec();
    let mut ss = r.signature_s[..48].to_vec();
    rr.reverse();
    ss.reverse();
    let _ = writeln!(s, "signature r (BE):   {}", hex(&rr));
    let _ = writeln!(s, "signature s (BE):   {}", hex(&ss));
    if r.reserved_nonzero() {
        let _ = writeln!(s, "note:               reserved bytes are not zero");
    }
    s
}

/// Why the command failed.
#[derive(Debug)]
pub enum VerifyFailure {
    /// The inputs could not be read or parsed (exit status 2).
    Input(String),
    /// The report did not verify (exit status 1): the printed fields and the failed check.
    Invalid {
        /// What was printed before the verdict.
        output: String,
        /// The failed check.
        error: VerifyError,
    },
}

/// Describe a verification error.
pub fn explain(e: &VerifyError) -> String {
    match e {
        VerifyError::Size { len } => format!("size: {len} bytes, an ATTESTATION_REPORT is 1184"),
        VerifyError::UnsupportedVersion(v) => format!("version {v} is not 2, 3, 4 or 5"),
        VerifyError::UnsupportedSignatureAlgo(a) => {
            format!("signature_algo {a} is not 1 (ECDSA P-384 with SHA-384)")
        }
        VerifyError::NotSigned => "key_info says the report is not signed".into(),
        VerifyError::SignaturePadding => "signature padding / reserved bytes are not zero".into(),
        VerifyError::SignatureRange => "signature r or s is zero".into(),
        VerifyError::InvalidPublicKey => "the VCEK public key is not a P-384 point".into(),
        VerifyError::SignatureMismatch => {
            "signature does not verify over bytes 0x000-0x29F with this VCEK".into()
        }
    }
}

/// The whole command on file contents: the text to print, or why it failed.
pub fn verify_files(report_bytes: &[u8], vcek_bytes: &[u8]) -> Result<String, VerifyFailure> {
    let vcek = parse_vcek(vcek_bytes).map_err(|e| VerifyFailure::Input(format!("VCEK: {e}")))?;
    let parsed = AttestationReport::parse(report_bytes)
        .map_err(|e| VerifyFailure::Input(format!("report: {}", explain(&e))))?;
    let mut out = describe(&parsed);
    let _ = writeln!(out, "vcek:               {}", vcek.source);
    if let Some(subject) = &vcek.subject {
        let _ = writeln!(out, "vcek subject:       {subject}");
    }
    if let Some(hw) = &vcek.hw_id {
        let same = hw.as_slice() == parsed.chip_id.as_slice()
            || (hw.len() == 8 && parsed.chip_id.starts_with(hw));
        let _ = writeln!(
            out,
            "vcek hwID:          {} ({})",
            hex(hw),
            if same {
                "matches chip_id"
            } else {
                "DIFFERS from chip_id"
            }
        );
    }
    if !vcek.spls.is_empty() {
        let p = parsed.tcb_parts(parsed.reported_tcb);
        let mut parts = Vec::new();
        let mut all_match = true;
        for (name, v) in &vcek.spls {
            let want = match *name {
                "blSPL" => Some(p.bootloader),
                "teeSPL" => Some(p.tee),
                "snpSPL" => Some(p.snp),
                "ucodeSPL" => Some(p.microcode),
                "fmcSPL" => p.fmc,
                _ => None,
            };
            if let Some(w) = want {
                all_match &= u64::from(w) == *v;
                parts.push(format!("{name} {v}"));
            }
        }
        let _ = writeln!(
            out,
            "vcek TCB:           {} ({})",
            parts.join(", "),
            if all_match {
                "matches reported_tcb"
            } else {
                "DIFFERS from reported_tcb"
            }
        );
    }
    match report::verify(report_bytes, &vcek.key) {
        Ok(_) => {
            let _ = writeln!(
                out,
                "signature:          OK (ECDSA P-384 / SHA-384 over 0x000-0x29F)"
            );
            Ok(out)
        }
        Err(error) => Err(VerifyFailure::Invalid { output: out, error }),
    }
}

/// The VCEK certificate as DER (from DER or PEM bytes).
fn vcek_der(bytes: &[u8]) -> Result<Vec<u8>, String> {
    match core::str::from_utf8(bytes) {
        Ok(text) if text.trim_start().starts_with("-----BEGIN") => {
            let (label, der) =
                pem::decode_vec(text.trim().as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
            if label == "CERTIFICATE" {
                Ok(der)
            } else {
                Err(format!(
                    "PEM label {label:?}: --chain needs the VCEK certificate"
                ))
            }
        }
        _ => Ok(bytes.to_vec()),
    }
}

/// `--chain`: walk ARK → ASK → VCEK up to one of `roots`. The line to print, or why it failed.
pub fn check_chain(vcek_bytes: &[u8], chain: &[u8], roots: &[PinnedArk]) -> Result<String, String> {
    let vcek = vcek_der(vcek_bytes)?;
    let (ask, ark) = split_ask_ark(chain)?;
    let v = verify_chain(&ark, &ask, &vcek, roots).map_err(|e| e.to_string())?;
    let cn = |s: &str| crate::amd_chain::common_name(s).to_string();
    Ok(format!(
        "{} (pinned) → {} → {}: OK (RSASSA-PSS / SHA-384)",
        v.root.name,
        cn(&v.subjects[1]),
        cn(&v.subjects[2])
    ))
}

/// `host-sim verify-snp-report`: the command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "host-sim verify-snp-report",
    about = "Print an SEV-SNP attestation report (raw 1184 bytes) field by field and verify its \
             signature (ECDSA P-384 / SHA-384 over bytes 0x000-0x29F) with the VCEK.",
    after_help = "Exit status: 0 the signature (and chain) verify, 1 they do not, 2 unreadable input."
)]
pub struct Args {
    /// The raw ATTESTATION_REPORT.
    #[arg(value_name = "REPORT.bin")]
    pub report: PathBuf,
    /// The VCEK: an X.509 certificate (DER or PEM), an SPKI public key (DER or PEM), or a raw
    /// P-384 point (97 bytes 04 || X || Y, or 96).
    #[arg(value_name = "VCEK")]
    pub vcek: PathBuf,
    /// AMD's certificate chain for the VCEK (ASK then ARK, PEM as AMD KDS serves it, or DER):
    /// check ARK → ASK → VCEK (RSASSA-PSS / SHA-384) with AMD's published ARK keys for Milan,
    /// Genoa and Turin pinned; a chain ending in another root is refused.
    #[arg(long, value_name = "ASK_ARK.pem")]
    pub chain: Option<PathBuf>,
    /// Also trust the simulated AMD root of `host-sim attest` (for its `--out` artifacts).
    #[arg(long)]
    pub trust_simulated_root: bool,
}

/// `host-sim verify-snp-report ARGS...`.
pub fn main(args: &[String]) -> std::process::ExitCode {
    use clap::Parser;
    use std::process::ExitCode;
    let args = match Args::try_parse_from(
        core::iter::once("host-sim verify-snp-report".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let chain = match args.chain.as_ref().map(read).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("host-sim verify-snp-report: {e}");
            return ExitCode::from(2);
        }
    };
    let (report, vcek) = match (read(&args.report), read(&args.vcek)) {
        (Ok(r), Ok(v)) => (r, v),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("host-sim verify-snp-report: {e}");
            return ExitCode::from(2);
        }
    };
    let mut roots = AMD_ARKS.to_vec();
    if args.trust_simulated_root {
        roots.push(SIMULATED_ARK);
    }
    let chain_ok = match &chain {
        None => true,
        Some(c) => match check_chain(&vcek, c, &roots) {
            Ok(line) => {
                println!("chain:              {line}");
                true
            }
            Err(e) => {
                println!("chain:              FAILED: {e}");
                false
            }
        },
    };
    match verify_files(&report, &vcek) {
        Ok(out) => {
            print!("{out}");
            if chain_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(VerifyFailure::Input(e)) => {
            eprintln!("host-sim verify-snp-report: {e}");
            ExitCode::from(2)
        }
        Err(VerifyFailure::Invalid { output, error }) => {
            print!("{output}");
            println!("signature:          FAILED: {}", explain(&error));
            ExitCode::from(1)
        }
    }
}
