//! The TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile
//! Specification, "PFP", v1.05 §10.2 and §10.4): the firmware's side writes it while measuring
//! (a [`Log`] of [`Event`]s, SHA-256 and SHA-384 digests), and a verifier's side parses and
//! replays it ([`parse`], [`replay`]).
//!
//! Binary format, all integers little-endian:
//! - the first event is a TCG_PCR_EVENT (SHA-1 format, PFP §10.2.1) of type EV_NO_ACTION whose
//!   data is the TCG_EfiSpecIDEvent "Spec ID Event03" (PFP §10.4.5.1) naming the digests every
//!   later event carries;
//! - every later event is a TCG_PCR_EVENT2 (PFP §10.2.2): pcrIndex u32, eventType u32,
//!   TPML_DIGEST_VALUES (count u32, then algorithm u16 ‖ digest for each), eventSize u32, event.

// Lengths cast below are bounded by a 4 KiB page, a TPM2B or the event log's u32 fields.
#![allow(clippy::cast_possible_truncation)]
use sha2::{Digest, Sha256, Sha384};

/// EV_NO_ACTION (PFP §10.4.1): not extended.
pub const EV_NO_ACTION: u32 = 0x3;
/// EV_SEPARATOR.
pub const EV_SEPARATOR: u32 = 0x4;
/// EV_IPL: boot loader data (initrd, kernel command line).
pub const EV_IPL: u32 = 0xD;
/// EV_EFI_VARIABLE_BOOT.
pub const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
/// EV_EFI_BOOT_SERVICES_APPLICATION: a UEFI application (boot loader, kernel EFI stub).
pub const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
/// EV_EFI_PLATFORM_FIRMWARE_BLOB: a firmware volume.
pub const EV_EFI_PLATFORM_FIRMWARE_BLOB: u32 = 0x8000_0008;

/// TPM_ALG_SHA256.
pub const ALG_SHA256: u16 = 0x000B;
/// TPM_ALG_SHA384.
pub const ALG_SHA384: u16 = 0x000C;

/// The event type's name as the PFP spells it.
pub fn type_name(t: u32) -> &'static str {
    match t {
        EV_NO_ACTION => "EV_NO_ACTION",
        EV_SEPARATOR => "EV_SEPARATOR",
        EV_IPL => "EV_IPL",
        EV_EFI_VARIABLE_BOOT => "EV_EFI_VARIABLE_BOOT",
        EV_EFI_BOOT_SERVICES_APPLICATION => "EV_EFI_BOOT_SERVICES_APPLICATION",
        EV_EFI_PLATFORM_FIRMWARE_BLOB => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
        _ => "EV_UNKNOWN",
    }
}

/// One measured event (a TCG_PCR_EVENT2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// pcrIndex.
    pub pcr: u32,
    /// eventType.
    pub event_type: u32,
    /// SHA-256 digest extended into the SHA-256 bank.
    pub sha256: [u8; 32],
    /// SHA-384 digest extended into the SHA-384 bank.
    pub sha384: [u8; 48],
    /// The event data.
    pub data: Vec<u8>,
}

impl Event {
    /// An event whose digests are those of `measured` (the component, or the data itself).
    pub fn new(pcr: u32, event_type: u32, measured: &[u8], data: Vec<u8>) -> Self {
        Self {
            pcr,
            event_type,
            sha256: Sha256::digest(measured).into(),
            sha384: Sha384::digest(measured).into(),
            data,
        }
    }
}

/// A log being written: the Spec ID header, then the events.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// The events after the header, in order.
    pub events: Vec<Event>,
}

impl Log {
    /// The binary log.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // TCG_EfiSpecIDEvent (PFP §10.4.5.1).
        let mut spec = Vec::new();
        spec.extend(b"Spec ID Event03\0");
        spec.extend(0u32.to_le_bytes()); // platformClass: client
        spec.extend([0, 2, 0, 2]); // specVersionMinor 0, Major 2, errata 0, uintnSize 2 (UINT64)
        spec.extend(2u32.to_le_bytes()); // numberOfAlgorithms
        for (alg, size) in [(ALG_SHA256, 32u16), (ALG_SHA384, 48)] {
            spec.extend(alg.to_le_bytes());
            spec.extend(size.to_le_bytes());
        }
        spec.push(0); // vendorInfoSize
        out.extend(0u32.to_le_bytes());
        out.extend(EV_NO_ACTION.to_le_bytes());
        out.extend([0u8; 20]);
        out.extend((spec.len() as u32).to_le_bytes());
        out.extend(spec);
        for e in &self.events {
            out.extend(e.pcr.to_le_bytes());
            out.extend(e.event_type.to_le_bytes());
            out.extend(2u32.to_le_bytes());
            out.extend(ALG_SHA256.to_le_bytes());
            out.extend(e.sha256);
            out.extend(ALG_SHA384.to_le_bytes());
            out.extend(e.sha384);
            out.extend((e.data.len() as u32).to_le_bytes());
            out.extend(&e.data);
        }
        out
    }
}

/// Why a log does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The log ends inside a structure (at this byte offset).
    Truncated(usize),
    /// The first event is not a Spec ID Event03 header.
    NoSpecIdEvent,
    /// The header names an algorithm other than SHA-256 / SHA-384 (its TPM_ALG_ID).
    UnsupportedAlgorithm(u16),
    /// An event's digests are not the ones the header announced (event number).
    DigestList(usize),
}

impl core::fmt::Display for LogError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated(at) => write!(f, "the log ends inside a structure at byte {at}"),
            Self::NoSpecIdEvent => write!(f, "the first event is not a Spec ID Event03 header"),
            Self::UnsupportedAlgorithm(a) => write!(f, "unsupported digest algorithm {a:#06x}"),
            Self::DigestList(n) => write!(f, "event {n} does not carry the announced digests"),
        }
    }
}

impl core::error::Error for LogError {}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LogError> {
        let s = self
            .b
            .get(self.at..self.at.saturating_add(n))
            .ok_or(LogError::Truncated(self.at))?;
        self.at += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, LogError> {
        Ok(u16::from_le_bytes(
            self.take(2)?
                .try_into()
                .map_err(|_| LogError::Truncated(self.at))?,
        ))
    }
    fn u32(&mut self) -> Result<u32, LogError> {
        Ok(u32::from_le_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| LogError::Truncated(self.at))?,
        ))
    }
}

/// Parse a crypto-agile log with SHA-256 and SHA-384 digests (in that order or the other).
pub fn parse(bytes: &[u8]) -> Result<Vec<Event>, LogError> {
    let mut c = Cursor { b: bytes, at: 0 };
    let (_pcr, t) = (c.u32()?, c.u32()?);
    c.take(20)?;
    let n = c.u32()? as usize;
    let spec = c.take(n)?;
    if t != EV_NO_ACTION || spec.get(..16) != Some(b"Spec ID Event03\0") {
        return Err(LogError::NoSpecIdEvent);
    }
    let mut s = Cursor { b: spec, at: 24 };
    let count = s.u32()?;
    let mut algs = Vec::new();
    for _ in 0..count {
        let (alg, size) = (s.u16()?, s.u16()?);
        match (alg, size) {
            (ALG_SHA256, 32) | (ALG_SHA384, 48) => algs.push(alg),
            _ => return Err(LogError::UnsupportedAlgorithm(alg)),
        }
    }
    let mut events = Vec::new();
    while c.at < bytes.len() {
        let number = events.len() + 1;
        let pcr = c.u32()?;
        let event_type = c.u32()?;
        let n = c.u32()?;
        if n as usize != algs.len() {
            return Err(LogError::DigestList(number));
        }
        let (mut sha256, mut sha384) = ([0u8; 32], [0u8; 48]);
        for want in &algs {
            let alg = c.u16()?;
            if alg != *want {
                return Err(LogError::DigestList(number));
            }
            match alg {
                ALG_SHA256 => sha256.copy_from_slice(c.take(32)?),
                _ => sha384.copy_from_slice(c.take(48)?),
            }
        }
        let size = c.u32()? as usize;
        let data = c.take(size)?.to_vec();
        events.push(Event {
            pcr,
            event_type,
            sha256,
            sha384,
            data,
        });
    }
    Ok(events)
}

/// PCR values after replaying `events` from all-zero PCRs: (SHA-256 bank, SHA-384 bank),
/// 24 PCRs each. EV_NO_ACTION events are not extended (PFP §10.4.1).
pub fn replay(events: &[Event]) -> (Vec<[u8; 32]>, Vec<[u8; 48]>) {
    let mut b256 = vec![[0u8; 32]; 24];
    let mut b384 = vec![[0u8; 48]; 24];
    for e in events {
        if e.event_type == EV_NO_ACTION {
            continue;
        }
        let Some(i) = usize::try_from(e.pcr).ok().filter(|i| *i < 24) else {
            continue;
        };
        b256[i] = Sha256::new()
            .chain_update(b256[i])
            .chain_update(e.sha256)
            .finalize()
            .into();
        b384[i] = Sha384::new()
            .chain_update(b384[i])
            .chain_update(e.sha384)
            .finalize()
            .into();
    }
    (b256, b384)
}
