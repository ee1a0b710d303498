//! Attestation commands (Part 3 §18): TPMS_ATTEST (Part 2 §10.12) signed by a key.

use crate::crypto::kdf::kdfa;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::constants::TpmSt;
use crate::wire::constants::handle::{RH_ENDORSEMENT, RH_NULL, RH_PLATFORM};
use crate::wire::types::{MAX_DATA, MAX_DIGEST, PCR_COUNT, PcrSelectionList};
use crate::{TPM_GENERATED_VALUE, Tpm};

/// Largest TPMS_ATTEST we build: room for NV_Certify's MAX_NV_BUFFER bytes of data.
const MAX_ATTEST: usize = 1536;

/// The first two parameters of every attestation command (Part 3 §18): qualifyingData
/// (TPM2B_DATA) and inScheme (TPMT_SIG_SCHEME+).
pub(crate) fn read_attest_params<'a>(
    p: &mut Params<'a>,
) -> TpmResult<(&'a [u8], Option<crate::wire::public::Scheme>)> {
    let qualifying = p.tpm2b(MAX_DATA)?;
    let scheme = p.next(crate::commands::signature::read_sig_scheme)?;
    Ok((qualifying, scheme))
}

impl<P: Platform> Tpm<P> {
    /// The TPMS_ATTEST header: magic, type, qualifiedSigner, extraData, clockInfo and
    /// firmwareVersion, with the clock fields obfuscated for keys outside the endorsement and
    /// platform hierarchies (Part 3 §18.1: KDFa(shProof, "OBFUSCATE", signer, 128 bits)).
    fn attest_header(
        &self,
        w: &mut Writer<'_>,
        ty: TpmSt,
        signer_qn: &[u8],
        hierarchy: u32,
        extra: &[u8],
    ) -> TpmResult<()> {
        w.u32(TPM_GENERATED_VALUE)?;
        w.u16(ty.0)?;
        w.tpm2b(signer_qn)?;
        w.tpm2b(extra)?;
        let mut info = self.clock.info();
        let mut fw = crate::commands::capability::firmware_version();
        if hierarchy != RH_ENDORSEMENT && hierarchy != RH_PLATFORM {
            let mut ob = [0u8; 16];
            kdfa(
                crate::crypto::hash::HashAlg::Sha384,
                self.hier.sh_proof.expose(),
                b"OBFUSCATE",
                signer_qn,
                &[],
                &mut ob,
            )
            .ok_or(TpmRc::FAILURE)?;
            let (a, b) = ob.split_at(8);
            let (b1, b2) = b.split_at(4);
            fw = fw.wrapping_add(u64::from_be_bytes(
                a.try_into().map_err(|_| TpmRc::FAILURE)?,
            ));
            info.reset_count = info.reset_count.wrapping_add(u32::from_be_bytes(
                b1.try_into().map_err(|_| TpmRc::FAILURE)?,
            ));
            info.restart_count = info.restart_count.wrapping_add(u32::from_be_bytes(
                b2.try_into().map_err(|_| TpmRc::FAILURE)?,
            ));
        }
        info.marshal(w)?;
        w.u64(fw)?;
        Ok(())
    }

    /// Sign `attest` with the key at handle `i` (or answer TPMT_SIGNATURE with TPM_ALG_NULL
    /// for TPM_RH_NULL), writing TPM2B_ATTEST ‖ TPMT_SIGNATURE (Part 3 §18.2).
    fn write_signed_attest(
        &mut self,
        c: &Cmd,
        i: usize,
        scheme: Option<crate::wire::public::Scheme>,
        attest: &[u8],
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        w.tpm2b(attest)?;
        if c.handle(i) == crate::wire::constants::handle::RH_NULL {
            w.u16(crate::wire::constants::TpmAlgId::NULL.0)?;
            return Ok(());
        }
        let key = self.key(c, i)?;
        let scheme = crate::commands::signature::signing_scheme(key, scheme, 2)?;
        let digest = scheme
            .hash()
            .ok_or(TpmRc::SCHEME.at_param(2))?
            .digest(&[attest]);
        self.sign_digest(c, i, scheme, digest.as_slice())?
            .marshal(w)
    }

    /// Build TPMS_ATTEST of type `ty` (header, then `body`) and sign it with the key at handle
    /// `i` (Part 3 §18.1): TPM2B_ATTEST ‖ TPMT_SIGNATURE.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attest_and_sign(
        &mut self,
        c: &Cmd,
        i: usize,
        ty: TpmSt,
        qualifying: &[u8],
        scheme: Option<crate::wire::public::Scheme>,
        w: &mut Writer<'_>,
        body: impl FnOnce(&Self, &mut Writer<'_>) -> TpmResult<()>,
    ) -> TpmResult<()> {
        let (signer, hierarchy) = self.signer(c, i, scheme)?;
        let mut buf = [0u8; MAX_ATTEST];
        let mut aw = Writer::new(&mut buf);
        self.attest_header(&mut aw, ty, signer.as_slice(), hierarchy, qualifying)?;
        body(self, &mut aw)?;
        let n = aw.len();
        let attest = buf.get(..n).ok_or(TpmRc::FAILURE)?;
        self.write_signed_attest(c, i, scheme, attest, w)
    }

    /// The signer's qualified name and hierarchy for an attestation by handle `i` (empty
    /// and the null hierarchy for TPM_RH_NULL); checks the key can sign with `scheme`.
    fn signer(
        &self,
        c: &Cmd,
        i: usize,
        scheme: Option<crate::wire::public::Scheme>,
    ) -> TpmResult<(crate::wire::types::Name, u32)> {
        if c.handle(i) == crate::wire::constants::handle::RH_NULL {
            return Ok((
                crate::wire::types::Name::EMPTY,
                crate::wire::constants::handle::RH_NULL,
            ));
        }
        let key = self.key(c, i)?;
        crate::commands::signature::signing_scheme(key, scheme, 2)?;
        Ok((key.qualified_name, key.hierarchy))
    }

    /// TPM2_CertifyCreation (Part 3 §18.3): TPMS_CREATION_INFO (objectName ‖ creationHash) of
    /// the object at handle 2, signed by the key at handle 1 (or unsigned for TPM_RH_NULL),
    /// if creationTicket is the one Create / CreatePrimary returned for that object and
    /// creationHash: HMAC(proof of the ticket's hierarchy, TPM_ST_CREATION ‖ Name ‖
    /// creationHash). In the reference implementation's order: the signing key (TPM_RC_KEY at
    /// handle 1) and scheme (TPM_RC_SCHEME at inScheme), then the ticket (TPM_RC_TICKET at
    /// creationTicket). A ticket whose tag is not TPM_ST_CREATION is TPM_RC_TAG, one of
    /// another hierarchy TPM_RC_VALUE, both while unmarshaling.
    pub(crate) fn certify_creation(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let qualifying = p.tpm2b(MAX_DATA)?;
        let creation_hash = p.tpm2b(MAX_DIGEST)?;
        let scheme = p.next(crate::commands::signature::read_sig_scheme)?;
        let (hierarchy, ticket) = p.next(|r| {
            if TpmSt(r.u16()?) != TpmSt::CREATION {
                return Err(TpmRc::TAG);
            }
            let h = crate::commands::hash::read_hierarchy(r)?;
            Ok((h, r.tpm2b(MAX_DIGEST)?))
        })?;
        p.finish()?;
        if c.handle(0) != RH_NULL {
            crate::commands::signature::signing_scheme(self.key(c, 0)?, scheme, 3)?;
        }
        let name = self.key(c, 1)?.name;
        let expect = self.creation_ticket(hierarchy, name.as_slice(), creation_hash)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), ticket)) {
            return Err(TpmRc::TICKET.at_param(4));
        }
        let info = [name.as_slice(), creation_hash];
        self.attest_2b(c, 0, TpmSt::ATTEST_CREATION, qualifying, scheme, w, &info)
    }

    /// [`Tpm::attest_and_sign`] of a body made of TPM2Bs (TPMS_CERTIFY_INFO,
    /// TPMS_CREATION_INFO): one copy of the signing path for both.
    #[allow(clippy::too_many_arguments)]
    fn attest_2b(
        &mut self,
        c: &Cmd,
        i: usize,
        ty: TpmSt,
        qualifying: &[u8],
        scheme: Option<crate::wire::public::Scheme>,
        w: &mut Writer<'_>,
        parts: &[&[u8]],
    ) -> TpmResult<()> {
        self.attest_and_sign(c, i, ty, qualifying, scheme, w, |_, aw| {
            parts.iter().try_for_each(|b| aw.tpm2b(b))?;
            Ok(())
        })
    }

    /// TPM2_Certify (Part 3 §18.2): TPMS_CERTIFY_INFO (name ‖ qualifiedName) of the object at
    /// handle 1, signed by the key at handle 2 (or unsigned for TPM_RH_NULL).
    pub(crate) fn certify(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (qualifying, scheme) = read_attest_params(p)?;
        p.finish()?;
        let obj = self.key(c, 0)?;
        let (name, qn) = (obj.name, obj.qualified_name);
        let info = [name.as_slice(), qn.as_slice()];
        self.attest_2b(c, 1, TpmSt::ATTEST_CERTIFY, qualifying, scheme, w, &info)
    }

    /// TPM2_GetSessionAuditDigest (Part 3 §18.5): TPMS_SESSION_AUDIT_INFO (exclusiveSession ‖
    /// sessionDigest) of the audit session at handle 3, signed by the key at handle 2 (or
    /// unsigned for TPM_RH_NULL), authorized by the endorsement hierarchy (privacy admin). A
    /// session never used for audit is TPM_RC_TYPE.
    pub(crate) fn get_session_audit_digest(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (qualifying, scheme) = read_attest_params(p)?;
        p.finish()?;
        self.signer(c, 1, scheme)?;
        let h = c.handle(2);
        let digest = self
            .sessions
            .get(h)
            .and_then(|s| s.audit_digest)
            .ok_or(TpmRc::TYPE.at_handle(3))?;
        let exclusive = self.exclusive_audit == Some(h);
        self.attest_and_sign(
            c,
            1,
            TpmSt::ATTEST_SESSION_AUDIT,
            qualifying,
            scheme,
            w,
            |_, aw| {
                aw.u8(u8::from(exclusive))?;
                aw.tpm2b(digest.as_slice())?;
                Ok(())
            },
        )
    }

    /// TPM2_GetCommandAuditDigest (Part 3 §18.6): TPMS_COMMAND_AUDIT_INFO (auditCounter ‖
    /// digestAlg ‖ auditDigest ‖ commandDigest = H(the audited command codes, ascending)),
    /// signed by the key at handle 2, authorized by the endorsement hierarchy. A signed report
    /// (not one for TPM_RH_NULL) starts a new audit digest.
    pub(crate) fn get_command_audit_digest(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        use crate::state::audit::AuditDigest;
        let (qualifying, scheme) = read_attest_params(p)?;
        p.finish()?;
        self.signer(c, 1, scheme)?;
        let alg = self.audit.alg;
        let mut h = crate::crypto::hash::HashState::new(alg);
        self.audit
            .commands()
            .for_each(|cc| h.update(&cc.0.to_be_bytes()));
        let command_digest = h.finish();
        let audit_digest = match self.audit.digest {
            AuditDigest::Running(d) => d,
            _ => crate::wire::types::Digest::EMPTY,
        };
        let counter = self.audit.counter;
        self.attest_and_sign(
            c,
            1,
            TpmSt::ATTEST_COMMAND_AUDIT,
            qualifying,
            scheme,
            w,
            |_, aw| {
                aw.u64(counter)?;
                aw.u16(alg.alg_id().0)?;
                aw.tpm2b(audit_digest.as_slice())?;
                aw.tpm2b(command_digest.as_slice())?;
                Ok(())
            },
        )?;
        if c.handle(1) != crate::wire::constants::handle::RH_NULL {
            self.audit.digest = AuditDigest::Empty;
        }
        Ok(())
    }

    /// TPM2_GetTime (Part 3 §18.7): TPMS_TIME_ATTEST_INFO (time ‖ clockInfo ‖
    /// firmwareVersion), authorized by the endorsement hierarchy (privacy admin).
    pub(crate) fn get_time(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (qualifying, scheme) = read_attest_params(p)?;
        p.finish()?;
        self.attest_and_sign(
            c,
            1,
            TpmSt::ATTEST_TIME,
            qualifying,
            scheme,
            w,
            |tpm, aw| {
                aw.u64(tpm.clock.time())?;
                tpm.clock.info().marshal(aw)?;
                aw.u64(crate::commands::capability::firmware_version())?;
                Ok(())
            },
        )
    }

    /// TPM2_Quote (Part 3 §18.4): TPMS_QUOTE_INFO over the selected PCRs (banks that are not
    /// allocated are dropped from the selection), signed with the key's scheme.
    pub(crate) fn quote(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (qualifying, scheme) = read_attest_params(p)?;
        let mut sel = p.next(PcrSelectionList::unmarshal)?;
        p.finish()?;
        let hash = crate::commands::signature::signing_scheme(self.key(c, 0)?, scheme, 2)?
            .hash()
            .ok_or(TpmRc::SCHEME.at_param(2))?;
        self.attest_and_sign(
            c,
            0,
            TpmSt::ATTEST_QUOTE,
            qualifying,
            scheme,
            w,
            |tpm, aw| {
                let mut pcr_hash = crate::crypto::hash::HashState::new(hash);
                for s in sel.0.iter_mut() {
                    for i in 0..PCR_COUNT {
                        if !s.is_selected(i) {
                            continue;
                        }
                        match tpm.pcrs.get(s.hash, i) {
                            Some(v) => pcr_hash.update(v.as_slice()),
                            None => s.clear(i),
                        }
                    }
                }
                sel.marshal(aw)?;
                aw.tpm2b(pcr_hash.finish().as_slice())?;
                Ok(())
            },
        )
    }
}
