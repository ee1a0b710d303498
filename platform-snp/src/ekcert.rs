//! EK certificates rooted in the SEV-SNP report, made by the firmware at boot without a heap.
//!
//! At each boot the firmware draws a fresh P-384 **CA key**, asks the AMD-SP for an attestation
//! report whose REPORT_DATA is `SHA-384(CA public key, 97-byte SEC 1 uncompressed) ‖ 16 zero
//! bytes`, and issues two X.509 v3 certificates (RFC 5280), both ecdsa-with-SHA384:
//!
//! - the **CA certificate**, self-issued, `cA = TRUE, pathLen 0`, carrying the raw 1184-byte
//!   ATTESTATION_REPORT (AMD 56860 Table 21) in the extension [`OID_SNP_REPORT`];
//! - the **EK certificate**, signed by the CA, shaped as the TCG EK Credential Profile for TPM
//!   Family 2.0 (v2.5, §3.2) asks: empty subject with a critical subjectAltName holding the TPM
//!   manufacturer, model and version (§3.2.9, §3.2.10), critical basicConstraints `cA = FALSE`
//!   (§3.2.12), critical keyUsage keyAgreement for an ECC EK and keyEncipherment for an RSA EK
//!   (§3.2.7), extKeyUsage tcg-kp-EKCertificate (§3.2.16), subjectDirectoryAttributes with
//!   tcg-at-tpmSpecification (§3.2.11) and authorityKeyIdentifier (§3.2.13).
//!
//! Both are stored by [`provision`] as platform-created NV indices that are write-locked
//! (TPMA_NV_WRITEDEFINE, then TPM2_NV_WriteLock): the EK certificate at the profile's index
//! ([`EK_CERT_INDEX_P384`] for H-3, [`EK_CERT_INDEX_P256`] for L-2, [`EK_CERT_INDEX_RSA2048`]
//! for L-1, TCG EK Credential Profile §2.2.1.5), the CA certificate at [`CA_CERT_INDEX`].
//! Whatever the EK, the certificates are signed by the P-384 CA (ecdsa-with-SHA384); an RSA
//! EK's key is an rsaEncryption SubjectPublicKeyInfo (RFC 3279 §2.3.1). A CA private key lives
//! only inside [`provision`] and is wiped when it returns: nothing after boot can issue another
//! certificate under it. At boot the certificates are encoded in the service's page and the
//! report received in its scratch buffer, not on the boot stack.
//!
//! Encoding is one small non-generic DER writer over the output buffer ([`Der`]: X.690 §10
//! definite lengths in the fewest octets, no `alloc`; no ASN.1 is parsed here), the OIDs the
//! `der` crate's `ObjectIdentifier` constants encoded at compile time. The `der` crate's own
//! generic encoders, one monomorphized copy per nesting of tuple types, cost the firmware 20 KB
//! of code for the same bytes (README, "Firmware fitness"). The TBSCertificate is encoded in
//! place inside the certificate's SEQUENCE, signed, and the algorithm and signature follow it.
//! Host tests check the certificates with x509-cert (strict DER), OpenSSL and the verifier.

use der::asn1::ObjectIdentifier;
use vtpm::crypto::ecc::{self, Curve, EccPrivate};
use vtpm::crypto::hash::HashAlg;
use vtpm::{MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, Platform, PlatformError, Tpm};

use crate::PAGE_SIZE;
use crate::boot::{Buffers, Ek};
use crate::report::REPORT_SIZE;

/// NV index of the ECC NIST P-384 EK certificate (TCG EK Credential Profile §2.2.1.5).
pub const EK_CERT_INDEX_P384: u32 = 0x01C0_0016;
/// NV index of the ECC NIST P-256 EK certificate (TCG EK Credential Profile §2.2.1.5).
pub const EK_CERT_INDEX_P256: u32 = 0x01C0_000A;
/// NV index of the RSA 2048 EK certificate (TCG EK Credential Profile §2.2.1.5).
pub const EK_CERT_INDEX_RSA2048: u32 = 0x01C0_0002;
/// NV index of the per-boot CA certificate, in the TCG range for EK certificates and their
/// chains (0x01C00000-0x01C07FFF); the same index the TDX vTPM uses for its CA certificate.
pub const CA_CERT_INDEX: u32 = 0x01C0_0100;
/// Largest CA certificate (one with a 1184-byte report is about 1.8 KB).
pub const MAX_CA_CERT: usize = 2048;
/// Largest EK certificate (a P-384 one is about 0.6 KB, an RSA-2048 one 0.8 KB).
pub const MAX_EK_CERT: usize = 1024;

/// The extension carrying the raw SEV-SNP ATTESTATION_REPORT in the CA certificate
/// (non-critical; `extnValue` holds the DER of an OCTET STRING of the 1184 report bytes, as
/// RFC 5280 §4.1 has extnValue carry a DER value). The project holds no OID arc of its own;
/// this is the value open-source RA-TLS implementations for SEV-SNP share for "raw SNP report",
/// so their tools find the report where they look for it.
pub const OID_SNP_REPORT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.58270.1.1");
/// tcg-kp-EKCertificate (TCG EK Credential Profile §3.2.16).
pub const OID_TCG_KP_EK_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.133.8.1");
/// tcg-at-tpmManufacturer (TCG EK Credential Profile §3.2.9).
pub const OID_TCG_AT_TPM_MANUFACTURER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.133.2.1");
/// tcg-at-tpmModel.
pub const OID_TCG_AT_TPM_MODEL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.2");
/// tcg-at-tpmVersion.
pub const OID_TCG_AT_TPM_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.3");
/// tcg-at-tpmSpecification (TCG EK Credential Profile §3.2.11).
pub const OID_TCG_AT_TPM_SPECIFICATION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.133.2.16");

const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
const OID_SUBJECT_DIRECTORY_ATTRIBUTES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.9");
const OID_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// CA subject and issuer: organization.
pub const CA_ORGANIZATION: &str = "vtpm";
/// CA subject and issuer: common name.
pub const CA_COMMON_NAME: &str = "vTPM EK CA (SEV-SNP)";
/// TPM_PT_MANUFACTURER of the vtpm core ("VTPM"), as the profile writes it: `id:` and 8 hex
/// digits.
pub const TPM_MANUFACTURER: &str = "id:5654504D";
/// The TPM model (TPM_PT_VENDOR_STRING_1..4 of the vtpm core).
pub const TPM_MODEL: &str = "ephemeral vTPM";
/// Family "2.0", level 0, revision 164 (TPM_PT_FAMILY_INDICATOR, LEVEL, REVISION).
const TPM_SPEC: (&str, u32, u32) = ("2.0", 0, 164);

/// Why a certificate could not be made or stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EkCertError {
    /// The platform's entropy source failed while drawing the CA key.
    Entropy,
    /// The platform gave no hardware evidence (or not a 1184-byte report).
    Evidence(PlatformError),
    /// The EK's TPMT_PUBLIC is not an ECC P-256 / P-384 or an RSA-2048 key.
    EkPublic,
    /// DER encoding failed (the output buffer is too small).
    Encoding,
    /// ECDSA signing failed.
    Signing,
    /// A TPM command storing the certificates failed: its command code and response code.
    Nv {
        /// TPM_CC.
        command: u32,
        /// TPM_RC.
        rc: u32,
    },
}

/// The per-boot CA key: a P-384 private scalar (wiped on drop) and its public point.
pub struct CaKey {
    d: EccPrivate,
    /// SEC 1 uncompressed public point `04 ‖ X ‖ Y`.
    public: [u8; 97],
}

impl core::fmt::Debug for CaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CaKey")
            .field("d", &"[REDACTED]")
            .field("public", &self.public)
            .finish()
    }
}

impl CaKey {
    /// A fresh key from `fill` (full-entropy bytes: FIPS 186-4 B.4.1 extra-bits generation).
    pub fn generate(
        fill: impl FnOnce(&mut [u8]) -> Result<(), PlatformError>,
    ) -> Result<Self, EkCertError> {
        let d = ecc::try_random_private(Curve::P384, fill)
            .map_err(|_| EkCertError::Entropy)?
            .ok_or(EkCertError::Entropy)?;
        let q = ecc::public_from_private(Curve::P384, d.expose()).ok_or(EkCertError::Entropy)?;
        let mut public = [0u8; 97];
        let (tag, xy) = public.split_at_mut(1);
        let (x, y) = xy.split_at_mut(48);
        tag.copy_from_slice(&[4]);
        x.copy_from_slice(q.x.as_slice().get(..48).ok_or(EkCertError::Entropy)?);
        y.copy_from_slice(q.y.as_slice().get(..48).ok_or(EkCertError::Entropy)?);
        Ok(Self { d, public })
    }

    /// The SEC 1 uncompressed public point (97 bytes).
    pub fn public_sec1(&self) -> &[u8; 97] {
        &self.public
    }

    /// The REPORT_DATA that binds this key: SHA-384 of the SEC 1 point, then 16 zero bytes.
    pub fn report_data(&self) -> [u8; 64] {
        report_data_for(&self.public)
    }

    /// Key identifier: the leftmost 160 bits of SHA-256 of the subjectPublicKey (RFC 7093 §2,
    /// method 1), used for subjectKeyIdentifier / authorityKeyIdentifier.
    pub fn key_id(&self) -> [u8; 20] {
        key_id(&self.public)
    }

    /// ECDSA P-384 / SHA-384 over `tbs`, DER ECDSA-Sig-Value (RFC 5480 §2.2 / RFC 5758 §3.2)
    /// into `out`; returns its length.
    fn sign(&self, tbs: &[u8], out: &mut [u8]) -> Result<usize, EkCertError> {
        let digest = HashAlg::Sha384.digest(&[tbs]);
        let sig = ecc::ecdsa_sign(Curve::P384, self.d.expose(), digest.as_slice(), &[])
            .ok_or(EkCertError::Signing)?;
        let mut w = Der::new(out);
        w.open(tag::SEQUENCE);
        w.uint(sig.r.as_slice());
        w.uint(sig.s.as_slice());
        w.close();
        w.finish()
    }
}

/// REPORT_DATA binding a CA public key (SEC 1 uncompressed): SHA-384 of it, then 16 zero bytes.
pub fn report_data_for(ca_public_sec1: &[u8]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    let d = HashAlg::Sha384.digest(&[ca_public_sec1]);
    if let Some(dst) = rd.get_mut(..48) {
        dst.copy_from_slice(d.as_slice().get(..48).unwrap_or(&[0; 48]));
    }
    rd
}

fn key_id(public_sec1: &[u8]) -> [u8; 20] {
    let mut id = [0u8; 20];
    let d = HashAlg::Sha256.digest(&[public_sec1]);
    id.copy_from_slice(d.as_slice().get(..20).unwrap_or(&[0; 20]));
    id
}

/// A positive 16-byte serial number from `label` and a public key (RFC 5280 §4.1.2.2: unique
/// per CA, at most 20 octets): a per-boot key makes it unique.
fn serial(label: &[u8], public: &[u8]) -> [u8; 16] {
    let mut s = [0u8; 16];
    let d = HashAlg::Sha256.digest(&[label, public]);
    s.copy_from_slice(d.as_slice().get(..16).unwrap_or(&[1; 16]));
    if let Some(first) = s.first_mut() {
        *first = (*first & 0x7F) | 0x40;
    }
    s
}

/// Upper-case hex of `bytes` into `out`; returns the text.
fn hex<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        if let [hi, lo] = pair {
            *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = DIGITS.get(usize::from(b & 0xF)).copied().unwrap_or(b'0');
        }
    }
    let n = bytes.len().saturating_mul(2).min(out.len());
    core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("")
}

// ---- DER (X.690 §8, §10) into a fixed buffer ------------------------------------------------

/// The DER tags (X.690 §8.1.2) the certificates use.
mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[n] EXPLICIT`: context-specific, constructed.
    pub const fn explicit(n: u8) -> u8 {
        0xA0 | n
    }
    /// `[n] IMPLICIT` of a primitive type: context-specific, primitive.
    pub const fn implicit(n: u8) -> u8 {
        0x80 | n
    }
}

/// The content octets of an OID constant, taken at compile time.
const fn oid(o: &'static ObjectIdentifier) -> &'static [u8] {
    o.as_bytes()
}

const DER_ECDSA_SHA384: &[u8] = oid(&OID_ECDSA_SHA384);
const DER_EC_PUBLIC_KEY: &[u8] = oid(&OID_EC_PUBLIC_KEY);
const DER_SECP384R1: &[u8] = oid(&OID_SECP384R1);
const DER_PRIME256V1: &[u8] = oid(&OID_PRIME256V1);
const DER_RSA_ENCRYPTION: &[u8] = oid(&OID_RSA_ENCRYPTION);
const DER_ORGANIZATION: &[u8] = oid(&OID_ORGANIZATION);
const DER_COMMON_NAME: &[u8] = oid(&OID_COMMON_NAME);
const DER_SERIAL_NUMBER: &[u8] = oid(&OID_SERIAL_NUMBER);
const DER_SUBJECT_DIRECTORY_ATTRIBUTES: &[u8] = oid(&OID_SUBJECT_DIRECTORY_ATTRIBUTES);
const DER_SUBJECT_KEY_IDENTIFIER: &[u8] = oid(&OID_SUBJECT_KEY_IDENTIFIER);
const DER_KEY_USAGE: &[u8] = oid(&OID_KEY_USAGE);
const DER_SUBJECT_ALT_NAME: &[u8] = oid(&OID_SUBJECT_ALT_NAME);
const DER_BASIC_CONSTRAINTS: &[u8] = oid(&OID_BASIC_CONSTRAINTS);
const DER_AUTHORITY_KEY_IDENTIFIER: &[u8] = oid(&OID_AUTHORITY_KEY_IDENTIFIER);
const DER_EXT_KEY_USAGE: &[u8] = oid(&OID_EXT_KEY_USAGE);
const DER_SNP_REPORT: &[u8] = oid(&OID_SNP_REPORT);
const DER_TCG_KP_EK_CERTIFICATE: &[u8] = oid(&OID_TCG_KP_EK_CERTIFICATE);
const DER_TCG_AT_TPM_MANUFACTURER: &[u8] = oid(&OID_TCG_AT_TPM_MANUFACTURER);
const DER_TCG_AT_TPM_MODEL: &[u8] = oid(&OID_TCG_AT_TPM_MODEL);
const DER_TCG_AT_TPM_VERSION: &[u8] = oid(&OID_TCG_AT_TPM_VERSION);
const DER_TCG_AT_TPM_SPECIFICATION: &[u8] = oid(&OID_TCG_AT_TPM_SPECIFICATION);

/// Deepest nesting of constructed values: the EK certificate's subjectAltName (Certificate,
/// TBSCertificate, [3], Extensions, Extension, extnValue, GeneralNames, [4], Name, RDN,
/// AttributeTypeAndValue).
const MAX_DEPTH: usize = 12;

/// The definite-length header of a value with `len` content octets, in the fewest octets
/// (X.690 §8.1.3, §10.1), and its size; values of 64 KiB or more are not made here.
fn header(tag: u8, len: usize) -> Option<([u8; 4], usize)> {
    let [_, _, hi, lo] = u32::try_from(len).ok()?.to_be_bytes();
    match len {
        0..=0x7F => Some(([tag, lo, 0, 0], 2)),
        0x80..=0xFF => Some(([tag, 0x81, lo, 0], 3)),
        0x100..=0xFFFF => Some(([tag, 0x82, hi, lo], 4)),
        _ => None,
    }
}

/// A DER writer over a fixed buffer, one non-generic encoder for both certificates. A
/// constructed value is opened with room for a 4-byte header, its content written after it,
/// and closed: the header then takes its definite length in the fewest octets and the content
/// moves down over the octets it did not need. A failure (buffer full, nesting deeper than
/// [`MAX_DEPTH`], a value of 64 KiB or more) is latched and reported by [`Der::finish`].
struct Der<'a> {
    buf: &'a mut [u8],
    pos: usize,
    open: [usize; MAX_DEPTH],
    depth: usize,
    ok: bool,
}

impl<'a> Der<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            open: [0; MAX_DEPTH],
            depth: 0,
            ok: true,
        }
    }

    /// Raw octets.
    #[inline(never)]
    fn put(&mut self, b: &[u8]) {
        let end = self.pos.checked_add(b.len());
        match end.and_then(|end| Some((end, self.buf.get_mut(self.pos..end)?))) {
            Some((end, dst)) if self.ok => {
                dst.copy_from_slice(b);
                self.pos = end;
            }
            _ => self.ok = false,
        }
    }

    /// A header for `len` content octets.
    fn head(&mut self, tag: u8, len: usize) {
        match header(tag, len) {
            Some((h, n)) => self.put(h.get(..n).unwrap_or(&[])),
            None => self.ok = false,
        }
    }

    /// A primitive value.
    #[inline(never)]
    fn prim(&mut self, tag: u8, content: &[u8]) {
        self.head(tag, content.len());
        self.put(content);
    }

    /// A primitive value whose content is `first` then `rest` (a BIT STRING's unused-bits octet,
    /// an INTEGER's leading zero).
    fn prim2(&mut self, tag: u8, first: u8, rest: &[u8]) {
        match rest.len().checked_add(1) {
            Some(len) => self.head(tag, len),
            None => self.ok = false,
        }
        self.put(&[first]);
        self.put(rest);
    }

    /// Open a constructed value (SEQUENCE, SET, `[n] EXPLICIT`, or an OCTET STRING / BIT
    /// STRING holding DER); its content follows until [`Der::close`].
    #[inline(never)]
    fn open(&mut self, tag: u8) {
        match (self.open.get_mut(self.depth), self.depth.checked_add(1)) {
            (Some(slot), Some(depth)) => {
                *slot = self.pos;
                self.depth = depth;
                self.put(&[tag, 0x82, 0, 0]);
            }
            _ => self.ok = false,
        }
    }

    /// Close the innermost open value: write its header and move its content down to it.
    #[inline(never)]
    fn close(&mut self) {
        let Some(depth) = self.depth.checked_sub(1) else {
            self.ok = false;
            return;
        };
        self.depth = depth;
        let start = self.open.get(depth).copied().unwrap_or(usize::MAX);
        let Some(region) = self.buf.get_mut(start..self.pos) else {
            self.ok = false;
            return;
        };
        let tag = region.first().copied().unwrap_or(0);
        let Some((h, n)) = region.len().checked_sub(4).and_then(|len| header(tag, len)) else {
            self.ok = false;
            return;
        };
        let shift = 4usize.saturating_sub(n);
        let end = region.len().saturating_sub(shift);
        for i in n..end {
            if let Some(b) = region.get(i.saturating_add(shift)).copied()
                && let Some(d) = region.get_mut(i)
            {
                *d = b;
            }
        }
        for (d, s) in region.iter_mut().zip(h.iter().take(n)) {
            *d = *s;
        }
        self.pos = self.pos.saturating_sub(shift);
    }

    /// OBJECT IDENTIFIER from its content octets.
    fn oid(&mut self, content: &[u8]) {
        self.prim(tag::OID, content);
    }

    /// INTEGER of the unsigned big-endian `be`: leading zero octets dropped, one zero octet
    /// added when the top bit is set (X.690 §8.3.2).
    fn uint(&mut self, be: &[u8]) {
        let first = be
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(be.len().saturating_sub(1));
        let v = be.get(first..).unwrap_or(&[]);
        match v.first() {
            Some(b) if b & 0x80 == 0 => self.prim(tag::INTEGER, v),
            _ => self.prim2(tag::INTEGER, 0, v),
        }
    }

    /// `BOOLEAN TRUE` (X.690 §11.1: FF).
    fn boolean_true(&mut self) {
        self.prim(tag::BOOLEAN, &[0xFF]);
    }

    /// BIT STRING with `unused` trailing bits.
    fn bits(&mut self, unused: u8, content: &[u8]) {
        self.prim2(tag::BIT_STRING, unused, content);
    }

    /// SEQUENCE { OBJECT IDENTIFIER } (an AlgorithmIdentifier without parameters or an
    /// extKeyUsage with one purpose).
    fn seq_oid(&mut self, content: &[u8]) {
        self.open(tag::SEQUENCE);
        self.oid(content);
        self.close();
    }

    /// An RDN of one AttributeTypeAndValue: SET { SEQUENCE { type, string } }.
    fn rdn(&mut self, oid: &[u8], string_tag: u8, value: &[u8]) {
        self.open(tag::SET);
        self.open(tag::SEQUENCE);
        self.oid(oid);
        self.prim(string_tag, value);
        self.close();
        self.close();
    }

    /// Open an Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue
    /// OCTET STRING } (RFC 5280 §4.1; `critical` written only when TRUE, as DER requires):
    /// the DER of the value follows, then [`Der::close2`].
    fn extension(&mut self, oid: &[u8], critical: bool) {
        self.open(tag::SEQUENCE);
        self.oid(oid);
        if critical {
            self.boolean_true();
        }
        self.open(tag::OCTET_STRING);
    }

    /// Close two values (an extension).
    fn close2(&mut self) {
        self.close();
        self.close();
    }

    /// The length of what was written, if everything fit and every value was closed.
    fn finish(&self) -> Result<usize, EkCertError> {
        if self.ok && self.depth == 0 {
            Ok(self.pos)
        } else {
            Err(EkCertError::Encoding)
        }
    }
}

/// AlgorithmIdentifier ecdsa-with-SHA384 (parameters absent, RFC 5758 §3.2).
fn ecdsa_sha384(w: &mut Der<'_>) {
    w.seq_oid(DER_ECDSA_SHA384);
}

/// The CA's Name: O = vtpm, CN = vTPM EK CA (SEV-SNP), serialNumber = hex of the key id's
/// first 8 bytes (a per-boot CA gets a distinct name).
fn ca_name(w: &mut Der<'_>, key_id_hex: &str) {
    w.open(tag::SEQUENCE);
    w.rdn(
        DER_ORGANIZATION,
        tag::UTF8_STRING,
        CA_ORGANIZATION.as_bytes(),
    );
    w.rdn(DER_COMMON_NAME, tag::UTF8_STRING, CA_COMMON_NAME.as_bytes());
    w.rdn(
        DER_SERIAL_NUMBER,
        tag::PRINTABLE_STRING,
        key_id_hex.as_bytes(),
    );
    w.close();
}

/// Open a certificate and its TBSCertificate and write the fields both certificates share
/// (RFC 5280 §4.1): version v3, `serial`, ecdsa-with-SHA384, the CA as issuer, and the
/// validity: from 2025-01-01 (firmware has no trusted wall clock) to 99991231235959Z, "no
/// well-defined expiration date" (§4.1.2.5).
fn begin_certificate(w: &mut Der<'_>, serial: &[u8], key_id_hex: &str) {
    w.open(tag::SEQUENCE);
    w.open(tag::SEQUENCE);
    w.open(tag::explicit(0));
    w.uint(&[2]);
    w.close();
    w.uint(serial);
    ecdsa_sha384(w);
    ca_name(w, key_id_hex);
    w.open(tag::SEQUENCE);
    w.prim(tag::UTC_TIME, b"250101000000Z");
    w.prim(tag::GENERALIZED_TIME, b"99991231235959Z");
    w.close();
}

/// SubjectPublicKeyInfo for an EC key (RFC 5480 §2).
fn ec_spki(w: &mut Der<'_>, curve: &[u8], sec1: &[u8]) {
    w.open(tag::SEQUENCE);
    w.open(tag::SEQUENCE);
    w.oid(DER_EC_PUBLIC_KEY);
    w.oid(curve);
    w.close();
    w.bits(0, sec1);
    w.close();
}

/// SubjectPublicKeyInfo for an RSA key (RFC 3279 §2.3.1): rsaEncryption with NULL parameters,
/// the key RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017
/// §A.1.1; the modulus gets the leading zero octet its set top bit needs).
fn rsa_spki(w: &mut Der<'_>, n: &[u8], e: u32) {
    w.open(tag::SEQUENCE);
    w.open(tag::SEQUENCE);
    w.oid(DER_RSA_ENCRYPTION);
    w.prim(tag::NULL, &[]);
    w.close();
    w.open(tag::BIT_STRING);
    w.put(&[0]); // unused bits
    w.open(tag::SEQUENCE);
    w.uint(n);
    w.uint(&e.to_be_bytes());
    w.close();
    w.close();
    w.close();
}

/// Finish a certificate whose TBSCertificate is open in `w` (after [`begin_certificate`]):
/// close it, sign it and add `ecdsa-with-SHA384, BIT STRING signature` (RFC 5280 §4.1);
/// returns the certificate's length.
fn finish_certificate(ca: &CaKey, mut w: Der<'_>) -> Result<usize, EkCertError> {
    w.close();
    // The certificate's header was opened at 0 with 4 octets: the TBSCertificate follows it.
    let mut sig = [0u8; 112];
    let tbs = w.buf.get(4..w.pos).ok_or(EkCertError::Encoding)?;
    if !w.ok {
        return Err(EkCertError::Encoding);
    }
    let sig_len = ca.sign(tbs, &mut sig)?;
    ecdsa_sha384(&mut w);
    w.bits(0, sig.get(..sig_len).ok_or(EkCertError::Signing)?);
    w.close();
    w.finish()
}

/// The self-issued CA certificate carrying `report` (the raw ATTESTATION_REPORT) into `out`;
/// returns its length.
pub fn ca_certificate(ca: &CaKey, report: &[u8], out: &mut [u8]) -> Result<usize, EkCertError> {
    let kid = ca.key_id();
    let mut kid_hex = [0u8; 16];
    let kid_hex = hex(kid.get(..8).unwrap_or(&[]), &mut kid_hex);
    let serial = serial(b"vtpm CA", &ca.public);
    let mut w = Der::new(out);
    begin_certificate(&mut w, &serial, kid_hex);
    ca_name(&mut w, kid_hex);
    ec_spki(&mut w, DER_SECP384R1, &ca.public);
    w.open(tag::explicit(3));
    w.open(tag::SEQUENCE);
    // basicConstraints: cA TRUE, pathLenConstraint 0 (RFC 5280 §4.2.1.9).
    w.extension(DER_BASIC_CONSTRAINTS, true);
    w.open(tag::SEQUENCE);
    w.boolean_true();
    w.uint(&[0]);
    w.close();
    w.close2();
    // keyUsage: keyCertSign (5) and cRLSign (6) (RFC 5280 §4.2.1.3).
    w.extension(DER_KEY_USAGE, true);
    w.bits(1, &[0x06]);
    w.close2();
    w.extension(DER_SUBJECT_KEY_IDENTIFIER, false);
    w.prim(tag::OCTET_STRING, &kid);
    w.close2();
    w.extension(DER_SNP_REPORT, false);
    w.prim(tag::OCTET_STRING, report);
    w.close2();
    w.close();
    w.close();
    finish_certificate(ca, w)
}

/// The EK's curve and SEC 1 uncompressed point (up to 97 bytes) from its TPMT_PUBLIC (Part 2
/// §12.2.4): an ECC key with the EK templates' shape (symmetric AES, scheme and kdf NULL).
pub fn ek_point(public: &[u8], sec1: &mut [u8; 97]) -> Result<(Curve, usize), EkCertError> {
    let bad = EkCertError::EkPublic;
    let u16_at = |b: &[u8], off: usize| -> Result<u16, EkCertError> {
        b.get(off..)
            .and_then(|s| s.first_chunk::<2>())
            .map(|c| u16::from_be_bytes(*c))
            .ok_or(bad)
    };
    if u16_at(public, 0)? != 0x0023 {
        return Err(bad);
    }
    // type, nameAlg, objectAttributes, authPolicy.
    let policy_len = usize::from(u16_at(public, 8)?);
    let mut off = policy_len.checked_add(10).ok_or(bad)?;
    // symmetric: algorithm, then keyBits and mode unless TPM_ALG_NULL.
    let sym = u16_at(public, off)?;
    off = off
        .checked_add(if sym == 0x0010 { 2 } else { 6 })
        .ok_or(bad)?;
    // scheme: NULL only (an EK is a restricted decryption key).
    if u16_at(public, off)? != 0x0010 {
        return Err(bad);
    }
    let curve = Curve::from_id(u16_at(public, off.checked_add(2).ok_or(bad)?)?).ok_or(bad)?;
    if u16_at(public, off.checked_add(4).ok_or(bad)?)? != 0x0010 {
        return Err(bad);
    }
    off = off.checked_add(6).ok_or(bad)?;
    let size = curve.size();
    let mut n = 1usize;
    if let Some(tag) = sec1.first_mut() {
        *tag = 4;
    }
    for _ in 0..2 {
        let len = usize::from(u16_at(public, off)?);
        let start = off.checked_add(2).ok_or(bad)?;
        let end = start.checked_add(len).ok_or(bad)?;
        let coord = public.get(start..end).ok_or(bad)?;
        if len != size {
            return Err(bad);
        }
        let dst_end = n.checked_add(size).ok_or(bad)?;
        sec1.get_mut(n..dst_end).ok_or(bad)?.copy_from_slice(coord);
        n = dst_end;
        off = end;
    }
    let (x, y) = sec1
        .get(1..n)
        .ok_or(bad)?
        .split_at_checked(size)
        .ok_or(bad)?;
    if off != public.len() || !ecc::validate_point(curve, x, y) {
        return Err(bad);
    }
    Ok((curve, n))
}

/// The modulus (256 bytes, big-endian) and public exponent of an RSA-2048 EK from its
/// TPMT_PUBLIC (Part 2 §12.2.4, TPMS_RSA_PARMS §12.2.3.5): an RSA key with the L-1 template's
/// shape (symmetric AES or NULL, scheme NULL, 2048 bits), an exponent of 0 read as 2^16 + 1
/// (Part 2 §12.2.3.5), a full-size odd modulus.
pub fn ek_rsa_public(public: &[u8]) -> Result<(&[u8], u32), EkCertError> {
    let bad = EkCertError::EkPublic;
    let u16_at = |off: usize| -> Result<u16, EkCertError> {
        public
            .get(off..)
            .and_then(|s| s.first_chunk::<2>())
            .map(|c| u16::from_be_bytes(*c))
            .ok_or(bad)
    };
    if u16_at(0)? != 0x0001 {
        return Err(bad);
    }
    // type, nameAlg, objectAttributes, authPolicy.
    let policy_len = usize::from(u16_at(8)?);
    let mut off = policy_len.checked_add(10).ok_or(bad)?;
    // symmetric: algorithm, then keyBits and mode unless TPM_ALG_NULL.
    let sym = u16_at(off)?;
    off = off
        .checked_add(if sym == 0x0010 { 2 } else { 6 })
        .ok_or(bad)?;
    // scheme: NULL only (an EK is a restricted decryption key); keyBits 2048.
    if u16_at(off)? != 0x0010 || u16_at(off.checked_add(2).ok_or(bad)?)? != 2048 {
        return Err(bad);
    }
    off = off.checked_add(4).ok_or(bad)?;
    let exponent = public
        .get(off..)
        .and_then(|s| s.first_chunk::<4>())
        .map(|c| u32::from_be_bytes(*c))
        .ok_or(bad)?;
    let e = match exponent {
        0 => 65_537,
        e if e % 2 == 1 && e > 1 => e,
        _ => return Err(bad),
    };
    off = off.checked_add(4).ok_or(bad)?;
    let len = usize::from(u16_at(off)?);
    let start = off.checked_add(2).ok_or(bad)?;
    let end = start.checked_add(len).ok_or(bad)?;
    let n = public.get(start..end).ok_or(bad)?;
    let full_size = n.first().is_some_and(|b| b & 0x80 != 0);
    let odd = n.last().is_some_and(|b| b & 1 == 1);
    if len != 256 || end != public.len() || !full_size || !odd {
        return Err(bad);
    }
    Ok((n, e))
}

/// Whether the core was built with RSA (its `rsa` feature): without it no RSA EK can exist, and
/// the RSA certificate code below is left out of the build.
const CORE_HAS_RSA: bool = vtpm::wire::public::MAX_RSA_KEY_BYTES > 0;

/// An EK's SubjectPublicKeyInfo to encode.
enum Spki<'a> {
    /// EC key: the curve's OID content octets and the SEC 1 uncompressed point.
    Ec {
        curve: &'static [u8],
        sec1: &'a [u8],
    },
    /// RSA key: big-endian modulus and public exponent.
    Rsa { n: &'a [u8], e: u32 },
}

/// The EK certificate for the EK whose TPMT_PUBLIC is `ek_public` (ECC P-256 / P-384 or, with
/// the core's `rsa` feature, RSA-2048), signed by `ca`, into `out`; returns its length. The
/// keyUsage is keyEncipherment (bit 2) for an RSA EK, keyAgreement (bit 4) for an ECC EK (TCG
/// EK Credential Profile §3.2.7).
pub fn ek_certificate(ca: &CaKey, ek_public: &[u8], out: &mut [u8]) -> Result<usize, EkCertError> {
    if ek_public.first_chunk::<2>() == Some(&[0x00, 0x01]) {
        if !CORE_HAS_RSA {
            return Err(EkCertError::EkPublic);
        }
        let (n, e) = ek_rsa_public(ek_public)?;
        return ek_certificate_for(ca, &Spki::Rsa { n, e }, (5, 0x20), out);
    }
    let mut point = [0u8; 97];
    let (curve, n) = ek_point(ek_public, &mut point)?;
    let sec1 = point.get(..n).ok_or(EkCertError::EkPublic)?;
    let curve = match curve {
        Curve::P256 => DER_PRIME256V1,
        Curve::P384 => DER_SECP384R1,
    };
    ek_certificate_for(ca, &Spki::Ec { curve, sec1 }, (3, 0x08), out)
}

/// [`ek_certificate`] for the SubjectPublicKeyInfo `spki` (its key's bytes name the
/// certificate's serial number) and the keyUsage BIT STRING `(unused bits, octet)`.
fn ek_certificate_for(
    ca: &CaKey,
    spki: &Spki<'_>,
    key_usage: (u8, u8),
    out: &mut [u8],
) -> Result<usize, EkCertError> {
    let kid = ca.key_id();
    let mut kid_hex = [0u8; 16];
    let kid_hex = hex(kid.get(..8).unwrap_or(&[]), &mut kid_hex);
    let key = match spki {
        Spki::Ec { sec1, .. } => sec1,
        Spki::Rsa { n, .. } => n,
    };
    let serial = serial(b"vtpm EK", key);
    let mut version = [0u8; 11];
    let version = tpm_version(&mut version);
    let mut w = Der::new(out);
    begin_certificate(&mut w, &serial, kid_hex);
    // Subject empty; the identity is in the critical subjectAltName.
    w.open(tag::SEQUENCE);
    w.close();
    match spki {
        Spki::Ec { curve, sec1 } => ec_spki(&mut w, curve, sec1),
        Spki::Rsa { n, e } => rsa_spki(&mut w, n, *e),
    }
    w.open(tag::explicit(3));
    w.open(tag::SEQUENCE);
    // AuthorityKeyIdentifier { keyIdentifier [0] IMPLICIT } (RFC 5280 §4.2.1.1).
    w.extension(DER_AUTHORITY_KEY_IDENTIFIER, false);
    w.open(tag::SEQUENCE);
    w.prim(tag::implicit(0), &kid);
    w.close();
    w.close2();
    // GeneralNames { directoryName [4] Name } (RFC 5280 §4.2.1.6): TPM manufacturer, model and
    // version, one RDN each (TCG EK Credential Profile §3.2.9).
    w.extension(DER_SUBJECT_ALT_NAME, true);
    w.open(tag::SEQUENCE);
    w.open(tag::explicit(4));
    w.open(tag::SEQUENCE);
    w.rdn(
        DER_TCG_AT_TPM_MANUFACTURER,
        tag::UTF8_STRING,
        TPM_MANUFACTURER.as_bytes(),
    );
    w.rdn(DER_TCG_AT_TPM_MODEL, tag::UTF8_STRING, TPM_MODEL.as_bytes());
    w.rdn(DER_TCG_AT_TPM_VERSION, tag::UTF8_STRING, version.as_bytes());
    w.close();
    w.close();
    w.close();
    w.close2();
    // basicConstraints cA FALSE: the empty SEQUENCE (DEFAULT omitted).
    w.extension(DER_BASIC_CONSTRAINTS, true);
    w.open(tag::SEQUENCE);
    w.close();
    w.close2();
    w.extension(DER_KEY_USAGE, true);
    w.bits(key_usage.0, &[key_usage.1]);
    w.close2();
    w.extension(DER_EXT_KEY_USAGE, false);
    w.seq_oid(DER_TCG_KP_EK_CERTIFICATE);
    w.close2();
    // SubjectDirectoryAttributes { Attribute { tcg-at-tpmSpecification, SET {
    // TPMSpecification { family, level, revision } } } } (§3.2.11).
    let (family, level, revision) = TPM_SPEC;
    w.extension(DER_SUBJECT_DIRECTORY_ATTRIBUTES, false);
    w.open(tag::SEQUENCE);
    w.open(tag::SEQUENCE);
    w.oid(DER_TCG_AT_TPM_SPECIFICATION);
    w.open(tag::SET);
    w.open(tag::SEQUENCE);
    w.prim(tag::UTF8_STRING, family.as_bytes());
    w.uint(&level.to_be_bytes());
    w.uint(&revision.to_be_bytes());
    w.close();
    w.close();
    w.close();
    w.close();
    w.close2();
    w.close();
    w.close();
    finish_certificate(ca, w)
}

/// tcg-at-tpmVersion: `id:` and TPM_PT_FIRMWARE_VERSION_1 (major << 16 | minor) in hex.
fn tpm_version(out: &mut [u8; 11]) -> &str {
    // The core's own version, parsed at compile time (TPM_PT_FIRMWARE_VERSION_1).
    let v = u32::try_from(vtpm::commands::capability::firmware_version() >> 32).unwrap_or(0);
    let (prefix, digits) = out.split_at_mut(3);
    prefix.copy_from_slice(b"id:");
    hex(&v.to_be_bytes(), digits);
    core::str::from_utf8(out).unwrap_or("id:00000000")
}

// ---- Storing the certificates in NV (TPM 2.0 Part 3 §31) ------------------------------------

/// TPMA_NV of the certificate indices (TCG EK Credential Profile §2.2.1.5.1, TPM 2.0 Part 2
/// §13.4): PPWRITE, WRITEDEFINE, PPREAD, OWNERREAD, AUTHREAD, NO_DA, PLATFORMCREATE.
pub const CERT_NV_ATTRIBUTES: u32 =
    0x0001 | 0x2000 | 0x1_0000 | 0x2_0000 | 0x4_0000 | 0x200_0000 | 0x4000_0000;

const RH_PLATFORM: u32 = 0x4000_000C;
const RS_PW: u32 = 0x4000_0009;
const CC_NV_DEFINE_SPACE: u32 = 0x12A;
const CC_NV_WRITE: u32 = 0x137;
const CC_NV_WRITE_LOCK: u32 = 0x138;
/// Bytes per TPM2_NV_Write (TPM_PT_NV_BUFFER_MAX).
const NV_CHUNK: usize = 1024;

/// A TPM command with platformAuth (empty password) in a fixed buffer, reused for each
/// command (one buffer on the stack however many commands are sent).
struct Command {
    buf: [u8; NV_CHUNK + 64],
    len: usize,
    ok: bool,
}

impl Command {
    fn new() -> Self {
        Self {
            buf: [0; NV_CHUNK + 64],
            len: 0,
            ok: true,
        }
    }
    /// Begin the command `cc` on `handles` (what was there before is dropped).
    fn start(&mut self, cc: u32, handles: &[u32]) -> &mut Self {
        self.len = 0;
        self.ok = true;
        self.put(&0x8002u16.to_be_bytes());
        self.put(&[0; 4]);
        self.put(&cc.to_be_bytes());
        for h in handles {
            self.put(&h.to_be_bytes());
        }
        // Authorization area: TPM_RS_PW, empty nonce, continueSession, empty password.
        self.put(&9u32.to_be_bytes());
        self.put(&RS_PW.to_be_bytes());
        self.put(&[0, 0, 1, 0, 0]);
        self
    }
    fn put(&mut self, b: &[u8]) {
        let end = self.len.saturating_add(b.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) if self.ok => {
                dst.iter_mut().zip(b).for_each(|(d, s)| *d = *s);
                self.len = end;
            }
            _ => self.ok = false,
        }
    }
    fn tpm2b(&mut self, b: &[u8]) {
        match u16::try_from(b.len()) {
            Ok(n) => {
                self.put(&n.to_be_bytes());
                self.put(b);
            }
            Err(_) => self.ok = false,
        }
    }
    /// Run it; the response code (TPM_RC_FAILURE if the command did not fit).
    fn run<P: Platform>(&mut self, tpm: &mut Tpm<P>, bufs: &mut Buffers<'_>) -> u32 {
        let size = u32::try_from(self.len).unwrap_or(0);
        if let Some(dst) = self.buf.get_mut(2..6) {
            dst.copy_from_slice(&size.to_be_bytes());
        }
        if !self.ok {
            return 0x101;
        }
        let cmd = self.buf.get(..self.len).unwrap_or(&[]);
        let n = tpm.execute_with_scratch(0, cmd, bufs.rsp, bufs.scratch);
        bufs.rsp
            .get(..n)
            .and_then(|r| r.get(6..10))
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0x101, |b| u32::from_be_bytes(*b))
    }
}

/// Define `index` (platform-created, [`CERT_NV_ATTRIBUTES`], SHA-256 name, empty auth) with
/// `data`'s size, write it in TPM_PT_NV_BUFFER_MAX chunks and write-lock it.
pub fn store_certificate<P: Platform>(
    tpm: &mut Tpm<P>,
    index: u32,
    data: &[u8],
) -> Result<(), EkCertError> {
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut scratch = [0u8; MAX_COMMAND_SIZE];
    let mut bufs = Buffers {
        rsp: &mut rsp,
        scratch: &mut scratch,
    };
    store_certificate_with(tpm, index, data, &mut bufs)
}

/// [`store_certificate`] with the commands run in the caller's buffers (the service's own at
/// boot: no response or scratch buffer on the boot stack).
fn store_certificate_with<P: Platform>(
    tpm: &mut Tpm<P>,
    index: u32,
    data: &[u8],
    bufs: &mut Buffers<'_>,
) -> Result<(), EkCertError> {
    let size = u16::try_from(data.len()).map_err(|_| EkCertError::Encoding)?;
    let check = |command: u32, rc: u32| {
        if rc == 0 {
            Ok(())
        } else {
            Err(EkCertError::Nv { command, rc })
        }
    };
    // TPM2_NV_DefineSpace(TPM_RH_PLATFORM, auth = empty, TPM2B_NV_PUBLIC), Part 3 §31.3.
    let mut c = Command::new();
    c.start(CC_NV_DEFINE_SPACE, &[RH_PLATFORM]).tpm2b(&[]);
    let mut public = [0u8; 14];
    let (h, rest) = public.split_at_mut(4);
    h.copy_from_slice(&index.to_be_bytes());
    let (alg, rest) = rest.split_at_mut(2);
    alg.copy_from_slice(&0x000Bu16.to_be_bytes());
    let (attrs, rest) = rest.split_at_mut(4);
    attrs.copy_from_slice(&CERT_NV_ATTRIBUTES.to_be_bytes());
    let (policy, sz) = rest.split_at_mut(2);
    policy.copy_from_slice(&[0, 0]);
    sz.copy_from_slice(&size.to_be_bytes());
    c.tpm2b(&public);
    check(CC_NV_DEFINE_SPACE, c.run(tpm, bufs))?;
    // TPM2_NV_Write(TPM_RH_PLATFORM, index, chunk, offset), Part 3 §31.7.
    for (i, chunk) in data.chunks(NV_CHUNK).enumerate() {
        let offset = i
            .checked_mul(NV_CHUNK)
            .and_then(|o| u16::try_from(o).ok())
            .ok_or(EkCertError::Encoding)?;
        c.start(CC_NV_WRITE, &[RH_PLATFORM, index]).tpm2b(chunk);
        c.put(&offset.to_be_bytes());
        check(CC_NV_WRITE, c.run(tpm, bufs))?;
    }
    // TPM2_NV_WriteLock(TPM_RH_PLATFORM, index), Part 3 §31.11.
    c.start(CC_NV_WRITE_LOCK, &[RH_PLATFORM, index]);
    check(CC_NV_WRITE_LOCK, c.run(tpm, bufs))
}

/// What [`provision`] made: the sizes of the two certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provisioned {
    /// The EK certificate's NV index.
    pub ek_cert_index: u32,
    /// Its size in bytes.
    pub ek_cert_len: usize,
    /// The CA certificate's size in bytes (at [`CA_CERT_INDEX`]).
    pub ca_cert_len: usize,
}

/// At boot, after the EK exists: draw the CA key, get the report binding it, issue the CA and
/// EK certificates and store them in NV. The CA private key is wiped on return.
pub fn provision<P: Platform>(tpm: &mut Tpm<P>, ek: &Ek) -> Result<Provisioned, EkCertError> {
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut scratch = [0u8; MAX_COMMAND_SIZE];
    let mut page = [0u8; PAGE_SIZE];
    let mut bufs = Buffers {
        rsp: &mut rsp,
        scratch: &mut scratch,
    };
    provision_in(tpm, ek, &mut bufs, &mut page)
}

const _: () = assert!(MAX_CA_CERT <= PAGE_SIZE && REPORT_SIZE <= MAX_COMMAND_SIZE);

/// [`provision`] in the service's buffers, as boot runs it: the report is received in the
/// scratch buffer (free until the first NV command), the certificates are encoded in the
/// service's page and the NV commands answer into its response buffer, so the boot stack holds
/// none of them.
pub(crate) fn provision_in<P: Platform>(
    tpm: &mut Tpm<P>,
    ek: &Ek,
    bufs: &mut Buffers<'_>,
    page: &mut [u8; PAGE_SIZE],
) -> Result<Provisioned, EkCertError> {
    let ca = CaKey::generate(|buf| tpm.platform_mut().fill_entropy(buf))?;
    let cert = page.get_mut(..MAX_CA_CERT).ok_or(EkCertError::Encoding)?;
    cert.fill(0);
    let report = bufs
        .scratch
        .get_mut(..REPORT_SIZE)
        .ok_or(EkCertError::Encoding)?;
    let n = tpm
        .platform_mut()
        .evidence(&ca.report_data(), report)
        .map_err(EkCertError::Evidence)?;
    if n != REPORT_SIZE {
        return Err(EkCertError::Evidence(PlatformError::EvidenceUnavailable));
    }
    let ca_len = ca_certificate(&ca, report, cert)?;
    store_certificate_with(tpm, CA_CERT_INDEX, cert.get(..ca_len).unwrap_or(&[]), bufs)?;
    cert.fill(0);
    let ek_len = ek_certificate(&ca, ek.public(), cert)?;
    let index = ek.template().certificate_index();
    store_certificate_with(tpm, index, cert.get(..ek_len).unwrap_or(&[]), bufs)?;
    Ok(Provisioned {
        ek_cert_index: index,
        ek_cert_len: ek_len,
        ca_cert_len: ca_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An L-1 shaped TPMT_PUBLIC around the modulus `n` (exponent 0).
    fn rsa_public(n: &[u8; 256]) -> Vec<u8> {
        let mut t = [0u8; 400];
        let len = crate::boot::EkTemplate::RsaL1
            .write_template(&mut t)
            .unwrap();
        let mut p = t[..len].to_vec();
        let unique = p.len() - 256;
        p[unique..].copy_from_slice(n);
        p
    }

    fn modulus() -> [u8; 256] {
        let mut n = [0u8; 256];
        for (i, b) in n.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        n[0] |= 0x80;
        n[255] |= 1;
        n
    }

    #[test]
    fn rsa_public_is_read_from_the_l1_shape() {
        let n = modulus();
        let p = rsa_public(&n);
        assert_eq!(p.len(), 314);
        assert_eq!(ek_rsa_public(&p), Ok((&n[..], 65_537)));
        // An explicit exponent, a short modulus, an even or short-top one, a trailing byte,
        // a scheme, an ECC key: refused.
        let mut q = p.clone();
        q[52..56].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(ek_rsa_public(&q).map(|(_, e)| e), Ok(3));
        q[52..56].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        let mut q = p.clone();
        q[313] &= 0xFE;
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        let mut q = p.clone();
        q[58] &= 0x7F;
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        let mut q = p.clone();
        q.push(0);
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        assert_eq!(ek_rsa_public(&p[..313]), Err(EkCertError::EkPublic));
        let mut q = p.clone();
        q[48..50].copy_from_slice(&0x0015u16.to_be_bytes()); // RSAES
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        let mut q = p.clone();
        q[50..52].copy_from_slice(&1024u16.to_be_bytes());
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
        let mut q = p;
        q[1] = 0x23;
        assert_eq!(ek_rsa_public(&q), Err(EkCertError::EkPublic));
    }

    /// The RSA EK certificate carries the canonical RSA-2048 SubjectPublicKeyInfo (RFC 3279
    /// §2.3.1, the bytes OpenSSL writes for any 2048-bit key with e = 65537) and keyUsage
    /// keyEncipherment.
    #[test]
    fn rsa_ek_certificate_has_the_rsa_spki() {
        let mut counter = 0u8;
        let ca = CaKey::generate(|b| {
            b.iter_mut().for_each(|x| {
                counter = counter.wrapping_add(37);
                *x = counter;
            });
            Ok(())
        })
        .unwrap();
        let n = modulus();
        let mut out = [0u8; MAX_EK_CERT];
        let len = ek_certificate(&ca, &rsa_public(&n), &mut out).unwrap();
        let cert = &out[..len];
        let mut spki = vec![
            0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
            0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00, 0x30, 0x82, 0x01, 0x0a,
            0x02, 0x82, 0x01, 0x01, 0x00,
        ];
        spki.extend(n);
        spki.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        assert!(cert.windows(spki.len()).any(|w| w == spki), "no RSA SPKI");
        // keyUsage (2.5.29.15), critical, BIT STRING 05 20: keyEncipherment.
        let ku = [
            0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x05, 0x20,
        ];
        assert!(
            cert.windows(ku.len()).any(|w| w == ku),
            "no keyEncipherment"
        );
        assert!(len < MAX_EK_CERT, "{len}");
    }
}
