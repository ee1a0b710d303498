//! NV indices (Part 1 §37), held in RAM for the life of the TPM instance: an ephemeral TPM has
//! no storage that outlives the confidential VM's boot. TPMA_NV_ORDERLY is accepted and means
//! nothing more here than it does in the reference implementation's RAM-backed indices: every
//! index already lives in RAM, so there is no NV write to defer; as there, an orderly index
//! other than a counter loses TPMA_NV_WRITTEN at TPM Reset ([`NvIndices::startup`]).

//!
//! The data of all indices shares one pool of [`NV_POOL_SIZE`] bytes, reserved in full at
//! TPM2_NV_DefineSpace (TPM_RC_NV_SPACE when it does not fit, Part 3 §31.3.1), so one index may
//! hold a certificate that carries a hardware report (an EK CA certificate with a 1184-byte SEV-SNP
//! report is about 1.8 KB) while the sum stays what fixed 1 KiB slots cost.

use crate::crypto::hash::HashAlg;
use crate::wire::types::{Auth, Digest, Name};

/// Indices that can be defined.
pub const MAX_NV_INDICES: usize = 16;
/// Largest index data (TPM_PT_NV_INDEX_MAX): room for a certificate carrying an SEV-SNP report.
pub const MAX_NV_INDEX_SIZE: usize = 2048;
/// Bytes shared by the data of all indices: 16 KiB, what clients that keep certificates,
/// sealed blobs and policies in NV expect of a TPM (the firmware's EK and CA certificates take
/// about 2.4 KB of it).
pub const NV_POOL_SIZE: usize = 16384;

/// TPMA_NV bits (Part 2 §13.4).
pub mod attr {
    /// TPMA_NV_PPWRITE.
    pub const PPWRITE: u32 = 0x1;
    /// TPMA_NV_OWNERWRITE.
    pub const OWNERWRITE: u32 = 0x2;
    /// TPMA_NV_AUTHWRITE.
    pub const AUTHWRITE: u32 = 0x4;
    /// TPMA_NV_POLICYWRITE.
    pub const POLICYWRITE: u32 = 0x8;
    /// TPM_NT field (bits 7:4).
    pub const TYPE_MASK: u32 = 0xF0;
    /// TPM_NT_ORDINARY.
    pub const NT_ORDINARY: u32 = 0x00;
    /// TPM_NT_COUNTER.
    pub const NT_COUNTER: u32 = 0x10;
    /// TPM_NT_BITS.
    pub const NT_BITS: u32 = 0x20;
    /// TPM_NT_EXTEND.
    pub const NT_EXTEND: u32 = 0x40;
    /// TPM_NT_PIN_FAIL.
    pub const NT_PIN_FAIL: u32 = 0x80;
    /// TPM_NT_PIN_PASS.
    pub const NT_PIN_PASS: u32 = 0x90;
    /// TPMA_NV_POLICY_DELETE.
    pub const POLICY_DELETE: u32 = 0x400;
    /// TPMA_NV_WRITELOCKED.
    pub const WRITELOCKED: u32 = 0x800;
    /// TPMA_NV_WRITEDEFINE: TPM2_NV_WriteLock locks writes until the index is undefined.
    pub const WRITEDEFINE: u32 = 0x2000;
    /// TPMA_NV_WRITEALL.
    pub const WRITEALL: u32 = 0x1000;
    /// TPMA_NV_WRITE_STCLEAR: TPM2_NV_WriteLock locks writes until the next TPM Reset or
    /// Restart.
    pub const WRITE_STCLEAR: u32 = 0x4000;
    /// TPMA_NV_GLOBALLOCK: TPM2_NV_GlobalWriteLock locks writes until the next TPM Reset or
    /// Restart.
    pub const GLOBALLOCK: u32 = 0x8000;
    /// TPMA_NV_PPREAD.
    pub const PPREAD: u32 = 0x1_0000;
    /// TPMA_NV_OWNERREAD.
    pub const OWNERREAD: u32 = 0x2_0000;
    /// TPMA_NV_AUTHREAD.
    pub const AUTHREAD: u32 = 0x4_0000;
    /// TPMA_NV_POLICYREAD.
    pub const POLICYREAD: u32 = 0x8_0000;
    /// TPMA_NV_NO_DA.
    pub const NO_DA: u32 = 0x200_0000;
    /// TPMA_NV_ORDERLY (see the module documentation).
    pub const ORDERLY: u32 = 0x400_0000;
    /// TPMA_NV_CLEAR_STCLEAR: WRITTEN is cleared at TPM Reset and Restart.
    pub const CLEAR_STCLEAR: u32 = 0x800_0000;
    /// TPMA_NV_READLOCKED.
    pub const READLOCKED: u32 = 0x1000_0000;
    /// TPMA_NV_WRITTEN.
    pub const WRITTEN: u32 = 0x2000_0000;
    /// TPMA_NV_PLATFORMCREATE.
    pub const PLATFORMCREATE: u32 = 0x4000_0000;
    /// TPMA_NV_READ_STCLEAR: TPM2_NV_ReadLock locks reads until the next TPM Reset or Restart.
    pub const READ_STCLEAR: u32 = 0x8000_0000;
    /// The reserved bits 8-9 and 20-24, refused at definition.
    pub const UNSUPPORTED: u32 = 0x300 | 0x1F0_0000;
}

/// One NV index: TPMS_NV_PUBLIC (Part 2 §13.5); its data lives in the [`NvIndices`] pool.
#[derive(Clone)]
pub struct NvIndex {
    /// nvIndex.
    pub handle: u32,
    /// nameAlg.
    pub name_alg: HashAlg,
    /// attributes (TPMA_NV).
    pub attrs: u32,
    /// authPolicy.
    pub auth_policy: Digest,
    /// dataSize.
    pub data_size: u16,
    /// authValue.
    pub auth: Auth,
    /// Where its dataSize bytes start in the pool (set by [`NvIndices::insert`]).
    offset: usize,
}

/// The public area and the authValue (itself a redacting `Secret`); the data prints as
/// `[REDACTED]` with its length: NV holds certificates but also sealed-style secrets, which a
/// log line must not carry.
impl core::fmt::Debug for NvIndex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        struct Redacted(usize);
        impl core::fmt::Debug for Redacted {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "[REDACTED] ({} bytes)", self.0)
            }
        }
        f.debug_struct("NvIndex")
            .field("handle", &format_args!("{:#010x}", self.handle))
            .field("name_alg", &self.name_alg)
            .field("attrs", &format_args!("{:#010x}", self.attrs))
            .field("auth_policy", &self.auth_policy)
            .field("data_size", &self.data_size)
            .field("auth", &self.auth)
            .field("data", &Redacted(usize::from(self.data_size)))
            .finish()
    }
}

impl NvIndex {
    /// An index with this public area and authValue; its data is reserved by
    /// [`NvIndices::insert`].
    pub fn new(
        handle: u32,
        name_alg: HashAlg,
        attrs: u32,
        auth_policy: Digest,
        data_size: u16,
        auth: Auth,
    ) -> Self {
        Self {
            handle,
            name_alg,
            attrs,
            auth_policy,
            data_size,
            auth,
            offset: 0,
        }
    }

    /// Marshaled TPMS_NV_PUBLIC.
    pub fn public_bytes(&self, out: &mut [u8; 128]) -> usize {
        let mut w = crate::wire::Writer::new(out);
        let _ = w.u32(self.handle);
        let _ = w.u16(self.name_alg.alg_id().0);
        let _ = w.u32(self.attrs);
        let _ = w.tpm2b(self.auth_policy.as_slice());
        let _ = w.u16(self.data_size);
        w.len()
    }

    /// The Name: nameAlg ‖ H(TPMS_NV_PUBLIC) (Part 1 §16); it changes when WRITTEN is set.
    pub fn name(&self) -> Name {
        let mut buf = [0u8; 128];
        let n = self.public_bytes(&mut buf);
        let d = self.name_alg.digest(&[buf.get(..n).unwrap_or(&[])]);
        let mut name =
            Name::from_slice(&self.name_alg.alg_id().0.to_be_bytes()).unwrap_or_default();
        let _ = name.extend(d.as_slice());
        name
    }

    /// Whether `bit` is set.
    pub const fn has(&self, bit: u32) -> bool {
        self.attrs & bit != 0
    }

    /// The TPM_NT field.
    pub const fn nt(&self) -> u32 {
        self.attrs & attr::TYPE_MASK
    }

    /// Whether this is a PIN pass or PIN fail index.
    pub const fn is_pin(&self) -> bool {
        matches!(self.nt(), attr::NT_PIN_PASS | attr::NT_PIN_FAIL)
    }
}

/// The defined indices and the pool holding their data, packed from its start in definition
/// order; bytes past the last index are zero.
pub struct NvIndices {
    slots: [Option<NvIndex>; MAX_NV_INDICES],
    pool: [u8; NV_POOL_SIZE],
    /// Pool bytes reserved by the defined indices.
    used: usize,
    /// The highest value of any counter index undefined so far (the reference
    /// implementation's s_maxCounter, Part 1 §37.2.3 / Part 3 §31.8): a counter's first
    /// increment starts above it, so undefining and defining a counter again never rolls it
    /// back. It lives as long as the indices do (this instance).
    max_counter: u64,
}

impl Default for NvIndices {
    fn default() -> Self {
        Self {
            slots: Default::default(),
            pool: [0; NV_POOL_SIZE],
            used: 0,
            max_counter: 0,
        }
    }
}

impl NvIndices {
    /// The index `handle`, if defined.
    pub fn get(&self, handle: u32) -> Option<&NvIndex> {
        self.slots.iter().flatten().find(|i| i.handle == handle)
    }

    /// The index `handle`, mutably.
    pub fn get_mut(&mut self, handle: u32) -> Option<&mut NvIndex> {
        self.slots.iter_mut().flatten().find(|i| i.handle == handle)
    }

    /// Define an index and reserve its dataSize bytes (zero); `None` if all slots are used or
    /// the pool has no room.
    pub fn insert(&mut self, mut index: NvIndex) -> Option<()> {
        if !self.has_room(usize::from(index.data_size)) {
            return None;
        }
        index.offset = self.used;
        self.used = self.used.checked_add(usize::from(index.data_size))?;
        *self.slots.iter_mut().find(|s| s.is_none())? = Some(index);
        Some(())
    }

    /// Whether a slot is free.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Whether a slot is free and the pool has `size` bytes left.
    pub fn has_room(&self, size: usize) -> bool {
        self.has_free()
            && self
                .used
                .checked_add(size)
                .is_some_and(|end| end <= NV_POOL_SIZE)
    }

    /// How many more counter indices (8 bytes each) could be defined: the free slots, as far
    /// as the pool has room.
    pub fn counters_avail(&self) -> usize {
        let free = self.slots.iter().filter(|s| s.is_none()).count();
        free.min(self.free_bytes() / 8)
    }

    /// Pool bytes not reserved by any index.
    pub fn free_bytes(&self) -> usize {
        NV_POOL_SIZE.saturating_sub(self.used)
    }

    /// The dataSize bytes of `index` (zero until written).
    pub fn data(&self, index: &NvIndex) -> &[u8] {
        let end = index.offset.saturating_add(usize::from(index.data_size));
        self.pool.get(index.offset..end).unwrap_or(&[])
    }

    /// The dataSize bytes of the index `handle`, mutably.
    pub fn data_mut(&mut self, handle: u32) -> Option<&mut [u8]> {
        let (offset, size) = self
            .get(handle)
            .map(|i| (i.offset, usize::from(i.data_size)))?;
        self.pool.get_mut(offset..offset.checked_add(size)?)
    }

    /// The value of a written counter index (8 bytes, big-endian); 0 for any other index.
    pub fn counter_value(&self, index: &NvIndex) -> u64 {
        if index.attrs & attr::TYPE_MASK != attr::NT_COUNTER || !index.has(attr::WRITTEN) {
            return 0;
        }
        self.data(index)
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    /// Take the index out of `slot`: raise [`NvIndices::max_counter`] with its counter value,
    /// close the gap its data leaves in the pool and zero the freed tail.
    fn take_slot(&mut self, slot: usize) {
        let Some(i) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.max_counter = self.max_counter.max(self.counter_value(&i));
        let size = usize::from(i.data_size);
        let start = i.offset;
        let end = start.saturating_add(size).min(self.used);
        if end <= self.used && start <= end {
            // Move the data after the gap down (element by element: no slice-range panics).
            let gap = end.saturating_sub(start);
            if let Some(region) = self.pool.get_mut(start..self.used) {
                for i in 0..region.len().saturating_sub(gap) {
                    let v = i.checked_add(gap).and_then(|j| region.get(j)).copied();
                    if let (Some(v), Some(d)) = (v, region.get_mut(i)) {
                        *d = v;
                    }
                }
            }
            let new_used = self.used.saturating_sub(gap);
            if let Some(tail) = self.pool.get_mut(new_used..self.used) {
                tail.fill(0);
            }
            self.used = new_used;
        }
        for other in self.slots.iter_mut().flatten() {
            if other.offset > start {
                other.offset = other.offset.saturating_sub(size);
            }
        }
    }

    /// Undefine `handle`; returns whether it existed. A written counter's value raises
    /// [`NvIndices::max_counter`]; its data is wiped from the pool.
    pub fn remove(&mut self, handle: u32) -> bool {
        match self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|i| i.handle == handle))
        {
            Some(slot) => {
                self.take_slot(slot);
                true
            }
            None => false,
        }
    }

    /// Remove the indices `keep` rejects (TPM2_Clear drops the owner's); their counters
    /// raise [`NvIndices::max_counter`] as [`NvIndices::remove`] does.
    pub fn retain(&mut self, keep: impl Fn(&NvIndex) -> bool) {
        for slot in 0..MAX_NV_INDICES {
            if self
                .slots
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|i| !keep(i))
            {
                self.take_slot(slot);
            }
        }
    }

    /// The highest value any undefined counter index had: a new counter's first
    /// TPM2_NV_Increment yields one more than this.
    pub fn max_counter(&self) -> u64 {
        self.max_counter
    }

    /// Read an 8-byte index (counter, bits, PIN) as a big-endian value; 0 if it is not 8 bytes.
    pub fn u64_value(&self, index: &NvIndex) -> u64 {
        self.data(index)
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    /// A PIN index's TPMS_NV_PIN_COUNTER_PARAMETERS (Part 2 §13.2): (pinCount, pinLimit).
    pub fn pin_counts(&self, index: &NvIndex) -> (u32, u32) {
        let v = self.u64_value(index);
        let count = u32::try_from(v >> 32).unwrap_or(u32::MAX);
        let limit = u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0);
        (count, limit)
    }

    /// Write an 8-byte index's value and set TPMA_NV_WRITTEN; `None` if `handle` is not an
    /// 8-byte index.
    pub fn set_u64(&mut self, handle: u32, value: u64) -> Option<()> {
        self.data_mut(handle)?
            .get_mut(..8)?
            .copy_from_slice(&value.to_be_bytes());
        self.get_mut(handle)?.attrs |= attr::WRITTEN;
        Some(())
    }

    /// TPM2_NV_GlobalWriteLock: write-lock every index with TPMA_NV_GLOBALLOCK (the reference
    /// implementation's NvSetGlobalLock).
    pub fn set_global_lock(&mut self) {
        for i in self.slots.iter_mut().flatten() {
            if i.has(attr::GLOBALLOCK) {
                i.attrs |= attr::WRITELOCKED;
            }
        }
    }

    /// TPM Reset (`reset`) or TPM Restart (the reference implementation's
    /// NvSetStartupAttributes; nothing happens at TPM Resume): read locks are cleared; an
    /// index other than a counter becomes unwritten if it has TPMA_NV_CLEAR_STCLEAR, or
    /// TPMA_NV_ORDERLY at TPM Reset; write locks are cleared except on a written index with
    /// TPMA_NV_WRITEDEFINE.
    pub fn startup(&mut self, reset: bool) {
        for i in self.slots.iter_mut().flatten() {
            i.attrs &= !attr::READLOCKED;
            if i.nt() != attr::NT_COUNTER
                && (i.has(attr::CLEAR_STCLEAR) || (i.has(attr::ORDERLY) && reset))
            {
                i.attrs &= !attr::WRITTEN;
            }
            if !i.has(attr::WRITTEN) || !i.has(attr::WRITEDEFINE) {
                i.attrs &= !attr::WRITELOCKED;
            }
        }
    }

    /// How many counter indices are defined.
    pub fn counters(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|i| i.nt() == attr::NT_COUNTER)
            .count()
    }

    /// Defined handles, ascending.
    pub fn handles(&self) -> heapless::Vec<u32, MAX_NV_INDICES> {
        super::ascending(self.slots.iter().flatten().map(|i| i.handle))
    }
}

/// The state before manufacture, usable in a `const` (firmware keeps the TPM in a `static`).
impl NvIndices {
    /// No indices defined.
    pub const EMPTY: Self = Self {
        slots: [const { None }; MAX_NV_INDICES],
        pool: [0; NV_POOL_SIZE],
        used: 0,
        max_counter: 0,
    };
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::types::redaction::assert_redacted;
    use std::format;

    #[test]
    fn nv_index_debug_redacts_auth_and_data() {
        let data = [0xD4u8; 40];
        let password = b"nv-index-password";
        let mut nv = NvIndices::default();
        nv.insert(NvIndex::new(
            0x0150_0016,
            HashAlg::Sha256,
            attr::AUTHREAD | attr::AUTHWRITE | attr::WRITTEN,
            Digest::EMPTY,
            40,
            Auth::from_slice(password).unwrap(),
        ))
        .unwrap();
        nv.data_mut(0x0150_0016).unwrap().copy_from_slice(&data);
        let i = nv.get(0x0150_0016).unwrap();
        let d = format!("{i:?}");
        assert_redacted(&d, &data);
        assert_redacted(&d, password);
        assert!(d.contains("0x01500016"), "{d}");
        assert!(d.contains("[REDACTED] (40 bytes)"), "{d}");
    }

    #[test]
    fn pool_packs_and_wipes() {
        let mut nv = NvIndices::default();
        let def = |h: u32, size: u16| {
            NvIndex::new(
                h,
                HashAlg::Sha256,
                attr::AUTHREAD | attr::AUTHWRITE,
                Digest::EMPTY,
                size,
                Auth::default(),
            )
        };
        nv.insert(def(0x0100_0001, 2048)).unwrap();
        nv.insert(def(0x0100_0002, 1000)).unwrap();
        nv.insert(def(0x0100_0003, 16)).unwrap();
        nv.data_mut(0x0100_0001).unwrap().fill(0xA1);
        nv.data_mut(0x0100_0002).unwrap().fill(0xB2);
        nv.data_mut(0x0100_0003).unwrap().fill(0xC3);
        assert_eq!(nv.free_bytes(), NV_POOL_SIZE - 3064);
        assert!(nv.remove(0x0100_0002));
        assert_eq!(nv.free_bytes(), NV_POOL_SIZE - 2064);
        let a = nv.get(0x0100_0001).unwrap();
        assert!(nv.data(a).iter().all(|&b| b == 0xA1));
        let c = nv.get(0x0100_0003).unwrap();
        assert_eq!(nv.data(c), &[0xC3; 16]);
        // The freed tail is zero again.
        assert!(nv.pool[2064..].iter().all(|&b| b == 0));
        // Too big for what is left: refused, nothing changes.
        assert!(nv.insert(def(0x0100_0004, 2048)).is_some());
        assert!(nv.remove(0x0100_0004));
        assert!(
            nv.insert(def(0x0100_0004, (NV_POOL_SIZE - 2063) as u16))
                .is_none()
        );
        assert!(nv.get(0x0100_0004).is_none());
        assert_eq!(nv.free_bytes(), NV_POOL_SIZE - 2064);
        nv.retain(|i| i.handle != 0x0100_0001);
        assert_eq!(nv.data(nv.get(0x0100_0003).unwrap()), &[0xC3; 16]);
        assert_eq!(nv.free_bytes(), NV_POOL_SIZE - 16);
    }
}
