//! `host-sim verify-tdx-quote QUOTE [--root CERT] [--bound-to SERVTD_QUOTE]`: verify a TD quote
//! (v4 or v5) the way a relying party must, print its TD fields, and name the first check that
//! fails.
//!
//! Checks, in order (Intel DCAP Quoting Library API A.3 / A.4; Intel SGX PCK Certificate and
//! CRL Profile):
//! 1. `parse`: the quote's structure ([`platform_tdx::report::Quote::parse`]);
//! 2. `quote signature`: ECDSA P-256 with the attestation key over SHA-256(header ‖ body);
//! 3. `QE report data`: QE REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zeros;
//! 4. `PCK chain`: the type-5 PEM chain parses (x509-cert), leaf first, at least two certificates;
//! 5. `QE report signature`: ECDSA P-256 with the PCK leaf key over SHA-256(QE report);
//! 6. `chain signature`: each certificate is signed (ecdsa-with-SHA256) by the next, the last by
//!    itself; every issuer is a CA (basicConstraints);
//! 7. `root pinned`: the root's public key is Intel's SGX Root CA key (or the `--root` one);
//! 8. `validity`: each certificate is within its validity period now (skipped with
//!    `--ignore-time`).
//!
//! With `--bound-to SERVTD_QUOTE` (the vTPM TD's quote, verified the same way):
//! 9. `servtd binding`: QUOTE carries a TD 1.5 body whose MRSERVICETD (the TD's SERVTD_HASH) is
//!    the SERVTD_HASH of a TD bound only to the TD of SERVTD_QUOTE, with `--servtd-type` and
//!    `--servtd-attr` (default: the simulator's vTPM binding): SERVTD_INFO_HASH from the service
//!    TD's quoted TDINFO fields with the attributes' IGNORE_TDINFO selection, then SHA-384 over
//!    the 58-byte entry ([`platform_tdx::servtd`]).
//!
//! Out of scope (printed): TCB status from Intel's collateral (TCB info, QE identity), CRLs.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use platform_tdx::report::{BodyKind, CERT_TYPE_PCK_CHAIN, Quote};
use platform_tdx::servtd::{SelfBinding, ServtdAttr};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;

/// Intel SGX Root CA public key (SEC1 uncompressed P-256), as published by Intel in
/// `Intel_SGX_Provisioning_Certification_RootCA.cer` (CN=Intel SGX Root CA): the trust anchor
/// of every PCK chain.
pub const INTEL_SGX_ROOT_CA_KEY: [u8; 65] = [
    0x04, 0x0b, 0xa9, 0xc4, 0xc0, 0xc0, 0xc8, 0x61, 0x93, 0xa3, 0xfe, 0x23, 0xd6, 0xb0, 0x2c, 0xda,
    0x10, 0xa8, 0xbb, 0xd4, 0xe8, 0x8e, 0x48, 0xb4, 0x45, 0x85, 0x61, 0xa3, 0x6e, 0x70, 0x55, 0x25,
    0xf5, 0x67, 0x91, 0x8e, 0x2e, 0xdc, 0x88, 0xe4, 0x0d, 0x86, 0x0b, 0xd0, 0xcc, 0x4e, 0xe2, 0x6a,
    0xac, 0xc9, 0x88, 0xe5, 0x05, 0xa9, 0x53, 0x55, 0x8c, 0x45, 0x3f, 0x6b, 0x09, 0x04, 0xae, 0x73,
    0x94,
];

/// OID ecdsa-with-SHA256.
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// A check of the list in the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The quote's structure.
    Parse,
    /// The attestation key's signature over header and body.
    QuoteSignature,
    /// QE REPORTDATA binds the attestation key and QE auth data.
    QeReportData,
    /// The PCK chain parses.
    PckChain,
    /// The PCK leaf's signature over the QE report.
    QeReportSignature,
    /// A certificate's signature by its issuer (or an issuer that is not a CA).
    ChainSignature,
    /// The root key is not the pinned one.
    RootPinned,
    /// A certificate is outside its validity period.
    Validity,
    /// MRSERVICETD does not name the given service TD with the given binding.
    ServtdBinding,
}

impl Check {
    /// Its name in the output.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::QuoteSignature => "quote signature",
            Self::QeReportData => "QE report data",
            Self::PckChain => "PCK chain",
            Self::QeReportSignature => "QE report signature",
            Self::ChainSignature => "chain signature",
            Self::RootPinned => "root pinned",
            Self::Validity => "validity",
            Self::ServtdBinding => "servtd binding",
        }
    }
}

/// A failed check and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check.
    pub check: Check,
    /// Detail.
    pub detail: String,
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FAILED: {}: {}", self.check.name(), self.detail)
    }
}

fn fail<T>(check: Check, detail: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        check,
        detail: detail.into(),
    })
}

/// What a verified quote showed.
#[derive(Clone, Debug)]
pub struct Verified<'a> {
    /// The parsed quote.
    pub quote: Quote<'a>,
    /// Subjects of the chain, leaf first.
    pub chain: Vec<String>,
}

fn verify_p256(key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    key.verify_prehash(&Sha256::digest(msg), sig).is_ok()
}

fn key_of(cert: &Certificate) -> Option<VerifyingKey> {
    let bits = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()?;
    VerifyingKey::from_sec1_bytes(bits).ok()
}

/// Verify `bytes` as a TD quote whose chain must end in `pinned_root` (SEC1 uncompressed);
/// `now` (Unix seconds) checks validity periods, `None` skips that check.
pub fn verify_quote<'a>(
    bytes: &'a [u8],
    pinned_root: &[u8; 65],
    now: Option<u64>,
) -> Result<Verified<'a>, Failure> {
    let quote = Quote::parse(bytes).or_else(|e| fail(Check::Parse, format!("{e:?}")))?;

    let ak_point = [&[0x04][..], &quote.attestation_key].concat();
    let ak = VerifyingKey::from_sec1_bytes(&ak_point).or_else(|_| {
        fail(
            Check::QuoteSignature,
            "attestation key is not a P-256 point",
        )
    })?;
    let sig = Signature::from_slice(&quote.signature)
        .or_else(|_| fail(Check::QuoteSignature, "malformed signature"))?;
    if !verify_p256(&ak, quote.signed, &sig) {
        return fail(
            Check::QuoteSignature,
            "does not verify with the attestation key",
        );
    }

    let mut expect = [0u8; 64];
    expect[..32].copy_from_slice(&Sha256::digest(
        [&quote.attestation_key[..], quote.qe_auth_data].concat(),
    ));
    if quote.qe_report.report_data != expect {
        return fail(
            Check::QeReportData,
            "QE REPORTDATA is not SHA-256(attestation key ‖ QE auth data) ‖ 0",
        );
    }

    if quote.cert_type != CERT_TYPE_PCK_CHAIN {
        return fail(
            Check::PckChain,
            format!("certification data type {}", quote.cert_type),
        );
    }
    let pem: &[u8] = {
        let mut p = quote.cert_data;
        while let [rest @ .., 0] = p {
            p = rest;
        }
        p
    };
    let chain =
        Certificate::load_pem_chain(pem).or_else(|e| fail(Check::PckChain, format!("{e}")))?;
    // Signatures are checked over the re-encoded TBS, so each certificate must be exactly its
    // canonical DER: a variant encoding that parses to the same value is refused here.
    let ders = pem_blocks(pem).or_else(|e| fail(Check::PckChain, e))?;
    if ders.len() != chain.len()
        || chain
            .iter()
            .zip(&ders)
            .any(|(c, d)| c.to_der().ok().as_deref() != Some(d.as_slice()))
    {
        return fail(Check::PckChain, "a certificate is not in canonical DER");
    }
    if chain.len() < 2 {
        return fail(
            Check::PckChain,
            format!("{} certificate(s), need leaf to root", chain.len()),
        );
    }
    let leaf_key = key_of(&chain[0]).ok_or_else(|| Failure {
        check: Check::PckChain,
        detail: "PCK leaf key is not P-256".into(),
    })?;
    let qe_sig = Signature::from_slice(&quote.qe_report_signature)
        .or_else(|_| fail(Check::QeReportSignature, "malformed signature"))?;
    if !verify_p256(&leaf_key, quote.qe_report_bytes, &qe_sig) {
        return fail(
            Check::QeReportSignature,
            "does not verify with the PCK leaf key",
        );
    }

    let subjects: Vec<String> = chain
        .iter()
        .map(|c| c.tbs_certificate().subject().to_string())
        .collect();
    for (i, cert) in chain.iter().enumerate() {
        let issuer = chain.get(i + 1).unwrap_or(cert);
        let who = &subjects[i];
        if cert.signature_algorithm().oid.to_string() != OID_ECDSA_SHA256 {
            return fail(
                Check::ChainSignature,
                format!("{who}: not ecdsa-with-SHA256"),
            );
        }
        let key = key_of(issuer).ok_or_else(|| Failure {
            check: Check::ChainSignature,
            detail: format!(
                "{}: issuer key is not P-256",
                subjects[(i + 1).min(chain.len() - 1)]
            ),
        })?;
        let tbs = cert
            .tbs_certificate()
            .to_der()
            .or_else(|e| fail(Check::ChainSignature, format!("{who}: {e}")))?;
        let sig = cert
            .signature()
            .as_bytes()
            .and_then(|b| Signature::from_der(b).ok())
            .ok_or_else(|| Failure {
                check: Check::ChainSignature,
                detail: format!("{who}: malformed signature"),
            })?;
        if !verify_p256(&key, &tbs, &sig) {
            return fail(
                Check::ChainSignature,
                format!("{who}: signature does not verify with its issuer's key"),
            );
        }
        let issuer_is_ca = matches!(
            issuer.tbs_certificate().get_extension::<BasicConstraints>(),
            Ok(Some((_, BasicConstraints { ca: true, .. })))
        );
        if i + 1 < chain.len() && !issuer_is_ca {
            return fail(
                Check::ChainSignature,
                format!("{}: issuer is not a CA", subjects[i + 1]),
            );
        }
    }
    let root = chain.last().and_then(key_of).ok_or_else(|| Failure {
        check: Check::RootPinned,
        detail: "root key is not P-256".into(),
    })?;
    if root.to_sec1_point(false).as_bytes() != pinned_root {
        return fail(
            Check::RootPinned,
            format!("{} is not the pinned root key", subjects[chain.len() - 1]),
        );
    }
    if let Some(now) = now {
        for (cert, who) in chain.iter().zip(&subjects) {
            let v = cert.tbs_certificate().validity();
            let (nb, na) = (
                v.not_before.to_unix_duration().as_secs(),
                v.not_after.to_unix_duration().as_secs(),
            );
            if now < nb || now > na {
                return fail(
                    Check::Validity,
                    format!("{who}: valid {nb}..{na} (Unix seconds), now {now}"),
                );
            }
        }
    }
    Ok(Verified {
        quote,
        chain: subjects,
    })
}

/// The DER of each PEM block, in order.
fn pem_blocks(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(i) = rest.windows(END.len()).position(|w| w == END) {
        let (block, tail) = rest.split_at(i + END.len());
        let start = block
            .windows(11)
            .position(|w| w == b"-----BEGIN ")
            .ok_or("PEM block without BEGIN")?;
        let (_, der) =
            x509_cert::der::pem::decode_vec(&block[start..]).map_err(|e| e.to_string())?;
        out.push(der);
        rest = tail;
    }
    Ok(out)
}

/// Check 9: `user` (a verified quote) was bound, before its TDH.MR.FINALIZE, to the TD that
/// `servtd` (another verified quote) describes, and to nothing else, with `binding`'s
/// SERVTD_TYPE and SERVTD_ATTR. Fields the attributes do not ignore must be as they were at
/// binding time (RTMRs that grew since fail unless ignored).
pub fn check_servtd_binding(
    user: &Quote<'_>,
    servtd: &Quote<'_>,
    binding: &SelfBinding,
) -> Result<(), Failure> {
    if user.body_kind != BodyKind::Td15 {
        return fail(
            Check::ServtdBinding,
            "the quote has a TD 1.0 body: no SERVTD_HASH (MRSERVICETD)",
        );
    }
    let expected = binding.expected_hash(&servtd.body.td_info());
    if user.body.mrservicetd != expected {
        return fail(
            Check::ServtdBinding,
            format!(
                "MRSERVICETD {} is not SERVTD_HASH {} of a binding to that TD (type {:#x}, attributes {:#018x})",
                hex(&user.body.mrservicetd),
                hex(&expected),
                binding.servtd_type,
                binding.attr.0
            ),
        );
    }
    Ok(())
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The TD fields of a quote, one per line.
pub fn describe(q: &Quote<'_>) -> String {
    let b = &q.body;
    let mut s = String::new();
    let kind = match q.body_kind {
        BodyKind::Td10 => "TD 1.0",
        BodyKind::Td15 => "TD 1.5",
    };
    s += &format!(
        "version:        {} ({kind} body), {} bytes\n",
        q.header.version, q.len
    );
    s += &format!("TEE_TCB_SVN:    {}\n", hex(&b.tee_tcb_svn));
    s += &format!("MRSEAM:         {}\n", hex(&b.mrseam));
    s += &format!("TDATTRIBUTES:   {}\n", hex(&b.td_attributes));
    s += &format!("XFAM:           {}\n", hex(&b.xfam));
    s += &format!("MRTD:           {}\n", hex(&b.mrtd));
    s += &format!("MRCONFIGID:     {}\n", hex(&b.mrconfigid));
    for (i, r) in b.rtmr.iter().enumerate() {
        s += &format!("RTMR{i}:          {}\n", hex(r));
    }
    s += &format!("REPORTDATA:     {}\n", hex(&b.report_data));
    if q.body_kind == BodyKind::Td15 {
        s += &format!("TEE_TCB_SVN2:   {}\n", hex(&b.tee_tcb_svn2));
        s += &format!("SERVTD_HASH:    {}\n", hex(&b.mrservicetd));
    }
    s
}

/// The command line: `verify-tdx-quote QUOTE [--root CERT] [--ignore-time] [--bound-to
/// SERVTD_QUOTE [--servtd-type N] [--servtd-attr N]]`.
pub fn main(args: &[String]) -> ExitCode {
    let cmd = clap::Command::new("verify-tdx-quote")
        .about(
            "Verify an Intel TDX quote (v4/v5) up to the Intel SGX Root CA and print its TD fields",
        )
        .arg(
            clap::Arg::new("quote")
                .required(true)
                .help("the quote, raw bytes"),
        )
        .arg(clap::Arg::new("root").long("root").help(
            "trust this root CA certificate (DER or PEM) instead of Intel's (simulated platforms)",
        ))
        .arg(
            clap::Arg::new("ignore-time")
                .long("ignore-time")
                .action(clap::ArgAction::SetTrue)
                .help("do not check certificate validity periods"),
        )
        .arg(clap::Arg::new("bound-to").long("bound-to").help(
            "also verify this quote of a service TD (the vTPM TD) and check that QUOTE's \
             SERVTD_HASH names it (TDX 1.5 binding)",
        ))
        .arg(
            clap::Arg::new("servtd-type")
                .long("servtd-type")
                .help("SERVTD_TYPE of the binding (default: the simulator's vTPM type, 0x8000)"),
        )
        .arg(
            clap::Arg::new("servtd-attr")
                .long("servtd-attr")
                .help("SERVTD_ATTR of the binding (default: 0x3c000000000, IGNORE_RTMR0..3)"),
        );
    let m = match cmd.try_get_matches_from(
        core::iter::once("verify-tdx-quote".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let path = m.get_one::<String>("quote").cloned().unwrap_or_default();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("verify-tdx-quote: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let pinned = match m.get_one::<String>("root") {
        None => INTEL_SGX_ROOT_CA_KEY,
        Some(p) => match root_key_from_file(p) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("verify-tdx-quote: --root {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let now = (!m.get_flag("ignore-time")).then(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut binding = crate::tdx::VTPM_BINDING;
    if let Some(t) = m.get_one::<String>("servtd-type") {
        match parse_u64(t).and_then(|v| u16::try_from(v).map_err(|e| e.to_string())) {
            Ok(v) => binding.servtd_type = v,
            Err(e) => {
                eprintln!("verify-tdx-quote: --servtd-type {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(a) = m.get_one::<String>("servtd-attr") {
        match parse_u64(a) {
            Ok(v) => binding.attr = ServtdAttr(v),
            Err(e) => {
                eprintln!("verify-tdx-quote: --servtd-attr {e}");
                return ExitCode::from(2);
            }
        }
    }
    let servtd_bytes = match m.get_one::<String>("bound-to") {
        None => None,
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("verify-tdx-quote: --bound-to {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let checked = verify_quote(&bytes, &pinned, now).and_then(|v| {
        if let Some(sb) = &servtd_bytes {
            let s = verify_quote(sb, &pinned, now).map_err(|f| Failure {
                check: f.check,
                detail: format!("--bound-to quote: {}", f.detail),
            })?;
            check_servtd_binding(&v.quote, &s.quote, &binding)?;
        }
        Ok(v)
    });
    match checked {
        Ok(v) => {
            print!("{}", describe(&v.quote));
            for (i, s) in v.chain.iter().enumerate() {
                println!("chain[{i}]:       {s}");
            }
            println!(
                "OK: quote signature, QE report data, QE report signature, PCK chain to the {} root",
                if m.get_one::<String>("root").is_some() {
                    "given"
                } else {
                    "Intel SGX"
                }
            );
            if servtd_bytes.is_some() {
                println!(
                    "OK: servtd binding: SERVTD_HASH names the --bound-to TD (type {:#x}, attributes {:#018x})",
                    binding.servtd_type, binding.attr.0
                );
            }
            println!(
                "not checked: TCB status (Intel TCB info, QE identity) and CRLs: out of scope"
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            if let Ok(q) = Quote::parse(&bytes) {
                print!("{}", describe(&q));
            }
            println!("{f}");
            ExitCode::FAILURE
        }
    }
}

/// The SEC1 public key of a root certificate file (DER or PEM).
pub fn root_key_from_file(path: &str) -> Result<[u8; 65], String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let cert = if data.starts_with(b"-----BEGIN") {
        Certificate::load_pem_chain(&data)
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("no certificate")?
    } else {
        Certificate::from_der(&data).map_err(|e| e.to_string())?
    };
    let key = key_of(&cert).ok_or("not a P-256 key")?;
    let p = key.to_sec1_point(false);
    <[u8; 65]>::try_from(p.as_bytes()).map_err(|_| "not an uncompressed point".into())
}
