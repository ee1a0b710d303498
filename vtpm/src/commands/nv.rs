//! NV storage (Part 3 §31): ordinary, counter and extend indices in RAM.

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::nv::{MAX_NV_INDEX_SIZE, NvIndex, attr};
use crate::wire::Writer;
use crate::wire::constants::handle::{HT_NV_INDEX, RH_OWNER, RH_PLATFORM, handle_type};
use crate::wire::types::{Auth, Digest, MAX_BUFFER, MAX_DIGEST, read_hash};

/// Whether `auth_handle` may write (`write`) or read the index (Part 3 §31.3.1: the owner
/// with OWNERWRITE/OWNERREAD, the platform with PPWRITE/PPREAD, the index itself with
/// AUTHWRITE/AUTHREAD or, in a policy session, POLICYWRITE/POLICYREAD).
fn access_allowed(nv: &NvIndex, auth_handle: u32, write: bool, policy: bool) -> bool {
    let (pp, owner, auth, pol) = if write {
        (
            attr::PPWRITE,
            attr::OWNERWRITE,
            attr::AUTHWRITE,
            attr::POLICYWRITE,
        )
    } else {
        (
            attr::PPREAD,
            attr::OWNERREAD,
            attr::AUTHREAD,
            attr::POLICYREAD,
        )
    };
    match auth_handle {
        RH_PLATFORM => nv.has(pp),
        RH_OWNER => nv.has(owner),
        h if h == nv.handle => nv.has(if policy { pol } else { auth }),
        _ => false,
    }
}

impl<P: Platform> Tpm<P> {
    /// The index at handle `i` (checked present by the dispatcher).
    fn nv(&self, c: &Cmd, i: usize) -> TpmResult<&NvIndex> {
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(1);
        self.nv.get(c.handle(i)).ok_or(TpmRc::HANDLE.at_handle(n))
    }

    /// Check read or write access for the command's authorization (TPM_RC_NV_AUTHORIZATION)
    /// and the locks (TPM_RC_NV_LOCKED).
    fn nv_access(&self, c: &Cmd, write: bool) -> TpmResult<&NvIndex> {
        let nv = self.nv(c, 1)?;
        let policy = c.policy_auth;
        if !access_allowed(nv, c.handle(0), write, policy) {
            return Err(TpmRc::NV_AUTHORIZATION);
        }
        let lock = if write {
            attr::WRITELOCKED
        } else {
            attr::READLOCKED
        };
        if nv.has(lock) {
            return Err(TpmRc::NV_LOCKED);
        }
        Ok(nv)
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

    /// TPM2_NV_DefineSpace (Part 3 §31.3).
    pub(crate) fn nv_define_space(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let auth = p.tpm2b(MAX_DIGEST)?;
        let (handle, name_alg, attrs, policy, size) = p.next(|r| {
            let bytes = r.tpm2b(128)?;
            let mut r = crate::wire::Reader::new(bytes);
            let handle = r.u32()?;
            let name_alg = read_hash(&mut r)?;
            let attrs = r.u32()?;
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
        if attrs & attr::UNSUPPORTED != 0
            || attrs & (attr::WRITTEN | attr::WRITELOCKED | attr::READLOCKED) != 0
            || attrs & reads == 0
            || attrs & writes == 0
            || attrs & attr::PLATFORMCREATE != 0 && !platform
            || attrs & attr::PLATFORMCREATE == 0 && platform
            || attrs & attr::POLICY_DELETE != 0
            || !matches!(ty, attr::NT_ORDINARY | attr::NT_COUNTER | attr::NT_EXTEND)
        {
            return Err(TpmRc::ATTRIBUTES.at_param(2));
        }
        let size_ok = match ty {
            attr::NT_COUNTER => size == 8,
            attr::NT_EXTEND => usize::from(size) == name_alg.size(),
            _ => usize::from(size) <= MAX_NV_INDEX_SIZE,
        };
        if !size_ok {
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

    /// TPM2_NV_Write (Part 3 §31.7): ordinary indices; offset + size within dataSize
    /// (TPM_RC_NV_RANGE), the whole index at once with WRITEALL.
    pub(crate) fn nv_write(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        let offset = usize::from(p.u16()?);
        p.finish()?;
        let nv = self.nv_access(c, true)?;
        if nv.attrs & attr::TYPE_MASK != attr::NT_ORDINARY {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
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
    /// until it is undefined (TPMA_NV_WRITE_STCLEAR is not implemented). Without WRITEDEFINE:
    /// TPM_RC_ATTRIBUTES at handle 2; an index already locked answers success, as the
    /// reference implementation does, before the write-access check.
    pub(crate) fn nv_write_lock(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let nv = self.nv(c, 1)?;
        if !nv.has(attr::WRITEDEFINE) {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        if nv.has(attr::WRITELOCKED) {
            return Ok(());
        }
        self.nv_access(c, true)?;
        let nv = self
            .nv
            .get_mut(c.handle(1))
            .ok_or(TpmRc::HANDLE.at_handle(2))?;
        nv.attrs |= attr::WRITELOCKED;
        Ok(())
    }
}
