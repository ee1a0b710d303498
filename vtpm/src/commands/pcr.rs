//! PCR commands (Part 3 §22) with the PC Client locality rules.

use crate::Tpm;
use crate::crypto::hash::HashAlg;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::pcr::{attrs, bank_index, locality_in};
use crate::wire::Writer;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::types::{DigestValues, MAX_EVENT, PCR_COUNT, PcrSelectionList, TaggedDigest};

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
                        let _ = values.push(*v);
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
            if bank_index(d.alg).is_some() {
                self.pcrs.extend(d.alg, i, d.digest.as_slice());
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
}
