//! AMD's certificate chain for SEV-SNP (AMD 57230 §2.1): the ARK (AMD Root Key, RSA-4096,
//! self-signed) signs the ASK (AMD SEV Key, RSA-4096), which signs the VCEK certificate (the
//! chip's P-384 report-signing key). Every signature is RSASSA-PSS with SHA-384, MGF1-SHA-384
//! and a 48-byte salt.
//!
//! [`verify_chain`] walks ARK → ASK → VCEK and trusts only a pinned ARK public key
//! ([`PinnedArk`]: the SHA-384 of its DER SubjectPublicKeyInfo). [`AMD_ARKS`] pins AMD's
//! published ARKs for Milan, Genoa and Turin; [`SIMULATED_ARK`] pins the simulated root that
//! the simulated AMD-SP ([`crate::amdsp`]) chains to ([`sim`]).
//!
//! Parsing is x509-cert's, RSA is the `rsa` crate's; nothing here is hand-written ASN.1.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

use rsa::pkcs1::RsaPssParams;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey, pss};
use sha2::{Digest, Sha384};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::asn1::{BitString, ObjectIdentifier, OctetString, UtcTime};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::amdsp::AmdSpConfig;
use crate::snp_verify::hex;

/// id-RSASSA-PSS (RFC 4055).
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
/// id-sha384.
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
/// id-mgf1.
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
/// AMD's salt length (the SHA-384 output size).
const SALT_LEN: u8 = 48;
/// ARK and ASK modulus size.
const RSA_BITS: usize = 4096;

/// A trusted ARK: a name for people and the SHA-384 of its DER SubjectPublicKeyInfo (hex).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedArk {
    /// "ARK-Milan".
    pub name: &'static str,
    /// SHA-384 of the DER SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha384: &'static str,
}

/// AMD's published ARKs (kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain), pinned by
/// key. The certificates are kept in `host-sim/tests/data/amd/` and a test recomputes the pins.
pub const AMD_ARKS: [PinnedArk; 3] = [
    PinnedArk {
        name: "ARK-Milan",
        spki_sha384: "1249f67f15cf229a4069195e1a9ce537d1765ef706a1f4a123c36be9518786515d25ecc007f366b564d2b3f31c48082e",
    },
    PinnedArk {
        name: "ARK-Genoa",
        spki_sha384: "32ab53a6ce5ec14926207396e5c475ae768a6a9831b7e860b5acf2e1c1dff222bc5a8bfc43eb5e06393189c1f246d880",
    },
    PinnedArk {
        name: "ARK-Turin",
        spki_sha384: "3475f08a9727f8ac9a1deaea5f2a2097aa59d64d05c2a678c229c873e6359d3a6926287a2a22cd5f88a385e333a2fcc5",
    },
];

/// The simulated AMD-SP's root ([`sim::ARK_DER`]); never trust it outside the simulator.
pub const SIMULATED_ARK: PinnedArk = PinnedArk {
    name: "simulated ARK-Milan",
    spki_sha384: "4b835496471bc6b291522c86a836c0ef9ed4b5f36a764c9773f2fe4b11d4e928eb014a2d6f4d228321efda09ae5c263f",
};

/// Which certificate of the chain.
pub type Which = &'static str;

/// Why a chain was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// A certificate does not parse.
    Parse(Which, String),
    /// The ARK's key is not pinned: the chain ends in another root.
    UntrustedRoot {
        /// The ARK's subject.
        subject: String,
        /// SHA-384 of its SubjectPublicKeyInfo.
        spki_sha384: String,
    },
    /// A certificate is not signed with RSASSA-PSS / SHA-384 / salt 48 (what it says instead).
    Algorithm(Which, String),
    /// The ARK or ASK key is not RSA-4096.
    Key(Which, String),
    /// A certificate's issuer is not the subject of the next one up.
    Issuer(Which),
    /// A certificate's signature does not verify with its issuer's key.
    Signature(Which),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(w, e) => write!(f, "{w} certificate: {e}"),
            Self::UntrustedRoot {
                subject,
                spki_sha384,
            } => write!(
                f,
                "untrusted root: the ARK ({subject}, key SHA-384 {}…) is not a pinned AMD root",
                &spki_sha384[..16]
            ),
            Self::Algorithm(w, a) => {
                write!(
                    f,
                    "{w} certificate is signed with {a}, not RSASSA-PSS/SHA-384"
                )
            }
            Self::Key(w, e) => write!(f, "{w} key: {e}"),
            Self::Issuer(w) => write!(f, "{w} certificate's issuer is not the next subject up"),
            Self::Signature(w) => write!(f, "{w} certificate signature does not verify"),
        }
    }
}

impl core::error::Error for ChainError {}

/// A chain that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    /// The pinned root it ends in.
    pub root: PinnedArk,
    /// The subjects, ARK, ASK, VCEK.
    pub subjects: [String; 3],
}

/// The CN of an RFC 4514 name string ("CN=SEV-Milan,O=…" → "SEV-Milan"), or the whole string.
pub fn common_name(name: &str) -> &str {
    name.split(',')
        .find_map(|part| part.strip_prefix("CN="))
        .unwrap_or(name)
}

fn parse(der: &[u8], which: Which) -> Result<Certificate, ChainError> {
    Certificate::from_der(der).map_err(|e| ChainError::Parse(which, e.to_string()))
}

/// The SHA-384 of a certificate's DER SubjectPublicKeyInfo.
pub fn spki_sha384(cert: &Certificate) -> Option<[u8; 48]> {
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    Some(Sha384::digest(spki).into())
}

fn rsa_key(cert: &Certificate, which: Which) -> Result<PublicKey, ChainError> {
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| ChainError::Key(which, e.to_string()))?;
    let key = PublicKey::from_public_key_der(&spki)
        .map_err(|e| ChainError::Key(which, format!("not an RSA key ({e})")))?;
    let bits = key.size().saturating_mul(8);
    if bits != RSA_BITS {
        return Err(ChainError::Key(which, format!("RSA-{bits}, not RSA-4096")));
    }
    Ok(key)
}

/// The signature algorithm is RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt, in
/// both the certificate and its TBS part.
fn check_algorithm(cert: &Certificate, which: Which) -> Result<(), ChainError> {
    let alg = cert.signature_algorithm();
    let bad = || ChainError::Algorithm(which, alg.oid.to_string());
    if alg.oid.to_string() != OID_RSASSA_PSS || *alg != *cert.tbs_certificate().signature() {
        return Err(bad());
    }
    let params = alg.parameters.as_ref().ok_or_else(bad)?;
    let params_der = params.to_der().map_err(|_| bad())?;
    let p = RsaPssParams::<Any>::from_der(&params_der).map_err(|_| bad())?;
    let mgf_hash = p.mask_gen.parameters.as_ref().map(|h| h.oid.to_string());
    if p.hash.oid.to_string() != OID_SHA384
        || p.mask_gen.oid.to_string() != OID_MGF1
        || mgf_hash.as_deref() != Some(OID_SHA384)
        || p.salt_len != SALT_LEN
    {
        return Err(ChainError::Algorithm(
            which,
            format!(
                "RSASSA-PSS with hash {}, MGF {} ({mgf_hash:?}), salt {}",
                p.hash.oid, p.mask_gen.oid, p.salt_len
            ),
        ));
    }
    Ok(())
}

/// `cert` is signed by `issuer` (its issuer name is the issuer's subject, its RSASSA-PSS
/// signature verifies with the issuer's key).
fn check_signed(
    cert: &Certificate,
    which: Which,
    issuer: &Certificate,
    issuer_key: &PublicKey,
) -> Result<(), ChainError> {
    check_algorithm(cert, which)?;
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Err(ChainError::Issuer(which));
    }
    let tbs = cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| ChainError::Parse(which, e.to_string()))?;
    let sig = cert
        .signature()
        .as_bytes()
        .and_then(|b| pss::Signature::try_from(b).ok())
        .ok_or(ChainError::Signature(which))?;
    pss::VerifyingKey::<Sha384>::new_with_salt_len(issuer_key.clone(), usize::from(SALT_LEN))
        .verify(&tbs, &sig)
        .map_err(|_| ChainError::Signature(which))
}

/// Walk ARK → ASK → VCEK (each DER): the ARK's key must be one of `roots` and sign itself, the
/// ARK sign the ASK, the ASK sign the VCEK certificate. Checked in that order, so a chain
/// ending in another root fails with [`ChainError::UntrustedRoot`] whatever else it holds.
pub fn verify_chain(
    ark_der: &[u8],
    ask_der: &[u8],
    vcek_der: &[u8],
    roots: &[PinnedArk],
) -> Result<VerifiedChain, ChainError> {
    let ark = parse(ark_der, "ARK")?;
    let ask = parse(ask_der, "ASK")?;
    let vcek = parse(vcek_der, "VCEK")?;
    let pin = hex(&spki_sha384(&ark).ok_or(ChainError::Key("ARK", "unencodable".into()))?);
    let root =
        roots
            .iter()
            .find(|r| r.spki_sha384 == pin)
            .ok_or_else(|| ChainError::UntrustedRoot {
                subject: ark.tbs_certificate().subject().to_string(),
                spki_sha384: pin.clone(),
            })?;
    let ark_key = rsa_key(&ark, "ARK")?;
    check_signed(&ark, "ARK", &ark, &ark_key)?;
    let ask_key = rsa_key(&ask, "ASK")?;
    check_signed(&ask, "ASK", &ark, &ark_key)?;
    check_signed(&vcek, "VCEK", &ask, &ask_key)?;
    Ok(VerifiedChain {
        root: *root,
        subjects: [&ark, &ask, &vcek].map(|c| c.tbs_certificate().subject().to_string()),
    })
}

/// Split an `ASK_ARK.pem` bundle (AMD KDS `cert_chain`: the ASK, then the ARK; either order is
/// accepted, told apart by the ARK being self-issued) into (ASK, ARK) DER.
pub fn split_ask_ark(pem_or_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let certs: Vec<Certificate> = if pem_or_der.starts_with(b"-----") {
        Certificate::load_pem_chain(pem_or_der).map_err(|e| format!("bad PEM chain: {e}"))?
    } else {
        let mut rest = pem_or_der;
        let mut v = Vec::new();
        while !rest.is_empty() {
            let (c, r) = Certificate::from_der_partial(rest).map_err(|e| e.to_string())?;
            v.push(c);
            rest = r;
        }
        v
    };
    let [a, b] = <[Certificate; 2]>::try_from(certs)
        .map_err(|v| format!("{} certificates, expected the ASK and the ARK", v.len()))?;
    let self_issued =
        |c: &Certificate| c.tbs_certificate().issuer() == c.tbs_certificate().subject();
    let (ask, ark) = if self_issued(&b) { (a, b) } else { (b, a) };
    Ok((
        ask.to_der().map_err(|e| e.to_string())?,
        ark.to_der().map_err(|e| e.to_string())?,
    ))
}

// ---- issuing: the simulated root ---------------------------------------------------------------

struct Profile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// The distinguished name AMD uses (`OU=Engineering, C=US, L=Santa Clara, ST=CA, O=…, CN=cn`),
/// with the organization given.
pub fn amd_name(org: &str, cn: &str) -> Result<Name, String> {
    Name::from_str(&format!(
        "CN={cn},O={org},ST=CA,L=Santa Clara,C=US,OU=Engineering"
    ))
    .map_err(|e| e.to_string())
}

fn utc(secs: u64) -> Result<Time, String> {
    UtcTime::from_unix_duration(Duration::from_secs(secs))
        .map(Time::UtcTime)
        .map_err(|e| e.to_string())
}

/// Issue a certificate for `spki` signed by `signer` with RSASSA-PSS / SHA-384 / salt 48.
pub fn issue(
    signer: &PrivateKey,
    issuer: &Name,
    subject: &Name,
    spki: SubjectPublicKeyInfoOwned,
    serial: u32,
    extensions: Vec<Extension>,
) -> Result<Vec<u8>, String> {
    // 2025-01-01 .. 2049-12-31 (UTCTime, as AMD's certificates).
    let validity = Validity::new(utc(1_735_689_600)?, utc(2_524_521_599)?);
    let profile = Profile {
        issuer: issuer.clone(),
        subject: subject.clone(),
        extensions,
    };
    let builder = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki)
        .map_err(|e| e.to_string())?;
    let signer =
        pss::SigningKey::<Sha384>::new_with_salt_len(signer.clone(), usize::from(SALT_LEN));
    let cert = builder
        .build::<_, pss::Signature>(&signer)
        .map_err(|e| e.to_string())?;
    cert.to_der().map_err(|e| e.to_string())
}

/// The extensions of an ARK or ASK: a CA that signs certificates and CRLs.
pub fn ca_extensions() -> Result<Vec<Extension>, String> {
    let ext = |oid: ObjectIdentifier, critical: bool, der: Vec<u8>| -> Result<Extension, String> {
        Ok(Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(der).map_err(|e| e.to_string())?,
        })
    };
    let bc = BasicConstraints {
        ca: true,
        path_len_constraint: None,
    };
    let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    Ok(vec![
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.19"),
            true,
            bc.to_der().map_err(|e| e.to_string())?,
        )?,
        ext(
            ObjectIdentifier::new_unwrap("2.5.29.15"),
            true,
            ku.to_der().map_err(|e| e.to_string())?,
        )?,
    ])
}

/// The SubjectPublicKeyInfo of a P-384 point (`04 ‖ X ‖ Y`).
pub fn p384_spki(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, String> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(
                Any::encode_from(&ObjectIdentifier::new_unwrap("1.3.132.0.34"))
                    .map_err(|e| e.to_string())?,
            ),
        },
        subject_public_key: BitString::from_bytes(point).map_err(|e| e.to_string())?,
    })
}

/// The VCEK extensions of AMD 57230 §3.2: the TCB SPLs (1.3.6.1.4.1.3704.1.3.{1,2,3,8}, DER
/// INTEGERs, Milan / Genoa layout) and hwID (…1.4, the 64-byte CHIP_ID).
fn vcek_extensions(config: &AmdSpConfig) -> Result<Vec<Extension>, String> {
    let tcb = config.tcb.to_le_bytes();
    let mut v = Vec::new();
    for (arc, byte) in [(1, 0usize), (2, 1), (3, 6), (8, 7)] {
        let spl = tcb.get(byte).copied().unwrap_or_default();
        v.push(Extension {
            extn_id: ObjectIdentifier::new(&format!("1.3.6.1.4.1.3704.1.3.{arc}"))
                .map_err(|e| e.to_string())?,
            critical: false,
            extn_value: OctetString::new(u32::from(spl).to_der().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?,
        });
    }
    v.push(Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4"),
        critical: false,
        extn_value: OctetString::new(config.chip_id.to_vec()).map_err(|e| e.to_string())?,
    });
    Ok(v)
}

/// The simulated AMD root of the genuine shape, generated once (see
/// `host-sim/data/sim-amd/README.md`): an RSA-4096 ARK, an RSA-4096 ASK and, for `--tamper root`,
/// a forged root with the same names and other keys. Only the ASK keys are kept: the VCEK
/// certificate of each simulated chip is issued at start-up.
pub mod sim {
    use super::{
        AmdSpConfig, Decode, DecodePrivateKey, PrivateKey, issue, p384_spki, vcek_extensions,
    };
    use x509_cert::Certificate;

    /// The simulated ARK certificate (self-signed, pinned as [`super::SIMULATED_ARK`]).
    pub const ARK_DER: &[u8] = include_bytes!("../data/sim-amd/ark.der");
    /// The simulated ASK certificate (signed by the ARK).
    pub const ASK_DER: &[u8] = include_bytes!("../data/sim-amd/ask.der");
    /// The simulated ASK's private key (PKCS#8 PEM): public test data, never a secret.
    pub const ASK_KEY_PEM: &str = include_str!("../data/sim-amd/ask-key.pem");
    /// A forged root: same names as the simulated ARK, another key.
    pub const FORGED_ARK_DER: &[u8] = include_bytes!("../data/sim-amd/forged-ark.der");
    /// The ASK under the forged root.
    pub const FORGED_ASK_DER: &[u8] = include_bytes!("../data/sim-amd/forged-ask.der");
    /// The forged ASK's private key.
    pub const FORGED_ASK_KEY_PEM: &str = include_str!("../data/sim-amd/forged-ask-key.pem");
    /// The organization name of the simulated certificates.
    pub const ORG: &str = "host-sim simulated AMD";

    /// Issue the VCEK certificate of a simulated chip (`point`: its P-384 key, `04 ‖ X ‖ Y`)
    /// under the ASK `ask_der` whose key is `ask_key_pem`.
    pub fn issue_vcek(
        ask_key_pem: &str,
        ask_der: &[u8],
        point: &[u8],
        config: &AmdSpConfig,
    ) -> Result<Vec<u8>, String> {
        let key = PrivateKey::from_pkcs8_pem(ask_key_pem).map_err(|e| e.to_string())?;
        let ask = Certificate::from_der(ask_der).map_err(|e| e.to_string())?;
        let subject = super::amd_name(ORG, "SEV-VCEK")?;
        issue(
            &key,
            ask.tbs_certificate().subject(),
            &subject,
            p384_spki(point)?,
            0,
            vcek_extensions(config)?,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../platform-snp/tests/data/snp")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn pins_are_the_published_arks() {
        for (file, pin) in [
            ("ask_ark_milan.pem", AMD_ARKS[0]),
            ("ask_ark_genoa.pem", AMD_ARKS[1]),
            ("ask_ark_turin.pem", AMD_ARKS[2]),
        ] {
            let (_, ark) = split_ask_ark(&data(file)).unwrap();
            let ark = Certificate::from_der(&ark).unwrap();
            assert_eq!(hex(&spki_sha384(&ark).unwrap()), pin.spki_sha384, "{file}");
            assert_eq!(
                common_name(&ark.tbs_certificate().subject().to_string()),
                pin.name
            );
        }
        let sim_ark = Certificate::from_der(sim::ARK_DER).unwrap();
        assert_eq!(
            hex(&spki_sha384(&sim_ark).unwrap()),
            SIMULATED_ARK.spki_sha384
        );
    }

    #[test]
    fn genuine_chain_verifies_and_each_link_is_checked() {
        let (ask, ark) = split_ask_ark(&data("ask_ark_milan.pem")).unwrap();
        let vcek = data("vcek.der");
        let v = verify_chain(&ark, &ask, &vcek, &AMD_ARKS).unwrap();
        assert_eq!(v.root.name, "ARK-Milan");
        // Trusting only the simulated root: refused as another root.
        assert!(matches!(
            verify_chain(&ark, &ask, &vcek, &[SIMULATED_ARK]),
            Err(ChainError::UntrustedRoot { .. })
        ));
        // One bit of each certificate's signature.
        let flip = |der: &[u8]| {
            let mut d = der.to_vec();
            let n = d.len();
            d[n - 10] ^= 1;
            d
        };
        assert_eq!(
            verify_chain(&ark, &flip(&ask), &vcek, &AMD_ARKS),
            Err(ChainError::Signature("ASK"))
        );
        assert_eq!(
            verify_chain(&ark, &ask, &flip(&vcek), &AMD_ARKS),
            Err(ChainError::Signature("VCEK"))
        );
        // Genoa's ASK did not sign a Milan VCEK.
        let (genoa_ask, genoa_ark) = split_ask_ark(&data("ask_ark_genoa.pem")).unwrap();
        assert_eq!(
            verify_chain(&genoa_ark, &genoa_ask, &vcek, &AMD_ARKS),
            Err(ChainError::Issuer("VCEK"))
        );
        // The ASK first or the ARK first: the same.
        let (ask2, ark2) = split_ask_ark(&[ark.clone(), ask.clone()].concat()).unwrap();
        assert_eq!((ask2, ark2), (ask, ark));
    }

    #[test]
    fn simulated_and_forged_roots() {
        let config = AmdSpConfig::from_seed(3);
        let point = crate::amdsp::AmdSp::new(3).vcek_public_sec1();
        let vcek = sim::issue_vcek(sim::ASK_KEY_PEM, sim::ASK_DER, &point, &config).unwrap();
        let v = verify_chain(sim::ARK_DER, sim::ASK_DER, &vcek, &[SIMULATED_ARK]).unwrap();
        assert_eq!(
            v.subjects.map(|s| common_name(&s).to_string()),
            [
                "ARK-Milan".to_string(),
                "SEV-Milan".to_string(),
                "SEV-VCEK".to_string()
            ]
        );
        assert!(matches!(
            verify_chain(sim::ARK_DER, sim::ASK_DER, &vcek, &AMD_ARKS),
            Err(ChainError::UntrustedRoot { .. })
        ));
        let forged = sim::issue_vcek(
            sim::FORGED_ASK_KEY_PEM,
            sim::FORGED_ASK_DER,
            &point,
            &config,
        )
        .unwrap();
        assert!(matches!(
            verify_chain(
                sim::FORGED_ARK_DER,
                sim::FORGED_ASK_DER,
                &forged,
                &[SIMULATED_ARK]
            ),
            Err(ChainError::UntrustedRoot { .. })
        ));
        // The forged ASK under the genuine simulated ARK (same names): its signature fails.
        assert_eq!(
            verify_chain(sim::ARK_DER, sim::FORGED_ASK_DER, &forged, &[SIMULATED_ARK]),
            Err(ChainError::Signature("ASK"))
        );
        // The VCEK certificate carries the chip's hwID.
        let parsed = crate::snp_verify::parse_vcek(&vcek).unwrap();
        assert_eq!(parsed.hw_id.as_deref(), Some(&config.chip_id[..]));
    }
}
