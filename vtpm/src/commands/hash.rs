//! Hashing: TPM2_Hash (Part 3 §15.4) and hash / event sequences (Part 3 §17).

use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{Object, Sequence, SequenceKind};
use crate::wire::constants::TpmSt;
use crate::wire::constants::handle::{RH_ENDORSEMENT, RH_NULL, RH_OWNER, RH_PLATFORM};
use crate::wire::types::{
    Auth, Digest, DigestValues, MAX_BUFFER, MAX_DIGEST, TaggedDigest, read_hash, read_hash_or_null,
};
use crate::wire::{Reader, Writer};
use crate::{TPM_GENERATED_VALUE, Tpm};

/// Hash used for ticket HMACs (keyed with the hierarchy proof).
pub const TICKET_HASH: HashAlg = HashAlg::Sha384;

/// Unmarshal TPMI_RH_HIERARCHY+ (owner, endorsement, platform or null; else TPM_RC_VALUE).
pub fn read_hierarchy(r: &mut Reader<'_>) -> TpmResult<u32> {
    let h = r.u32()?;
    match h {
        RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_NULL => Ok(h),
        _ => Err(TpmRc::VALUE),
    }
}

impl<P: Platform> Tpm<P> {
    /// The hierarchy of a ticket-bearing command, checked for being enabled (TPM_RC_HIERARCHY
    /// at parameter `n`).
    fn ticket_hierarchy(&self, h: u32, n: u8) -> TpmResult<u32> {
        if self.hier.enabled(h) {
            Ok(h)
        } else {
            Err(TpmRc::HIERARCHY.at_param(n))
        }
    }

    /// TPMT_TK_HASHCHECK (Part 2 §10.7.6): HMAC(proof(hierarchy), TPM_ST_HASHCHECK ‖ digest),
    /// or the NULL ticket for the null hierarchy or data that starts with TPM_GENERATED_VALUE.
    pub(crate) fn write_hashcheck(
        &self,
        w: &mut Writer<'_>,
        hierarchy: u32,
        digest: &Digest,
        generated: bool,
    ) -> TpmResult<()> {
        w.u16(TpmSt::HASHCHECK.0)?;
        match self.hier.proof(hierarchy) {
            Some(proof) if hierarchy != RH_NULL && !generated => {
                let t = hmac(
                    TICKET_HASH,
                    proof.expose(),
                    &[&TpmSt::HASHCHECK.0.to_be_bytes(), digest.as_slice()],
                );
                w.u32(hierarchy)?;
                w.tpm2b(t.as_slice())?;
            }
            _ => {
                w.u32(RH_NULL)?;
                w.u16(0)?;
            }
        }
        Ok(())
    }

    /// TPM2_Hash (Part 3 §15.4).
    pub(crate) fn hash(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        let alg = p.next(read_hash)?;
        let hierarchy = p.next(read_hierarchy)?;
        p.finish()?;
        let hierarchy = self.ticket_hierarchy(hierarchy, 3)?;
        let digest = alg.digest(&[data]);
        let generated = data.get(..4) == Some(&TPM_GENERATED_VALUE.to_be_bytes()[..]);
        w.tpm2b(digest.as_slice())?;
        self.write_hashcheck(w, hierarchy, &digest, generated)
    }

    /// TPM2_HashSequenceStart (Part 3 §17.3): a hash sequence, or an event sequence for
    /// TPM_ALG_NULL. TPM_RC_OBJECT_MEMORY when every slot is taken.
    pub(crate) fn hash_sequence_start(&mut self, p: &mut Params<'_>) -> TpmResult<u32> {
        let auth = p.tpm2b(MAX_DIGEST)?;
        let alg = p.next(read_hash_or_null)?;
        p.finish()?;
        let auth = Auth::from_slice(auth).ok_or(TpmRc::SIZE.at_param(1))?;
        self.objects
            .insert(Object::Sequence(Sequence::new(alg, auth)))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }

    /// The sequence object at handle `i` of `c`, or TPM_RC_MODE at that handle.
    fn sequence_mut(&mut self, c: &Cmd, i: usize, event: bool) -> TpmResult<&mut Sequence> {
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(1);
        match self.objects.get_mut(c.handle(i)) {
            Some(Object::Sequence(s)) if matches!(s.kind, SequenceKind::Event(_)) == event => Ok(s),
            Some(_) => Err(TpmRc::MODE.at_handle(n)),
            None => Err(TpmRc::reference_h(u8::try_from(i).unwrap_or(0))),
        }
    }

    /// TPM2_SequenceUpdate (Part 3 §17.4).
    pub(crate) fn sequence_update(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        p.finish()?;
        let is_event = matches!(
            self.objects.get(c.handle(0)),
            Some(Object::Sequence(Sequence {
                kind: SequenceKind::Event(_),
                ..
            }))
        );
        self.sequence_mut(c, 0, is_event)?.update(data);
        Ok(())
    }

    /// TPM2_SequenceComplete (Part 3 §17.5): the digest and a hash-check ticket; the sequence
    /// is flushed.
    pub(crate) fn sequence_complete(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        let hierarchy = p.next(read_hierarchy)?;
        p.finish()?;
        let hierarchy = self.ticket_hierarchy(hierarchy, 2)?;
        let mut seq = self.sequence_mut(c, 0, false)?.clone();
        seq.update(data);
        let generated = seq.starts_generated();
        match seq.kind {
            SequenceKind::Hash(h) => {
                let digest = h.finish();
                w.tpm2b(digest.as_slice())?;
                self.write_hashcheck(w, hierarchy, &digest, generated)?;
            }
            // An HMAC sequence returns the HMAC and a null ticket (Part 3 §17.5).
            SequenceKind::Hmac(m) => {
                w.tpm2b(m.finish().as_slice())?;
                self.write_hashcheck(w, RH_NULL, &Digest::EMPTY, true)?;
            }
            SequenceKind::Event(_) => return Err(TpmRc::MODE.at_handle(1)),
        }
        Ok(())
    }

    /// The HMAC key at handle 1 and the hash to use (Part 3 §15.5, §17.2; the reference's
    /// HMAC.c): an unrestricted keyed-hash signing key (TPM_RC_TYPE / TPM_RC_ATTRIBUTES /
    /// TPM_RC_KEY at handle 1); its scheme's hash, which `given` must be or leave NULL, or
    /// `given` for a key without a scheme (TPM_RC_VALUE at parameter `param` otherwise).
    fn keyed_hash_key(
        &self,
        c: &Cmd,
        given: Option<crate::crypto::hash::HashAlg>,
        param: u8,
    ) -> TpmResult<(crate::crypto::hash::HashAlg, &[u8])> {
        use crate::wire::public::{ObjectAttrs, PublicKind, Scheme};
        let k = self.key(c, 0)?;
        let PublicKind::KeyedHash { scheme, .. } = k.public.kind else {
            return Err(TpmRc::TYPE.at_handle(1));
        };
        if k.public.attrs.has(ObjectAttrs::RESTRICTED) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        if !k.public.attrs.has(ObjectAttrs::SIGN) || k.public_only {
            return Err(TpmRc::KEY.at_handle(1));
        }
        let alg = match (scheme, given) {
            (Scheme::Hmac(h), None) => Some(h),
            (Scheme::Hmac(h), Some(g)) => (g == h).then_some(h),
            (_, g) => g,
        };
        let alg = alg.ok_or(TpmRc::VALUE.at_param(param))?;
        Ok((alg, k.sensitive.expose()))
    }

    /// TPM2_HMAC (Part 3 §15.5): HMAC of `buffer` with the keyed-hash key at handle 1.
    pub(crate) fn hmac(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let buffer = p.tpm2b(MAX_BUFFER)?;
        let alg = p.next(read_hash_or_null)?;
        p.finish()?;
        let (alg, key) = self.keyed_hash_key(c, alg, 2)?;
        w.tpm2b(crate::crypto::hmac::hmac(alg, key, &[buffer]).as_slice())?;
        Ok(())
    }

    /// TPM2_HMAC_Start (Part 3 §17.2): an HMAC sequence keyed with the keyed-hash key at
    /// handle 1; SequenceUpdate feeds it and SequenceComplete returns the HMAC.
    pub(crate) fn hmac_start(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<u32> {
        let auth = p.tpm2b(MAX_DIGEST)?;
        let alg = p.next(read_hash_or_null)?;
        p.finish()?;
        let auth = Auth::from_slice(auth).ok_or(TpmRc::SIZE.at_param(1))?;
        let (alg, key) = self.keyed_hash_key(c, alg, 2)?;
        let seq = Sequence::new_hmac(alg, key, auth);
        self.objects
            .insert(Object::Sequence(seq))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }

    /// TPM2_EventSequenceComplete (Part 3 §17.6): digests with every implemented hash; the
    /// allocated banks of the PCR are extended; the sequence is flushed.
    pub(crate) fn event_sequence_complete(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        p.finish()?;
        let mut seq = self.sequence_mut(c, 1, true)?.clone();
        let target = self.check_extend(c.handle(0), c.locality)?;
        seq.update(data);
        let SequenceKind::Event(states) = seq.kind else {
            return Err(TpmRc::MODE.at_handle(2));
        };
        let mut digests = DigestValues::default();
        for (alg, digest) in crate::crypto::hash::HashAlg::ALL
            .into_iter()
            .zip(states.finish())
        {
            digests
                .0
                .push(TaggedDigest { alg, digest })
                .map_err(|_| TpmRc::FAILURE)?;
        }
        digests.marshal(w)?;
        if let Some(i) = target {
            self.extend_all(i, &digests);
        }
        Ok(())
    }
}
