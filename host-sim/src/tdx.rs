//! The TDX side of the simulator: a simulated TDX module, a quoting service producing TD quotes
//! in the genuine v4 / v5 format under a simulated PCK chain, and a VMM that relays between a
//! user TD and the vTPM TD with fault injection.
//!
//! - [`SimTdxModule`]: TDs with MRTD / configuration / RTMRs; TDG.MR.REPORT with a MAC
//!   (HMAC-SHA-256 under a per-platform key over REPORTMACSTRUCT bytes 0..224); VERIFYREPORT;
//!   RTMR extends; TDX 1.5 service-TD binding as the 1.5 module does it (TDH.SERVTD.PREBIND /
//!   TDH.SERVTD.BIND into a one-slot binding table, SERVTD_HASH computed at TDH.MR.FINALIZE;
//!   [`platform_tdx::servtd`]).
//! - [`SimQuotingService`]: an ECDSA P-256 attestation key, a QE report over SHA-256(attestation
//!   key ‖ QE auth data) signed by a PCK key, and the PEM chain PCK → PCK Platform CA → root CA
//!   (all simulated; `verify-tdx-quote --root` takes the simulated root).
//! - [`Vmm`]: the untrusted host: it queues WaitForRequest / ReportStatus for the vTPM TD and
//!   SendMessage / ReceiveMessage for user TDs, and can drop, alter, replay, truncate or re-key
//!   the messages it carries ([`Fault`]).
// Lengths of simulator-built structures fit their fields; the `expect`s are on operations with
// fixed, valid inputs (HMAC keys of any size, P-256 signing with a valid key, PEM of DER).
#![allow(clippy::cast_possible_truncation, clippy::expect_used)]

use core::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256, Sha384};

use platform_snp::boot::BootConfig;
use platform_tdx::report::{
    ATT_KEY_TYPE_ECDSA_P256, BODY_TYPE_TD15, CERT_TYPE_PCK_CHAIN, CERT_TYPE_QE_REPORT,
    INTEL_QE_VENDOR_ID, QeReport, QuoteHeader, REPORT_TYPE_TDX, REPORTMACSTRUCT_SIZE,
    ReportMacStruct, TD10_BODY_SIZE, TD15_BODY_SIZE, TDREPORT_SIZE, TEE_TYPE_TDX, TdInfo,
    TdQuoteBody, TdReport, TeeTcbInfo,
};
use platform_tdx::service::{Event, ServerError, TpmId, VtpmServer, operation};
use platform_tdx::servtd::{
    MAX_SERVTDS, SERVTD_TYPE_MIGTD, SelfBinding, ServtdAttr, ServtdBinding, servtd_hash,
    servtd_info_hash,
};
use platform_tdx::transport::{
    GET_QUOTE_ERROR, GET_QUOTE_IN_FLIGHT, GET_QUOTE_SERVICE_UNAVAILABLE, ServiceStatus,
    TdcallError, TdxTransport, VTPM_GUID, VTPMTD_GUID, VmcallError, parse_service_command,
    write_service_response,
};
use platform_tdx::{Policy, TdxPlatform};

use crate::SimPlatform;
use crate::snp::SimMachine;

/// The build-time identity of a simulated TD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdIdentity {
    /// MRTD.
    pub mrtd: [u8; 48],
    /// MRCONFIGID.
    pub mrconfigid: [u8; 48],
    /// TD ATTRIBUTES (bit 0 DEBUG).
    pub attributes: u64,
}

impl TdIdentity {
    /// A production TD whose MRTD is SHA-384 of `name`.
    pub fn named(name: &str) -> Self {
        Self {
            mrtd: Sha384::digest(name.as_bytes()).into(),
            mrconfigid: [0; 48],
            attributes: 0,
        }
    }
}

/// A handle to a TD of the simulated module.
pub type TdHandle = usize;

/// SERVTD_TYPE the simulator binds a vTPM TD with. TDX Module 1.5 defines only type 0
/// (Migration TD, [`SERVTD_TYPE_MIGTD`]) and refuses others; the 1.5 ABI assigns no vTPM type,
/// so this value is the simulator's own (the SERVTD_HASH layout does not depend on it).
pub const SIM_SERVTD_TYPE_VTPM: u16 = 0x8000;

/// How the simulated host binds user TDs to the vTPM TD: the simulator's vTPM type, all four
/// RTMRs ignored (the vTPM TD's RTMRs may grow after the binding; its MRTD, configuration,
/// owner, attributes, XFAM and own SERVTD_HASH are what the binding pins), no instance binding.
pub const VTPM_BINDING: SelfBinding = SelfBinding {
    servtd_type: SIM_SERVTD_TYPE_VTPM,
    attr: ServtdAttr(ServtdAttr::IGNORE_RTMRS),
};

/// Why a SEAMCALL of the simulated module failed (TDX Module 1.5 completion statuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeamError {
    /// TDX_OPERAND_INVALID: the named operand (slot, type, attributes, same TD).
    OperandInvalid(&'static str),
    /// TDX_OP_STATE_INCORRECT: the TD is not in a state the leaf allows (an initial binding
    /// after TDH.MR.FINALIZE, a finalize twice, a service TD not yet finalized).
    OpStateIncorrect,
    /// TDX_SERVTD_BOUND: TDH.SERVTD.PREBIND on a bound slot.
    ServtdBound,
    /// TDX_SERVTD_TYPE_MISMATCH.
    ServtdTypeMismatch,
    /// TDX_SERVTD_ATTR_MISMATCH.
    ServtdAttrMismatch,
    /// TDX_SERVTD_INFO_HASH_MISMATCH: the service TD is not the pre-bound (or bound) one.
    ServtdInfoHashMismatch,
    /// TDX_SERVTD_UUID_MISMATCH: an instance-bound slot rebound to another TD instance.
    ServtdUuidMismatch,
}

/// A binding-table slot (TDCS SERVTD_BINDINGS_TABLE entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    NotBound,
    PreBound,
    Bound,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    state: SlotState,
    binding: ServtdBinding,
    uuid: [u8; 32],
}

const EMPTY_SLOT: Slot = Slot {
    state: SlotState::NotBound,
    binding: ServtdBinding {
        info_hash: [0; 48],
        servtd_type: 0,
        attr: ServtdAttr(0),
    },
    uuid: [0; 32],
};

/// One TD of the simulated module.
#[derive(Clone, Copy, Debug)]
struct Td {
    info: TdInfo,
    /// TDH.MR.FINALIZE done (op state RUNNABLE).
    finalized: bool,
    uuid: [u8; 32],
    slots: [Slot; MAX_SERVTDS],
}

/// The simulated TDX module of one platform.
#[derive(Debug)]
pub struct SimTdxModule {
    mac_key: [u8; 32],
    tcb: TeeTcbInfo,
    tds: Vec<Td>,
    /// SERVTD_TYPEs TDH.SERVTD.BIND / PREBIND accept: 0 (Migration TD, as TDX Module 1.5) and
    /// [`SIM_SERVTD_TYPE_VTPM`].
    pub servtd_types: Vec<u16>,
    /// REPORTMACSTRUCT.CPUSVN.
    pub cpusvn: [u8; 16],
}

/// The simulated module shared by the TDs of one platform.
pub type SharedModule = Rc<RefCell<SimTdxModule>>;

impl SimTdxModule {
    /// A module whose MAC key derives from `seed` (another seed = another platform).
    pub fn new(seed: u64) -> Self {
        let mac_key: [u8; 32] =
            Sha256::digest([b"tdx-sim-mac".as_slice(), &seed.to_le_bytes()].concat()).into();
        let mut tcb = TeeTcbInfo {
            valid: [0xff, 0x03, 0, 0, 0, 0, 0, 0],
            tee_tcb_svn: [3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            mrseam: Sha384::digest(b"host-sim TDX module 1.5").into(),
            mrsignerseam: [0; 48],
            attributes: [0; 8],
            tee_tcb_svn2: [3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            reserved: [0; 95],
        };
        tcb.reserved[0] = 0;
        Self {
            mac_key,
            tcb,
            tds: Vec::new(),
            servtd_types: vec![SERVTD_TYPE_MIGTD, SIM_SERVTD_TYPE_VTPM],
            cpusvn: [7; 16],
        }
    }

    /// Shared form.
    pub fn shared(seed: u64) -> SharedModule {
        Rc::new(RefCell::new(Self::new(seed)))
    }

    /// TDH.MNG.CREATE … TDH.MR.EXTEND: a TD being built (op state INITIALIZED), RTMRs zero,
    /// nothing bound; [`Self::finalize`] makes it runnable.
    pub fn create(&mut self, id: &TdIdentity) -> TdHandle {
        let n = self.tds.len();
        let uuid: [u8; 32] = Sha256::digest(
            [
                b"tdx-sim-uuid".as_slice(),
                &self.mac_key,
                &(n as u64).to_le_bytes(),
            ]
            .concat(),
        )
        .into();
        self.tds.push(Td {
            info: TdInfo {
                attributes: id.attributes.to_le_bytes(),
                xfam: 0x0006_02e7u64.to_le_bytes(),
                mrtd: id.mrtd,
                mrconfigid: id.mrconfigid,
                mrowner: [0; 48],
                mrownerconfig: [0; 48],
                rtmr: [[0; 48]; 4],
                servtd_hash: [0; 48],
                reserved: [0; 64],
            },
            finalized: false,
            uuid,
            slots: [EMPTY_SLOT; MAX_SERVTDS],
        });
        n
    }

    /// TDH.MR.FINALIZE: SERVTD_HASH over the binding-table slots that are not NOT_BOUND
    /// ([`servtd_hash`]); the TD becomes runnable.
    pub fn finalize(&mut self, td: TdHandle) -> Result<(), SeamError> {
        let t = &mut self.tds[td];
        if t.finalized {
            return Err(SeamError::OpStateIncorrect);
        }
        let mut bound: Vec<ServtdBinding> = t
            .slots
            .iter()
            .filter(|s| s.state != SlotState::NotBound)
            .map(|s| s.binding)
            .collect();
        t.info.servtd_hash = servtd_hash(&mut bound);
        t.finalized = true;
        Ok(())
    }

    /// A TD launched with nothing bound (create + finalize).
    pub fn launch(&mut self, id: &TdIdentity) -> TdHandle {
        let td = self.create(id);
        self.finalize(td).expect("a new TD finalizes");
        td
    }

    /// A TD launched bound to `servtd` in slot 0 with `binding`'s type and attributes
    /// (create, TDH.SERVTD.BIND, finalize).
    pub fn launch_bound(
        &mut self,
        id: &TdIdentity,
        servtd: TdHandle,
        binding: SelfBinding,
    ) -> Result<TdHandle, SeamError> {
        let td = self.create(id);
        self.servtd_bind(td, servtd, 0, binding.servtd_type, binding.attr)?;
        self.finalize(td)?;
        Ok(td)
    }

    fn check_bind_operands(
        &self,
        slot: usize,
        servtd_type: u16,
        attr: ServtdAttr,
    ) -> Result<(), SeamError> {
        if slot >= MAX_SERVTDS {
            return Err(SeamError::OperandInvalid("slot"));
        }
        if !self.servtd_types.contains(&servtd_type) {
            return Err(SeamError::OperandInvalid("SERVTD_TYPE"));
        }
        if !attr.is_valid() {
            return Err(SeamError::OperandInvalid("SERVTD_ATTR"));
        }
        Ok(())
    }

    /// TDH.SERVTD.PREBIND (TDX 1.5): record a binding of `target` to a service TD known only by
    /// its SERVTD_INFO_HASH, before `target` is finalized; a later TDH.SERVTD.BIND must match
    /// type, attributes and info hash.
    pub fn servtd_prebind(
        &mut self,
        target: TdHandle,
        info_hash: &[u8; 48],
        slot: usize,
        servtd_type: u16,
        attr: ServtdAttr,
    ) -> Result<(), SeamError> {
        if self.tds[target].finalized {
            return Err(SeamError::OpStateIncorrect);
        }
        self.check_bind_operands(slot, servtd_type, attr)?;
        let s = &mut self.tds[target].slots[slot];
        if s.state == SlotState::Bound {
            return Err(SeamError::ServtdBound);
        }
        *s = Slot {
            state: SlotState::PreBound,
            binding: ServtdBinding {
                info_hash: *info_hash,
                servtd_type,
                attr,
            },
            uuid: [0; 32],
        };
        Ok(())
    }

    /// TDH.SERVTD.BIND (TDX 1.5): bind the running TD `servtd` to `target`'s `slot`. The
    /// SERVTD_INFO_HASH is computed now from `servtd`'s TDINFO with `attr`'s IGNORE_TDINFO
    /// selection. Initial binding only before `target` is finalized; binding a pre-bound slot
    /// must match type, attributes and info hash; rebinding a bound slot (any time) must match
    /// type and attributes and either the instance (INSTANCE_BINDING: the info hash is
    /// replaced) or the info hash. SERVTD_HASH is not recomputed after finalize.
    pub fn servtd_bind(
        &mut self,
        target: TdHandle,
        servtd: TdHandle,
        slot: usize,
        servtd_type: u16,
        attr: ServtdAttr,
    ) -> Result<(), SeamError> {
        if target == servtd {
            return Err(SeamError::OperandInvalid("service TD = target TD"));
        }
        if !self.tds[servtd].finalized {
            return Err(SeamError::OpStateIncorrect);
        }
        self.check_bind_operands(slot, servtd_type, attr)?;
        let info_hash = servtd_info_hash(&self.tds[servtd].info, attr);
        let uuid = self.tds[servtd].uuid;
        let finalized = self.tds[target].finalized;
        let s = &mut self.tds[target].slots[slot];
        let same_kind = |s: &Slot| {
            if s.binding.servtd_type != servtd_type {
                Err(SeamError::ServtdTypeMismatch)
            } else if s.binding.attr != attr {
                Err(SeamError::ServtdAttrMismatch)
            } else {
                Ok(())
            }
        };
        match s.state {
            SlotState::NotBound => {
                if finalized {
                    return Err(SeamError::OpStateIncorrect);
                }
                s.binding = ServtdBinding {
                    info_hash,
                    servtd_type,
                    attr,
                };
            }
            SlotState::PreBound => {
                same_kind(s)?;
                if s.binding.info_hash != info_hash {
                    return Err(SeamError::ServtdInfoHashMismatch);
                }
            }
            SlotState::Bound => {
                same_kind(s)?;
                if attr.has(ServtdAttr::INSTANCE_BINDING) {
                    if s.uuid != uuid {
                        return Err(SeamError::ServtdUuidMismatch);
                    }
                    s.binding.info_hash = info_hash;
                } else if s.binding.info_hash != info_hash {
                    return Err(SeamError::ServtdInfoHashMismatch);
                }
            }
        }
        s.uuid = uuid;
        s.state = SlotState::Bound;
        Ok(())
    }

    /// The TDINFO of a TD.
    pub fn td_info(&self, td: TdHandle) -> TdInfo {
        self.tds[td].info
    }

    /// The bindings of `td` that entered (or would enter) its SERVTD_HASH, and whether each
    /// slot is bound (`true`) or only pre-bound.
    pub fn bindings(&self, td: TdHandle) -> Vec<(ServtdBinding, bool)> {
        self.tds[td]
            .slots
            .iter()
            .filter(|s| s.state != SlotState::NotBound)
            .map(|s| (s.binding, s.state == SlotState::Bound))
            .collect()
    }

    fn mac(&self, mac_struct: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.mac_key).expect("any key size");
        m.update(&mac_struct[..224]);
        m.finalize().into_bytes().into()
    }

    /// TDG.MR.REPORT for `td`.
    pub fn report(&self, td: TdHandle, report_data: &[u8; 64]) -> [u8; TDREPORT_SIZE] {
        let info = self.tds[td].info;
        let mut r = TdReport {
            mac_struct: ReportMacStruct {
                report_type: [REPORT_TYPE_TDX, 0, 1, 0],
                reserved1: [0; 12],
                cpusvn: self.cpusvn,
                tee_tcb_info_hash: self.tcb.hash(),
                tee_info_hash: info.hash(),
                report_data: *report_data,
                reserved2: [0; 32],
                mac: [0; 32],
            },
            tee_tcb_info: self.tcb,
            reserved: [0; 17],
            td_info: info,
        };
        let b = r.to_bytes();
        r.mac_struct.mac = self.mac(&b[..REPORTMACSTRUCT_SIZE]);
        r.to_bytes()
    }

    /// TDG.MR.VERIFYREPORT: the MAC over REPORTMACSTRUCT.
    pub fn verify(&self, mac_struct: &[u8; REPORTMACSTRUCT_SIZE]) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.mac(mac_struct).ct_eq(&mac_struct[224..256]))
    }

    /// TDG.MR.RTMR.EXTEND.
    pub fn extend(&mut self, td: TdHandle, index: u8, digest: &[u8; 48]) -> bool {
        let Some(r) = self
            .tds
            .get_mut(td)
            .and_then(|t| t.info.rtmr.get_mut(usize::from(index)))
        else {
            return false;
        };
        *r = Sha384::new()
            .chain_update(*r)
            .chain_update(digest)
            .finalize()
            .into();
        true
    }
}

// ---------------------------------------------------------------------------------------------
// DER for the simulated PCK chain (a writer for three fixed certificates; parsing is x509-cert's).

fn der_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn der_int(be: &[u8]) -> Vec<u8> {
    let mut v = be;
    while v.len() > 1 && v[0] == 0 {
        v = &v[1..];
    }
    let mut body = Vec::new();
    if v[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(v);
    tlv(0x02, &body)
}

const OID_ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0A];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];

fn name(cn: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], v: &str| tlv(0x31, &seq(&[tlv(0x06, oid), tlv(0x0C, v.as_bytes())]));
    seq(&[rdn(OID_O, "host-sim simulated Intel"), rdn(OID_CN, cn)])
}

/// SEC1 uncompressed point of a P-256 key.
pub fn p256_point(key: &SigningKey) -> [u8; 65] {
    let p = key.verifying_key().to_sec1_point(false);
    let mut out = [0u8; 65];
    out.copy_from_slice(p.as_bytes());
    out
}

fn sign_raw(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    let sig: Signature = key
        .sign_prehash(&Sha256::digest(msg))
        .expect("P-256 signing");
    sig.to_bytes().into()
}

/// A certificate for `subject_key` named `subject`, issued by `issuer` with `issuer_key`.
fn certificate(
    serial: u8,
    issuer: &str,
    issuer_key: &SigningKey,
    subject: &str,
    subject_key: &SigningKey,
    ca: bool,
) -> Vec<u8> {
    let alg = seq(&[tlv(0x06, OID_ECDSA_SHA256)]);
    let spki = seq(&[
        seq(&[tlv(0x06, OID_EC_PUBLIC_KEY), tlv(0x06, OID_PRIME256V1)]),
        tlv(0x03, &[&[0u8][..], &p256_point(subject_key)].concat()),
    ]);
    let bc = if ca {
        seq(&[tlv(0x01, &[0xFF])])
    } else {
        seq(&[])
    };
    let ext = seq(&[seq(&[
        tlv(0x06, OID_BASIC_CONSTRAINTS),
        tlv(0x01, &[0xFF]),
        tlv(0x04, &bc),
    ])]);
    let tbs = seq(&[
        tlv(0xA0, &der_int(&[2])),
        der_int(&[serial]),
        alg.clone(),
        name(issuer),
        seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"491231235959Z")]),
        name(subject),
        spki,
        tlv(0xA3, &ext),
    ]);
    let sig = sign_raw(issuer_key, &tbs);
    let sig_der = seq(&[der_int(&sig[..32]), der_int(&sig[32..])]);
    seq(&[tbs, alg, tlv(0x03, &[&[0u8][..], &sig_der].concat())])
}

fn key_from(label: &str, seed: u64) -> SigningKey {
    let mut ctr = 0u32;
    loop {
        let d =
            Sha256::digest([label.as_bytes(), &seed.to_le_bytes(), &ctr.to_le_bytes()].concat());
        if let Ok(k) = SigningKey::from_slice(&d) {
            return k;
        }
        ctr += 1;
    }
}

/// How the quoting service misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuoteFault {
    /// It works.
    #[default]
    None,
    /// Status 0x8000_0000_0000_0000.
    Fail,
    /// Status 0x8000_0000_0000_0001: no quote generation service.
    Unavailable,
    /// Stays in flight for ever.
    Busy,
    /// In flight for this many polls, then done.
    Slow(u32),
}

/// The simulated quoting service (QGS and TD quoting enclave).
#[derive(Debug)]
pub struct SimQuotingService {
    attestation_key: SigningKey,
    pck_key: SigningKey,
    root_key: SigningKey,
    chain_pem: String,
    root_der: Vec<u8>,
    /// Quote version produced: 4 (TD 1.0 body) or 5 (TD 1.5 body).
    pub version: u16,
    /// Fault injection.
    pub fault: QuoteFault,
    /// Quotes produced.
    pub quotes: usize,
    pending: Option<(Vec<u8>, u32)>,
}

/// The quoting service shared by the TDs of a platform.
pub type SharedQuoting = Rc<RefCell<SimQuotingService>>;

impl SimQuotingService {
    /// A service with keys and chain derived from `seed`.
    pub fn new(seed: u64) -> Self {
        let root_key = key_from("root", seed);
        let ca_key = key_from("pck-platform-ca", seed);
        let pck_key = key_from("pck", seed);
        let root_der = certificate(
            1,
            "Simulated SGX Root CA",
            &root_key,
            "Simulated SGX Root CA",
            &root_key,
            true,
        );
        let ca = certificate(
            2,
            "Simulated SGX Root CA",
            &root_key,
            "Simulated SGX PCK Platform CA",
            &ca_key,
            true,
        );
        let leaf = certificate(
            3,
            "Simulated SGX PCK Platform CA",
            &ca_key,
            "Simulated SGX PCK Certificate",
            &pck_key,
            false,
        );
        let pem = |d: &[u8]| {
            x509_cert::der::pem::encode_string(
                "CERTIFICATE",
                x509_cert::der::pem::LineEnding::LF,
                d,
            )
            .expect("PEM")
        };
        let chain_pem = [pem(&leaf), pem(&ca), pem(&root_der)].concat();
        Self {
            attestation_key: key_from("attestation", seed),
            pck_key,
            root_key,
            chain_pem,
            root_der,
            version: 4,
            fault: QuoteFault::None,
            quotes: 0,
            pending: None,
        }
    }

    /// Shared form.
    pub fn shared(seed: u64) -> SharedQuoting {
        Rc::new(RefCell::new(Self::new(seed)))
    }

    /// The simulated root CA certificate (DER), for `verify-tdx-quote --root`.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The root CA public key (SEC1 uncompressed).
    pub fn root_point(&self) -> [u8; 65] {
        p256_point(&self.root_key)
    }

    /// A TD quote over `report` in the genuine format.
    pub fn quote(&self, report: &TdReport) -> Vec<u8> {
        let header = QuoteHeader {
            version: self.version,
            att_key_type: ATT_KEY_TYPE_ECDSA_P256,
            tee_type: TEE_TYPE_TDX,
            reserved: [0; 4],
            qe_vendor_id: INTEL_QE_VENDOR_ID,
            user_data: [0; 20],
        };
        let body = TdQuoteBody::from_report(report).to_bytes();
        let mut signed = header.to_bytes().to_vec();
        if self.version == 5 {
            signed.extend_from_slice(&BODY_TYPE_TD15.to_le_bytes());
            signed.extend_from_slice(&(TD15_BODY_SIZE as u32).to_le_bytes());
            signed.extend_from_slice(&body);
        } else {
            signed.extend_from_slice(&body[..TD10_BODY_SIZE]);
        }
        let sig = sign_raw(&self.attestation_key, &signed);
        let ak = p256_point(&self.attestation_key);
        let auth: Vec<u8> = (0u8..32).collect();
        let mut rd = [0u8; 64];
        rd[..32].copy_from_slice(&Sha256::digest([&ak[1..], &auth[..]].concat()));
        let qe = QeReport {
            cpu_svn: self_cpusvn(),
            misc_select: [0; 4],
            reserved1: [0; 28],
            attributes: [0x11, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0],
            mr_enclave: Sha256::digest(b"simulated TD QE").into(),
            reserved2: [0; 32],
            mr_signer: Sha256::digest(b"simulated Intel signer").into(),
            reserved3: [0; 96],
            isv_prod_id: [2, 0],
            isv_svn: [4, 0],
            reserved4: [0; 60],
            report_data: rd,
        }
        .to_bytes();
        let qe_sig = sign_raw(&self.pck_key, &qe);
        let chain = self.chain_pem.as_bytes();
        let mut outer = qe.to_vec();
        outer.extend_from_slice(&qe_sig);
        outer.extend_from_slice(&(auth.len() as u16).to_le_bytes());
        outer.extend_from_slice(&auth);
        outer.extend_from_slice(&CERT_TYPE_PCK_CHAIN.to_le_bytes());
        outer.extend_from_slice(&(chain.len() as u32).to_le_bytes());
        outer.extend_from_slice(chain);
        let mut sig_data = sig.to_vec();
        sig_data.extend_from_slice(&ak[1..]);
        sig_data.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
        sig_data.extend_from_slice(&(outer.len() as u32).to_le_bytes());
        sig_data.extend_from_slice(&outer);
        let mut q = signed;
        q.extend_from_slice(&(sig_data.len() as u32).to_le_bytes());
        q.extend_from_slice(&sig_data);
        q
    }
}

fn self_cpusvn() -> [u8; 16] {
    [7; 16]
}

// ---------------------------------------------------------------------------------------------
// The VMM relay.

/// Which way a message goes through the VMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// User TD → vTPM TD.
    ToServer,
    /// vTPM TD → user TD.
    ToClient,
}

/// What the VMM does to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Drop it (the user TD's ReceiveMessage times out).
    Drop,
    /// Flip one bit at this offset (from the end if past it).
    Alter(usize),
    /// Send the previous message of this direction again instead.
    Replay,
    /// Cut the last `n` bytes.
    Truncate(usize),
    /// Replace the public key in a hello with the VMM's own (the report still binds the real
    /// one): the REPORTDATA check must catch it.
    SwapHelloKey,
}

/// A fault for the `index`-th message (from 0) in `direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    /// Which way.
    pub direction: Direction,
    /// Which message.
    pub index: usize,
    /// What to do.
    pub fault: Fault,
}

/// The queues between the VMM and the TDs.
#[derive(Debug, Default)]
pub struct Relay {
    to_server: VecDeque<(u8, TpmId, Vec<u8>)>,
    to_client: HashMap<TpmId, VecDeque<(u8, Vec<u8>)>>,
    last_status: Option<(u8, u8, TpmId)>,
    faults: Vec<FaultPlan>,
    counts: [usize; 2],
    previous: [Option<Vec<u8>>; 2],
    /// Every message the VMM saw, per direction (what it can read).
    pub seen: Vec<(Direction, Vec<u8>)>,
}

/// The relay shared by the VMM and the TD transports.
pub type SharedRelay = Rc<RefCell<Relay>>;

/// A P-256... no: a P-384 public key the VMM substitutes in hellos.
const VMM_KEY_SEED: &[u8] = b"vmm";

impl Relay {
    /// Plan a fault.
    pub fn inject(&mut self, plan: FaultPlan) {
        self.faults.push(plan);
    }

    fn carry(&mut self, dir: Direction, mut msg: Vec<u8>) -> Option<Vec<u8>> {
        let d = dir as usize;
        let index = self.counts[d];
        self.counts[d] += 1;
        self.seen.push((dir, msg.clone()));
        let fault = self
            .faults
            .iter()
            .find(|f| f.direction == dir && f.index == index)
            .map(|f| f.fault);
        let original = msg.clone();
        match fault {
            None => {}
            Some(Fault::Drop) => {
                self.previous[d] = Some(original);
                return None;
            }
            Some(Fault::Alter(off)) => {
                let i = off.min(msg.len().saturating_sub(1));
                if let Some(b) = msg.get_mut(i) {
                    *b ^= 0x01;
                }
            }
            Some(Fault::Replay) => {
                if let Some(p) = self.previous[d].clone() {
                    msg = p;
                }
            }
            Some(Fault::Truncate(n)) => msg.truncate(msg.len().saturating_sub(n)),
            Some(Fault::SwapHelloKey) => {
                let k = vmm_public_key();
                if msg.len() > 4 + 97 {
                    msg[4..4 + 97].copy_from_slice(&k);
                }
            }
        }
        self.previous[d] = Some(original);
        Some(msg)
    }
}

fn vmm_public_key() -> [u8; 97] {
    let d = Sha384::digest(VMM_KEY_SEED);
    let sk = p384::SecretKey::from_slice(&d).expect("valid scalar");
    let p = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&sk.public_key(), false);
    let mut out = [0u8; 97];
    out.copy_from_slice(p.as_bytes());
    out
}

/// The door of a simulated TD: the module for TDCALLs, the quoting service and relay for
/// TDVMCALLs. The vTPM TD's door answers WaitForRequest / ReportStatus; a user TD's door goes
/// through the [`Vmm`].
#[derive(Clone, Debug)]
pub struct SimTdDoor {
    module: SharedModule,
    quoting: SharedQuoting,
    relay: SharedRelay,
    td: TdHandle,
    quote_buf: Option<Vec<u8>>,
}

impl SimTdDoor {
    /// The door of TD `td`.
    pub fn new(
        module: SharedModule,
        quoting: SharedQuoting,
        relay: SharedRelay,
        td: TdHandle,
    ) -> Self {
        Self {
            module,
            quoting,
            relay,
            td,
            quote_buf: None,
        }
    }

    fn tdcall_report(&mut self, report_data: &[u8; 64], out: &mut [u8; TDREPORT_SIZE]) {
        *out = self.module.borrow().report(self.td, report_data);
    }

    /// The vTPM TD's Service call (WaitForRequest / ReportStatus).
    fn server_service(&mut self, command: &[u8], response: &mut [u8]) -> Result<(), VmcallError> {
        let (guid, data) = parse_service_command(command).ok_or(VmcallError::InvalidOperand)?;
        if guid != VTPMTD_GUID {
            write_service_response(response, &guid, ServiceStatus::Unsupported, &[]);
            return Ok(());
        }
        let mut relay = self.relay.borrow_mut();
        let reply: Vec<u8> = match data.get(1) {
            Some(1) => match relay.to_server.pop_front() {
                Some((op, id, payload)) => [&[1, 1, op, 0][..], &id, &payload].concat(),
                None => vec![1, 1, operation::NONE, 0],
            },
            Some(2) if data.len() >= 20 => {
                let (op, st) = (data[2], data[3]);
                let mut id = [0u8; 16];
                id.copy_from_slice(&data[4..20]);
                relay.last_status = Some((op, st, id));
                if op == operation::COMMUNICATE {
                    let payload = data[20..].to_vec();
                    if let Some(m) = relay.carry(Direction::ToClient, payload) {
                        relay.to_client.entry(id).or_default().push_back((st, m));
                    }
                }
                vec![0, 2, 0, 0]
            }
            _ => {
                write_service_response(response, &guid, ServiceStatus::InvalidParameter, &[]);
                return Ok(());
            }
        };
        write_service_response(response, &guid, ServiceStatus::Ok, &reply)
            .ok_or(VmcallError::InvalidOperand)?;
        Ok(())
    }
}

impl TdxTransport for SimTdDoor {
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError> {
        self.tdcall_report(report_data, out);
        Ok(())
    }

    fn verify_report(
        &mut self,
        mac_struct: &[u8; REPORTMACSTRUCT_SIZE],
    ) -> Result<(), TdcallError> {
        if self.module.borrow().verify(mac_struct) {
            Ok(())
        } else {
            Err(TdcallError::OperandInvalid)
        }
    }

    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError> {
        if self.module.borrow_mut().extend(self.td, index, digest) {
            Ok(())
        } else {
            Err(TdcallError::OperandInvalid)
        }
    }

    fn get_quote_submit(&mut self, buffer: &[u8]) -> Result<(), VmcallError> {
        let mut buf = vec![0u8; 16 * 1024];
        buf[..buffer.len()].copy_from_slice(buffer);
        let mut qs = self.quoting.borrow_mut();
        let report = buffer
            .get(24..24 + TDREPORT_SIZE)
            .and_then(|r| TdReport::parse(r).ok());
        let mac_ok = buffer
            .get(24..24 + REPORTMACSTRUCT_SIZE)
            .and_then(|m| <&[u8; REPORTMACSTRUCT_SIZE]>::try_from(m).ok())
            .is_some_and(|m| self.module.borrow().verify(m));
        let status = match (qs.fault, report) {
            (QuoteFault::Fail, _) => GET_QUOTE_ERROR,
            (QuoteFault::Unavailable, _) => GET_QUOTE_SERVICE_UNAVAILABLE,
            (QuoteFault::Busy, _) => GET_QUOTE_IN_FLIGHT,
            (_, Some(r)) if mac_ok => {
                let q = qs.quote(&r);
                qs.quotes += 1;
                buf[20..24].copy_from_slice(&(q.len() as u32).to_le_bytes());
                buf[24..24 + q.len()].copy_from_slice(&q);
                0
            }
            _ => GET_QUOTE_ERROR,
        };
        let polls = match qs.fault {
            QuoteFault::Slow(n) => n,
            QuoteFault::Busy => u32::MAX,
            _ => 0,
        };
        buf[8..16].copy_from_slice(&status.to_le_bytes());
        qs.pending = Some((buf.clone(), polls));
        self.quote_buf = Some(buf);
        Ok(())
    }

    fn get_quote_poll(&mut self, buffer: &mut [u8], _attempt: u32) -> Result<(), VmcallError> {
        let mut qs = self.quoting.borrow_mut();
        let Some((buf, polls)) = qs.pending.as_mut() else {
            return Err(VmcallError::InvalidOperand);
        };
        let n = buffer.len().min(buf.len());
        buffer[..n].copy_from_slice(&buf[..n]);
        if *polls > 0 {
            *polls -= 1;
            buffer[8..16].copy_from_slice(&GET_QUOTE_IN_FLIGHT.to_le_bytes());
        }
        Ok(())
    }

    fn service(
        &mut self,
        command: &[u8],
        response: &mut [u8],
        _timeout_ms: u32,
    ) -> Result<(), VmcallError> {
        response.fill(0);
        self.server_service(command, response)
    }
}

/// The vTPM TD's platform in the simulator.
pub type SimTdxPlatform = TdxPlatform<SimTdDoor, SimMachine, SimMachine>;

/// Instance slots of the simulated vTPM TD.
pub const SIM_INSTANCES: usize = 4;

/// The untrusted VMM with the vTPM TD it hosts.
pub struct Vmm {
    relay: SharedRelay,
    server: Box<VtpmServer<SimTdxPlatform, SimTdDoor, SIM_INSTANCES>>,
    door: SimTdDoor,
    seed: u64,
    /// Events of the vTPM TD's loop, in order.
    pub events: Vec<Result<Event, ServerError>>,
}

impl core::fmt::Debug for Vmm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vmm")
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The VMM shared with the user TDs' doors.
pub type SharedVmm = Rc<RefCell<Vmm>>;

impl Vmm {
    /// A VMM hosting a vTPM TD (`vtpm_td` on `module`) that admits user TDs satisfying `policy`.
    pub fn new(
        module: SharedModule,
        quoting: SharedQuoting,
        vtpm_td: TdHandle,
        policy: Policy,
        seed: u64,
    ) -> Self {
        Self::with_ek(
            module,
            quoting,
            vtpm_td,
            policy,
            seed,
            BootConfig::default(),
        )
    }

    /// [`Self::new`] whose vTPM instances get the EK of `ek_config`.
    pub fn with_ek(
        module: SharedModule,
        quoting: SharedQuoting,
        vtpm_td: TdHandle,
        policy: Policy,
        seed: u64,
        ek_config: BootConfig,
    ) -> Self {
        let relay: SharedRelay = Rc::default();
        let door = SimTdDoor::new(module, quoting, relay.clone(), vtpm_td);
        Self {
            relay,
            server: Box::new(VtpmServer::new(door.clone(), policy, ek_config)),
            door,
            seed,
            events: Vec::new(),
        }
    }

    /// The relay (to inject faults and read what the VMM saw).
    pub fn relay(&self) -> SharedRelay {
        self.relay.clone()
    }

    /// The vTPM TD's server.
    pub fn server(&self) -> &VtpmServer<SimTdxPlatform, SimTdDoor, SIM_INSTANCES> {
        &self.server
    }

    fn run_server(&mut self) {
        let door = self.door.clone();
        let seed = self.seed;
        let mut factory = |id: &TpmId| {
            let h = Sha256::digest(id);
            let s = seed ^ u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8]));
            Ok(TdxPlatform::new(
                door.clone(),
                SimMachine(SimPlatform::seeded(s)),
                SimMachine(SimPlatform::new()),
            ))
        };
        let e = self.server.serve_one(&mut factory);
        self.events.push(e);
    }

    fn operate(&mut self, op: u8, id: &TpmId, payload: Vec<u8>) -> Option<u8> {
        self.relay
            .borrow_mut()
            .to_server
            .push_back((op, *id, payload));
        self.run_server();
        let st = self.relay.borrow_mut().last_status.take();
        st.filter(|(o, _, i)| *o == op && i == id)
            .map(|(_, s, _)| s)
    }

    /// Create the vTPM instance for user TD `id`; returns the vTPM TD's status.
    pub fn create(&mut self, id: &TpmId) -> Option<u8> {
        self.operate(operation::CREATE, id, Vec::new())
    }

    /// Destroy it.
    pub fn destroy(&mut self, id: &TpmId) -> Option<u8> {
        self.operate(operation::DESTROY, id, Vec::new())
    }

    /// A user TD's Service call.
    fn user_service(
        &mut self,
        id: &TpmId,
        command: &[u8],
        response: &mut [u8],
    ) -> Result<(), VmcallError> {
        response.fill(0);
        let (guid, data) = parse_service_command(command).ok_or(VmcallError::InvalidOperand)?;
        if guid != VTPM_GUID {
            write_service_response(response, &guid, ServiceStatus::Unsupported, &[]);
            return Ok(());
        }
        match data.get(1) {
            Some(1) => {
                let msg = data.get(4..).unwrap_or(&[]).to_vec();
                let carried = self.relay.borrow_mut().carry(Direction::ToServer, msg);
                if let Some(m) = carried {
                    self.relay
                        .borrow_mut()
                        .to_server
                        .push_back((operation::COMMUNICATE, *id, m));
                    self.run_server();
                }
                write_service_response(response, &guid, ServiceStatus::Ok, &[0, 1, 0, 0]);
            }
            Some(2) => {
                let next = self
                    .relay
                    .borrow_mut()
                    .to_client
                    .get_mut(id)
                    .and_then(VecDeque::pop_front);
                match next {
                    Some((st, m)) => {
                        write_service_response(
                            response,
                            &guid,
                            ServiceStatus::Ok,
                            &[&[0, 2, st, 0][..], &m].concat(),
                        );
                    }
                    None => {
                        write_service_response(response, &guid, ServiceStatus::Timeout, &[]);
                    }
                }
            }
            _ => {
                write_service_response(response, &guid, ServiceStatus::InvalidParameter, &[]);
            }
        }
        Ok(())
    }
}

/// A user TD's door: TDCALLs to the module, Service calls to the VMM.
#[derive(Clone, Debug)]
pub struct UserTdDoor {
    inner: SimTdDoor,
    vmm: SharedVmm,
    id: TpmId,
}

impl UserTdDoor {
    /// The door of user TD `td`, known to the VMM as `id`.
    pub fn new(
        module: SharedModule,
        quoting: SharedQuoting,
        vmm: SharedVmm,
        td: TdHandle,
        id: TpmId,
    ) -> Self {
        let relay = vmm.borrow().relay();
        Self {
            inner: SimTdDoor::new(module, quoting, relay, td),
            vmm,
            id,
        }
    }
}

impl TdxTransport for UserTdDoor {
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError> {
        self.inner.tdreport(report_data, out)
    }
    fn verify_report(
        &mut self,
        mac_struct: &[u8; REPORTMACSTRUCT_SIZE],
    ) -> Result<(), TdcallError> {
        self.inner.verify_report(mac_struct)
    }
    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError> {
        self.inner.rtmr_extend(index, digest)
    }
    fn get_quote_submit(&mut self, buffer: &[u8]) -> Result<(), VmcallError> {
        self.inner.get_quote_submit(buffer)
    }
    fn get_quote_poll(&mut self, buffer: &mut [u8], attempt: u32) -> Result<(), VmcallError> {
        self.inner.get_quote_poll(buffer, attempt)
    }
    fn service(
        &mut self,
        command: &[u8],
        response: &mut [u8],
        _timeout_ms: u32,
    ) -> Result<(), VmcallError> {
        self.vmm
            .borrow_mut()
            .user_service(&self.id, command, response)
    }
}

/// A whole simulated TDX platform: module, quoting service, a vTPM TD and its VMM.
#[derive(Debug)]
pub struct SimTdxHost {
    /// The TDX module.
    pub module: SharedModule,
    /// The quoting service.
    pub quoting: SharedQuoting,
    /// The VMM hosting the vTPM TD.
    pub vmm: SharedVmm,
    /// The vTPM TD.
    pub vtpm_td: TdHandle,
}

impl SimTdxHost {
    /// A platform from `seed` whose vTPM TD is `vtpm` and admits user TDs satisfying `policy`.
    pub fn new(seed: u64, vtpm: &TdIdentity, policy: Policy) -> Self {
        Self::with_ek(seed, vtpm, policy, BootConfig::default())
    }

    /// [`Self::new`] whose vTPM instances get the EK of `ek_config` (e.g.
    /// `BootConfig::rsa2048()`).
    pub fn with_ek(seed: u64, vtpm: &TdIdentity, policy: Policy, ek_config: BootConfig) -> Self {
        let module = SimTdxModule::shared(seed);
        let quoting = SimQuotingService::shared(seed);
        let vtpm_td = module.borrow_mut().launch(vtpm);
        let vmm = Rc::new(RefCell::new(Vmm::with_ek(
            module.clone(),
            quoting.clone(),
            vtpm_td,
            policy,
            seed,
            ek_config,
        )));
        Self {
            module,
            quoting,
            vmm,
            vtpm_td,
        }
    }

    /// Launch a user TD known to the VMM as `id`, optionally bound to the vTPM TD (TDX 1.5).
    pub fn launch_user(
        &self,
        id: &TdIdentity,
        tpm_id: TpmId,
        bind: bool,
    ) -> (TdHandle, UserTdDoor) {
        let td = if bind {
            self.module
                .borrow_mut()
                .launch_bound(id, self.vtpm_td, VTPM_BINDING)
                .expect("the vTPM TD binds")
        } else {
            self.module.borrow_mut().launch(id)
        };
        let door = UserTdDoor::new(
            self.module.clone(),
            self.quoting.clone(),
            self.vmm.clone(),
            td,
            tpm_id,
        );
        (td, door)
    }
}
