//! PCR commands (Part 3 §22) with the PC Client locality rules.

use crate::Tpm;
use crate::crypto::hash::HashAlg;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::pcr::{PCR_POOL, PcrAllocation, attrs, in_auth_group, locality_in};
use crate::wire::Writer;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::types::{
    Auth, Digest, DigestValues, MAX_DIGEST, MAX_EVENT, PCR_COUNT, PcrSelectionList, TaggedDigest,
};

/// PCR_Read returns at most this many digests per call (TPML_DIGEST, Part 2 §10.9.2).
pub const MAX_READ_DIGESTS: usize = 8;

/// The PCR index of a checked PCR handle.
fn pcr_index(h: u32) -> Option<usize> {
    usize::try_from(h).ok().filter(|i| *i < PCR_COUNT)
}

impl<P: Platform> Tpm<P> {
    /// Whether `locality` may extend PCR handle `h` (TPM_RC_LOCALITY otherwise).
    pub(crate) fn check_extend(&self, h: u32, locality: u8) -> TpmResult<Option<usize>> {
        if h == RH_NULL {
            return Ok(None);
        }
        let i = pcr_index(h).ok_or(TpmRc::VALUE.at_handle(1))?;
        if !locality_in(attrs(i).extend_localities, locality) {
            return Err(TpmRc::LOCALITY);
        }
        Ok(Some(i))
    }

    /// TPM2_PCR_Read (Part 3 §22.4): values in selection order, at most eight; bits of banks
    /// that are not allocated, and of PCRs beyond the eighth digest, are cleared in the
    /// returned selection.
    pub(crate) fn pcr_read(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        let mut sel = p.next(PcrSelectionList::unmarshal)?;
        p.finish()?;
        let mut values: heapless::Vec<crate::wire::types::Digest, MAX_READ_DIGESTS> =
            heapless::Vec::new();
        for s in sel.0.iter_mut() {
            for i in 0..PCR_COUNT {
                if !s.is_selected(i) {
                    continue;
                }
                match self.pcrs.get(s.hash, i) {
                    Some(v) if !values.is_full() => {
                        let _ = values.push(v);
                    }
                    _ => s.clear(i),
                }
            }
        }
        w.u32(self.pcrs.update_counter)?;
        sel.marshal(w)?;
        w.u32(u32::try_from(values.len()).map_err(|_| TpmRc::SIZE)?)?;
        for v in &values {
            w.tpm2b(v.as_slice())?;
        }
        Ok(())
    }

    /// TPM2_PCR_Extend (Part 3 §22.2): one digest per bank; digests for banks that are not
    /// allocated are ignored. pcrUpdateCounter moves once per bank extended.
    pub(crate) fn pcr_extend(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let digests = p.next(DigestValues::unmarshal)?;
        p.finish()?;
        let Some(i) = self.check_extend(c.handle(0), c.locality)? else {
            return Ok(());
        };
        self.extend_all(i, &digests);
        Ok(())
    }

    /// Extend PCR `i` in every allocated bank with the matching digest of `digests`. Each
    /// bank extended is one PCR change for pcrUpdateCounter (Part 3 §22.4: the counter
    /// "increments each time a PCR is changed"; the reference implementation's PCRExtend
    /// calls PCRChanged once per allocated bank it extends), unless the PCR is in the
    /// no-increment set (TPM_PT_PCR_NO_INCREMENT).
    pub(crate) fn extend_all(&mut self, i: usize, digests: &DigestValues) {
        for d in &digests.0 {
            if self.pcrs.extend(d.alg, i, d.digest.as_slice()) {
                self.pcrs.count_update(i);
            }
        }
    }

    /// TPM2_PCR_Event (Part 3 §22.3): hash the event with every implemented hash, extend the
    /// allocated banks, return the digests.
    pub(crate) fn pcr_event(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let data = p.tpm2b(MAX_EVENT)?;
        p.finish()?;
        let target = self.check_extend(c.handle(0), c.locality)?;
        let mut digests = DigestValues::default();
        for alg in HashAlg::ALL {
            let d = TaggedDigest {
                alg,
                digest: alg.digest(&[data]),
            };
            digests.0.push(d).map_err(|_| TpmRc::FAILURE)?;
        }
        digests.marshal(w)?;
        if let Some(i) = target {
            self.extend_all(i, &digests);
        }
        Ok(())
    }

    /// TPM2_PCR_Reset (Part 3 §22.8): only PCRs resettable at the command's locality (PC
    /// Client: 16 and 23 from localities 0-3, 20-22 from 2); else TPM_RC_LOCALITY. Never at
    /// locality 4: on a platform with D-RTM PCRs, locality 4 resets them only through
    /// _TPM_Hash_Start (the reference's PCRIsResetAllowed under DRTM_PCR, as libtpms).
    pub(crate) fn pcr_reset(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let i = pcr_index(c.handle(0)).ok_or(TpmRc::VALUE.at_handle(1))?;
        if c.locality == 4 || !locality_in(attrs(i).reset_localities, c.locality) {
            return Err(TpmRc::LOCALITY);
        }
        self.pcrs.reset(i);
        self.pcrs.count_update(i);
        Ok(())
    }

    /// TPM2_PCR_SetAuthValue (Part 3 §22.7): the authValue of the PCR's authValue group
    /// (PCRs 20-22; trailing zeros are not significant), needed from then on to extend,
    /// event or reset the PCRs of the group. It lasts until the next Startup(CLEAR) or
    /// TPM2_Clear. A PCR outside the group: TPM_RC_VALUE (without a position, as the
    /// reference implementation and libtpms answer).
    pub(crate) fn pcr_set_auth_value(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let auth = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        if !pcr_index(c.handle(0)).is_some_and(in_auth_group) {
            return Err(TpmRc::VALUE);
        }
        let mut auth = Auth::from_slice(auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        self.pcrs.group_auth = auth;
        Ok(())
    }

    /// TPM2_PCR_SetAuthPolicy (Part 3 §22.6): the authPolicy of the PCR policy group (PCRs
    /// 20-22), which a policy session may then satisfy to extend, event or reset them. The
    /// policy's size must be hashAlg's digest size (TPM_RC_SIZE at parameter 1; an empty
    /// policy with TPM_ALG_NULL removes it); a PCR outside the group is TPM_RC_VALUE at
    /// parameter 3. Kept until TPM2_ChangePPS.
    pub(crate) fn pcr_set_auth_policy(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let policy = p.tpm2b(MAX_DIGEST)?;
        let alg = p.next(crate::wire::types::read_hash_or_null)?;
        let pcr = p.u32()?;
        let i = pcr_index(pcr).ok_or(TpmRc::VALUE.at_param(3))?;
        p.finish()?;
        if policy.len() != alg.map_or(0, HashAlg::size) {
            return Err(TpmRc::SIZE.at_param(1));
        }
        if !in_auth_group(i) {
            return Err(TpmRc::VALUE.at_param(3));
        }
        self.pcrs.group_policy = Digest::from_slice(policy).ok_or(TpmRc::SIZE.at_param(1))?;
        Ok(())
    }

    /// TPM2_PCR_Allocate (Part 3 §22.5): the banks (and PCRs in each) to use from the next
    /// Startup(CLEAR). Banks the request does not name keep their current allocation; a bank
    /// named twice takes the last. TPM_RC_PCR if no bank would hold PCR 0 (H-CRTM) or PCR
    /// 17 (D-RTM), as the reference implementation's PCRAllocate. allocationSuccess is NO,
    /// and nothing changes, if the PCRs need more than the [`PCR_POOL`] bytes we hold
    /// (sizeNeeded > sizeAvailable). Another PCR_Allocate before the Startup replaces the
    /// request; Shutdown(STATE) is refused until then. With the `pcr-allocate` feature.
    #[cfg(feature = "pcr-allocate")]
    pub(crate) fn pcr_allocate(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        let sel = p.next(PcrSelectionList::unmarshal)?;
        p.finish()?;
        let mut new = *self.pcrs.allocation();
        for s in &sel.0 {
            let [a, b, c] = s.select;
            new.set(s.hash, u32::from_le_bytes([a, b, c, 0]));
        }
        let holds = |i: usize| HashAlg::ALL.iter().any(|a| new.has(*a, i));
        if !holds(0) || !holds(17) {
            return Err(TpmRc::PCR);
        }
        let needed = new.size_needed();
        let success = needed <= PCR_POOL;
        if success {
            self.pcrs.allocate(new, false);
        }
        w.u8(u8::from(success))?;
        w.u32(u32::try_from(PCR_COUNT).unwrap_or(0))?;
        w.u32(u32::try_from(needed).unwrap_or(u32::MAX))?;
        w.u32(u32::try_from(PCR_POOL).unwrap_or(0))?;
        Ok(())
    }
}

impl<P: Platform> Tpm<P> {
    /// Choose the PCR banks at manufacture, before the first TPM2_Startup: every PCR of each
    /// bank in `banks` (default [`crate::state::pcr::DEFAULT_BANKS`], SHA-256 and SHA-384;
    /// add SHA-1 for a guest whose measurement tools still read it, such as Linux IMA's
    /// SHA-1 template). TPM_RC_VALUE for no bank or banks beyond the [`PCR_POOL`] bytes;
    /// TPM_RC_INITIALIZE once the TPM has started (TPM2_PCR_Allocate changes them then).
    pub fn manufacture_pcr_banks(&mut self, banks: &[HashAlg]) -> TpmResult<()> {
        if self.clock.total_resets != 0 || self.phase != crate::state::Phase::AwaitStartup {
            return Err(TpmRc::INITIALIZE);
        }
        let mut alloc = PcrAllocation::NONE;
        for b in banks {
            alloc.set(*b, u32::MAX);
        }
        if banks.is_empty() || alloc.size_needed() > PCR_POOL {
            return Err(TpmRc::VALUE);
        }
        self.pcrs.allocate(alloc, true);
        Ok(())
    }
}
