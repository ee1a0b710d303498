//! TDX 1.5 service-TD binding: SERVTD_ATTR, SERVTD_INFO_HASH and the bound TD's SERVTD_HASH,
//! as the Intel TDX Module 1.5 computes them.
//!
//! Sources: Intel TDX Module v1.5 ABI Specification, "SERVTD_ATTR", "TDINFO_STRUCT" and the
//! leaf descriptions of TDH.SERVTD.BIND, TDH.SERVTD.PREBIND and TDH.MR.FINALIZE; Intel TDX
//! Module v1.5 Base Architecture Specification, "Service TDs" (binding table, SERVTD_HASH).
//! Cross-checked against Intel's open-source TDX module 1.5.01 (`tdh_servtd_bind.c`,
//! `tdh_mr_finalize.c`, `service_td.h`, `get_tdinfo_and_teeinfohash`) and Intel MigTD's
//! `migtd-hash` tool, which computes the same two hashes for a MigTD image.
//!
//! - **SERVTD_INFO_HASH** of a service TD bound with attributes `attr` = SHA-384 of its 512-byte
//!   TDINFO_STRUCT in which every field that `attr.IGNORE_TDINFO` names is zero (and the
//!   reserved bytes are zero). The module computes it from the service TD's *current* TDINFO at
//!   TDH.SERVTD.BIND (RTMRs included unless ignored); TDH.SERVTD.PREBIND takes it from the host
//!   before the service TD exists, and a later TDH.SERVTD.BIND must reproduce it.
//! - **SERVTD_HASH** of the target TD = SHA-384 over its binding-table slots whose state is not
//!   NOT_BOUND (pre-bound slots count), each as the packed 58-byte [`ServtdHashEntry`]
//!   `SERVTD_INFO_HASH ‖ SERVTD_TYPE (u16 LE) ‖ SERVTD_ATTR (u64 LE)`, sorted by SERVTD_TYPE and
//!   then SERVTD_INFO_HASH; all zeros when nothing is bound. It is computed once, at
//!   TDH.MR.FINALIZE: an initial binding is only possible before that (op state UNINITIALIZED /
//!   INITIALIZED), and a later rebinding changes the binding table but not SERVTD_HASH.
//!   TDINFO_STRUCT.SERVTD_HASH (in every TDREPORT) and the v5 quote's MRSERVICETD carry it.
//! - TDX Module 1.5 has one binding slot (MAX_SERVTDS = 1) and defines one SERVTD_TYPE,
//!   0 = Migration TD ([`SERVTD_TYPE_MIGTD`]); the hash layout does not depend on the type. A
//!   vTPM service type is not assigned in the 1.5 ABI: a deployment that binds a vTPM TD names
//!   its type in [`SelfBinding`].
//!
//! No published known-answer value of either hash was found (Intel's and MigTD's tests compute
//! their expectations); the tests here rebuild the hashed bytes from the ABI offsets by hand.

use core::mem::{offset_of, size_of};

use sha2::{Digest, Sha384};

use crate::layout::put;
use crate::report::TdInfo;

/// SERVTD_TYPE 0: Migration TD, the only type TDX Module 1.5 defines.
pub const SERVTD_TYPE_MIGTD: u16 = 0;

/// MAX_SERVTDS of TDX Module 1.5: binding-table slots per TD.
pub const MAX_SERVTDS: usize = 1;

/// SERVTD_ATTR (TDX Module 1.5 ABI, "SERVTD_ATTR"), 64 bits: bit 0 INSTANCE_BINDING, bits 1-3
/// reserved for future binding kinds (must be 0), bits 32-47 IGNORE_TDINFO (which TDINFO fields
/// SERVTD_INFO_HASH leaves out), the rest reserved (must be 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServtdAttr(pub u64);

impl ServtdAttr {
    /// INSTANCE_BINDING: a rebinding must name the same service-TD instance (TD_UUID), which
    /// may then have a different SERVTD_INFO_HASH; without it any TD with the bound
    /// SERVTD_INFO_HASH may rebind.
    pub const INSTANCE_BINDING: u64 = 1;
    /// IGNORE_TDINFO\[0\]: ATTRIBUTES.
    pub const IGNORE_ATTRIBUTES: u64 = 1 << 32;
    /// IGNORE_TDINFO\[1\]: XFAM.
    pub const IGNORE_XFAM: u64 = 1 << 33;
    /// IGNORE_TDINFO\[2\]: MRTD.
    pub const IGNORE_MRTD: u64 = 1 << 34;
    /// IGNORE_TDINFO\[3\]: MRCONFIGID.
    pub const IGNORE_MRCONFIGID: u64 = 1 << 35;
    /// IGNORE_TDINFO\[4\]: MROWNER.
    pub const IGNORE_MROWNER: u64 = 1 << 36;
    /// IGNORE_TDINFO\[5\]: MROWNERCONFIG.
    pub const IGNORE_MROWNERCONFIG: u64 = 1 << 37;
    /// IGNORE_TDINFO\[6\]: RTMR0 (RTMR n is bit 38 + n).
    pub const IGNORE_RTMR0: u64 = 1 << 38;
    /// IGNORE_TDINFO\[7\]: RTMR1.
    pub const IGNORE_RTMR1: u64 = 1 << 39;
    /// IGNORE_TDINFO\[8\]: RTMR2.
    pub const IGNORE_RTMR2: u64 = 1 << 40;
    /// IGNORE_TDINFO\[9\]: RTMR3.
    pub const IGNORE_RTMR3: u64 = 1 << 41;
    /// IGNORE_TDINFO\[10\]: SERVTD_HASH (the service TD's own bindings).
    pub const IGNORE_SERVTD_HASH: u64 = 1 << 42;
    /// The bits TDX Module 1.5 accepts (its SERVTD_ATTRIBUTES_FIXED0); any other bit set is
    /// TDX_OPERAND_INVALID at TDH.SERVTD.BIND / PREBIND.
    pub const VALID: u64 = 0x0000_07FF_0000_0001;
    /// All four RTMRs ignored.
    pub const IGNORE_RTMRS: u64 =
        Self::IGNORE_RTMR0 | Self::IGNORE_RTMR1 | Self::IGNORE_RTMR2 | Self::IGNORE_RTMR3;

    /// Whether every set bit is one TDX Module 1.5 accepts.
    pub const fn is_valid(self) -> bool {
        self.0 & !Self::VALID == 0
    }

    /// Whether bit `mask` is set.
    pub const fn has(self, mask: u64) -> bool {
        self.0 & mask != 0
    }
}

/// SERVTD_INFO: the service TD's TDINFO_STRUCT with the fields `attr` ignores zeroed, and the
/// reserved bytes zero (what the TDX module hashes).
pub fn servtd_info(td: &TdInfo, attr: ServtdAttr) -> TdInfo {
    let keep48 = |mask: u64, v: &[u8; 48]| if attr.has(mask) { [0; 48] } else { *v };
    let keep8 = |mask: u64, v: &[u8; 8]| if attr.has(mask) { [0; 8] } else { *v };
    let rtmr_masks = [
        ServtdAttr::IGNORE_RTMR0,
        ServtdAttr::IGNORE_RTMR1,
        ServtdAttr::IGNORE_RTMR2,
        ServtdAttr::IGNORE_RTMR3,
    ];
    let mut rtmr = [[0u8; 48]; 4];
    for ((out, have), mask) in rtmr.iter_mut().zip(td.rtmr.iter()).zip(rtmr_masks) {
        *out = keep48(mask, have);
    }
    TdInfo {
        attributes: keep8(ServtdAttr::IGNORE_ATTRIBUTES, &td.attributes),
        xfam: keep8(ServtdAttr::IGNORE_XFAM, &td.xfam),
        mrtd: keep48(ServtdAttr::IGNORE_MRTD, &td.mrtd),
        mrconfigid: keep48(ServtdAttr::IGNORE_MRCONFIGID, &td.mrconfigid),
        mrowner: keep48(ServtdAttr::IGNORE_MROWNER, &td.mrowner),
        mrownerconfig: keep48(ServtdAttr::IGNORE_MROWNERCONFIG, &td.mrownerconfig),
        rtmr,
        servtd_hash: keep48(ServtdAttr::IGNORE_SERVTD_HASH, &td.servtd_hash),
        reserved: [0; 64],
    }
}

/// SERVTD_INFO_HASH: SHA-384 of [`servtd_info`] (512 bytes).
pub fn servtd_info_hash(td: &TdInfo, attr: ServtdAttr) -> [u8; 48] {
    servtd_info(td, attr).hash()
}

/// Size of one SERVTD_HASH input entry.
pub const SERVTD_HASH_ENTRY_SIZE: usize = 58;

/// One entry of the SERVTD_HASH input (TDX Module 1.5, TDH.MR.FINALIZE: "SERVTD_INFO_HASH,
/// SERVTD_TYPE and SERVTD_ATTR of each bound slot"), packed, 58 bytes, little-endian.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServtdHashEntry {
    /// SERVTD_INFO_HASH of the bound (or pre-bound) service TD.
    pub info_hash: [u8; 48],
    /// SERVTD_TYPE, little-endian.
    pub servtd_type: [u8; 2],
    /// SERVTD_ATTR, little-endian.
    pub attr: [u8; 8],
}

const _: () = {
    assert!(size_of::<ServtdHashEntry>() == SERVTD_HASH_ENTRY_SIZE);
    assert!(offset_of!(ServtdHashEntry, info_hash) == 0);
    assert!(offset_of!(ServtdHashEntry, servtd_type) == 48);
    assert!(offset_of!(ServtdHashEntry, attr) == 50);
};

/// A binding-table slot that enters SERVTD_HASH (state BOUND or PRE_BOUND).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServtdBinding {
    /// SERVTD_INFO_HASH recorded at binding (or pre-binding).
    pub info_hash: [u8; 48],
    /// SERVTD_TYPE.
    pub servtd_type: u16,
    /// SERVTD_ATTR.
    pub attr: ServtdAttr,
}

impl ServtdBinding {
    /// The entry's 58 bytes.
    pub fn entry(&self) -> [u8; SERVTD_HASH_ENTRY_SIZE] {
        let e = ServtdHashEntry {
            info_hash: self.info_hash,
            servtd_type: self.servtd_type.to_le_bytes(),
            attr: self.attr.0.to_le_bytes(),
        };
        let mut b = [0u8; SERVTD_HASH_ENTRY_SIZE];
        put(&mut b, offset_of!(ServtdHashEntry, info_hash), &e.info_hash);
        put(
            &mut b,
            offset_of!(ServtdHashEntry, servtd_type),
            &e.servtd_type,
        );
        put(&mut b, offset_of!(ServtdHashEntry, attr), &e.attr);
        b
    }
}

/// SERVTD_HASH of a TD whose binding table holds `bindings` (the slots not NOT_BOUND, in any
/// order): they are sorted by SERVTD_TYPE, then SERVTD_INFO_HASH, and SHA-384 is taken over
/// their entries. All zeros when there are none.
pub fn servtd_hash(bindings: &mut [ServtdBinding]) -> [u8; 48] {
    if bindings.is_empty() {
        return [0; 48];
    }
    bindings.sort_unstable_by(|a, b| {
        a.servtd_type
            .cmp(&b.servtd_type)
            .then_with(|| a.info_hash.cmp(&b.info_hash))
    });
    let mut h = Sha384::new();
    for b in bindings.iter() {
        h.update(b.entry());
    }
    h.finalize().into()
}

/// How a TD expects to be bound as the service TD of its peers: the SERVTD_TYPE and
/// SERVTD_ATTR the host uses at TDH.SERVTD.BIND. With them a TD recomputes, from its own
/// TDREPORT, the SERVTD_HASH of a target TD bound only to it ([`SelfBinding::expected_hash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelfBinding {
    /// SERVTD_TYPE of the binding.
    pub servtd_type: u16,
    /// SERVTD_ATTR of the binding.
    pub attr: ServtdAttr,
}

impl SelfBinding {
    /// SERVTD_HASH of a TD whose only binding is to the TD described by `own` (its TDINFO now)
    /// with this type and these attributes. Fields `attr` does not ignore must not have changed
    /// since the binding (the RTMRs, in particular, unless ignored).
    pub fn expected_hash(&self, own: &TdInfo) -> [u8; 48] {
        servtd_hash(&mut [ServtdBinding {
            info_hash: servtd_info_hash(own, self.attr),
            servtd_type: self.servtd_type,
            attr: self.attr,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TDINFO_SIZE;

    fn sample() -> TdInfo {
        let mut b = [0u8; TDINFO_SIZE];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i % 253) as u8 | 1;
        }
        TdInfo::parse(&b).unwrap()
    }

    fn sha384(b: &[u8]) -> [u8; 48] {
        Sha384::digest(b).into()
    }

    /// The ABI's TDINFO_STRUCT byte ranges, written out independently of the Rust layout.
    const FIELDS: [(u64, core::ops::Range<usize>); 11] = [
        (ServtdAttr::IGNORE_ATTRIBUTES, 0..8),
        (ServtdAttr::IGNORE_XFAM, 8..16),
        (ServtdAttr::IGNORE_MRTD, 16..64),
        (ServtdAttr::IGNORE_MRCONFIGID, 64..112),
        (ServtdAttr::IGNORE_MROWNER, 112..160),
        (ServtdAttr::IGNORE_MROWNERCONFIG, 160..208),
        (ServtdAttr::IGNORE_RTMR0, 208..256),
        (ServtdAttr::IGNORE_RTMR1, 256..304),
        (ServtdAttr::IGNORE_RTMR2, 304..352),
        (ServtdAttr::IGNORE_RTMR3, 352..400),
        (ServtdAttr::IGNORE_SERVTD_HASH, 400..448),
    ];

    #[test]
    fn info_hash_zeroes_exactly_the_ignored_fields() {
        let td = sample();
        let mut raw = [0u8; TDINFO_SIZE];
        td.write(&mut raw);
        for (mask, range) in FIELDS {
            let mut want = raw;
            want[range].fill(0);
            want[448..].fill(0);
            assert_eq!(servtd_info_hash(&td, ServtdAttr(mask)), sha384(&want));
        }
        // No bit: the whole TDINFO with the reserved bytes zero.
        let mut want = raw;
        want[448..].fill(0);
        assert_eq!(servtd_info_hash(&td, ServtdAttr(0)), sha384(&want));
        // INSTANCE_BINDING changes nothing in the info hash.
        assert_eq!(
            servtd_info_hash(&td, ServtdAttr(ServtdAttr::INSTANCE_BINDING)),
            sha384(&want)
        );
    }

    #[test]
    fn masked_field_changes_keep_the_hash_unmasked_ones_change_it() {
        let td = sample();
        for (mask, _) in FIELDS {
            let attr = ServtdAttr(mask);
            let binding = SelfBinding {
                servtd_type: SERVTD_TYPE_MIGTD,
                attr,
            };
            let mut changed = td;
            match mask {
                ServtdAttr::IGNORE_ATTRIBUTES => changed.attributes[3] ^= 1,
                ServtdAttr::IGNORE_XFAM => changed.xfam[1] ^= 1,
                ServtdAttr::IGNORE_MRTD => changed.mrtd[9] ^= 1,
                ServtdAttr::IGNORE_MRCONFIGID => changed.mrconfigid[0] ^= 1,
                ServtdAttr::IGNORE_MROWNER => changed.mrowner[47] ^= 1,
                ServtdAttr::IGNORE_MROWNERCONFIG => changed.mrownerconfig[5] ^= 1,
                ServtdAttr::IGNORE_SERVTD_HASH => changed.servtd_hash[2] ^= 1,
                m => {
                    let n = (m.trailing_zeros() - 38) as usize;
                    changed.rtmr[n][7] ^= 1;
                }
            }
            assert_eq!(
                binding.expected_hash(&changed),
                binding.expected_hash(&td),
                "{mask:#x}"
            );
            // Without the ignore bit the same change is seen.
            let strict = SelfBinding {
                attr: ServtdAttr(0),
                ..binding
            };
            assert_ne!(strict.expected_hash(&changed), strict.expected_hash(&td));
        }
        // Reserved bytes never count.
        let mut r = td;
        r.reserved[0] ^= 1;
        assert_eq!(
            servtd_info_hash(&r, ServtdAttr(0)),
            servtd_info_hash(&td, ServtdAttr(0))
        );
    }

    #[test]
    fn servtd_hash_is_over_packed_entries_sorted() {
        let a = ServtdBinding {
            info_hash: [0xaa; 48],
            servtd_type: 0,
            attr: ServtdAttr(ServtdAttr::INSTANCE_BINDING | ServtdAttr::IGNORE_RTMRS),
        };
        // One entry: 48 + 2 + 8 bytes, little-endian.
        let mut want = [0u8; 58];
        want[..48].fill(0xaa);
        want[48..50].copy_from_slice(&[0, 0]);
        want[50..].copy_from_slice(&[0x01, 0, 0, 0, 0xc0, 0x03, 0, 0]);
        assert_eq!(servtd_hash(&mut [a]), sha384(&want));
        // Type and attributes enter the hash.
        let t = ServtdBinding {
            servtd_type: 1,
            ..a
        };
        assert_ne!(servtd_hash(&mut [t]), servtd_hash(&mut [a]));
        let at = ServtdBinding {
            attr: ServtdAttr(0),
            ..a
        };
        assert_ne!(servtd_hash(&mut [at]), servtd_hash(&mut [a]));
        // Several: sorted by type, then info hash, whatever the slot order.
        let b = ServtdBinding {
            info_hash: [0x11; 48],
            ..a
        };
        let c = ServtdBinding {
            info_hash: [0x00; 48],
            servtd_type: 2,
            ..a
        };
        let sorted = [b.entry(), a.entry(), c.entry()].concat();
        assert_eq!(servtd_hash(&mut [c, a, b]), sha384(&sorted));
        assert_eq!(servtd_hash(&mut [a, b, c]), sha384(&sorted));
        assert_eq!(servtd_hash(&mut []), [0; 48]);
    }

    #[test]
    fn attribute_validity_follows_fixed0() {
        assert!(ServtdAttr(0).is_valid());
        assert!(ServtdAttr(ServtdAttr::VALID).is_valid());
        assert!(!ServtdAttr(1 << 1).is_valid()); // SOLICITED_BINDING: future
        assert!(!ServtdAttr(1 << 43).is_valid());
        assert_eq!(
            ServtdAttr::VALID,
            ServtdAttr::INSTANCE_BINDING | ((1u64 << 43) - (1u64 << 32))
        );
    }
}
