//! Capability commands (Part 3 §30) and the values they report (Part 2 §6.13, §8).

use crate::crypto::hash::HashAlg;
use crate::dispatch::{COMMANDS, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{MAX_OBJECTS, MAX_PERSISTENT};
use crate::state::pcr::{attrs, locality_in, no_increment};
use crate::state::session::MAX_SESSIONS;
use crate::wire::Writer;
use crate::wire::constants::handle::{
    HT_HMAC_SESSION, HT_NV_INDEX, HT_PCR, HT_PERMANENT, HT_PERSISTENT, HT_POLICY_SESSION,
    HT_TRANSIENT, RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM, RH_PLATFORM_NV,
    RS_PW, handle_type,
};
use crate::wire::constants::{TpmAlgId, TpmCap, pt, pt_pcr};
use crate::wire::types::{MAX_BUFFER, PCR_COUNT, PCR_SELECT_BYTES, PCR_SELECT_MAX};
use crate::{MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, Tpm};

/// TPMA_ALGORITHM bits (Part 2 §8.2).
mod alg_attr {
    pub const ASYMMETRIC: u32 = 0x1;
    pub const SYMMETRIC: u32 = 0x2;
    pub const HASH: u32 = 0x4;
    pub const OBJECT: u32 = 0x8;
    pub const SIGNING: u32 = 0x100;
    pub const ENCRYPTING: u32 = 0x200;
    pub const METHOD: u32 = 0x400;
}

/// The implemented algorithms and their TPMA_ALGORITHM, ascending. SHA-256 carries exactly
/// `hash`, or tpm2-tools silently picks another session hash.
pub const ALGORITHMS: &[(TpmAlgId, u32)] = &[
    #[cfg(feature = "rsa")]
    (TpmAlgId::RSA, alg_attr::ASYMMETRIC | alg_attr::OBJECT),
    (TpmAlgId::HMAC, alg_attr::HASH | alg_attr::SIGNING),
    (TpmAlgId::AES, alg_attr::SYMMETRIC),
    #[cfg(feature = "rsa")]
    (TpmAlgId::MGF1, alg_attr::HASH | alg_attr::METHOD),
    (TpmAlgId::KEYEDHASH, alg_attr::HASH | alg_attr::OBJECT),
    (TpmAlgId::XOR, alg_attr::SYMMETRIC | alg_attr::HASH),
    #[cfg(feature = "sha1")]
    (TpmAlgId::SHA1, alg_attr::HASH),
    (TpmAlgId::SHA256, alg_attr::HASH),
    (TpmAlgId::SHA384, alg_attr::HASH),
    (TpmAlgId::SHA512, alg_attr::HASH),
    #[cfg(feature = "rsa")]
    (TpmAlgId::RSASSA, alg_attr::ASYMMETRIC | alg_attr::SIGNING),
    #[cfg(feature = "rsa")]
    (TpmAlgId::RSAES, alg_attr::ASYMMETRIC | alg_attr::ENCRYPTING),
    #[cfg(feature = "rsa")]
    (TpmAlgId::RSAPSS, alg_attr::ASYMMETRIC | alg_attr::SIGNING),
    #[cfg(feature = "rsa")]
    (TpmAlgId::OAEP, alg_attr::ASYMMETRIC | alg_attr::ENCRYPTING),
    (TpmAlgId::ECDSA, alg_attr::ASYMMETRIC | alg_attr::SIGNING),
    (TpmAlgId::KDF1_SP800_108, alg_attr::HASH | alg_attr::METHOD),
    (TpmAlgId::ECC, alg_attr::ASYMMETRIC | alg_attr::OBJECT),
    (TpmAlgId::SYMCIPHER, alg_attr::OBJECT),
    #[cfg(feature = "sym-modes")]
    (TpmAlgId::CTR, alg_attr::SYMMETRIC | alg_attr::ENCRYPTING),
    #[cfg(feature = "sym-modes")]
    (TpmAlgId::OFB, alg_attr::SYMMETRIC | alg_attr::ENCRYPTING),
    #[cfg(feature = "sym-modes")]
    (TpmAlgId::CBC, alg_attr::SYMMETRIC | alg_attr::ENCRYPTING),
    (TpmAlgId::CFB, alg_attr::SYMMETRIC | alg_attr::ENCRYPTING),
    #[cfg(feature = "sym-modes")]
    (TpmAlgId::ECB, alg_attr::SYMMETRIC | alg_attr::ENCRYPTING),
];

/// Most entries of one list in a GetCapability answer (MAX_CAP_BUFFER = 1024 bytes).
pub const MAX_CAP_ALGS: usize = 169;
const MAX_CAP_HANDLES: usize = 254;
const MAX_CAP_CC: usize = 254;
/// MAX_TAGGED_POLICIES: (MAX_CAP_DATA) / sizeof(TPMS_TAGGED_POLICY) with SHA-512 digests.
const MAX_TAGGED_POLICIES: usize = 14;
const MAX_TPM_PROPERTIES: usize = 127;
const MAX_PCR_PROPERTIES: usize = 127;
const MAX_ECC_CURVES: usize = 508;

/// Whether `alg` is implemented (listed by TPM_CAP_ALGS).
pub fn alg_implemented(alg: TpmAlgId) -> bool {
    ALGORITHMS.iter().any(|(a, _)| *a == alg)
}

/// TPM2_TestParms (Part 3 §30.3): whether the TPMT_PUBLIC_PARMS (Part 2 §12.2.3.8) are
/// supported. Unmarshaling decides, as in the reference implementation: an unimplemented
/// type is TPM_RC_TYPE, and the parameters of the type give the codes of
/// [`crate::wire::public::PublicKind::unmarshal_parms`], all at parameter 1.
pub(crate) fn test_parms(p: &mut Params<'_>) -> TpmResult<()> {
    p.next(|r| {
        let ty = TpmAlgId(r.u16()?);
        crate::wire::public::PublicKind::unmarshal_parms(ty, r).map(|_| ())
    })?;
    p.finish()
}

/// TPMS_ATTEST.firmwareVersion: FIRMWARE_VERSION_1 ‖ FIRMWARE_VERSION_2 (crate version).
pub fn firmware_version() -> u64 {
    let v = |i: usize| VERSION.get(i).copied().map_or(0, u64::from);
    ((v(0) << 16 | v(1)) << 32) | v(2)
}

/// Four ASCII characters as a big-endian u32 (vendor strings, family indicator).
const fn chars(s: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*s)
}

/// The TPM_PT_PCR properties we report, with their bitmaps.
fn pcr_property(tag: u32) -> Option<[u8; PCR_SELECT_MAX]> {
    let mut sel = [0u8; PCR_SELECT_MAX];
    let set = |sel: &mut [u8; PCR_SELECT_MAX], f: &dyn Fn(usize) -> bool| {
        for i in 0..PCR_COUNT {
            if let Some(b) = sel.get_mut(i / 8).filter(|_| f(i)) {
                *b |= 1 << (i % 8);
            }
        }
    };
    match tag {
        pt_pcr::SAVE => set(&mut sel, &|i| attrs(i).state_save),
        pt_pcr::EXTEND_L0..=pt_pcr::RESET_L4 => {
            let off = tag.saturating_sub(pt_pcr::EXTEND_L0);
            let loc = u8::try_from(off / 2).unwrap_or(u8::MAX);
            let reset = off % 2 == 1;
            set(&mut sel, &|i| {
                let a = attrs(i);
                locality_in(
                    if reset {
                        a.reset_localities
                    } else {
                        a.extend_localities
                    },
                    loc,
                )
            });
        }
        pt_pcr::NO_INCREMENT => set(&mut sel, &no_increment),
        pt_pcr::DRTM_RESET => set(&mut sel, &|i| locality_in(attrs(i).reset_localities, 4)),
        pt_pcr::POLICY | pt_pcr::AUTH => set(&mut sel, &crate::state::pcr::in_auth_group),
        _ => return None,
    }
    Some(sel)
}

/// The crate version's major, minor and patch numbers, parsed when compiling (at run time the
/// parse would bring string slicing and its panic paths into the firmware).
const VERSION: [u32; 3] = parse_version(env!("CARGO_PKG_VERSION").as_bytes());

/// `major.minor.patch[-pre]` → [major, minor, patch]; a part that is not a number counts 0.
const fn parse_version(mut s: &[u8]) -> [u32; 3] {
    let mut out = [0u32; 3];
    let mut part: usize = 0;
    let mut value: u32 = 0;
    loop {
        let (c, rest) = match s {
            [c, rest @ ..] if c.is_ascii_digit() => (*c, rest),
            [b'.', rest @ ..] => (b'.', rest),
            _ => (0, &[] as &[u8]),
        };
        s = rest;
        if c.is_ascii_digit() {
            value = value
                .saturating_mul(10)
                .saturating_add(c.saturating_sub(b'0') as u32);
            continue;
        }
        let [major, minor, patch] = &mut out;
        match part {
            0 => *major = value,
            1 => *minor = value,
            2 => *patch = value,
            _ => {}
        }
        if c != b'.' {
            return out;
        }
        part = part.saturating_add(1);
        value = 0;
    }
}

impl<P: Platform> Tpm<P> {
    /// The value of TPM property `tag`, if defined (Part 2 §6.13).
    fn property(&self, tag: u32) -> Option<u32> {
        let version = |i: usize| VERSION.get(i).copied().unwrap_or(0);
        let objects_used = MAX_OBJECTS.saturating_sub(self.objects.free());
        let h = &self.hier;
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Some(match tag {
            0x100 => chars(b"2.0\0"),                        // FAMILY_INDICATOR
            0x101 => 0,                                      // LEVEL
            0x102 => 164,                                    // REVISION (1.64)
            0x103 => 75,                                     // DAY_OF_YEAR of that revision
            0x104 => 2021,                                   // YEAR
            0x105 => chars(b"VTPM"),                         // MANUFACTURER
            0x106 => chars(b"ephm"),                         // VENDOR_STRING_1
            0x107 => chars(b"eral"),                         // VENDOR_STRING_2
            0x108 => chars(b" vTP"),                         // VENDOR_STRING_3
            0x109 => chars(b"M\0\0\0"),                      // VENDOR_STRING_4
            0x10A => 1,                                      // VENDOR_TPM_TYPE
            0x10B => (version(0) << 16) | version(1),        // FIRMWARE_VERSION_1
            0x10C => version(2),                             // FIRMWARE_VERSION_2
            0x10D => n(MAX_BUFFER),                          // INPUT_BUFFER
            0x10E => n(MAX_OBJECTS),                         // HR_TRANSIENT_MIN
            0x10F => n(MAX_PERSISTENT),                      // HR_PERSISTENT_MIN
            0x110 => n(MAX_SESSIONS),                        // HR_LOADED_MIN
            0x111 => n(MAX_SESSIONS),                        // ACTIVE_SESSIONS_MAX
            0x112 => n(PCR_COUNT),                           // PCR_COUNT
            0x113 => n(PCR_SELECT_MAX),                      // PCR_SELECT_MIN
            0x114 => 0xFFFF,                                 // CONTEXT_GAP_MAX
            0x116 => 0,                                      // NV_COUNTERS_MAX
            0x117 => n(crate::state::nv::MAX_NV_INDEX_SIZE), // NV_INDEX_MAX
            0x118 => 0x6,                                    // MEMORY: sharedNV | objectCopiedToRam
            0x119 => 1000,                                   // CLOCK_UPDATE (ms)
            0x11A => u32::from(TpmAlgId::SHA512.0),          // CONTEXT_HASH
            0x11B => u32::from(TpmAlgId::AES.0),             // CONTEXT_SYM
            0x11C => 256,                                    // CONTEXT_SYM_SIZE
            0x11D => 255,                                    // ORDERLY_COUNT
            0x11E => n(MAX_COMMAND_SIZE),                    // MAX_COMMAND_SIZE
            0x11F => n(MAX_RESPONSE_SIZE),                   // MAX_RESPONSE_SIZE
            0x120 => 64,                                     // MAX_DIGEST
            0x121 => 1024,                                   // MAX_OBJECT_CONTEXT
            0x122 => 256,                                    // MAX_SESSION_CONTEXT
            0x123 => 1,                                      // PS_FAMILY_INDICATOR: PC Client
            0x124 => 0,                                      // PS_LEVEL
            0x125 => 0x105,                                  // PS_REVISION
            0x126 => 0,                                      // PS_DAY_OF_YEAR
            0x127 => 0,                                      // PS_YEAR
            0x128 => u32::from(crate::state::Commits::BITS), // SPLIT_MAX
            0x129 | 0x12A => n(COMMANDS.len()),              // TOTAL_COMMANDS, LIBRARY_COMMANDS
            0x12B => 0,                                      // VENDOR_COMMANDS
            0x12C => n(MAX_BUFFER),                          // NV_BUFFER_MAX
            0x12D => 0,                                      // MODES
            0x12E => 1024,                                   // MAX_CAP_BUFFER
            0x200 => {
                // PERMANENT
                u32::from(!h.owner_auth.is_empty())
                    | (u32::from(!h.endorsement_auth.is_empty()) << 1)
                    | (u32::from(!h.lockout_auth.is_empty()) << 2)
                    | (u32::from(h.disable_clear) << 8)
                    | (u32::from(self.da.in_lockout()) << 9)
                    | (1 << 10) // tpmGeneratedEPS
            }
            0x201 => {
                // STARTUP_CLEAR
                u32::from(h.ph_enable)
                    | (u32::from(h.sh_enable) << 1)
                    | (u32::from(h.eh_enable) << 2)
                    | (u32::from(h.ph_enable_nv) << 3)
            }
            0x202 => n(self.nv.handles().len()), // HR_NV_INDEX
            0x203 => n(self.sessions.loaded()),  // HR_LOADED
            0x204 => n(MAX_SESSIONS.saturating_sub(self.sessions.count())), // HR_LOADED_AVAIL (slots)
            0x205 => n(self.sessions.count()),                              // HR_ACTIVE
            0x206 => n(MAX_SESSIONS.saturating_sub(self.sessions.count())), // HR_ACTIVE_AVAIL
            0x207 => n(MAX_OBJECTS.saturating_sub(objects_used)),           // HR_TRANSIENT_AVAIL
            0x208 => n(self.objects.persistent_handles().len()),            // HR_PERSISTENT
            0x209 => n(MAX_PERSISTENT.saturating_sub(self.objects.persistent_handles().len())), // HR_PERSISTENT_AVAIL
            0x20A => n(self.nv.counters()),       // NV_COUNTERS
            0x20B => n(self.nv.counters_avail()), // NV_COUNTERS_AVAIL
            0x20C => self.algorithm_set,          // ALGORITHM_SET
            0x20D => 0,                           // LOADED_CURVES
            0x20E => self.da.failed_tries,        // LOCKOUT_COUNTER
            0x20F => self.da.max_tries,           // MAX_AUTH_FAIL
            0x210 => self.da.recovery_time,       // LOCKOUT_INTERVAL
            0x211 => self.da.lockout_recovery,    // LOCKOUT_RECOVERY
            _ => return None,
        })
    }

    /// Write `count ‖ items` for the items of `all` (ascending) from `first`, at most `max`
    /// and `requested`; returns moreData.
    fn write_list<T: Copy>(
        w: &mut Writer<'_>,
        all: impl Iterator<Item = T>,
        requested: u32,
        max: usize,
        mut put: impl FnMut(&mut Writer<'_>, T) -> Result<(), crate::wire::WireError>,
    ) -> TpmResult<bool> {
        let limit = usize::try_from(requested).unwrap_or(usize::MAX).min(max);
        let at = w.reserve::<4>()?;
        let mut count: u32 = 0;
        let mut more = false;
        for item in all {
            if usize::try_from(count).unwrap_or(usize::MAX) >= limit {
                more = true;
                break;
            }
            put(w, item)?;
            count = count.saturating_add(1);
        }
        w.patch(at, &count.to_be_bytes())?;
        Ok(more)
    }

    /// TPM2_GetCapability (Part 3 §30.2): `moreData ‖ capability ‖ list`, entries ascending
    /// from `property`. PCRS always lists every bank (the Linux kernel asks with count 1).
    pub(crate) fn get_capability(
        &mut self,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let cap = TpmCap(p.u32()?);
        let property = p.u32()?;
        let count = p.u32()?;
        p.finish()?;
        let more_at = w.reserve::<1>()?;
        w.u32(cap.0)?;
        let more = match cap {
            TpmCap::ALGS => {
                let first = u16::try_from(property).unwrap_or(u16::MAX);
                let it = ALGORITHMS.iter().copied().filter(|(a, _)| a.0 >= first);
                Self::write_list(w, it, count, MAX_CAP_ALGS, |w, (a, at)| {
                    w.u16(a.0)?;
                    w.u32(at)
                })?
            }
            TpmCap::HANDLES => {
                let mut handles: heapless::Vec<u32, 64> = heapless::Vec::new();
                match handle_type(property) {
                    HT_PCR => (0..PCR_COUNT).for_each(|i| {
                        let _ = handles.push(u32::try_from(i).unwrap_or(0));
                    }),
                    HT_TRANSIENT => self.objects.handles().for_each(|h| {
                        let _ = handles.push(h);
                    }),
                    // TPM_HT_LOADED_SESSION (0x02): every loaded session, each under its own
                    // handle (HMAC 0x02…, policy and trial 0x03…), by slot; TPM_HT_SAVED_SESSION
                    // (0x03): every saved session, listed as 0x02000000 + slot. Both as
                    // libtpms' SessionCapGetLoaded / SessionCapGetSaved answer (Part 3 §30.2
                    // names the two ranges; the handles in them are the reference's choice).
                    HT_HMAC_SESSION | HT_POLICY_SESSION => {
                        let saved = handle_type(property) == HT_POLICY_SESSION;
                        let first = usize::try_from(property & 0x00FF_FFFF).unwrap_or(usize::MAX);
                        for slot in first..MAX_SESSIONS {
                            let Ok(slot) = u32::try_from(slot) else { break };
                            for ht in [HT_HMAC_SESSION, HT_POLICY_SESSION] {
                                let h = (u32::from(ht) << 24) | slot;
                                let listed = match self.sessions.get_any(h) {
                                    Some(s) if saved && s.saved.is_some() => {
                                        Some((u32::from(HT_HMAC_SESSION) << 24) | slot)
                                    }
                                    Some(s) if !saved && s.saved.is_none() => Some(h),
                                    _ => None,
                                };
                                if let Some(h) = listed {
                                    let _ = handles.push(h);
                                }
                            }
                        }
                    }
                    HT_PERMANENT => [
                        RH_OWNER,
                        RH_NULL,
                        RS_PW,
                        RH_LOCKOUT,
                        RH_ENDORSEMENT,
                        RH_PLATFORM,
                        RH_PLATFORM_NV,
                    ]
                    .iter()
                    .for_each(|h| {
                        let _ = handles.push(*h);
                    }),
                    HT_PERSISTENT => self.objects.persistent_handles().iter().for_each(|h| {
                        let _ = handles.push(*h);
                    }),
                    HT_NV_INDEX => self.nv.handles().iter().for_each(|h| {
                        let _ = handles.push(*h);
                    }),
                    // Any other handle type: TPM_RC_HANDLE at parameter 2 (Part 3 §30.2,
                    // "value of property is in an unsupported handle range").
                    _ => return Err(TpmRc::HANDLE.at_param(2)),
                }
                // Sessions are already listed from the property's slot on; the session
                // handles may be above or below the property (policy / saved).
                let sessions = matches!(handle_type(property), HT_HMAC_SESSION | HT_POLICY_SESSION);
                // By reference: dropping heapless' owning iterator has a slicing panic path.
                let it = handles
                    .iter()
                    .copied()
                    .filter(|h| sessions || *h >= property);
                Self::write_list(w, it, count, MAX_CAP_HANDLES, |w, h| w.u32(h))?
            }
            TpmCap::COMMANDS => {
                let it = COMMANDS.iter().filter(|c| c.code.0 >= property);
                Self::write_list(w, it, count, MAX_CAP_CC, |w, c| w.u32(c.attributes()))?
            }
            TpmCap::AUDIT_COMMANDS => {
                let it = self.audit.commands().filter(|c| c.0 >= property);
                Self::write_list(w, it, count, MAX_CAP_CC, |w, c| w.u32(c.0))?
            }
            TpmCap::PP_COMMANDS => {
                Self::write_list(w, core::iter::empty::<u32>(), count, MAX_CAP_CC, |w, c| {
                    w.u32(c)
                })?
            }
            TpmCap::PCRS => {
                // The property must be 0 (TPM_RC_VALUE at parameter 2, Part 3 §30.2).
                if property != 0 {
                    return Err(TpmRc::VALUE.at_param(2));
                }
                // Every implemented hash, whatever the count: a bank is allocated where its
                // bitmap is set (the current allocation, not a pending TPM2_PCR_Allocate).
                w.u32(u32::try_from(HashAlg::ALL.len()).unwrap_or(0))?;
                for b in HashAlg::ALL {
                    w.u16(b.alg_id().0)?;
                    w.u8(PCR_SELECT_BYTES)?;
                    let mask = self.pcrs.allocation().mask(b).to_le_bytes();
                    w.bytes(mask.get(..PCR_SELECT_MAX).unwrap_or_default())?;
                }
                false
            }
            TpmCap::TPM_PROPERTIES => {
                let it = (property.max(pt::FIXED)..=pt::VAR_LAST)
                    .filter_map(|t| self.property(t).map(|v| (t, v)));
                Self::write_list(w, it, count, MAX_TPM_PROPERTIES, |w, (t, v)| {
                    w.u32(t)?;
                    w.u32(v)
                })?
            }
            TpmCap::AUTH_POLICIES => {
                // Part 2 §10.9.13 TPML_TAGGED_POLICY; the reference's PermanentHandleGetPolicy:
                // the permanent handles with an authPolicy, ascending from `property`, each
                // with the policy's hash (TPM_ALG_NULL and no digest when it has none).
                if handle_type(property) != HT_PERMANENT {
                    return Err(TpmRc::VALUE.at_param(2));
                }
                let it = [RH_OWNER, RH_LOCKOUT, RH_ENDORSEMENT, RH_PLATFORM]
                    .into_iter()
                    .filter(|&h| h >= property);
                let this = &*self;
                Self::write_list(w, it, count, MAX_TAGGED_POLICIES, |w, h| {
                    let policy = this.entity_policy(h);
                    let d = policy.as_slice();
                    let alg = HashAlg::ALL
                        .into_iter()
                        .find(|a| !d.is_empty() && a.size() == d.len())
                        .map_or(TpmAlgId::NULL, HashAlg::alg_id);
                    w.u32(h)?;
                    w.u16(alg.0)?;
                    w.bytes(d)
                })?
            }
            TpmCap::PCR_PROPERTIES => {
                let it = (property..=pt_pcr::AUTH).filter_map(|t| pcr_property(t).map(|s| (t, s)));
                Self::write_list(w, it, count, MAX_PCR_PROPERTIES, |w, (t, s)| {
                    w.u32(t)?;
                    w.u8(PCR_SELECT_BYTES)?;
                    w.bytes(&s)
                })?
            }
            TpmCap::ECC_CURVES => {
                let first = u16::try_from(property).unwrap_or(u16::MAX);
                let it = crate::crypto::ecc::Curve::ALL
                    .into_iter()
                    .map(|c| c.id())
                    .filter(|c| *c >= first);
                Self::write_list(w, it, count, MAX_ECC_CURVES, |w, c| w.u16(c))?
            }
            _ => return Err(TpmRc::VALUE.at_param(1)),
        };
        w.patch(more_at, &[u8::from(more)])?;
        Ok(())
    }
}

#[cfg(test)]
mod version_tests {
    use super::parse_version;

    #[test]
    fn version_parts_parsed_at_compile_time() {
        assert_eq!(parse_version(b"0.1.0"), [0, 1, 0]);
        assert_eq!(parse_version(b"12.34.56-rc.1"), [12, 34, 56]);
        assert_eq!(parse_version(b"3"), [3, 0, 0]);
        assert_eq!(parse_version(b""), [0, 0, 0]);
        assert_eq!(
            super::VERSION,
            parse_version(env!("CARGO_PKG_VERSION").as_bytes())
        );
    }
}
