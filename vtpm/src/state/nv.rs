//! NV indices (Part 1 §37), held in RAM for the life of the TPM instance: an ephemeral TPM has
//! no storage that outlives the confidential VM's boot.

use crate::crypto::hash::HashAlg;
use crate::wire::types::{Auth, Buf, Digest, Name};

/// Indices that can be defined.
pub const MAX_NV_INDICES: usize = 8;
/// Largest index data (TPM_PT_NV_INDEX_MAX).
pub const MAX_NV_INDEX_SIZE: usize = 1024;

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
    /// TPM_NT_EXTEND.
    pub const NT_EXTEND: u32 = 0x40;
    /// TPMA_NV_POLICY_DELETE.
    pub const POLICY_DELETE: u32 = 0x400;
    /// TPMA_NV_WRITELOCKED.
    pub const WRITELOCKED: u32 = 0x800;
    /// TPMA_NV_WRITEALL.
    pub const WRITEALL: u32 = 0x1000;
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
    /// TPMA_NV_READLOCKED.
    pub const READLOCKED: u32 = 0x1000_0000;
    /// TPMA_NV_WRITTEN.
    pub const WRITTEN: u32 = 0x2000_0000;
    /// TPMA_NV_PLATFORMCREATE.
    pub const PLATFORMCREATE: u32 = 0x4000_0000;
    /// Bits this TPM does not implement (locks, orderly, STCLEAR and the BITS / PIN types are
    /// refused at definition): WRITEDEFINE, WRITE_STCLEAR, GLOBALLOCK, ORDERLY, CLEAR_STCLEAR,
    /// READ_STCLEAR and the reserved bits 8-9, 20-24.
    pub const UNSUPPORTED: u32 =
        0x2000 | 0x4000 | 0x8000 | 0x400_0000 | 0x800_0000 | 0x8000_0000 | 0x300 | 0x1F0_0000;
}

/// One NV index: TPMS_NV_PUBLIC (Part 2 §13.5) and its data.
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
    /// The data (dataSize bytes once written).
    pub data: Buf<MAX_NV_INDEX_SIZE>,
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
            .field("data", &Redacted(self.data.len()))
            .finish()
    }
}

impl NvIndex {
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

    /// The value of a written counter index (8 bytes, big-endian); 0 for any other index.
    pub fn counter_value(&self) -> u64 {
        if self.attrs & attr::TYPE_MASK != attr::NT_COUNTER || !self.has(attr::WRITTEN) {
            return 0;
        }
        self.data
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }
}

/// The defined indices.
#[derive(Default)]
pub struct NvIndices {
    slots: [Option<NvIndex>; MAX_NV_INDICES],
    /// The highest value of any counter index undefined so far (the reference
    /// implementation's s_maxCounter, Part 1 §37.2.3 / Part 3 §31.8): a counter's first
    /// increment starts above it, so undefining and defining a counter again never rolls it
    /// back. It lives as long as the indices do (this instance).
    max_counter: u64,
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

    /// Define an index; `None` if all slots are used.
    pub fn insert(&mut self, index: NvIndex) -> Option<()> {
        *self.slots.iter_mut().find(|s| s.is_none())? = Some(index);
        Some(())
    }

    /// Whether a slot is free.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Undefine `handle`; returns whether it existed. A written counter's value raises
    /// [`NvIndices::max_counter`].
    pub fn remove(&mut self, handle: u32) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|i| i.handle == handle))
        {
            Some(s) => {
                if let Some(i) = s.take() {
                    self.max_counter = self.max_counter.max(i.counter_value());
                }
                true
            }
            None => false,
        }
    }

    /// Remove the indices `keep` rejects (TPM2_Clear drops the owner's); their counters
    /// raise [`NvIndices::max_counter`] as [`NvIndices::remove`] does.
    pub fn retain(&mut self, keep: impl Fn(&NvIndex) -> bool) {
        for s in self.slots.iter_mut() {
            if s.as_ref().is_some_and(|i| !keep(i))
                && let Some(i) = s.take()
            {
                self.max_counter = self.max_counter.max(i.counter_value());
            }
        }
    }

    /// The highest value any undefined counter index had: a new counter's first
    /// TPM2_NV_Increment yields one more than this.
    pub fn max_counter(&self) -> u64 {
        self.max_counter
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
        let i = NvIndex {
            handle: 0x0150_0016,
            name_alg: HashAlg::Sha256,
            attrs: attr::AUTHREAD | attr::AUTHWRITE | attr::WRITTEN,
            auth_policy: Digest::EMPTY,
            data_size: 40,
            auth: Auth::from_slice(password).unwrap(),
            data: Buf::from_slice(&data).unwrap(),
        };
        let d = format!("{i:?}");
        assert_redacted(&d, &data);
        assert_redacted(&d, password);
        assert!(d.contains("0x01500016"), "{d}");
        assert!(d.contains("[REDACTED] (40 bytes)"), "{d}");
    }
}
