//! A remote verifier for an SEV-SNP confidential VM with an ephemeral vTPM: from the hardware
//! report to the EK, to an attestation key, to a quote, to the PCRs and the event log.
//!
//! It trusts a pinned AMD root key (the ARK, [`crate::amd_chain::PinnedArk`]) and a
//! [`ReferencePolicy`] (the expected launch measurement and boot digests). Nothing the host or
//! the guest says is taken on its word, the VCEK certificate chain included. The checks, in
//! order, each a named function with a typed [`VerifyError`]:
//!
//! | step | check | what |
//! |---|---|---|
//! | a | [`check_amd_chain`] | pinned ARK → ASK → VCEK, RSASSA-PSS / SHA-384 (AMD 57230) |
//! | a | [`check_report_signature`] | the SVSM attestation report is signed by the VCEK (AMD 56860 Table 21) |
//! | a | [`check_vmpl`] | it comes from VMPL 0, the SVSM (not the guest kernel) |
//! | a | [`check_guest_policy`] | debug and migration agents are off |
//! | a | [`check_measurement`] | the launch measurement is the reference one |
//! | a | [`check_nonce_binding`] | REPORT_DATA = SHA-512(nonce ‖ manifest) (AMD 58019 §7) |
//! | b | [`check_ca_report`] | the CA certificate carries a VCEK-signed report of the same chip and launch |
//! | b | [`check_ca_binding`] | that report's REPORT_DATA = SHA-384(CA key) ‖ 0^16 |
//! | b | [`check_ek_certificate`] | the EK certificate is signed by that CA, with the TCG EK fields |
//! | b | [`check_ek_matches_manifest`] | its key is the EK of the manifest (ECC P-384 / P-256 or RSA-2048) |
//! | c | [`make_credential`] / [`check_activation`] | the AK lives in the TPM that holds the EK (TPM 2.0 Part 1 §24) |
//! | d | [`check_quote`] | the AK signed the quote; its nonce is ours (Part 3 §18.4) |
//! | e | [`check_pcr_digest`] | the replayed event log gives the quoted PCRs |
//! | e | [`check_event_policy`] | each measured event is the reference one |
//!
//! The interaction with the attested machine is the [`Attester`] trait; [`verify`] runs every
//! check and returns an [`Appraisal`] (serde-serializable, one [`Check`] per line).

// Lengths cast below are bounded by a 4 KiB page, a TPM2B or the event log's u32 fields.
#![allow(clippy::cast_possible_truncation)]
use std::fmt;

use hmac::{KeyInit, Mac};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use platform_snp::report::{self, AttestationReport};
use platform_snp::svsm::attestation_report_data;
use platform_snp::{VcekPublicKey, ekcert};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use crate::amd_chain::{self, ChainError, PinnedArk};
use crate::eventlog::{self, Event};
use crate::snp_verify::hex;

/// What the verifier expects of the machine: a JSON (or any serde format) file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePolicy {
    /// The expected launch MEASUREMENT (48 bytes, hex).
    pub launch_measurement: String,
    /// Whether a guest policy with DEBUG set is acceptable (never, in production).
    #[serde(default)]
    pub allow_debug: bool,
    /// The PCRs the quote covers (SHA-256 bank).
    pub quoted_pcrs: Vec<u32>,
    /// The measured events, in log order (EV_NO_ACTION and EV_SEPARATOR events excluded).
    pub events: Vec<ReferenceEvent>,
}

/// One expected measurement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceEvent {
    /// A name for people ("kernel").
    pub name: String,
    /// The PCR.
    pub pcr: u32,
    /// The PFP event type name ("EV_EFI_BOOT_SERVICES_APPLICATION").
    pub event_type: String,
    /// The expected SHA-384 digest (hex).
    pub sha384: String,
}

/// AMD's certificates for the chip (DER), as the host serves them with an extended guest
/// request (or a verifier fetches them from AMD's KDS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AmdCertificates {
    /// The VCEK certificate.
    pub vcek: Vec<u8>,
    /// The ASK certificate.
    pub ask: Vec<u8>,
    /// The ARK certificate.
    pub ark: Vec<u8>,
}

/// What the verifier asks of the attested machine. Each answer is untrusted.
pub trait Attester {
    /// The VCEK, ASK and ARK certificates.
    fn amd_certificates(&mut self) -> Result<AmdCertificates, String>;
    /// SVSM_ATTEST_SINGLE_SERVICE for the vTPM with this nonce: (report, manifest).
    fn svsm_attest(&mut self, nonce: &[u8; 64]) -> Result<(Vec<u8>, Vec<u8>), String>;
    /// The contents of an NV index (the EK and CA certificates).
    fn nv_read(&mut self, index: u32) -> Result<Vec<u8>, String>;
    /// The attestation key's TPMT_PUBLIC.
    fn ak_public(&mut self) -> Result<Vec<u8>, String>;
    /// TPM2_ActivateCredential with the AK and the EK: the recovered credential.
    fn activate_credential(&mut self, id_object: &[u8], secret: &[u8]) -> Result<Vec<u8>, String>;
    /// TPM2_Quote with the AK over `pcrs` (SHA-256 bank): (TPMS_ATTEST, TPMT_SIGNATURE).
    fn quote(&mut self, nonce: &[u8], pcrs: &[u32]) -> Result<(Vec<u8>, Vec<u8>), String>;
    /// The TCG event log.
    fn event_log(&mut self) -> Result<Vec<u8>, String>;
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The attester did not answer (what it said).
    Attester(String),
    /// The VCEK certificate chain does not lead to a pinned ARK.
    AmdChain(ChainError),
    /// A report does not parse or its VCEK signature does not verify.
    ReportSignature(String),
    /// The report is not from VMPL 0.
    Vmpl(u32),
    /// The guest policy allows debugging or a migration agent.
    GuestPolicy(u64),
    /// The launch measurement is not the reference one.
    Measurement {
        /// Reference.
        expected: String,
        /// Reported.
        actual: String,
    },
    /// REPORT_DATA is not SHA-512(nonce ‖ manifest): a stale or foreign answer.
    NonceBinding,
    /// A certificate does not parse or lacks a field (which).
    Certificate(String),
    /// The CA certificate's report is not of the attested chip and launch (which field).
    CaPlatform(&'static str),
    /// The CA certificate's report does not bind the CA key.
    CaBinding,
    /// A certificate signature does not verify (which certificate).
    CertificateSignature(&'static str),
    /// The EK certificate's key is not the manifest's EK.
    EkMismatch,
    /// The AK is not a restricted signing key fixed to the TPM.
    AkAttributes(u32),
    /// ActivateCredential failed or recovered another secret: the AK is not in this TPM.
    Activation(String),
    /// The quote's signature does not verify with the AK.
    QuoteSignature,
    /// The quote is malformed or carries another nonce (what).
    QuoteContent(String),
    /// The event log does not parse.
    EventLog(String),
    /// The replayed log does not give the quoted PCR digest.
    PcrDigest {
        /// From the quote.
        quoted: String,
        /// From the replayed log.
        replayed: String,
    },
    /// An event is not the reference one (its position and name).
    EventPolicy(String),
    /// The reference policy itself is malformed.
    Policy(String),
    /// Not run: an earlier check it depends on failed.
    Skipped,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attester(e) => write!(f, "the attester did not answer: {e}"),
            Self::AmdChain(e) => write!(f, "{e}"),
            Self::ReportSignature(e) => write!(f, "report signature: {e}"),
            Self::Vmpl(v) => write!(f, "report from VMPL {v}, not 0"),
            Self::GuestPolicy(p) => write!(f, "guest policy {p:#x} allows debug or migration"),
            Self::Measurement { expected, actual } => {
                write!(
                    f,
                    "launch measurement {actual} is not the reference {expected}"
                )
            }
            Self::NonceBinding => write!(f, "REPORT_DATA is not SHA-512(our nonce ‖ manifest)"),
            Self::Certificate(e) => write!(f, "certificate: {e}"),
            Self::CaPlatform(what) => write!(f, "the CA's report differs in {what}"),
            Self::CaBinding => write!(f, "the CA's report does not bind the CA key"),
            Self::CertificateSignature(which) => write!(f, "{which} signature does not verify"),
            Self::EkMismatch => write!(f, "the EK certificate's key is not the manifest's EK"),
            Self::AkAttributes(a) => write!(
                f,
                "AK attributes {a:#010x} are not a fixed restricted signing key"
            ),
            Self::Activation(e) => write!(f, "credential not activated: {e}"),
            Self::QuoteSignature => write!(f, "the quote's signature does not verify with the AK"),
            Self::QuoteContent(e) => write!(f, "quote: {e}"),
            Self::EventLog(e) => write!(f, "event log: {e}"),
            Self::PcrDigest { quoted, replayed } => {
                write!(
                    f,
                    "replayed PCR digest {replayed} is not the quoted {quoted}"
                )
            }
            Self::EventPolicy(e) => write!(f, "{e}"),
            Self::Policy(e) => write!(f, "reference policy: {e}"),
            Self::Skipped => write!(f, "skipped"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// One line of the appraisal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Step letter and check name ("a.report-signature").
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen (on success) or why it failed.
    pub detail: String,
}

/// The result of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Appraisal {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// True when every check passed.
    pub verdict: bool,
    /// The nonces used (hex): SVSM attestation, quote.
    pub nonces: Vec<String>,
}

impl Appraisal {
    /// The first failing check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }

    fn record(&mut self, name: &'static str, r: Result<String, VerifyError>) -> bool {
        let (ok, detail) = match r {
            Ok(d) => (true, d),
            Err(e) => (false, e.to_string()),
        };
        self.checks.push(Check { name, ok, detail });
        ok
    }
}

/// Everything the verifier received, for `--out` and third-party tools.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// AMD's certificates as the host served them.
    pub amd: AmdCertificates,
    /// The SVSM attestation report.
    pub report: Vec<u8>,
    /// The manifest (the EK's TPMT_PUBLIC).
    pub manifest: Vec<u8>,
    /// The SVSM attestation nonce.
    pub nonce: Vec<u8>,
    /// The CA certificate (DER).
    pub ca_cert: Vec<u8>,
    /// The EK certificate (DER).
    pub ek_cert: Vec<u8>,
    /// The AK's TPMT_PUBLIC.
    pub ak_public: Vec<u8>,
    /// The quote nonce.
    pub quote_nonce: Vec<u8>,
    /// TPMS_ATTEST.
    pub quote_msg: Vec<u8>,
    /// TPMT_SIGNATURE.
    pub quote_sig: Vec<u8>,
    /// The quoted PCR values, in selection order.
    pub quote_pcrs: Vec<[u8; 32]>,
    /// The event log.
    pub event_log: Vec<u8>,
}

fn unhex(s: &str) -> Result<Vec<u8>, VerifyError> {
    if !s.len().is_multiple_of(2) {
        return Err(VerifyError::Policy(format!("odd-length hex {s:?}")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|_| VerifyError::Policy(format!("not hex: {s:?}")))
        })
        .collect()
}

// ---- a. SVSM attestation ---------------------------------------------------------------------

/// The VCEK certificate chains up to one of `roots` (ARK self-signed and pinned, ASK signed by
/// the ARK, VCEK by the ASK). Returns the VCEK's key, its hwID and the chain.
pub fn check_amd_chain(
    certs: &AmdCertificates,
    roots: &[PinnedArk],
) -> Result<(VcekPublicKey, Option<Vec<u8>>, amd_chain::VerifiedChain), VerifyError> {
    let chain = amd_chain::verify_chain(&certs.ark, &certs.ask, &certs.vcek, roots)
        .map_err(VerifyError::AmdChain)?;
    let vcek = crate::snp_verify::parse_vcek(&certs.vcek)
        .map_err(|e| VerifyError::Certificate(format!("VCEK: {e}")))?;
    Ok((vcek.key, vcek.hw_id, chain))
}

/// The VCEK certificate is this chip's: its hwID extension is the report's CHIP_ID.
pub fn check_vcek_chip(hw_id: Option<&[u8]>, r: &AttestationReport) -> Result<(), VerifyError> {
    match hw_id {
        Some(h) if h == r.chip_id.as_slice() || (h.len() == 8 && r.chip_id.starts_with(h)) => {
            Ok(())
        }
        _ => Err(VerifyError::ReportSignature(
            "the VCEK certificate's hwID is not the report's CHIP_ID".into(),
        )),
    }
}

/// The report parses and its VCEK signature verifies (ECDSA P-384 / SHA-384 over 0x000-0x29F).
pub fn check_report_signature(
    raw: &[u8],
    vcek: &VcekPublicKey,
) -> Result<AttestationReport, VerifyError> {
    report::verify(raw, vcek)
        .map_err(|e| VerifyError::ReportSignature(crate::snp_verify::explain(&e)))
}

/// VMPL 0: REPORT_DATA was chosen by the SVSM, not by the guest kernel (AMD 58019 §7).
pub fn check_vmpl(r: &AttestationReport) -> Result<String, VerifyError> {
    if r.vmpl == 0 {
        Ok("VMPL 0 (SVSM)".into())
    } else {
        Err(VerifyError::Vmpl(r.vmpl))
    }
}

/// The guest policy: DEBUG (bit 19) off unless allowed, MIGRATE_MA (bit 18) off.
pub fn check_guest_policy(
    r: &AttestationReport,
    p: &ReferencePolicy,
) -> Result<String, VerifyError> {
    let gp = r.policy();
    if (gp.debug() && !p.allow_debug) || gp.migrate_ma() {
        return Err(VerifyError::GuestPolicy(gp.0));
    }
    Ok(format!("policy {:#x}: debug off, no migration agent", gp.0))
}

/// The launch measurement equals the reference.
pub fn check_measurement(
    r: &AttestationReport,
    p: &ReferencePolicy,
) -> Result<String, VerifyError> {
    let expected = unhex(&p.launch_measurement)?;
    if r.measurement[..] != expected[..] {
        return Err(VerifyError::Measurement {
            expected: p.launch_measurement.clone(),
            actual: hex(&r.measurement),
        });
    }
    Ok(format!("measurement {}…", &p.launch_measurement[..16]))
}

/// REPORT_DATA = SHA-512(nonce ‖ manifest) (AMD 58019 §7.1): fresh, and about this EK.
pub fn check_nonce_binding(
    r: &AttestationReport,
    nonce: &[u8; 64],
    manifest: &[u8],
) -> Result<String, VerifyError> {
    if attestation_report_data(nonce, manifest) != r.report_data {
        return Err(VerifyError::NonceBinding);
    }
    Ok(format!(
        "REPORT_DATA = SHA-512(nonce ‖ manifest), manifest {} bytes",
        manifest.len()
    ))
}

// ---- b. EK certificate chain ------------------------------------------------------------------

fn parse_cert(der: &[u8], what: &str) -> Result<Certificate, VerifyError> {
    Certificate::from_der(der).map_err(|e| VerifyError::Certificate(format!("{what}: {e}")))
}

fn spki_point(c: &Certificate) -> Vec<u8> {
    c.tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

/// ECDSA P-384 / SHA-384 signature of `cert` by the SEC 1 key `issuer_point`.
fn cert_signed_by(cert: &Certificate, issuer_point: &[u8]) -> bool {
    let Ok(vk) = p384::ecdsa::VerifyingKey::from_sec1_bytes(issuer_point) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Ok(sig) = p384::ecdsa::Signature::from_der(cert.signature().raw_bytes()) else {
        return false;
    };
    cert.signature_algorithm().oid.to_string() == "1.2.840.10045.4.3.3"
        && vk.verify_prehash(&Sha384::digest(&tbs), &sig).is_ok()
}

/// The CA certificate: self-signed, carrying a report signed by the VCEK whose chip and launch
/// measurement are those of the SVSM attestation. Returns (CA certificate, its report).
pub fn check_ca_report(
    ca_der: &[u8],
    vcek: &VcekPublicKey,
    svsm: &AttestationReport,
) -> Result<(Certificate, AttestationReport), VerifyError> {
    let ca = parse_cert(ca_der, "CA")?;
    if !cert_signed_by(&ca, &spki_point(&ca)) {
        return Err(VerifyError::CertificateSignature(
            "the CA certificate's own",
        ));
    }
    let ext = ca
        .tbs_certificate()
        .extensions()
        .and_then(|e| {
            e.iter()
                .find(|x| x.extn_id.to_string() == ekcert::OID_SNP_REPORT.to_string())
        })
        .ok_or_else(|| VerifyError::Certificate("CA: no SNP report extension".into()))?;
    let raw = x509_cert::der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| VerifyError::Certificate(format!("CA report extension: {e}")))?;
    let r = check_report_signature(raw.as_bytes(), vcek)?;
    if r.chip_id != svsm.chip_id {
        return Err(VerifyError::CaPlatform("CHIP_ID"));
    }
    if r.measurement != svsm.measurement {
        return Err(VerifyError::CaPlatform("MEASUREMENT"));
    }
    if r.vmpl != 0 {
        return Err(VerifyError::CaPlatform("VMPL"));
    }
    Ok((ca, r))
}

/// The CA's report binds its key: REPORT_DATA = SHA-384(SEC 1 point) ‖ 16 zero bytes.
pub fn check_ca_binding(ca: &Certificate, r: &AttestationReport) -> Result<String, VerifyError> {
    if ekcert::report_data_for(&spki_point(ca)) != r.report_data {
        return Err(VerifyError::CaBinding);
    }
    Ok("REPORT_DATA = SHA-384(CA key) ‖ 0¹⁶".into())
}

/// The EK certificate is issued and signed by the CA and has the TCG EK profile's
/// tcg-kp-EKCertificate extended key usage.
pub fn check_ek_certificate(ek_der: &[u8], ca: &Certificate) -> Result<Certificate, VerifyError> {
    let ek = parse_cert(ek_der, "EK")?;
    if ek.tbs_certificate().issuer() != ca.tbs_certificate().subject()
        || !cert_signed_by(&ek, &spki_point(ca))
    {
        return Err(VerifyError::CertificateSignature("the EK certificate's CA"));
    }
    let has_eku = ek.tbs_certificate().extensions().is_some_and(|e| {
        e.iter().any(|x| {
            x.extn_id.to_string() == "2.5.29.37"
                && x.extn_value
                    .as_bytes()
                    .windows(7)
                    .any(|w| w == [0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x01])
        })
    });
    if !has_eku {
        return Err(VerifyError::Certificate(
            "EK: no tcg-kp-EKCertificate".into(),
        ));
    }
    Ok(ek)
}

/// The (x, y) of an ECC TPMT_PUBLIC (Part 2 §12.2.4): type, nameAlg, objectAttributes,
/// authPolicy, TPMS_ECC_PARMS (symmetric, scheme, curveID, kdf), then unique x and y.
pub fn ecc_public_xy(public: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let u16_at = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes(
            public.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    if u16_at(0)? != 0x0023 {
        return None;
    }
    let mut at = 10 + u16_at(8)?;
    // symmetric: algorithm, then keyBits and mode unless TPM_ALG_NULL.
    at += if u16_at(at)? == 0x0010 { 2 } else { 6 };
    // scheme: algorithm, then its hash unless TPM_ALG_NULL.
    at += if u16_at(at)? == 0x0010 { 2 } else { 4 };
    let curve = u16_at(at)?;
    at += 2;
    // kdf: algorithm, then its hash unless TPM_ALG_NULL.
    at += if u16_at(at)? == 0x0010 { 2 } else { 4 };
    let size = match curve {
        3 => 32,
        4 => 48,
        _ => return None,
    };
    let xn = u16_at(at)?;
    let x = public.get(at + 2..at + 2 + xn)?.to_vec();
    at += 2 + xn;
    let yn = u16_at(at)?;
    let y = public.get(at + 2..at + 2 + yn)?.to_vec();
    if x.len() != size || y.len() != size || at + 2 + yn != public.len() {
        return None;
    }
    Some((x, y))
}

/// An EK's public key, from its TPMT_PUBLIC (Part 2 §12.2.4): one of the TCG EK templates'
/// shapes (restricted decryption key, AES-CFB symmetric, scheme NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EkPublic {
    /// ECC (H-3 P-384, L-2 P-256).
    Ecc {
        /// nameAlg (TPM_ALG_SHA256 or TPM_ALG_SHA384).
        name_alg: u16,
        /// AES key bits of the symmetric definition.
        sym_bits: u16,
        /// TPM_ECC_CURVE (3 P-256, 4 P-384).
        curve: u16,
        /// unique.x.
        x: Vec<u8>,
        /// unique.y.
        y: Vec<u8>,
    },
    /// RSA (L-1 RSA-2048).
    Rsa {
        /// nameAlg.
        name_alg: u16,
        /// AES key bits of the symmetric definition.
        sym_bits: u16,
        /// unique.n: the modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent (0 in the TPMT_PUBLIC is 2^16 + 1, Part 2 §12.2.3.5).
        e: u32,
    },
}

impl EkPublic {
    /// Its nameAlg.
    pub fn name_alg(&self) -> u16 {
        match self {
            Self::Ecc { name_alg, .. } | Self::Rsa { name_alg, .. } => *name_alg,
        }
    }

    /// "P-384", "P-256" or "RSA-2048".
    pub fn label(&self) -> String {
        match self {
            Self::Ecc { curve: 3, .. } => "P-256".into(),
            Self::Ecc { curve: 4, .. } => "P-384".into(),
            Self::Ecc { curve, .. } => format!("curve {curve}"),
            Self::Rsa { n, .. } => format!("RSA-{}", n.len() * 8),
        }
    }

    /// The NV index of its certificate (TCG EK Credential Profile §2.2.1.5).
    pub fn certificate_index(&self) -> u32 {
        match self {
            Self::Ecc { curve: 3, .. } => ekcert::EK_CERT_INDEX_P256,
            Self::Ecc { .. } => ekcert::EK_CERT_INDEX_P384,
            Self::Rsa { .. } => ekcert::EK_CERT_INDEX_RSA2048,
        }
    }
}

/// Read an EK's TPMT_PUBLIC ([`EkPublic`]); `None` if it is not one of the EK shapes.
pub fn parse_ek_public(public: &[u8]) -> Option<EkPublic> {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(public.get(at..at + 2)?.try_into().ok()?))
    };
    let name_alg = u16_at(2)?;
    let mut at = 10 + usize::from(u16_at(8)?);
    // symmetric: AES in CFB mode.
    if u16_at(at)? != 0x0006 || u16_at(at + 4)? != 0x0043 {
        return None;
    }
    let sym_bits = u16_at(at + 2)?;
    at += 6;
    match u16_at(0)? {
        0x0023 => {
            let (x, y) = ecc_public_xy(public)?;
            Some(EkPublic::Ecc {
                name_alg,
                sym_bits,
                curve: u16_at(at + 2)?,
                x,
                y,
            })
        }
        0x0001 => {
            // scheme NULL, keyBits, exponent, unique.n.
            if u16_at(at)? != 0x0010 {
                return None;
            }
            let bits = usize::from(u16_at(at + 2)?);
            let e = u32::from_be_bytes(public.get(at + 4..at + 8)?.try_into().ok()?);
            let len = usize::from(u16_at(at + 8)?);
            let n = public.get(at + 10..at + 10 + len)?.to_vec();
            if len * 8 != bits || at + 10 + len != public.len() {
                return None;
            }
            Some(EkPublic::Rsa {
                name_alg,
                sym_bits,
                n,
                e: if e == 0 { 65_537 } else { e },
            })
        }
        _ => None,
    }
}

/// The EK certificate's key is the manifest's EK (the EK the SVSM attested with our nonce): the
/// same curve point, or for an RSA EK an rsaEncryption key (read with the `rsa` crate) with the
/// same modulus and exponent.
pub fn check_ek_matches_manifest(ek: &Certificate, manifest: &[u8]) -> Result<String, VerifyError> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    match parse_ek_public(manifest).ok_or(VerifyError::EkMismatch)? {
        EkPublic::Ecc { x, y, .. } => {
            let point = spki_point(ek);
            if ek
                .tbs_certificate()
                .subject_public_key_info()
                .algorithm
                .oid
                .to_string()
                != "1.2.840.10045.2.1"
                || point.first() != Some(&4)
                || point[1..] != [x, y].concat()[..]
            {
                return Err(VerifyError::EkMismatch);
            }
            Ok(format!(
                "EK P-{} x = {}…",
                (point.len() - 1) * 4,
                hex(&point[1..9])
            ))
        }
        EkPublic::Rsa { n, e, .. } => {
            let spki = ek
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|_| VerifyError::EkMismatch)?;
            let key = rsa::PublicKey::from_public_key_der(&spki)
                .map_err(|e| VerifyError::Certificate(format!("EK: not an RSA public key: {e}")))?;
            if *key.n_bytes() != n[..] || *key.e_bytes() != e.to_be_bytes()[1..] {
                return Err(VerifyError::EkMismatch);
            }
            Ok(format!(
                "EK RSA-{} n = {}…, e = {e}",
                n.len() * 8,
                hex(&n[..8])
            ))
        }
    }
}

// ---- c. credential activation (TPM 2.0 Part 1 §24, Part 3 §12.6) ------------------------------

/// HMAC with the TPM hash `alg` (SHA-256 or SHA-384) over the concatenated `parts`.
fn hmac_with(alg: u16, key: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
    macro_rules! mac {
        ($h:ty) => {{
            let mut m = <hmac::Hmac<$h> as KeyInit>::new_from_slice(key).ok()?;
            for p in parts {
                m.update(p);
            }
            Some(m.finalize().into_bytes().to_vec())
        }};
    }
    match alg {
        0x000B => mac!(Sha256),
        0x000C => mac!(Sha384),
        _ => None,
    }
}

/// The TPM hash `alg` (SHA-256 or SHA-384) of the concatenated `parts`.
fn hash_with(alg: u16, parts: &[&[u8]]) -> Option<Vec<u8>> {
    macro_rules! digest {
        ($h:ty) => {{
            let mut h = <$h>::new();
            for p in parts {
                h.update(p);
            }
            Some(h.finalize().to_vec())
        }};
    }
    match alg {
        0x000B => digest!(Sha256),
        0x000C => digest!(Sha384),
        _ => None,
    }
}

/// KDFa (Part 1 §11.4.10.2): counter-mode HMAC with `label` ‖ 0, `u`, `v` and the bit count.
fn kdfa(alg: u16, key: &[u8], label: &[u8], u: &[u8], v: &[u8], bits: u32) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 1u32;
    while out.len() * 8 < bits as usize {
        out.extend(hmac_with(
            alg,
            key,
            &[&i.to_be_bytes(), label, &[0], u, v, &bits.to_be_bytes()],
        )?);
        i += 1;
    }
    out.truncate(bits as usize / 8);
    Some(out)
}

/// KDFe (Part 1 §11.4.10.3): counter-mode hash of `Z`, `label` ‖ 0, `u`, `v`.
fn kdfe(alg: u16, z: &[u8], label: &[u8], u: &[u8], v: &[u8], bits: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 1u32;
    while out.len() * 8 < bits {
        out.extend(hash_with(alg, &[&i.to_be_bytes(), z, label, &[0], u, v])?);
        i += 1;
    }
    out.truncate(bits / 8);
    Some(out)
}

fn tpm2b(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as u16).to_be_bytes());
    out.extend(b);
}

/// The Name of an object: nameAlg ‖ H_nameAlg(TPMT_PUBLIC) (Part 1 §16), SHA-256 or SHA-384.
pub fn object_name(public: &[u8]) -> Option<Vec<u8>> {
    let alg = u16::from_be_bytes(public.get(2..4)?.try_into().ok()?);
    let d = hash_with(alg, &[public])?;
    Some([alg.to_be_bytes().to_vec(), d].concat())
}

/// A random-byte source for the `rsa` crate's OAEP padding: the verifier's own `random`.
struct Rng<'a>(&'a mut dyn FnMut(&mut [u8]));

impl rsa::rand_core::TryRng for Rng<'_> {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        (self.0)(&mut b);
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        (self.0)(&mut b);
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        (self.0)(dst);
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for Rng<'_> {}

/// The credential seed for an ECC EK (Part 1 Annex C.6.1): an ephemeral key on the EK's curve,
/// `seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x)`. Returns (seed, TPM2B_ENCRYPTED_SECRET
/// contents = the ephemeral point as TPMS_ECC_POINT).
macro_rules! ecc_seed {
    ($curve:ident, $x:expr, $y:expr, $name_alg:expr, $bits:expr, $random:expr) => {{
        use $curve::elliptic_curve::point::AffineCoordinates;
        let ek = $curve::PublicKey::from_sec1_bytes(&[&[4u8][..], $x, $y].concat()).ok()?;
        let mut d = vec![0u8; $x.len()];
        let eph = loop {
            ($random)(&mut d);
            if let Ok(k) = $curve::SecretKey::from_slice(&d) {
                break k;
            }
        };
        let z = $curve::ecdh::diffie_hellman(eph.to_nonzero_scalar(), ek.as_affine());
        let p = eph.public_key();
        let (ex, ey) = (p.as_affine().x().to_vec(), p.as_affine().y().to_vec());
        let seed = kdfe($name_alg, z.raw_secret_bytes(), b"IDENTITY", &ex, $x, $bits)?;
        let mut secret = Vec::new();
        tpm2b(&mut secret, &ex);
        tpm2b(&mut secret, &ey);
        Some((seed, secret))
    }};
}

fn ecc_p256_seed(x: &[u8], y: &[u8], alg: u16, bits: usize, random: Random) -> Seed {
    ecc_seed!(p256, x, y, alg, bits, random)
}

fn ecc_p384_seed(x: &[u8], y: &[u8], alg: u16, bits: usize, random: Random) -> Seed {
    ecc_seed!(p384, x, y, alg, bits, random)
}

type Random<'a> = &'a mut dyn FnMut(&mut [u8]);
type Seed = Option<(Vec<u8>, Vec<u8>)>;

/// The credential seed for an RSA EK (Part 1 Annex B.10.3): a random seed of the nameAlg's
/// digest size, RSAES-OAEP encrypted to the EK with the nameAlg and the label "IDENTITY\0".
/// Returns (seed, TPM2B_ENCRYPTED_SECRET contents = the ciphertext).
fn rsa_seed(n: &[u8], e: u32, alg: u16, bits: usize, random: Random) -> Seed {
    use rsa::{BoxedUint, Oaep, PublicKey};
    let key = PublicKey::new(
        BoxedUint::from_be_slice(n, (n.len() * 8) as u32).ok()?,
        BoxedUint::from(u64::from(e)),
    )
    .ok()?;
    let mut seed = vec![0u8; bits / 8];
    random(&mut seed);
    let mut rng = Rng(random);
    let label = &b"IDENTITY\0"[..];
    let secret = match alg {
        0x000B => key.encrypt(&mut rng, Oaep::<Sha256>::new_with_label(label), &seed),
        0x000C => key.encrypt(&mut rng, Oaep::<Sha384>::new_with_label(label), &seed),
        _ => return None,
    }
    .ok()?;
    Some((seed, secret))
}

/// TPM2_MakeCredential done by the verifier (Part 1 §24.4) for an EK of the TCG templates: the
/// seed is shared with the EK (ECDH for ECC, Annex C.6.1; RSA-OAEP for RSA, Annex B.10.3); the
/// credential is AES-CFB encrypted under `KDFa(nameAlg, seed, "STORAGE", name)` (the EK's
/// symmetric key size) and MACed with `KDFa(nameAlg, seed, "INTEGRITY")`. Fresh values (the
/// ephemeral key or the seed, OAEP's padding) come from `random`. Returns
/// (TPM2B_ID_OBJECT contents, TPM2B_ENCRYPTED_SECRET contents).
pub fn make_credential(
    ek_public: &[u8],
    ak_name: &[u8],
    credential: &[u8],
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(Vec<u8>, Vec<u8>), VerifyError> {
    use cfb_mode::cipher::KeyIvInit;
    let bad = |what: &str| VerifyError::Activation(format!("MakeCredential: {what}"));
    let ek = parse_ek_public(ek_public).ok_or_else(|| bad("not an EK"))?;
    let alg = ek.name_alg();
    let bits = match alg {
        0x000B => 256,
        0x000C => 384,
        _ => return Err(bad("nameAlg is not SHA-256 or SHA-384")),
    };
    let (seed, sym_bits) = match &ek {
        EkPublic::Ecc {
            curve: 3,
            x,
            y,
            sym_bits,
            ..
        } => (ecc_p256_seed(x, y, alg, bits, random), *sym_bits),
        EkPublic::Ecc {
            curve: 4,
            x,
            y,
            sym_bits,
            ..
        } => (ecc_p384_seed(x, y, alg, bits, random), *sym_bits),
        EkPublic::Rsa { n, e, sym_bits, .. } => (rsa_seed(n, *e, alg, bits, random), *sym_bits),
        EkPublic::Ecc { .. } => return Err(bad("the EK's curve is not P-256 or P-384")),
    };
    let (seed, secret) = seed.ok_or_else(|| bad("the EK's public key is not usable"))?;
    let sym = kdfa(alg, &seed, b"STORAGE", ak_name, &[], u32::from(sym_bits))
        .ok_or_else(|| bad("KDFa"))?;
    let mut enc = Vec::new();
    tpm2b(&mut enc, credential);
    match sym_bits {
        128 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&sym, &[0u8; 16])
            .map_err(|_| bad("AES-128"))?
            .encrypt(&mut enc),
        256 => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(&sym, &[0u8; 16])
            .map_err(|_| bad("AES-256"))?
            .encrypt(&mut enc),
        _ => return Err(bad("the EK's AES key size")),
    }
    let hmac_key =
        kdfa(alg, &seed, b"INTEGRITY", &[], &[], bits as u32).ok_or_else(|| bad("KDFa"))?;
    let integrity = hmac_with(alg, &hmac_key, &[&enc, ak_name]).ok_or_else(|| bad("HMAC"))?;
    let mut id_object = Vec::new();
    tpm2b(&mut id_object, &integrity);
    id_object.extend(enc);
    Ok((id_object, secret))
}

/// The AK is a restricted signing key fixed to its TPM (TPMA_OBJECT fixedTPM, fixedParent,
/// sensitiveDataOrigin, restricted, sign; Part 2 §8.3) and not a decryption key.
pub fn check_ak_attributes(ak_public: &[u8]) -> Result<u32, VerifyError> {
    let attrs = ak_public
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(VerifyError::AkAttributes(0))?;
    let need = 0x2 | 0x10 | 0x20 | 0x1_0000 | 0x4_0000;
    if attrs & need != need || attrs & 0x2_0000 != 0 {
        return Err(VerifyError::AkAttributes(attrs));
    }
    Ok(attrs)
}

/// The credential came back: the AK named in MakeCredential is in the TPM that holds the EK.
pub fn check_activation(
    recovered: Result<Vec<u8>, String>,
    credential: &[u8],
) -> Result<String, VerifyError> {
    match recovered {
        Ok(c) if c == credential => Ok("ActivateCredential returned our secret".into()),
        Ok(_) => Err(VerifyError::Activation("another secret came back".into())),
        Err(e) => Err(VerifyError::Activation(e)),
    }
}

// ---- d. quote -----------------------------------------------------------------------------------

/// The parts of a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (Part 2 §10.12.12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// extraData (the nonce).
    pub extra_data: Vec<u8>,
    /// The TPML_PCR_SELECTION bytes.
    pub pcr_select: Vec<u8>,
    /// pcrDigest.
    pub pcr_digest: Vec<u8>,
    /// clockInfo.clock.
    pub clock: u64,
}

/// Parse a quote's TPMS_ATTEST.
pub fn parse_quote(m: &[u8]) -> Result<Quote, VerifyError> {
    struct R<'a>(&'a [u8], usize);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], VerifyError> {
            let s = self
                .0
                .get(self.1..self.1 + n)
                .ok_or_else(|| VerifyError::QuoteContent("truncated TPMS_ATTEST".into()))?;
            self.1 += n;
            Ok(s)
        }
        fn u16(&mut self) -> Result<usize, VerifyError> {
            let b = self.take(2)?;
            Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
        }
        fn tpm2b(&mut self) -> Result<&'a [u8], VerifyError> {
            let n = self.u16()?;
            self.take(n)
        }
    }
    let bad = |w: &str| VerifyError::QuoteContent(w.into());
    let mut r = R(m, 0);
    if r.take(4)? != 0xFF54_4347u32.to_be_bytes() {
        return Err(bad("magic is not TPM_GENERATED_VALUE"));
    }
    if r.take(2)? != 0x8018u16.to_be_bytes() {
        return Err(bad("not TPM_ST_ATTEST_QUOTE"));
    }
    r.tpm2b()?; // qualifiedSigner
    let extra_data = r.tpm2b()?.to_vec();
    let clock = u64::from_be_bytes(r.take(8)?.try_into().unwrap_or_default());
    r.take(4 + 4 + 1)?; // resetCount, restartCount, safe
    r.take(8)?; // firmwareVersion
    let sel_start = r.1;
    let count = u32::from_be_bytes(r.take(4)?.try_into().unwrap_or_default());
    for _ in 0..count {
        r.take(2)?;
        let n = usize::from(r.take(1)?[0]);
        r.take(n)?;
    }
    let pcr_select = m[sel_start..r.1].to_vec();
    let pcr_digest = r.tpm2b()?.to_vec();
    Ok(Quote {
        extra_data,
        pcr_select,
        pcr_digest,
        clock,
    })
}

/// The AK's ECDSA signature (TPMT_SIGNATURE, P-256 / SHA-256) over the TPMS_ATTEST verifies,
/// and extraData is our nonce.
pub fn check_quote(
    ak_public: &[u8],
    msg: &[u8],
    sig: &[u8],
    nonce: &[u8],
) -> Result<Quote, VerifyError> {
    let (x, y) = ecc_public_xy(ak_public).ok_or(VerifyError::QuoteSignature)?;
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], &x, &y].concat())
        .map_err(|_| VerifyError::QuoteSignature)?;
    // TPMT_SIGNATURE: sigAlg ECDSA (0x18), hash SHA-256 (0x0B), r, s.
    if sig.get(..4) != Some(&[0x00, 0x18, 0x00, 0x0B]) {
        return Err(VerifyError::QuoteSignature);
    }
    let rn = usize::from(u16::from_be_bytes([sig[4], sig[5]]));
    let r = sig.get(6..6 + rn).ok_or(VerifyError::QuoteSignature)?;
    let sn = usize::from(u16::from_be_bytes(
        sig.get(6 + rn..8 + rn)
            .and_then(|b| b.try_into().ok())
            .ok_or(VerifyError::QuoteSignature)?,
    ));
    let s = sig
        .get(8 + rn..8 + rn + sn)
        .ok_or(VerifyError::QuoteSignature)?;
    let pad = |v: &[u8]| {
        let mut b = [0u8; 32];
        b[32 - v.len().min(32)..].copy_from_slice(&v[v.len().saturating_sub(32)..]);
        b
    };
    let signature = p256::ecdsa::Signature::from_scalars(pad(r), pad(s))
        .map_err(|_| VerifyError::QuoteSignature)?;
    vk.verify_prehash(&Sha256::digest(msg), &signature)
        .map_err(|_| VerifyError::QuoteSignature)?;
    let q = parse_quote(msg)?;
    if q.extra_data != nonce {
        return Err(VerifyError::QuoteContent(format!(
            "extraData {} is not our nonce {}",
            hex(&q.extra_data),
            hex(nonce)
        )));
    }
    Ok(q)
}

// ---- e. event log -----------------------------------------------------------------------------

/// SHA-256 of the replayed SHA-256 PCRs in `pcrs` equals the quote's pcrDigest.
pub fn check_pcr_digest(
    q: &Quote,
    events: &[Event],
    pcrs: &[u32],
) -> Result<Vec<[u8; 32]>, VerifyError> {
    let (b256, _) = eventlog::replay(events);
    let values: Vec<[u8; 32]> = pcrs.iter().map(|&i| b256[i as usize]).collect();
    let mut h = Sha256::new();
    for v in &values {
        h.update(v);
    }
    let replayed = h.finalize().to_vec();
    if replayed != q.pcr_digest {
        return Err(VerifyError::PcrDigest {
            quoted: hex(&q.pcr_digest),
            replayed: hex(&replayed),
        });
    }
    Ok(values)
}

/// Each measured event (not EV_NO_ACTION / EV_SEPARATOR) is the policy's, in order.
pub fn check_event_policy(events: &[Event], p: &ReferencePolicy) -> Result<String, VerifyError> {
    let measured: Vec<&Event> = events
        .iter()
        .filter(|e| {
            !matches!(
                e.event_type,
                eventlog::EV_NO_ACTION | eventlog::EV_SEPARATOR
            )
        })
        .collect();
    for (i, want) in p.events.iter().enumerate() {
        let Some(e) = measured.get(i) else {
            return Err(VerifyError::EventPolicy(format!(
                "{} (PCR {}) was not measured",
                want.name, want.pcr
            )));
        };
        if e.pcr != want.pcr
            || eventlog::type_name(e.event_type) != want.event_type
            || e.sha384[..] != unhex(&want.sha384)?[..]
        {
            return Err(VerifyError::EventPolicy(format!(
                "{} (PCR {}): measured {} {}…, reference {}…",
                want.name,
                want.pcr,
                eventlog::type_name(e.event_type),
                &hex(&e.sha384)[..16],
                &want.sha384[..16.min(want.sha384.len())]
            )));
        }
    }
    if measured.len() != p.events.len() {
        return Err(VerifyError::EventPolicy(format!(
            "{} events measured, {} in the reference",
            measured.len(),
            p.events.len()
        )));
    }
    Ok(format!(
        "{} measured events match the reference",
        measured.len()
    ))
}

/// Run every check against `attester`, trusting the ARKs `roots` and `policy`. Fresh nonces
/// come from `random`. Returns the appraisal and everything received.
pub fn verify(
    attester: &mut dyn Attester,
    roots: &[PinnedArk],
    policy: &ReferencePolicy,
    random: &mut dyn FnMut(&mut [u8]),
) -> (Appraisal, Collected) {
    let mut a = Appraisal::default();
    let mut c = Collected::default();
    let skip = || Err(VerifyError::Skipped);

    // a. The VCEK, up AMD's chain to a pinned root.
    let chain = attester
        .amd_certificates()
        .map_err(VerifyError::Attester)
        .and_then(|certs| {
            c.amd = certs;
            check_amd_chain(&c.amd, roots)
        });
    let vcek = match chain {
        Ok((key, hw_id, chain)) => {
            let [_, ask, _] = &chain.subjects;
            let ask_cn = amd_chain::common_name(ask);
            a.record(
                "a.amd-chain",
                Ok(format!(
                    "{} (pinned) → {ask_cn} → VCEK, RSASSA-PSS/SHA-384",
                    chain.root.name
                )),
            );
            Some((key, hw_id))
        }
        Err(e) => {
            a.record("a.amd-chain", Err(e));
            None
        }
    };

    // a. SVSM attestation with a fresh nonce.
    let mut nonce = [0u8; 64];
    random(&mut nonce);
    c.nonce = nonce.to_vec();
    a.nonces.push(hex(&nonce));
    let svsm = attester.svsm_attest(&nonce);
    let svsm_report = match (&svsm, &vcek) {
        (Ok((raw, manifest)), Some((vcek, hw_id))) => {
            c.report = raw.clone();
            c.manifest = manifest.clone();
            let r = check_report_signature(raw, vcek)
                .and_then(|r| check_vcek_chip(hw_id.as_deref(), &r).map(|()| r));
            let ok = a.record(
                "a.report-signature",
                r.as_ref()
                    .map(|r| {
                        format!(
                            "VCEK signature, report v{}, chip {}…",
                            r.version,
                            &hex(&r.chip_id)[..16]
                        )
                    })
                    .map_err(Clone::clone),
            );
            if ok { r.ok() } else { None }
        }
        (Ok((raw, manifest)), None) => {
            c.report = raw.clone();
            c.manifest = manifest.clone();
            a.record("a.report-signature", skip());
            None
        }
        (Err(e), _) => {
            a.record("a.report-signature", Err(VerifyError::Attester(e.clone())));
            None
        }
    };
    match &svsm_report {
        Some(r) => {
            a.record("a.vmpl", check_vmpl(r));
            a.record("a.guest-policy", check_guest_policy(r, policy));
            a.record("a.launch-measurement", check_measurement(r, policy));
            a.record(
                "a.nonce-binding",
                check_nonce_binding(r, &nonce, &c.manifest),
            );
        }
        None => {
            for n in [
                "a.vmpl",
                "a.guest-policy",
                "a.launch-measurement",
                "a.nonce-binding",
            ] {
                a.record(n, skip());
            }
        }
    }

    // b. The EK certificate chain from NV.
    c.ca_cert = attester.nv_read(ekcert::CA_CERT_INDEX).unwrap_or_default();
    // The EK certificate's index is the one of the attested EK's kind (RSA-2048, P-256, P-384).
    let ek_cert_index = parse_ek_public(&c.manifest)
        .map_or(ekcert::EK_CERT_INDEX_P384, |ek| ek.certificate_index());
    c.ek_cert = attester.nv_read(ek_cert_index).unwrap_or_default();
    let ca = match (&svsm_report, &vcek) {
        (Some(r), Some((vcek, _))) => match check_ca_report(&c.ca_cert, vcek, r) {
            Ok((ca, car)) => {
                a.record(
                    "b.ca-report",
                    Ok(format!("CA certificate ({} bytes) carries a VCEK-signed report, same chip and launch", c.ca_cert.len())),
                );
                a.record("b.ca-binding", check_ca_binding(&ca, &car));
                Some(ca)
            }
            Err(e) => {
                a.record("b.ca-report", Err(e));
                a.record("b.ca-binding", skip());
                None
            }
        },
        _ => {
            a.record("b.ca-report", skip());
            a.record("b.ca-binding", skip());
            None
        }
    };
    let ek = match &ca {
        Some(ca) => {
            let r = check_ek_certificate(&c.ek_cert, ca);
            a.record(
                "b.ek-certificate",
                r.as_ref()
                    .map(|_| {
                        format!(
                            "EK certificate ({} bytes) signed by the CA, tcg-kp-EKCertificate",
                            c.ek_cert.len()
                        )
                    })
                    .map_err(Clone::clone),
            );
            r.ok()
        }
        None => {
            a.record("b.ek-certificate", skip());
            None
        }
    };
    let ek_ok = match &ek {
        Some(ek) => a.record(
            "b.ek-matches-manifest",
            check_ek_matches_manifest(ek, &c.manifest),
        ),
        None => a.record("b.ek-matches-manifest", skip()),
    };

    // c. The AK, by MakeCredential / ActivateCredential against the EK.
    c.ak_public = attester.ak_public().unwrap_or_default();
    let ak_attrs = check_ak_attributes(&c.ak_public);
    a.record(
        "c.ak-attributes",
        ak_attrs
            .as_ref()
            .map(|at| format!("restricted signing key, fixedTPM ({at:#010x})"))
            .map_err(Clone::clone),
    );
    if ek_ok {
        let mut credential = [0u8; 32];
        random(&mut credential);
        let made = match object_name(&c.ak_public) {
            Some(name) => make_credential(&c.manifest, &name, &credential, random),
            None => Err(VerifyError::Activation("no AK name".into())),
        };
        match made {
            Ok((id, secret)) => {
                let got = attester.activate_credential(&id, &secret);
                a.record("c.activate-credential", check_activation(got, &credential));
            }
            Err(e) => {
                a.record("c.activate-credential", Err(e));
            }
        }
    } else {
        a.record("c.activate-credential", skip());
    }

    // d. A quote with a fresh nonce.
    let mut qnonce = [0u8; 32];
    random(&mut qnonce);
    c.quote_nonce = qnonce.to_vec();
    a.nonces.push(hex(&qnonce));
    let quote = match attester.quote(&qnonce, &policy.quoted_pcrs) {
        Ok((msg, sig)) => {
            c.quote_msg = msg.clone();
            c.quote_sig = sig.clone();
            let r = check_quote(&c.ak_public, &msg, &sig, &qnonce);
            a.record(
                "d.quote",
                r.as_ref()
                    .map(|q| {
                        format!(
                            "AK signature and nonce; PCRs {:?} (SHA-256)",
                            policy.quoted_pcrs
                        )
                        .replace(", ", ",")
                            + &format!(", clock {} ms", q.clock)
                    })
                    .map_err(Clone::clone),
            );
            r.ok()
        }
        Err(e) => {
            a.record("d.quote", Err(VerifyError::Attester(e)));
            None
        }
    };

    // e. The event log, replayed.
    c.event_log = attester.event_log().unwrap_or_default();
    match eventlog::parse(&c.event_log) {
        Ok(events) => {
            a.record(
                "e.event-log",
                Ok(format!("{} events, SHA-256 and SHA-384", events.len())),
            );
            match &quote {
                Some(q) => {
                    let r = check_pcr_digest(q, &events, &policy.quoted_pcrs);
                    if let Ok(v) = &r {
                        c.quote_pcrs = v.clone();
                    }
                    a.record(
                        "e.replay-matches-quote",
                        r.map(|_| "replayed PCRs give the quoted digest".into()),
                    );
                }
                None => {
                    a.record("e.replay-matches-quote", skip());
                }
            }
            a.record("e.reference-policy", check_event_policy(&events, policy));
        }
        Err(e) => {
            a.record("e.event-log", Err(VerifyError::EventLog(e.to_string())));
            a.record("e.replay-matches-quote", skip());
            a.record("e.reference-policy", skip());
        }
    }
    a.verdict = a.checks.iter().all(|c| c.ok);
    (a, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three TCG EK templates' TPMT_PUBLIC shapes, as the firmware writes them (with the
    /// unique fields of a template), read back.
    #[test]
    fn ek_public_of_each_template() {
        use platform_snp::EkTemplate;
        let mut t = [0u8; 400];
        let n = EkTemplate::RsaL1.write_template(&mut t).unwrap();
        let mut l1 = t[..n].to_vec();
        l1[58] = 0xC5; // a modulus with its top bit set
        match parse_ek_public(&l1).unwrap() {
            EkPublic::Rsa {
                name_alg,
                sym_bits,
                n,
                e,
            } => {
                assert_eq!((name_alg, sym_bits, e), (0x000B, 128, 65_537));
                assert_eq!((n.len(), n[0]), (256, 0xC5));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_ek_public(&l1).unwrap().certificate_index(),
            0x01C0_0002
        );
        assert_eq!(parse_ek_public(&l1).unwrap().label(), "RSA-2048");
        assert_eq!(parse_ek_public(&l1[..313]), None);
        let n = EkTemplate::EccP256L2.write_template(&mut t).unwrap();
        let l2 = parse_ek_public(&t[..n]).unwrap();
        assert_eq!(
            (l2.name_alg(), l2.label(), l2.certificate_index()),
            (0x000B, "P-256".into(), 0x01C0_000A)
        );
        // H-3's template has empty x, y: not a key yet.
        let n = EkTemplate::EccP384H3.write_template(&mut t).unwrap();
        assert_eq!(parse_ek_public(&t[..n]), None);
    }
}
