//! Boot: manufacture the ephemeral vTPM and create its endorsement key, ready for evidence.
//!
//! One call ([`boot`]) builds a fresh [`Tpm`] (new seeds from the platform's entropy), sends
//! TPM2_Startup(CLEAR), and creates the EK in the endorsement hierarchy from a TCG template
//! (TCG EK Credential Profile for TPM Family 2.0, §B.4: H-3 ECC NIST P-384 by default, L-2 ECC
//! NIST P-256 or L-1 RSA-2048 optionally; L-1 needs the core's `rsa` feature, which this crate's
//! `rsa` feature turns on). By default the EK is made persistent at its profile handle, so the
//! guest finds it where tools look for it, and the transient copy is flushed. The EK's
//! TPMT_PUBLIC is kept: it is the SVSM vTPM service manifest (for L-1 the 314 bytes COCONUT-SVSM
//! publishes and verifiers regenerate from the default RSA template).
//!
//! Everything goes through [`Tpm::execute`] with command bytes built here (TCG TPM 2.0 Part 3),
//! exactly as a guest would send them. Startup(CLEAR) before the guest is harmless: guest
//! firmware treats TPM_RC_INITIALIZE from its own Startup as success, and Linux `tpm_svsm` uses
//! auto-startup, which sends Startup only when the TPM asks for it.

use vtpm::{MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, Platform, Tpm};

use crate::layout::put_slice;
use crate::svsm::VtpmService;

/// Largest EK TPMT_PUBLIC kept (L-1 RSA-2048 is 314 bytes, H-3 170, L-2 122).
pub const MAX_EK_PUBLIC: usize = 320;

/// TPM_RH_ENDORSEMENT (Part 2 §7.4).
const RH_ENDORSEMENT: u32 = 0x4000_000B;
/// TPM_RH_OWNER.
const RH_OWNER: u32 = 0x4000_0001;
/// TPM_RS_PW.
const RS_PW: u32 = 0x4000_0009;
/// TPM_CC_Startup.
const CC_STARTUP: u32 = 0x144;
/// TPM2_HierarchyControl (Part 3 §24.2).
const CC_HIERARCHY_CONTROL: u32 = 0x121;
/// TPM_RH_PLATFORM.
const RH_PLATFORM: u32 = 0x4000_000C;
/// TPM_CC_CreatePrimary.
const CC_CREATE_PRIMARY: u32 = 0x131;
/// TPM_CC_EvictControl.
const CC_EVICT_CONTROL: u32 = 0x120;
/// TPM_CC_FlushContext.
const CC_FLUSH_CONTEXT: u32 = 0x165;
/// TPM_ST_NO_SESSIONS / TPM_ST_SESSIONS.
const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;

/// PolicyB_SHA384 = PolicyOR(PolicySecret(ENDORSEMENT), PolicyAuthorizeNV(0x01C07F02)): the H-3
/// authPolicy (TCG EK Credential Profile §B.6.3).
const POLICY_B_SHA384: [u8; 48] = [
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
];
/// PolicyA_SHA256 = PolicySecret(ENDORSEMENT): the L-1 and L-2 authPolicy (§B.6.1).
const POLICY_A_SHA256: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];

/// Which EK template to use (TCG EK Credential Profile, Annex B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EkTemplate {
    /// H-3: ECC NIST P-384, SHA-384 name, AES-256-CFB, PolicyB; persistent handle 0x81010016.
    EccP384H3,
    /// L-2: ECC NIST P-256, SHA-256 name, AES-128-CFB, PolicyA, zero-filled unique.
    EccP256L2,
    /// L-1: RSA-2048, SHA-256 name, AES-128-CFB, PolicyA, exponent 0 (= 2^16 + 1), unique 256
    /// zero bytes; persistent handle 0x81010001. The EK of COCONUT-SVSM's vTPM and of most
    /// physical TPMs. Needs the core's `rsa` feature: without it boot refuses the template
    /// ([`BootError::RsaUnavailable`]).
    RsaL1,
}

/// Size of the L-1 template and of the L-1 EK's TPMT_PUBLIC (the unique field is 256 bytes in
/// both): type, nameAlg, objectAttributes, authPolicy (2 + 32), symmetric (6), scheme, keyBits,
/// exponent (4), unique (2 + 256).
pub const RSA_L1_PUBLIC_SIZE: usize = 2 + 2 + 4 + 2 + 32 + 6 + 2 + 2 + 4 + 2 + 256;
const _: () = assert!(RSA_L1_PUBLIC_SIZE == 314 && RSA_L1_PUBLIC_SIZE <= MAX_EK_PUBLIC);

impl EkTemplate {
    /// The profile's persistent handle for this EK, where one is assigned.
    pub const fn profile_handle(self) -> Option<u32> {
        match self {
            Self::EccP384H3 => Some(0x8101_0016),
            Self::EccP256L2 => None,
            Self::RsaL1 => Some(0x8101_0001),
        }
    }

    /// The NV index of this EK's certificate (TCG EK Credential Profile §2.2.1.5).
    pub const fn certificate_index(self) -> u32 {
        match self {
            Self::EccP384H3 => crate::ekcert::EK_CERT_INDEX_P384,
            Self::EccP256L2 => crate::ekcert::EK_CERT_INDEX_P256,
            Self::RsaL1 => crate::ekcert::EK_CERT_INDEX_RSA2048,
        }
    }

    /// Whether this is an RSA template.
    pub const fn is_rsa(self) -> bool {
        matches!(self, Self::RsaL1)
    }

    /// The TPMT_PUBLIC template bytes into `out`; returns the length, or `None` if `out` is too
    /// small (74 bytes for H-3, 122 for L-2, 314 for L-1).
    pub fn write_template(self, out: &mut [u8]) -> Option<usize> {
        let mut w = W::new(out);
        self.write(&mut w);
        if w.overflow { None } else { Some(w.pos) }
    }

    /// The TPMT_PUBLIC template, appended to `w` (in place in the command being built: boot
    /// keeps no separate template buffer).
    fn write(self, w: &mut W<'_>) {
        match self {
            Self::EccP384H3 => {
                w.u16(0x0023); // TPM_ALG_ECC
                w.u16(0x000C); // nameAlg SHA384
                w.u32(0x0003_00F2); // fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy
                // restricted decrypt
                w.u16(48);
                w.bytes(&POLICY_B_SHA384);
                w.u16(0x0006); // AES
                w.u16(256);
                w.u16(0x0043); // CFB
                w.u16(0x0010); // scheme NULL
                w.u16(0x0004); // NIST P-384
                w.u16(0x0010); // kdf NULL
                w.u16(0); // unique.x empty
                w.u16(0); // unique.y empty
            }
            Self::EccP256L2 => {
                w.u16(0x0023);
                w.u16(0x000B); // SHA256
                w.u32(0x0003_00B2); // fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy
                // restricted decrypt (userWithAuth clear)
                w.u16(32);
                w.bytes(&POLICY_A_SHA256);
                w.u16(0x0006);
                w.u16(128);
                w.u16(0x0043);
                w.u16(0x0010);
                w.u16(0x0003); // NIST P-256
                w.u16(0x0010);
                w.u16(32);
                w.bytes(&[0; 32]);
                w.u16(32);
                w.bytes(&[0; 32]);
            }
            Self::RsaL1 => {
                w.u16(0x0001); // TPM_ALG_RSA
                w.u16(0x000B); // SHA256
                w.u32(0x0003_00B2); // as L-2
                w.u16(32);
                w.bytes(&POLICY_A_SHA256);
                w.u16(0x0006); // AES
                w.u16(128);
                w.u16(0x0043); // CFB
                w.u16(0x0010); // scheme NULL
                w.u16(2048); // keyBits
                w.u32(0); // exponent: the default, 2^16 + 1
                w.u16(256); // unique.n: 256 zero bytes
                w.bytes(&[0; 256]);
            }
        }
    }
}

/// How to boot the vTPM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootConfig {
    /// The EK template.
    pub ek: EkTemplate,
    /// Make the EK persistent at this handle (and flush the transient one); `None` keeps it
    /// as a transient object.
    pub ek_persistent_handle: Option<u32>,
    /// Issue the per-boot CA and EK certificates rooted in the SNP report and store them in NV
    /// ([`crate::ekcert::provision`]).
    pub ek_certificate: bool,
    /// Take platform authority away once the EK (and its certificates) exist
    /// ([`release_platform_hierarchy`]): after Startup(CLEAR) platformAuth is empty, and
    /// whoever holds it may Clear the owner hierarchy (resetting the dictionary-attack
    /// counters), evict owner objects and undefine owner indices. Firmware that hands the
    /// platform hierarchy to the guest's UEFI (which must then randomize platformAuth
    /// itself) sets this to `false`.
    pub release_platform: bool,
    /// The PCR banks, every PCR of each ([`vtpm::Tpm::manufacture_pcr_banks`]); default
    /// SHA-256 and SHA-384. A SHA-1 bank (for Linux IMA's SHA-1 template, Keylime) needs the
    /// core's `sha1` feature.
    pub pcr_banks: &'static [vtpm::crypto::hash::HashAlg],
}

impl Default for BootConfig {
    /// H-3 (P-384) persistent at 0x81010016.
    fn default() -> Self {
        Self {
            ek: EkTemplate::EccP384H3,
            ek_persistent_handle: EkTemplate::EccP384H3.profile_handle(),
            ek_certificate: true,
            release_platform: true,
            pcr_banks: &vtpm::state::pcr::DEFAULT_BANKS,
        }
    }
}

impl BootConfig {
    /// L-1 (RSA-2048) persistent at 0x81010001, with its certificate at NV 0x01C00002: the EK
    /// COCONUT-SVSM's vTPM has. Needs the `rsa` feature.
    pub const fn rsa2048() -> Self {
        Self {
            ek: EkTemplate::RsaL1,
            ek_persistent_handle: EkTemplate::RsaL1.profile_handle(),
            ek_certificate: true,
            release_platform: true,
            pcr_banks: &vtpm::state::pcr::DEFAULT_BANKS,
        }
    }

    /// L-2 (P-256), kept transient, without certificates.
    pub const fn p256() -> Self {
        Self {
            ek: EkTemplate::EccP256L2,
            ek_persistent_handle: None,
            ek_certificate: false,
            release_platform: true,
            pcr_banks: &vtpm::state::pcr::DEFAULT_BANKS,
        }
    }
}

/// The endorsement key the boot created.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ek {
    template: EkTemplate,
    handle: u32,
    public: [u8; MAX_EK_PUBLIC],
    len: usize,
}

impl core::fmt::Debug for Ek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ek")
            .field("template", &self.template)
            .field("handle", &format_args!("{:#010x}", self.handle))
            .field("public_len", &self.len)
            .finish()
    }
}

impl Ek {
    /// No EK yet (a service not booted): an empty public area.
    pub(crate) const NONE: Self = Self {
        template: EkTemplate::EccP384H3,
        handle: 0,
        public: [0; MAX_EK_PUBLIC],
        len: 0,
    };

    /// The template it was created from.
    pub fn template(&self) -> EkTemplate {
        self.template
    }

    /// Its handle: persistent (0x81…) or transient (0x80…).
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Its TPMT_PUBLIC (no size prefix): the SVSM vTPM service manifest, version 0.
    pub fn public(&self) -> &[u8] {
        self.public.get(..self.len).unwrap_or(&[])
    }

    /// Forget it (a boot that failed part-way): no handle, an empty public area.
    fn clear(&mut self) {
        self.handle = 0;
        self.len = 0;
    }
}

/// Why booting failed: the step and the TPM response code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// The TPM came up in failure mode (the entropy source failed at manufacture).
    FailureMode,
    /// TPM2_Startup failed.
    Startup(u32),
    /// TPM2_CreatePrimary of the EK failed.
    CreatePrimary(u32),
    /// An RSA EK template was asked for, but the core was built without its `rsa` feature
    /// (checked before Startup; a core that answers CreatePrimary with TPM_RC_TYPE for the
    /// template gives the same error): build with `platform-snp/rsa`.
    RsaUnavailable,
    /// TPM2_EvictControl failed.
    EvictControl(u32),
    /// TPM2_FlushContext of the transient EK failed.
    FlushContext(u32),
    /// A response did not have the expected shape.
    MalformedResponse,
    /// The EK or CA certificate could not be made or stored.
    EkCertificate(crate::ekcert::EkCertError),
    /// TPM2_HierarchyControl(TPM_RH_PLATFORM, NO) failed.
    HierarchyControl(u32),
    /// [`boot_in_place`] on a service that was already booted (its TPM is left as it was).
    AlreadyBooted,
    /// [`BootConfig::pcr_banks`] names no bank, or more banks than the core holds.
    PcrBanks,
}

/// A tiny big-endian writer that never panics (a full buffer makes it stop writing; callers
/// size their buffers for the fixed commands they build).
struct W<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> W<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }
    #[inline(never)]
    fn bytes(&mut self, b: &[u8]) {
        if !self.overflow && put_slice(self.buf, self.pos, b) {
            self.pos = self.pos.saturating_add(b.len());
        } else {
            self.overflow = true;
        }
    }
    #[inline(never)]
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    #[inline(never)]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    fn len(&self) -> usize {
        if self.overflow { 0 } else { self.pos }
    }
    /// Overwrite two bytes already written at `at` (a size field known only afterwards).
    fn patch_u16(&mut self, at: usize, v: u16) {
        let end = at.saturating_add(2);
        if end > self.pos || !put_slice(self.buf, at, &v.to_be_bytes()) {
            self.overflow = true;
        }
    }
    /// Patch commandSize (bytes 2..6) with the length written.
    fn finish(mut self) -> usize {
        let n = self.len();
        if let Ok(size) = u32::try_from(n) {
            put_slice(self.buf, 2, &size.to_be_bytes());
        } else {
            self.overflow = true;
        }
        self.len()
    }
}

fn be_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(off..)?.first_chunk::<4>()?))
}

fn be_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(off..)?.first_chunk::<2>()?))
}

/// Run `cmd` and return (response code, response bytes).
fn run<'r, P: Platform>(
    tpm: &mut Tpm<P>,
    cmd: &[u8],
    bufs: &'r mut Buffers<'_>,
) -> (u32, &'r [u8]) {
    let n = tpm.execute_with_scratch(0, cmd, bufs.rsp, bufs.scratch);
    let bytes = bufs.rsp.get(..n).unwrap_or(&[]);
    (be_u32(bytes, 6).unwrap_or(u32::MAX), bytes)
}

/// A password authorization area with an empty password (TPMS_AUTH_COMMAND, Part 1 §19.8.4).
fn empty_password(w: &mut W<'_>) {
    w.u32(9);
    w.u32(RS_PW);
    w.u16(0); // nonceCaller
    w.bytes(&[0]); // sessionAttributes
    w.u16(0); // hmac (password)
}

/// Manufacture the vTPM on `platform` and create its EK as `config` says: Startup(CLEAR),
/// CreatePrimary(EK), and optionally EvictControl + FlushContext. Returns the service ready for
/// SVSM requests and attestation.
///
/// The service is returned by value (about 73 KB): for hosts. Firmware holds the service where
/// it chooses ([`VtpmService::unbooted`] is a `const fn`) and calls [`boot_in_place`].
pub fn boot<P: Platform>(platform: P, config: &BootConfig) -> Result<VtpmService<P>, BootError> {
    let mut service = VtpmService::unbooted(platform);
    boot_in_place(&mut service, config)?;
    Ok(service)
}

/// [`boot`] where the service lies: manufacture its TPM in place, then create the EK with the
/// service's own response buffer. Nothing larger than one command is built on the stack, so
/// firmware boots the vTPM within its task stack.
pub fn boot_in_place<P: Platform>(
    service: &mut VtpmService<P>,
    config: &BootConfig,
) -> Result<(), BootError> {
    let (tpm, ek, mut bufs, page) = service.boot_parts();
    if tpm.manufacture_in_place() == Err(vtpm::TpmRc::INITIALIZE) {
        return Err(BootError::AlreadyBooted);
    }
    if tpm.in_failure_mode() {
        return Err(BootError::FailureMode);
    }
    tpm.manufacture_pcr_banks(config.pcr_banks)
        .map_err(|_| BootError::PcrBanks)?;
    // The EK is written where the service keeps it (no copy of it on this stack); on failure
    // the service stays without one.
    if let Err(e) = create_ek_into(tpm, config, &mut bufs, ek) {
        ek.clear();
        return Err(e);
    }
    if config.ek_certificate {
        crate::ekcert::provision_in(tpm, ek, &mut bufs, page).map_err(BootError::EkCertificate)?;
    }
    if config.release_platform {
        release_platform_with(tpm, &mut bufs)?;
    }
    Ok(())
}

/// Disable the platform hierarchy until the next boot: TPM2_HierarchyControl(TPM_RH_PLATFORM,
/// enable = TPM_RH_PLATFORM, NO) with the (still empty) platformAuth (Part 3 §24.2), as
/// physical platforms' firmware does before it hands over to the OS. Afterwards nothing the
/// guest sends can use platform authority; the platform's NV indices (the EK certificates)
/// stay readable (phEnableNV stays set).
pub fn release_platform_hierarchy<P: Platform>(tpm: &mut Tpm<P>) -> Result<(), BootError> {
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut scratch = [0u8; MAX_COMMAND_SIZE];
    release_platform_with(
        tpm,
        &mut Buffers {
            rsp: &mut rsp,
            scratch: &mut scratch,
        },
    )
}

/// [`release_platform_hierarchy`] in the caller's buffers.
fn release_platform_with<P: Platform>(
    tpm: &mut Tpm<P>,
    bufs: &mut Buffers<'_>,
) -> Result<(), BootError> {
    let mut cmd = [0u8; 32];
    let mut w = W::new(&mut cmd);
    w.u16(ST_SESSIONS);
    w.u32(0);
    w.u32(CC_HIERARCHY_CONTROL);
    w.u32(RH_PLATFORM);
    empty_password(&mut w);
    w.u32(RH_PLATFORM);
    w.bytes(&[0]); // state = NO
    let n = w.finish();
    match run(tpm, cmd.get(..n).unwrap_or(&[]), bufs) {
        (0, _) => Ok(()),
        (rc, _) => Err(BootError::HierarchyControl(rc)),
    }
}

/// The boot sequence on an existing, unstarted TPM (see [`boot`]).
pub fn create_ek<P: Platform>(tpm: &mut Tpm<P>, config: &BootConfig) -> Result<Ek, BootError> {
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut scratch = [0u8; MAX_COMMAND_SIZE];
    let mut ek = Ek::NONE;
    create_ek_into(
        tpm,
        config,
        &mut Buffers {
            rsp: &mut rsp,
            scratch: &mut scratch,
        },
        &mut ek,
    )?;
    Ok(ek)
}

/// The buffers the boot commands run in (the service's own, when booting in place).
pub(crate) struct Buffers<'a> {
    /// The response buffer.
    pub(crate) rsp: &'a mut [u8; MAX_RESPONSE_SIZE],
    /// The parameter-decryption scratch buffer.
    pub(crate) scratch: &'a mut [u8; MAX_COMMAND_SIZE],
}

/// [`create_ek`] in the caller's buffers, into `ek`.
fn create_ek_into<P: Platform>(
    tpm: &mut Tpm<P>,
    config: &BootConfig,
    bufs: &mut Buffers<'_>,
    ek: &mut Ek,
) -> Result<(), BootError> {
    // Large enough for CreatePrimary with the 314-byte L-1 template (355 bytes); the template
    // is written in place, so this is the only command buffer.
    let mut cmd = [0u8; 384];
    // A core without RSA cannot create an RSA EK (it would answer TPM_RC_TYPE): say so before
    // anything is sent, and leave the RSA template out of such a build.
    if config.ek.is_rsa() && vtpm::wire::public::MAX_RSA_KEY_BYTES == 0 {
        return Err(BootError::RsaUnavailable);
    }

    // TPM2_Startup(TPM_SU_CLEAR), Part 3 §9.3.
    let mut w = W::new(&mut cmd);
    w.u16(ST_NO_SESSIONS);
    w.u32(0);
    w.u32(CC_STARTUP);
    w.u16(0);
    let n = w.finish();
    let (rc, _) = run(tpm, cmd.get(..n).unwrap_or(&[]), bufs);
    if rc != 0 {
        return Err(BootError::Startup(rc));
    }

    // TPM2_CreatePrimary(TPM_RH_ENDORSEMENT, template), Part 3 §24.1.
    let mut w = W::new(&mut cmd);
    w.u16(ST_SESSIONS);
    w.u32(0);
    w.u32(CC_CREATE_PRIMARY);
    w.u32(RH_ENDORSEMENT);
    empty_password(&mut w);
    w.u16(4); // inSensitive: userAuth and data empty
    w.u16(0);
    w.u16(0);
    let size_at = w.len();
    w.u16(0); // inPublic: size patched below
    config.ek.write(&mut w);
    let tlen = w
        .len()
        .checked_sub(size_at.saturating_add(2))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(BootError::MalformedResponse)?;
    w.patch_u16(size_at, tlen);
    w.u16(0); // outsideInfo
    w.u32(0); // creationPCR: empty TPML_PCR_SELECTION
    let n = w.finish();
    let (rc, r) = run(tpm, cmd.get(..n).unwrap_or(&[]), bufs);
    if rc != 0 {
        return Err(create_primary_error(config.ek, rc));
    }
    // objectHandle, parameterSize, outPublic (TPM2B_PUBLIC) ...
    let transient = be_u32(r, 10).ok_or(BootError::MalformedResponse)?;
    let plen = usize::from(be_u16(r, 18).ok_or(BootError::MalformedResponse)?);
    let public = r
        .get(20..)
        .and_then(|p| p.get(..plen))
        .ok_or(BootError::MalformedResponse)?;
    if !put_slice(&mut ek.public, 0, public) {
        return Err(BootError::MalformedResponse);
    }
    ek.template = config.ek;
    ek.handle = transient;
    ek.len = plen;

    if let Some(persistent) = config.ek_persistent_handle {
        // TPM2_EvictControl(TPM_RH_OWNER, transient, persistent), Part 3 §28.5.
        let mut w = W::new(&mut cmd);
        w.u16(ST_SESSIONS);
        w.u32(0);
        w.u32(CC_EVICT_CONTROL);
        w.u32(RH_OWNER);
        w.u32(transient);
        empty_password(&mut w);
        w.u32(persistent);
        let n = w.finish();
        let (rc, _) = run(tpm, cmd.get(..n).unwrap_or(&[]), bufs);
        if rc != 0 {
            return Err(BootError::EvictControl(rc));
        }
        // TPM2_FlushContext(transient), Part 3 §28.4.
        let mut w = W::new(&mut cmd);
        w.u16(ST_NO_SESSIONS);
        w.u32(0);
        w.u32(CC_FLUSH_CONTEXT);
        w.u32(transient);
        let n = w.finish();
        let (rc, _) = run(tpm, cmd.get(..n).unwrap_or(&[]), bufs);
        if rc != 0 {
            return Err(BootError::FlushContext(rc));
        }
        ek.handle = persistent;
    }
    Ok(())
}

/// The boot error for CreatePrimary's response code `rc`: TPM_RC_TYPE (format 1, any
/// parameter) for an RSA template means the core has no RSA.
fn create_primary_error(template: EkTemplate, rc: u32) -> BootError {
    const RC_FMT1: u32 = 0x080;
    const RC_TYPE: u32 = 0x00A;
    if template.is_rsa() && rc & RC_FMT1 != 0 && rc & 0x03F == RC_TYPE {
        BootError::RsaUnavailable
    } else {
        BootError::CreatePrimary(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h3_template_bytes() {
        let mut t = [0u8; 128];
        let n = EkTemplate::EccP384H3.write_template(&mut t).unwrap();
        assert_eq!(n, 74);
        assert_eq!(
            &t[..10],
            &[0x00, 0x23, 0x00, 0x0C, 0x00, 0x03, 0x00, 0xF2, 0x00, 0x30]
        );
        assert_eq!(&t[10..58], &POLICY_B_SHA384);
        assert_eq!(
            &t[58..74],
            &[
                0x00, 0x06, 0x01, 0x00, 0x00, 0x43, 0x00, 0x10, 0x00, 0x04, 0x00, 0x10, 0, 0, 0, 0
            ]
        );
        let n = EkTemplate::EccP256L2.write_template(&mut t).unwrap();
        assert_eq!(n, 2 + 2 + 4 + 2 + 32 + 6 + 6 + 2 + 32 + 2 + 32);
    }

    /// L-1 (TCG EK Credential Profile §B.3.3, template L-1), assembled here field by field from
    /// the profile's table (TPMT_PUBLIC, Part 2 §12.2.4, TPMS_RSA_PARMS §12.2.3.5).
    #[test]
    fn l1_template_bytes() {
        let policy_a_sha256 = [
            0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5,
            0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b,
            0x33, 0x14, 0x69, 0xaa,
        ];
        let mut want = Vec::new();
        want.extend(0x0001u16.to_be_bytes()); // type TPM_ALG_RSA
        want.extend(0x000Bu16.to_be_bytes()); // nameAlg TPM_ALG_SHA256
        // fixedTPM (1) | fixedParent (4) | sensitiveDataOrigin (5) | adminWithPolicy (7) |
        // restricted (16) | decrypt (17)
        let attrs: u32 = 1 << 1 | 1 << 4 | 1 << 5 | 1 << 7 | 1 << 16 | 1 << 17;
        assert_eq!(attrs, 0x0003_00B2);
        want.extend(attrs.to_be_bytes());
        want.extend(32u16.to_be_bytes()); // authPolicy: PolicyA_SHA256
        want.extend(policy_a_sha256);
        want.extend(0x0006u16.to_be_bytes()); // symmetric.algorithm TPM_ALG_AES
        want.extend(128u16.to_be_bytes()); // symmetric.keyBits
        want.extend(0x0043u16.to_be_bytes()); // symmetric.mode TPM_ALG_CFB
        want.extend(0x0010u16.to_be_bytes()); // scheme TPM_ALG_NULL
        want.extend(2048u16.to_be_bytes()); // keyBits
        want.extend(0u32.to_be_bytes()); // exponent 0: 2^16 + 1
        want.extend(256u16.to_be_bytes()); // unique: 256 zero bytes
        want.extend([0u8; 256]);
        assert_eq!(want.len(), 314);
        assert_eq!(want.len(), RSA_L1_PUBLIC_SIZE);

        let mut t = [0xEEu8; 400];
        let n = EkTemplate::RsaL1.write_template(&mut t).unwrap();
        assert_eq!(&t[..n], &want[..]);
        // Too small a buffer: refused, not truncated.
        assert_eq!(EkTemplate::RsaL1.write_template(&mut [0u8; 313]), None);
        assert_eq!(EkTemplate::RsaL1.write_template(&mut [0u8; 314]), Some(314));
    }

    #[test]
    fn rsa_profile_handle_index_and_config() {
        assert_eq!(EkTemplate::RsaL1.profile_handle(), Some(0x8101_0001));
        assert_eq!(EkTemplate::RsaL1.certificate_index(), 0x01C0_0002);
        assert_eq!(EkTemplate::EccP384H3.certificate_index(), 0x01C0_0016);
        assert_eq!(EkTemplate::EccP256L2.certificate_index(), 0x01C0_000A);
        let c = BootConfig::rsa2048();
        assert_eq!(c.ek, EkTemplate::RsaL1);
        assert_eq!(c.ek_persistent_handle, Some(0x8101_0001));
        assert!(c.ek_certificate && c.release_platform);
    }

    /// A core without RSA answers the L-1 template with TPM_RC_TYPE at inPublic (parameter
    /// 2): that is [`BootError::RsaUnavailable`]; other codes, or TYPE for an ECC template,
    /// stay CreatePrimary errors.
    #[test]
    fn rsa_unavailable_is_named() {
        let type_at_param_2 = 0x08A | 0x040 | (2 << 8);
        assert_eq!(
            create_primary_error(EkTemplate::RsaL1, type_at_param_2),
            BootError::RsaUnavailable
        );
        assert_eq!(
            create_primary_error(EkTemplate::RsaL1, 0x08A),
            BootError::RsaUnavailable
        );
        assert_eq!(
            create_primary_error(EkTemplate::EccP384H3, type_at_param_2),
            BootError::CreatePrimary(type_at_param_2)
        );
        // TPM_RC_NO_RESULT (format 0): the RSA key could not be made.
        assert_eq!(
            create_primary_error(EkTemplate::RsaL1, 0x154),
            BootError::CreatePrimary(0x154)
        );
    }
}
