//! NV storage (Part 3 §31): ordinary, counter, bit-field, extend and PIN pass / PIN fail
//! indices in RAM, their locks, authValue changes, policy deletion and certification.

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::nv::{MAX_NV_INDEX_SIZE, NvIndex, attr};
use crate::wire::Writer;
use crate::wire::constants::TpmSt;
use crate::wire::constants::handle::{HT_NV_INDEX, RH_NULL, RH_OWNER, RH_PLATFORM, handle_type};
use crate::wire::types::{Auth, Digest, MAX_BUFFER, MAX_DIGEST, read_hash};

/// Whether `auth_handle` may write (`write`) or read the index (Part 3 §31.3.1; the reference
/// implementation's NvWriteAccessChecks / NvReadAccessChecks): the owner with
/// OWNERWRITE/OWNERREAD, the platform with PPWRITE/PPREAD; the index itself was checked when
/// its authorization was (AUTHWRITE/AUTHREAD, POLICYWRITE/POLICYREAD, or a PIN index's
/// pinCount).
fn access_allowed(nv: &NvIndex, auth_handle: u32, write: bool) -> bool {
    let (pp, owner) = if write {
        (attr::PPWRITE, attr::OWNERWRITE)
    } else {
        (attr::PPREAD, attr::OWNERREAD)
    };
    match auth_handle {
        RH_PLATFORM => nv.has(pp),
        RH_OWNER => nv.has(owner),
        h => h == nv.handle,
    }
}

impl<P: Platform> Tpm<P> {
    /// The index at handle `i` (checked present by the dispatcher).
    fn nv(&self, c: &Cmd, i: usize) -> TpmResult<&NvIndex> {
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(1);
        self.nv.get(c.handle(i)).ok_or(TpmRc::HANDLE.at_handle(n))
    }

    /// The access checks of the index at handle `i + 1` authorized by handle `i`, in the
    /// reference implementation's order: the lock first (TPM_RC_NV_LOCKED), then whether the
    /// authorization may read or write it (TPM_RC_NV_AUTHORIZATION).
    fn nv_access_at(&self, c: &Cmd, i: usize, write: bool) -> TpmResult<&NvIndex> {
        let nv = self.nv(c, i.saturating_add(1))?;
        let lock = if write {
            attr::WRITELOCKED
        } else {
            attr::READLOCKED
        };
        if nv.has(lock) {
            return Err(TpmRc::NV_LOCKED);
        }
        if !access_allowed(nv, c.handle(i), write) {
            return Err(TpmRc::NV_AUTHORIZATION);
        }
        Ok(nv)
    }

    /// [`Self::nv_access_at`] for the usual handles: authorization at 1, index at 2.
    fn nv_access(&self, c: &Cmd, write: bool) -> TpmResult<&NvIndex> {
        self.nv_access_at(c, 0, write)
    }

    /// Read access to the index at handle 2 as NV_Read checks it (Part 3 §31.13): the
    /// authorization may read, the index is not read-locked and has been written
    /// (TPM_RC_NV_UNINITIALIZED). Used by PolicyNV and PolicyAuthorizeNV.
    pub(crate) fn nv_read_access(&self, c: &Cmd) -> TpmResult<&NvIndex> {
        let nv = self.nv_access(c, false)?;
        if !nv.has(attr::WRITTEN) {
            return Err(TpmRc::NV_UNINITIALIZED);
        }
        Ok(nv)
    }

    /// TPM2_NV_DefineSpace (Part 3 §31.3): ordinary, counter, bits, extend and PIN pass / PIN
    /// fail indices, with the attribute rules of the reference implementation.
    pub(crate) fn nv_define_space(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let auth = p.tpm2b(MAX_DIGEST)?;
        let (handle, name_alg, attrs, policy, size) = p.next(|r| {
            let bytes = r.tpm2b(128)?;
            let mut r = crate::wire::Reader::new(bytes);
            // TPMS_NV_PUBLIC's unmarshal (Part 2 §13.5): the index type, then nameAlg, then
            // the reserved TPMA_NV bits 8-9, 20-24 (TPM_RC_RESERVED_BITS), as the reference
            // and libtpms.
            let handle = r.u32()?;
            if handle_type(handle) != HT_NV_INDEX {
                return Err(TpmRc::VALUE);
            }
            let name_alg = read_hash(&mut r)?;
            let attrs = r.u32()?;
            if attrs & attr::UNSUPPORTED != 0 {
                return Err(TpmRc::RESERVED_BITS);
            }
            let policy = Digest::from_slice(r.tpm2b(MAX_DIGEST)?).ok_or(TpmRc::SIZE)?;
            let size = r.u16()?;
            if bytes.is_empty() || !r.is_empty() {
                return Err(TpmRc::SIZE);
            }
            Ok((handle, name_alg, attrs, policy, size))
        })?;
        p.finish()?;
        if handle_type(handle) != HT_NV_INDEX {
            return Err(TpmRc::VALUE.at_param(2));
        }
        if !policy.is_empty() && policy.len() != name_alg.size() {
            return Err(TpmRc::SIZE.at_param(2));
        }
        let mut auth = Auth::from_slice(auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let ty = attrs & attr::TYPE_MASK;
        let reads = attr::PPREAD | attr::OWNERREAD | attr::AUTHREAD | attr::POLICYREAD;
        let writes = attr::PPWRITE | attr::OWNERWRITE | attr::AUTHWRITE | attr::POLICYWRITE;
        let platform = c.handle(0) == RH_PLATFORM;
        let has = |bit: u32| attrs & bit != 0;
        let pin = matches!(ty, attr::NT_PIN_PASS | attr::NT_PIN_FAIL);
        if has(attr::UNSUPPORTED)
            || has(attr::WRITTEN | attr::WRITELOCKED | attr::READLOCKED)
            || attrs & reads == 0
            || attrs & writes == 0
            || has(attr::PLATFORMCREATE) && !platform
            || !has(attr::PLATFORMCREATE) && platform
            // Only the platform may create an index deleted by policy.
            || has(attr::POLICY_DELETE) && !platform
            || !matches!(
                ty,
                attr::NT_ORDINARY
                    | attr::NT_COUNTER
                    | attr::NT_BITS
                    | attr::NT_EXTEND
                    | attr::NT_PIN_PASS
                    | attr::NT_PIN_FAIL
            )
            // Counters are never cleared.
            || ty == attr::NT_COUNTER && has(attr::CLEAR_STCLEAR)
            // A PIN fail index counts failures without DA; a PIN index's authValue is not
            // available until it is written, so it cannot be the only way to write it, and
            // it cannot be locked for good.
            || ty == attr::NT_PIN_FAIL && !has(attr::NO_DA)
            || pin && has(attr::AUTHWRITE | attr::GLOBALLOCK | attr::WRITEDEFINE)
            || has(attr::CLEAR_STCLEAR) && has(attr::WRITEDEFINE)
        {
            return Err(TpmRc::ATTRIBUTES.at_param(2));
        }
        let size_ok = match ty {
            attr::NT_ORDINARY => usize::from(size) <= MAX_NV_INDEX_SIZE,
            attr::NT_EXTEND => usize::from(size) == name_alg.size(),
            // Counter, bits and PIN indices hold 8 bytes.
            _ => size == 8,
        };
        if !size_ok || has(attr::WRITEALL) && usize::from(size) > MAX_BUFFER {
            return Err(TpmRc::SIZE.at_param(2));
        }
        if self.nv.get(handle).is_some() {
            return Err(TpmRc::NV_DEFINED);
        }
        if !self.nv.has_room(usize::from(size)) {
            return Err(TpmRc::NV_SPACE);
        }
        let index = NvIndex::new(handle, name_alg, attrs, policy, size, auth);
        self.nv.insert(index).ok_or(TpmRc::NV_SPACE)
    }

    /// TPM2_NV_UndefineSpace (Part 3 §31.4): an index with TPMA_NV_POLICY_DELETE only through
    /// TPM2_NV_UndefineSpaceSpecial (TPM_RC_ATTRIBUTES at handle 2); ownerAuth cannot delete a
    /// platform-created index (TPM_RC_NV_AUTHORIZATION), while platformAuth may delete an
    /// index created with either authorization ("the platform may delete an index that was
    /// created with either authorization", as the reference's NV_UndefineSpace.c does).
    pub(crate) fn nv_undefine_space(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let nv = self.nv(c, 1)?;
        if nv.has(attr::POLICY_DELETE) {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        if c.handle(0) == RH_OWNER && nv.has(attr::PLATFORMCREATE) {
            return Err(TpmRc::NV_AUTHORIZATION);
        }
        self.nv.remove(c.handle(1));
        Ok(())
    }

    /// TPM2_NV_ReadPublic (Part 3 §31.6).
    pub(crate) fn nv_read_public(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let nv = self.nv(c, 0)?;
        let mut buf = [0u8; 128];
        let n = nv.public_bytes(&mut buf);
        w.tpm2b(buf.get(..n).unwrap_or(&[]))?;
        w.tpm2b(nv.name().as_slice())?;
        Ok(())
    }

    /// TPM2_NV_Write (Part 3 §31.7): ordinary and PIN indices (a PIN index's data is its
    /// TPMS_NV_PIN_COUNTER_PARAMETERS); offset + size within dataSize (TPM_RC_NV_RANGE), the
    /// whole index at once with WRITEALL. A counter, bit-field or extend index:
    /// TPM_RC_ATTRIBUTES.
    pub(crate) fn nv_write(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        let offset = usize::from(p.u16()?);
        p.finish()?;
        let nv = self.nv_access(c, true)?;
        // Without a position, as the reference implementation and libtpms answer.
        if matches!(nv.nt(), attr::NT_COUNTER | attr::NT_BITS | attr::NT_EXTEND) {
            return Err(TpmRc::ATTRIBUTES);
        }
        let size = usize::from(nv.data_size);
        let end = offset
            .checked_add(data.len())
            .filter(|e| *e <= size)
            .ok_or(TpmRc::NV_RANGE)?;
        if nv.has(attr::WRITEALL) && data.len() != size {
            return Err(TpmRc::NV_RANGE);
        }
        let written = nv.has(attr::WRITTEN);
        let bytes = self
            .nv
            .data_mut(c.handle(1))
            .ok_or(TpmRc::HANDLE.at_handle(2))?;
        if !written {
            bytes.fill(0);
        }
        bytes
            .get_mut(offset..end)
            .ok_or(TpmRc::NV_RANGE)?
            .copy_from_slice(data);
        self.set_written(c.handle(1))
    }

    /// TPM2_NV_Increment (Part 3 §31.8): a counter index, an 8-byte big-endian value. The
    /// first increment of a counter starts from the highest value any undefined counter had
    /// (Part 3 §31.8: a new counter is initialized to "a value that is at least as large as
    /// any counter that has been defined"; the reference keeps s_maxCounter), so a counter
    /// never rolls back by being undefined and defined again.
    pub(crate) fn nv_increment(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let nv = self.nv_access(c, true)?;
        if nv.attrs & attr::TYPE_MASK != attr::NT_COUNTER {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        let value = if nv.has(attr::WRITTEN) {
            self.nv.counter_value(nv)
        } else {
            self.nv.max_counter()
        };
        let next = value.checked_add(1).ok_or(TpmRc::NV_RANGE)?;
        let bytes = self
            .nv
            .data_mut(c.handle(1))
            .ok_or(TpmRc::HANDLE.at_handle(2))?;
        bytes
            .get_mut(..8)
            .ok_or(TpmRc::FAILURE)?
            .copy_from_slice(&next.to_be_bytes());
        self.set_written(c.handle(1))
    }

    /// TPM2_NV_Extend (Part 3 §31.9): an extend index, data ← H(data ‖ new).
    pub(crate) fn nv_extend(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let new = p.tpm2b(MAX_BUFFER)?;
        p.finish()?;
        let nv = self.nv_access(c, true)?;
        if nv.attrs & attr::TYPE_MASK != attr::NT_EXTEND {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        let alg = nv.name_alg;
        // Unwritten, the reserved bytes are zero: the digest starts from dataSize zeros.
        let d = alg.digest(&[self.nv.data(nv), new]);
        let bytes = self
            .nv
            .data_mut(c.handle(1))
            .ok_or(TpmRc::HANDLE.at_handle(2))?;
        if bytes.len() != d.as_slice().len() {
            return Err(TpmRc::FAILURE);
        }
        bytes.copy_from_slice(d.as_slice());
        self.set_written(c.handle(1))
    }

    /// TPM2_NV_Read (Part 3 §31.13): TPM_RC_NV_UNINITIALIZED before the first write.
    pub(crate) fn nv_read(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let size = usize::from(p.u16()?);
        let offset = usize::from(p.u16()?);
        p.finish()?;
        let nv = self.nv_access(c, false)?;
        if !nv.has(attr::WRITTEN) {
            return Err(TpmRc::NV_UNINITIALIZED);
        }
        if size > MAX_BUFFER {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let end = offset.checked_add(size).ok_or(TpmRc::NV_RANGE)?;
        let data = self.nv.data(nv).get(offset..end).ok_or(TpmRc::NV_RANGE)?;
        w.tpm2b(data)?;
        Ok(())
    }

    /// Set TPMA_NV_WRITTEN on `handle`.
    fn set_written(&mut self, handle: u32) -> TpmResult<()> {
        let nv = self.nv.get_mut(handle).ok_or(TpmRc::HANDLE.at_handle(2))?;
        nv.attrs |= attr::WRITTEN;
        Ok(())
    }

    /// TPM2_NV_WriteLock (Part 3 §31.11): an index with TPMA_NV_WRITEDEFINE becomes read-only
    /// until it is undefined (once written), one with TPMA_NV_WRITE_STCLEAR until the next TPM
    /// Reset or Restart. As the reference implementation: an index already write-locked
    /// answers success before anything else is checked; then the authorization's access
    /// (TPM_RC_NV_AUTHORIZATION); then TPM_RC_ATTRIBUTES at handle 2 without either attribute.
    pub(crate) fn nv_write_lock(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let nv = match self.nv_access(c, true) {
            Ok(nv) => nv,
            Err(rc) if rc == TpmRc::NV_LOCKED => return Ok(()),
            Err(rc) => return Err(rc),
        };
        if !nv.has(attr::WRITEDEFINE | attr::WRITE_STCLEAR) {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        self.set_attrs(c.handle(1), attr::WRITELOCKED)
    }

    /// TPM2_NV_ReadLock (Part 3 §31.14): an index with TPMA_NV_READ_STCLEAR cannot be read
    /// until the next TPM Reset or Restart. As the reference implementation: an index already
    /// read-locked answers success; the authorization must be able to read it
    /// (TPM_RC_NV_AUTHORIZATION); it need not have been written; without READ_STCLEAR,
    /// TPM_RC_ATTRIBUTES at handle 2.
    pub(crate) fn nv_read_lock(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let nv = match self.nv_access(c, false) {
            Ok(nv) => nv,
            Err(rc) if rc == TpmRc::NV_LOCKED => return Ok(()),
            Err(rc) => return Err(rc),
        };
        if !nv.has(attr::READ_STCLEAR) {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        self.set_attrs(c.handle(1), attr::READLOCKED)
    }

    /// TPM2_NV_GlobalWriteLock (Part 3 §31.12): write-lock every index with
    /// TPMA_NV_GLOBALLOCK until the next TPM Reset or Restart (owner or platform
    /// authorization).
    pub(crate) fn nv_global_write_lock(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        self.nv.set_global_lock();
        Ok(())
    }

    /// TPM2_NV_SetBits (Part 3 §31.10): OR `bits` into a bit-field index (unwritten, it starts
    /// at zero). Access checks first, then TPM_RC_ATTRIBUTES at handle 2 for any other type.
    pub(crate) fn nv_set_bits(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let bits = p.u64()?;
        p.finish()?;
        let nv = self.nv_access(c, true)?;
        if nv.nt() != attr::NT_BITS {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        let old = if nv.has(attr::WRITTEN) {
            self.nv.u64_value(nv)
        } else {
            0
        };
        self.nv
            .set_u64(c.handle(1), old | bits)
            .ok_or(TpmRc::FAILURE)
    }

    /// TPM2_NV_ChangeAuth (Part 3 §31.15): a new authValue for the index, authorized in the
    /// ADMIN role (a policy session with PolicyCommandCode(NV_ChangeAuth), checked by the
    /// authorization). newAuth, trailing zeros stripped, is at most the nameAlg's digest size
    /// (TPM_RC_SIZE at parameter 1).
    pub(crate) fn nv_change_auth(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let new = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        let nv = self.nv(c, 0)?;
        let mut auth = Auth::from_slice(new).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > nv.name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let nv = self
            .nv
            .get_mut(c.handle(0))
            .ok_or(TpmRc::HANDLE.at_handle(1))?;
        nv.auth = auth;
        Ok(())
    }

    /// TPM2_NV_UndefineSpaceSpecial (Part 3 §31.5): undefine an index with
    /// TPMA_NV_POLICY_DELETE (else TPM_RC_ATTRIBUTES at handle 1), authorized by the index's
    /// policy (ADMIN role) and by platformAuth.
    pub(crate) fn nv_undefine_space_special(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let nv = self.nv(c, 0)?;
        if !nv.has(attr::POLICY_DELETE) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        self.nv.remove(c.handle(0));
        Ok(())
    }

    /// TPM2_NV_Certify (Part 3 §31.16): TPMS_NV_CERTIFY_INFO (the index's Name, offset and
    /// `size` bytes of its data) signed by the key at handle 1 (or unsigned for TPM_RH_NULL);
    /// size and offset both zero certify a digest of the whole data with the scheme's hash
    /// (TPMS_NV_DIGEST_CERTIFY_INFO). Checked as the reference implementation does: the
    /// signing key and scheme, read access (handle 2 authorizes handle 3), the range
    /// (TPM_RC_NV_RANGE), then size ≤ MAX_NV_BUFFER (TPM_RC_VALUE at parameter 3).
    pub(crate) fn nv_certify(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (qualifying, scheme) = crate::commands::attestation::read_attest_params(p)?;
        let size = p.u16()?;
        let offset = p.u16()?;
        p.finish()?;
        let hash = if c.handle(0) == RH_NULL {
            scheme.and_then(crate::wire::public::Scheme::hash)
        } else {
            crate::commands::signature::signing_scheme(self.key(c, 0)?, scheme, 2)?.hash()
        };
        let nv = self.nv_access_at(c, 1, false)?;
        if !nv.has(attr::WRITTEN) {
            return Err(TpmRc::NV_UNINITIALIZED);
        }
        let (size, offset) = (usize::from(size), usize::from(offset));
        let end = size.saturating_add(offset);
        if end > usize::from(nv.data_size) {
            return Err(TpmRc::NV_RANGE);
        }
        if size > MAX_BUFFER {
            return Err(TpmRc::VALUE.at_param(3));
        }
        let name = nv.name();
        let data = self.nv.data(nv);
        let (ty, digest) = if size == 0 && offset == 0 {
            let d = hash.map(|h| h.digest(&[data])).unwrap_or_default();
            (TpmSt::ATTEST_NV_DIGEST, d)
        } else {
            (TpmSt::ATTEST_NV, Digest::EMPTY)
        };
        let handle = c.handle(2);
        self.attest_and_sign(c, 0, ty, qualifying, scheme, w, |tpm, aw| {
            aw.tpm2b(name.as_slice())?;
            if ty == TpmSt::ATTEST_NV_DIGEST {
                aw.tpm2b(digest.as_slice())?;
            } else {
                let nv = tpm.nv.get(handle).ok_or(TpmRc::FAILURE)?;
                let part = tpm.nv.data(nv).get(offset..end).ok_or(TpmRc::NV_RANGE)?;
                aw.u16(u16::try_from(offset).map_err(|_| TpmRc::FAILURE)?)?;
                aw.tpm2b(part)?;
            }
            Ok(())
        })
    }

    /// Set attribute bits of the index `handle`.
    fn set_attrs(&mut self, handle: u32, bits: u32) -> TpmResult<()> {
        let nv = self.nv.get_mut(handle).ok_or(TpmRc::HANDLE.at_handle(2))?;
        nv.attrs |= bits;
        Ok(())
    }
}
