//! QEMU's `tpm-emulator` backend protocol (`spec/qemu-tpm-emulator.md`): serve one QEMU.
//!
//! Sources of the protocol: qemu/qemu `backends/tpm/tpm_emulator.c` (QEMU 7.2) and
//! stefanberger/swtpm `include/swtpm/tpm_ioctl.h`.
//!
//! - The **control channel** is a unix stream socket this server listens on; QEMU connects as a
//!   client (`-chardev socket,id=chrtpm,path=PATH -tpmdev emulator,id=tpm0,chardev=chrtpm`).
//!   Each request is a big-endian `u32` code and a fixed-size payload; each response has a fixed
//!   size that depends on the code. Nothing frames the messages, so the server knows every
//!   size ([`request_len`], [`response_len`]).
//! - The **data channel** is one end of a `socketpair`, handed over by SET_DATAFD as an
//!   `SCM_RIGHTS` file descriptor. It carries bare TPM commands and responses, one at a time.
//!
//! One QEMU is served per [`QemuServer::run`]: a second client is refused (closed, and logged),
//! and the run ends when QEMU sends SHUTDOWN (at exit) or closes the control channel. The TPM
//! lives as long as the server: an INIT (machine start, every guest reset) is `_TPM_Init` on the
//! same TPM ([`Tpm::init`]: seeds and PCR banks' allocation kept, the next command must be
//! TPM2_Startup); a new server is a new ephemeral TPM.
//!
//! Bad input is answered, never fatal: a truncated control message or an unknown code gets an
//! error result, a data-channel command larger than the negotiated buffer gets
//! TPM_RC_COMMAND_SIZE without reaching the core, and the log says what happened.
//!
//! `SCM_RIGHTS` needs `recvmsg`, which std's `UnixStream` does not offer on stable Rust; the
//! `rustix` crate provides it without `unsafe` (received descriptors arrive as `OwnedFd`).

use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, ErrorKind, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, recvmsg};
use vtpm::{MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, Tpm};

use crate::SimPlatform;

/// CMD_GET_CAPABILITY: no payload; answered with the `u64` capability bits only.
pub const CMD_GET_CAPABILITY: u32 = 0x01;
/// CMD_INIT: `u32 flags`; _TPM_Init.
pub const CMD_INIT: u32 = 0x02;
/// CMD_SHUTDOWN: QEMU exits.
pub const CMD_SHUTDOWN: u32 = 0x03;
/// CMD_GET_TPMESTABLISHED: answered `u32 res ‖ u8 bit ‖ 3 pad`.
pub const CMD_GET_TPMESTABLISHED: u32 = 0x04;
/// CMD_SET_LOCALITY: `u8 locality ‖ 3 pad`.
pub const CMD_SET_LOCALITY: u32 = 0x05;
/// CMD_HASH_START (H-CRTM; not offered).
pub const CMD_HASH_START: u32 = 0x06;
/// CMD_HASH_DATA (not offered).
pub const CMD_HASH_DATA: u32 = 0x07;
/// CMD_HASH_END (not offered).
pub const CMD_HASH_END: u32 = 0x08;
/// CMD_CANCEL_TPM_CMD (not offered: commands are not cancellable).
pub const CMD_CANCEL_TPM_CMD: u32 = 0x09;
/// CMD_STORE_VOLATILE (not offered: nothing is stored).
pub const CMD_STORE_VOLATILE: u32 = 0x0A;
/// CMD_RESET_TPMESTABLISHED: `u8 locality ‖ 3 pad`.
pub const CMD_RESET_TPMESTABLISHED: u32 = 0x0B;
/// CMD_GET_STATEBLOB (migration; not offered).
pub const CMD_GET_STATEBLOB: u32 = 0x0C;
/// CMD_SET_STATEBLOB (migration; not offered).
pub const CMD_SET_STATEBLOB: u32 = 0x0D;
/// CMD_STOP: stop the TPM until the next INIT.
pub const CMD_STOP: u32 = 0x0E;
/// CMD_GET_CONFIG (not offered).
pub const CMD_GET_CONFIG: u32 = 0x0F;
/// CMD_SET_DATAFD: no payload; the data channel's descriptor rides along as `SCM_RIGHTS`.
pub const CMD_SET_DATAFD: u32 = 0x10;
/// CMD_SET_BUFFERSIZE: `u32 size` (0 = query); answered `u32 res, size, min, max`.
pub const CMD_SET_BUFFERSIZE: u32 = 0x11;
/// CMD_GET_INFO (not offered).
pub const CMD_GET_INFO: u32 = 0x12;
/// CMD_LOCK_STORAGE (not offered).
pub const CMD_LOCK_STORAGE: u32 = 0x13;

/// The capabilities reported by GET_CAPABILITY: exactly the set QEMU 7.2 requires of a TPM 2
/// (INIT, SHUTDOWN, GET_TPMESTABLISHED, SET_LOCALITY, RESET_TPMESTABLISHED, STOP, SET_DATAFD,
/// SET_BUFFERSIZE). Without GET/SET_STATEBLOB QEMU blocks migration of the VM.
pub const CAPABILITIES: u64 = 0x348F;

/// Control result: success.
pub const TPM_SUCCESS: u32 = 0;
/// Control result (TPM 1.2 numbering, as swtpm answers and QEMU prints): a malformed request.
pub const TPM_BAD_PARAMETER: u32 = 0x03;
/// Control result: the operation failed.
pub const TPM_FAIL: u32 = 0x09;
/// Control result: unknown or unsupported control code, or the TPM is not running.
pub const TPM_BAD_ORDINAL: u32 = 0x0A;
/// Control result: locality out of range, or not allowed for this operation.
pub const TPM_BAD_LOCALITY: u32 = 0x3D;

/// INIT flag: start from the volatile state (after a migration); nothing is stored here.
pub const INIT_FLAG_DELETE_VOLATILE: u32 = 0x1;

/// Largest data-channel buffer: the core's command limit (its response limit is larger).
pub const MAX_BUFFER_SIZE: u32 = 4087;
const _: () = assert!(
    MAX_BUFFER_SIZE as usize == MAX_COMMAND_SIZE && MAX_BUFFER_SIZE as usize <= MAX_RESPONSE_SIZE
);
/// Smallest data-channel buffer: the smallest transport buffer the core is served through
/// (QEMU's CRB and the COCONUT SVSM page ask 3968 bytes).
pub const MIN_BUFFER_SIZE: u32 = 3968;

/// The answer to any data-channel command before INIT (or after STOP): TPM_RC_FAILURE with
/// tag TPM_ST_NO_SESSIONS, as swtpm answers QEMU's version probe.
pub const NOT_RUNNING_RESPONSE: [u8; 10] = [0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x01];

/// TPM_RC_COMMAND_SIZE: the answer to a data-channel command larger than the buffer size.
const TPM_RC_COMMAND_SIZE: u32 = 0x142;
/// TPM_RC_FAILURE.
const TPM_RC_FAILURE: u32 = 0x101;
/// TPM_RC_BAD_TAG.
const TPM_RC_BAD_TAG: u32 = 0x01E;

/// How long the rest of a message may take once its first bytes arrived. QEMU writes each
/// message whole, so anything still missing after this is a truncated message.
const REST_OF_MESSAGE: Duration = Duration::from_millis(250);

/// Payload length of a control request, or `None` for a code this server does not serve.
pub fn request_len(code: u32) -> Option<usize> {
    match code {
        CMD_GET_CAPABILITY | CMD_SHUTDOWN | CMD_GET_TPMESTABLISHED | CMD_STOP | CMD_SET_DATAFD => {
            Some(0)
        }
        CMD_INIT | CMD_SET_LOCALITY | CMD_RESET_TPMESTABLISHED | CMD_SET_BUFFERSIZE => Some(4),
        _ => None,
    }
}

/// Length of the response to a served control code (unserved codes get a 4-byte result).
pub fn response_len(code: u32) -> usize {
    match code {
        CMD_GET_CAPABILITY | CMD_GET_TPMESTABLISHED => 8,
        CMD_SET_BUFFERSIZE => 16,
        _ => 4,
    }
}

/// The control code's name, for the log.
pub fn control_name(code: u32) -> &'static str {
    match code {
        CMD_GET_CAPABILITY => "GET_CAPABILITY",
        CMD_INIT => "INIT",
        CMD_SHUTDOWN => "SHUTDOWN",
        CMD_GET_TPMESTABLISHED => "GET_TPMESTABLISHED",
        CMD_SET_LOCALITY => "SET_LOCALITY",
        CMD_HASH_START => "HASH_START",
        CMD_HASH_DATA => "HASH_DATA",
        CMD_HASH_END => "HASH_END",
        CMD_CANCEL_TPM_CMD => "CANCEL_TPM_CMD",
        CMD_STORE_VOLATILE => "STORE_VOLATILE",
        CMD_RESET_TPMESTABLISHED => "RESET_TPMESTABLISHED",
        CMD_GET_STATEBLOB => "GET_STATEBLOB",
        CMD_SET_STATEBLOB => "SET_STATEBLOB",
        CMD_STOP => "STOP",
        CMD_GET_CONFIG => "GET_CONFIG",
        CMD_SET_DATAFD => "SET_DATAFD",
        CMD_SET_BUFFERSIZE => "SET_BUFFERSIZE",
        CMD_GET_INFO => "GET_INFO",
        CMD_LOCK_STORAGE => "LOCK_STORAGE",
        _ => "unknown code",
    }
}

/// TPM 2.0 command codes and names, sorted by code.
const NAMES: &[(u32, &str)] = &[
    (0x11F, "NV_UndefineSpaceSpecial"),
    (0x120, "EvictControl"),
    (0x121, "HierarchyControl"),
    (0x122, "NV_UndefineSpace"),
    (0x124, "ChangeEPS"),
    (0x125, "ChangePPS"),
    (0x126, "Clear"),
    (0x127, "ClearControl"),
    (0x128, "ClockSet"),
    (0x129, "HierarchyChangeAuth"),
    (0x12A, "NV_DefineSpace"),
    (0x12B, "PCR_Allocate"),
    (0x12C, "PCR_SetAuthPolicy"),
    (0x12D, "PP_Commands"),
    (0x12E, "SetPrimaryPolicy"),
    (0x130, "ClockRateAdjust"),
    (0x131, "CreatePrimary"),
    (0x132, "NV_GlobalWriteLock"),
    (0x133, "GetCommandAuditDigest"),
    (0x134, "NV_Increment"),
    (0x135, "NV_SetBits"),
    (0x136, "NV_Extend"),
    (0x137, "NV_Write"),
    (0x138, "NV_WriteLock"),
    (0x139, "DictionaryAttackLockReset"),
    (0x13A, "DictionaryAttackParameters"),
    (0x13B, "NV_ChangeAuth"),
    (0x13C, "PCR_Event"),
    (0x13D, "PCR_Reset"),
    (0x13E, "SequenceComplete"),
    (0x13F, "SetAlgorithmSet"),
    (0x140, "SetCommandCodeAuditStatus"),
    (0x142, "IncrementalSelfTest"),
    (0x143, "SelfTest"),
    (0x144, "Startup"),
    (0x145, "Shutdown"),
    (0x146, "StirRandom"),
    (0x147, "ActivateCredential"),
    (0x148, "Certify"),
    (0x149, "PolicyNV"),
    (0x14A, "CertifyCreation"),
    (0x14B, "Duplicate"),
    (0x14C, "GetTime"),
    (0x14D, "GetSessionAuditDigest"),
    (0x14E, "NV_Read"),
    (0x14F, "NV_ReadLock"),
    (0x150, "ObjectChangeAuth"),
    (0x151, "PolicySecret"),
    (0x152, "Rewrap"),
    (0x153, "Create"),
    (0x154, "ECDH_ZGen"),
    (0x155, "HMAC"),
    (0x156, "Import"),
    (0x157, "Load"),
    (0x158, "Quote"),
    (0x159, "RSA_Decrypt"),
    (0x15B, "HMAC_Start"),
    (0x15C, "SequenceUpdate"),
    (0x15D, "Sign"),
    (0x15E, "Unseal"),
    (0x160, "PolicySigned"),
    (0x161, "ContextLoad"),
    (0x162, "ContextSave"),
    (0x163, "ECDH_KeyGen"),
    (0x164, "EncryptDecrypt"),
    (0x165, "FlushContext"),
    (0x167, "LoadExternal"),
    (0x168, "MakeCredential"),
    (0x169, "NV_ReadPublic"),
    (0x16A, "PolicyAuthorize"),
    (0x16B, "PolicyAuthValue"),
    (0x16C, "PolicyCommandCode"),
    (0x16D, "PolicyCounterTimer"),
    (0x16E, "PolicyCpHash"),
    (0x16F, "PolicyLocality"),
    (0x170, "PolicyNameHash"),
    (0x171, "PolicyOR"),
    (0x172, "PolicyTicket"),
    (0x173, "ReadPublic"),
    (0x174, "RSA_Encrypt"),
    (0x176, "StartAuthSession"),
    (0x177, "VerifySignature"),
    (0x178, "ECC_Parameters"),
    (0x179, "FirmwareRead"),
    (0x17A, "GetCapability"),
    (0x17B, "GetRandom"),
    (0x17C, "GetTestResult"),
    (0x17D, "Hash"),
    (0x17E, "PCR_Read"),
    (0x17F, "PolicyPCR"),
    (0x180, "PolicyRestart"),
    (0x181, "ReadClock"),
    (0x182, "PCR_Extend"),
    (0x183, "PCR_SetAuthValue"),
    (0x184, "NV_Certify"),
    (0x185, "EventSequenceComplete"),
    (0x186, "HashSequenceStart"),
    (0x187, "PolicyPhysicalPresence"),
    (0x188, "PolicyDuplicationSelect"),
    (0x189, "PolicyGetDigest"),
    (0x18A, "TestParms"),
    (0x18B, "Commit"),
    (0x18C, "PolicyPassword"),
    (0x18D, "ZGen_2Phase"),
    (0x18E, "EC_Ephemeral"),
    (0x18F, "PolicyNvWritten"),
    (0x190, "PolicyTemplate"),
    (0x191, "CreateLoaded"),
    (0x192, "PolicyAuthorizeNV"),
    (0x193, "EncryptDecrypt2"),
];

/// A TPM 2.0 command code's name (Part 2 §6.5.2), for the log and the summary.
pub fn command_name(cc: u32) -> Option<&'static str> {
    NAMES
        .binary_search_by_key(&cc, |&(code, _)| code)
        .ok()
        .map(|i| NAMES[i].1)
}

/// How a data-channel command is named in the log: `PCR_Extend (0x182)`, or its tag and code
/// when it is not a TPM 2.0 command.
fn describe_command(cmd: &[u8]) -> String {
    let (Some(tag), Some(cc)) = (be16_at(cmd, 0), be32_at(cmd, 6)) else {
        return format!("{}-byte fragment", cmd.len());
    };
    match tag {
        0x8001 | 0x8002 => match command_name(cc) {
            Some(name) => format!("{name} (0x{cc:03X})"),
            None => format!("command code 0x{cc:X}"),
        },
        0x00C1..=0x00C3 => format!("TPM 1.2 ordinal 0x{cc:X} (tag 0x{tag:04X})"),
        _ => format!("tag 0x{tag:04X} code 0x{cc:X}"),
    }
}

/// The parameters worth a glance in the per-command log: capability and property asked, the
/// PCR extended or read, the startup type, the bytes asked.
fn command_detail(cmd: &[u8]) -> String {
    let Some(cc) = be32_at(cmd, 6) else {
        return String::new();
    };
    let u16_at = |at| be16_at(cmd, at).unwrap_or(0);
    let u32_at = |at| be32_at(cmd, at).unwrap_or(0);
    match cc {
        0x17A => format!(
            " [cap 0x{:X}, property 0x{:X}, count {}]",
            u32_at(10),
            u32_at(14),
            u32_at(18)
        ),
        0x182 => format!(" [PCR {}]", u32_at(10)),
        0x129 => format!(" [hierarchy 0x{:08X}]", u32_at(10)),
        0x144 | 0x145 => format!(
            " [{}]",
            match u16_at(10) {
                0 => "CLEAR".to_owned(),
                1 => "STATE".to_owned(),
                other => format!("0x{other:X}"),
            }
        ),
        0x143 => format!(" [fullTest {}]", cmd.get(10).copied().unwrap_or(0)),
        0x17B => format!(" [{} bytes]", u16_at(10)),
        0x17E => {
            // TPML_PCR_SELECTION: count, then hash ‖ sizeofSelect ‖ select bitmap.
            let mut out = Vec::new();
            let mut at = 14;
            for _ in 0..u32_at(10).min(8) {
                let alg = u16_at(at);
                let size = usize::from(cmd.get(at + 2).copied().unwrap_or(0));
                let bitmap = cmd.get(at + 3..at + 3 + size).unwrap_or_default();
                let pcrs: Vec<String> = (0..bitmap.len() * 8)
                    .filter(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
                    .map(|i| i.to_string())
                    .collect();
                let bank = match alg {
                    0x0004 => "sha1".to_owned(),
                    0x000B => "sha256".to_owned(),
                    0x000C => "sha384".to_owned(),
                    0x000D => "sha512".to_owned(),
                    other => format!("alg 0x{other:X}"),
                };
                out.push(format!("{bank}:{}", pcrs.join(",")));
                at += 3 + size;
            }
            format!(" [{}]", out.join(" "))
        }
        _ => String::new(),
    }
}

fn be16_at(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn be32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// A 10-byte TPM 2.0 error response.
fn error_response(rc: u32) -> [u8; 10] {
    let mut r = [0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0, 0];
    r[6..10].copy_from_slice(&rc.to_be_bytes());
    r
}

/// Where log lines go: stderr, prefixed `host-sim: qemu:`, unless quiet.
#[derive(Clone, Copy, Debug, Default)]
struct Log {
    quiet: bool,
    /// One line per TPM command as well.
    verbose: bool,
}

impl Log {
    fn line(self, args: fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("host-sim: qemu: {args}");
        }
    }
}

/// Most distinct `(command code, response code)` pairs [`Tally::by_code`] keeps. The command
/// code is whatever the guest wrote, so an unbounded map would let a guest grow the server's
/// memory by sending ever new codes; pairs seen after the map is full are counted in
/// [`Tally::other`]. The core implements about a hundred commands, so a real boot (a few
/// dozen pairs) never gets near this.
pub const MAX_TALLY_CODES: usize = 256;

/// TPM commands served, by command code and response code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `(command code, response code) → count`, for TPM 2.0 commands that reached the core:
    /// at most [`MAX_TALLY_CODES`] entries.
    pub by_code: BTreeMap<(u32, u32), u64>,
    /// Commands that reached the core with a `(command code, response code)` pair first seen
    /// when [`Tally::by_code`] was already full.
    pub other: u64,
    /// Commands answered TPM_RC_FAILURE because the TPM was not running (before INIT or after
    /// STOP), such as QEMU's version probe.
    pub not_running: u64,
    /// Commands larger than the buffer, answered TPM_RC_COMMAND_SIZE.
    pub oversized: u64,
    /// TPM 1.2 commands (OVMF's probe under TIS), answered TPM_RC_BAD_TAG with tag 0x8001.
    pub tpm12: u64,
}

impl Tally {
    /// Count one command that reached the core: in its `(cc, rc)` entry, or in
    /// [`Tally::other`] if it has none and the map is full.
    pub fn count(&mut self, cc: u32, rc: u32) {
        if let Some(n) = self.by_code.get_mut(&(cc, rc)) {
            *n += 1;
        } else if self.by_code.len() < MAX_TALLY_CODES {
            self.by_code.insert((cc, rc), 1);
        } else {
            self.other += 1;
        }
    }

    /// All TPM commands answered.
    pub fn total(&self) -> u64 {
        self.by_code.values().sum::<u64>()
            + self.other
            + self.not_running
            + self.oversized
            + self.tpm12
    }

    /// One line per command code: name, count, and the response codes other than success.
    pub fn lines(&self) -> Vec<String> {
        let mut by_cc: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
        for (&(cc, rc), &n) in &self.by_code {
            by_cc.entry(cc).or_default().push((rc, n));
        }
        let mut lines = Vec::new();
        for (cc, rcs) in by_cc {
            let total: u64 = rcs.iter().map(|&(_, n)| n).sum();
            let name = command_name(cc).map_or_else(|| format!("0x{cc:X}"), str::to_owned);
            let detail: Vec<String> = rcs
                .iter()
                .map(|&(rc, n)| {
                    if rc == 0 {
                        format!("{n} ok")
                    } else {
                        format!("{n} rc 0x{rc:03X}")
                    }
                })
                .collect();
            lines.push(format!(
                "{name} (0x{cc:03X}) x{total}: {}",
                detail.join(", ")
            ));
        }
        if self.other > 0 {
            lines.push(format!(
                "{} more command(s) with other command / response codes (tally full at {} \
                 pairs)",
                self.other, MAX_TALLY_CODES
            ));
        }
        if self.not_running > 0 {
            lines.push(format!(
                "{} command(s) before INIT / after STOP: answered TPM_RC_FAILURE",
                self.not_running
            ));
        }
        if self.tpm12 > 0 {
            lines.push(format!(
                "{} TPM 1.2 command(s): answered TPM_RC_BAD_TAG with a TPM 2.0 tag",
                self.tpm12
            ));
        }
        if self.oversized > 0 {
            lines.push(format!(
                "{} command(s) larger than the buffer: answered TPM_RC_COMMAND_SIZE",
                self.oversized
            ));
        }
        lines
    }
}

/// The TPM behind QEMU and the state the control channel sets.
struct Device {
    tpm: Tpm<SimPlatform>,
    /// INIT has run and no STOP since: data-channel commands reach the core.
    running: bool,
    /// Locality of the next data-channel commands (SET_LOCALITY; kept across INIT, because
    /// QEMU does not send it again after a reset).
    locality: u8,
    /// Negotiated data-channel buffer size.
    buffer_size: u32,
    /// INIT count.
    inits: u64,
    tally: Tally,
    log: Log,
}

impl Device {
    fn new(platform: SimPlatform, log: Log) -> Self {
        Self {
            tpm: Tpm::new(platform),
            running: false,
            locality: 0,
            buffer_size: MAX_BUFFER_SIZE,
            inits: 0,
            tally: Tally::default(),
            log,
        }
    }

    /// A served control request whose payload is complete (`payload.len()` is
    /// [`request_len`]). Returns the response and what to log. SET_DATAFD is handled by the
    /// session, which owns the data channel.
    fn control(&mut self, code: u32, payload: &[u8]) -> (Vec<u8>, String) {
        let arg = be32_at(payload, 0).unwrap_or(0);
        let first = payload.first().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(16);
        let what = match code {
            CMD_GET_CAPABILITY => {
                out.extend_from_slice(&CAPABILITIES.to_be_bytes());
                format!("-> capabilities 0x{CAPABILITIES:X}")
            }
            CMD_INIT => {
                self.tpm.init();
                self.running = true;
                self.inits += 1;
                out.extend_from_slice(&TPM_SUCCESS.to_be_bytes());
                let flags = if arg & INIT_FLAG_DELETE_VOLATILE != 0 {
                    format!("flags 0x{arg:X} (DELETE_VOLATILE: no volatile state is kept here)")
                } else {
                    format!("flags 0x{arg:X}")
                };
                format!(
                    "{flags} -> 0: _TPM_Init #{} of this TPM (same seeds), waiting for \
                     TPM2_Startup; locality stays {}",
                    self.inits, self.locality
                )
            }
            CMD_SHUTDOWN => {
                self.running = false;
                out.extend_from_slice(&TPM_SUCCESS.to_be_bytes());
                "-> 0: QEMU is exiting; this ephemeral TPM ends with it".to_owned()
            }
            CMD_GET_TPMESTABLISHED => {
                let res = if self.running {
                    TPM_SUCCESS
                } else {
                    TPM_BAD_ORDINAL
                };
                out.extend_from_slice(&res.to_be_bytes());
                // No H-CRTM sequence ever runs here, so the bit is always clear.
                out.extend_from_slice(&[0, 0, 0, 0]);
                if self.running {
                    "-> 0, established bit 0".to_owned()
                } else {
                    format!("-> 0x{res:X}: TPM not running (no INIT yet)")
                }
            }
            CMD_SET_LOCALITY => {
                if first > 4 {
                    out.extend_from_slice(&TPM_BAD_LOCALITY.to_be_bytes());
                    format!(
                        "{first} -> 0x{TPM_BAD_LOCALITY:X} (bad locality); stays {}",
                        self.locality
                    )
                } else {
                    self.locality = first;
                    out.extend_from_slice(&TPM_SUCCESS.to_be_bytes());
                    format!("{first} -> 0")
                }
            }
            CMD_RESET_TPMESTABLISHED => {
                let res = if !self.running {
                    TPM_BAD_ORDINAL
                } else if first == 3 || first == 4 {
                    TPM_SUCCESS
                } else {
                    TPM_BAD_LOCALITY
                };
                out.extend_from_slice(&res.to_be_bytes());
                match res {
                    TPM_SUCCESS => format!("locality {first} -> 0 (the bit is already clear)"),
                    TPM_BAD_ORDINAL => format!("locality {first} -> 0x{res:X}: TPM not running"),
                    _ => format!("locality {first} -> 0x{res:X}: only localities 3 and 4 may"),
                }
            }
            CMD_STOP => {
                self.running = false;
                out.extend_from_slice(&TPM_SUCCESS.to_be_bytes());
                "-> 0: TPM stopped until the next INIT (state kept)".to_owned()
            }
            CMD_SET_BUFFERSIZE => {
                let (res, size) = if arg == 0 {
                    (TPM_SUCCESS, self.buffer_size)
                } else if self.running {
                    (TPM_BAD_ORDINAL, self.buffer_size)
                } else {
                    self.buffer_size = arg.clamp(MIN_BUFFER_SIZE, MAX_BUFFER_SIZE);
                    (TPM_SUCCESS, self.buffer_size)
                };
                for v in [res, size, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                let asked = if arg == 0 {
                    "0 (query)".to_owned()
                } else {
                    arg.to_string()
                };
                if res == TPM_SUCCESS {
                    format!(
                        "{asked} -> 0, size {size} (min {MIN_BUFFER_SIZE}, max {MAX_BUFFER_SIZE})"
                    )
                } else {
                    format!("{asked} -> 0x{res:X}: the TPM is running (STOP first); size {size}")
                }
            }
            _ => {
                out.extend_from_slice(&TPM_BAD_ORDINAL.to_be_bytes());
                format!("-> 0x{TPM_BAD_ORDINAL:X}: not served")
            }
        };
        (out, what)
    }

    /// One complete data-channel command; returns the response to write.
    fn data(&mut self, cmd: &[u8]) -> Vec<u8> {
        let limit = self.buffer_size as usize;
        if cmd.len() > limit {
            self.tally.oversized += 1;
            self.log.line(format_args!(
                "data: {} of {} bytes exceeds the {limit}-byte buffer: answered \
                 TPM_RC_COMMAND_SIZE, not executed",
                describe_command(cmd),
                cmd.len()
            ));
            return error_response(TPM_RC_COMMAND_SIZE).to_vec();
        }
        if !self.running {
            self.tally.not_running += 1;
            self.log.line(format_args!(
                "data: {} before INIT: answered TPM_RC_FAILURE (QEMU's version probe expects \
                 this)",
                describe_command(cmd)
            ));
            return NOT_RUNNING_RESPONSE.to_vec();
        }
        if let Some(0x00C1..=0x00C3) = be16_at(cmd, 0) {
            // OVMF's Tcg2ConfigPei (TIS) sends TPM 1.2 GetTicks and takes any response with a
            // TPM 1.2 tag for a TPM 1.2, including the core's TPM_ST_RSP_COMMAND / BAD_TAG
            // (Part 2 §6.9), and then measures nothing. Answer with a TPM 2.0 tag, as libtpms
            // does, so that it goes on to TPM 2.0.
            self.tally.tpm12 += 1;
            self.log.line(format_args!(
                "data: {}: answered TPM_RC_BAD_TAG with tag 0x8001 (a TPM 2.0 answer, so the \
                 firmware rules out TPM 1.2)",
                describe_command(cmd)
            ));
            return error_response(TPM_RC_BAD_TAG).to_vec();
        }
        let mut rsp = [0u8; MAX_RESPONSE_SIZE];
        let n = self
            .tpm
            .execute(self.locality, cmd, &mut rsp)
            .min(MAX_RESPONSE_SIZE);
        let rc = be32_at(&rsp, 6).unwrap_or(TPM_RC_FAILURE);
        let cc = be32_at(cmd, 6).unwrap_or(0);
        self.tally.count(cc, rc);
        if self.log.verbose {
            self.log.line(format_args!(
                "data: {}{} at locality {}, {} bytes -> rc 0x{rc:03X}, {n} bytes",
                describe_command(cmd),
                command_detail(cmd),
                self.locality,
                cmd.len()
            ));
        }
        if n > limit {
            // QEMU reads the size from the header into its buffer: never send more.
            self.log.line(format_args!(
                "data: the {n}-byte response to {} exceeds the {limit}-byte buffer: answered \
                 TPM_RC_FAILURE instead",
                describe_command(cmd)
            ));
            return error_response(TPM_RC_FAILURE).to_vec();
        }
        rsp[..n].to_vec()
    }
}

fn lock(device: &Mutex<Device>) -> MutexGuard<'_, Device> {
    // The core promises never to panic; if it did, the state it left is still the best we have.
    device.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an I/O error is a receive timeout.
fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Bytes and descriptors received on the control channel, not yet consumed.
struct ControlReader<'a> {
    stream: &'a UnixStream,
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
    log: Log,
}

/// What waiting for more control bytes gave.
enum Fill {
    Ready,
    Eof,
    TimedOut,
}

impl ControlReader<'_> {
    /// One `recvmsg`: append the bytes, keep any descriptors. `Ok(0)` at end of stream.
    fn recv(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
        loop {
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let received = recvmsg(
                self.stream,
                &mut [IoSliceMut::new(&mut chunk)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            );
            let msg = match received {
                Ok(msg) => msg,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(fds) = message {
                    self.fds.extend(fds);
                }
            }
            if msg.flags.contains(ReturnFlags::CTRUNC) {
                self.log.line(format_args!(
                    "control: more than 4 file descriptors in one message: the rest were \
                     discarded by the kernel"
                ));
            }
            let bytes = chunk.get(..msg.bytes).unwrap_or(&chunk);
            self.buf.extend_from_slice(bytes);
            return Ok(msg.bytes);
        }
    }

    /// Wait until `n` bytes are buffered: the first receive may block as long as it takes
    /// (`patient`, and nothing buffered yet), later ones get [`REST_OF_MESSAGE`].
    fn fill(&mut self, n: usize, patient: bool) -> io::Result<Fill> {
        // Bytes already buffered are the start of a message: its rest must come soon.
        let mut first = patient && self.buf.is_empty();
        while self.buf.len() < n {
            self.stream
                .set_read_timeout(if first { None } else { Some(REST_OF_MESSAGE) })?;
            first = false;
            match self.recv() {
                Ok(0) => return Ok(Fill::Eof),
                Ok(_) => {}
                Err(e) if timed_out(&e) => return Ok(Fill::TimedOut),
                Err(e) => return Err(e),
            }
        }
        Ok(Fill::Ready)
    }

    /// Throw away what is buffered and whatever else arrives within [`REST_OF_MESSAGE`]
    /// (the rest of a message this server cannot delimit). Returns the bytes dropped.
    fn discard(&mut self) -> io::Result<usize> {
        let mut dropped = self.buf.len();
        self.buf.clear();
        self.stream.set_read_timeout(Some(REST_OF_MESSAGE))?;
        loop {
            match self.recv() {
                Ok(0) => break,
                Ok(n) => {
                    dropped += n;
                    self.buf.clear();
                }
                Err(e) if timed_out(&e) => break,
                Err(e) => return Err(e),
            }
        }
        self.fds.clear();
        Ok(dropped)
    }
}

/// How a QEMU session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// QEMU sent SHUTDOWN (it is exiting).
    Shutdown,
    /// QEMU closed the control channel without SHUTDOWN.
    Closed,
    /// The control channel failed.
    Error(io::Error),
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shutdown => f.write_str("SHUTDOWN"),
            Self::Closed => f.write_str("control channel closed without SHUTDOWN"),
            Self::Error(e) => write!(f, "control channel error: {e}"),
        }
    }
}

/// What one served QEMU did.
#[derive(Debug)]
pub struct Summary {
    /// How the session ended.
    pub end: SessionEnd,
    /// INIT count (machine start plus resets).
    pub inits: u64,
    /// TPM commands served.
    pub tally: Tally,
}

/// The data channel and the thread serving it.
struct DataChannel {
    stream: UnixStream,
    thread: JoinHandle<()>,
}

/// One QEMU on the control channel.
struct Session {
    device: Arc<Mutex<Device>>,
    data: Option<DataChannel>,
    log: Log,
}

impl Session {
    fn serve(&mut self, stream: &UnixStream) -> SessionEnd {
        let mut reader = ControlReader {
            stream,
            buf: Vec::new(),
            fds: Vec::new(),
            log: self.log,
        };
        match self.serve_inner(&mut reader) {
            Ok(end) => end,
            Err(e) => SessionEnd::Error(e),
        }
    }

    fn serve_inner(&mut self, r: &mut ControlReader<'_>) -> io::Result<SessionEnd> {
        let mut w = r.stream;
        loop {
            // A message: its code, then its payload.
            match r.fill(4, true)? {
                Fill::Ready => {}
                Fill::Eof if r.buf.is_empty() => return Ok(SessionEnd::Closed),
                Fill::Eof => {
                    self.log.line(format_args!(
                        "control: connection closed after {} byte(s) of a message code",
                        r.buf.len()
                    ));
                    return Ok(SessionEnd::Closed);
                }
                Fill::TimedOut => {
                    let dropped = r.discard()?;
                    self.log.line(format_args!(
                        "control: truncated message ({dropped} byte(s), no complete code): \
                         answered 0x{TPM_BAD_PARAMETER:X}"
                    ));
                    w.write_all(&TPM_BAD_PARAMETER.to_be_bytes())?;
                    continue;
                }
            }
            let code = be32_at(&r.buf, 0).unwrap_or(0);
            let name = control_name(code);
            let Some(len) = request_len(code) else {
                let dropped = r.discard()?;
                self.log.line(format_args!(
                    "control: {name} 0x{code:X} ({} byte(s) with it) -> 0x{TPM_BAD_ORDINAL:X}: \
                     not served",
                    dropped.saturating_sub(4)
                ));
                w.write_all(&TPM_BAD_ORDINAL.to_be_bytes())?;
                continue;
            };
            match r.fill(4 + len, false)? {
                Fill::Ready => {}
                Fill::Eof => {
                    self.log.line(format_args!(
                        "control: {name}: connection closed with {} of {len} payload byte(s)",
                        r.buf.len() - 4
                    ));
                    return Ok(SessionEnd::Closed);
                }
                Fill::TimedOut => {
                    let got = r.buf.len() - 4;
                    r.discard()?;
                    self.log.line(format_args!(
                        "control: {name}: short payload ({got} of {len} bytes) -> \
                         0x{TPM_BAD_PARAMETER:X}"
                    ));
                    let mut reply = vec![0u8; response_len(code)];
                    reply[..4].copy_from_slice(&TPM_BAD_PARAMETER.to_be_bytes());
                    w.write_all(&reply)?;
                    continue;
                }
            }
            let message: Vec<u8> = r.buf.drain(..4 + len).collect();
            let payload = &message[4..];
            let fds = core::mem::take(&mut r.fds);
            let reply = if code == CMD_SET_DATAFD {
                self.set_datafd(fds)
            } else {
                if !fds.is_empty() {
                    self.log.line(format_args!(
                        "control: {name}: {} unexpected file descriptor(s) closed",
                        fds.len()
                    ));
                }
                let (reply, what) = lock(&self.device).control(code, payload);
                self.log.line(format_args!("control: {name} {what}"));
                reply
            };
            w.write_all(&reply)?;
            if code == CMD_SHUTDOWN {
                return Ok(SessionEnd::Shutdown);
            }
        }
    }

    /// SET_DATAFD: take the descriptor and serve the data channel on it.
    fn set_datafd(&mut self, mut fds: Vec<OwnedFd>) -> Vec<u8> {
        let res = if self.data.is_some() {
            self.log.line(format_args!(
                "control: SET_DATAFD -> 0x{TPM_FAIL:X}: a data channel is already attached \
                 ({} descriptor(s) closed)",
                fds.len()
            ));
            TPM_FAIL
        } else if fds.is_empty() {
            self.log.line(format_args!(
                "control: SET_DATAFD -> 0x{TPM_FAIL:X}: no file descriptor came with it"
            ));
            TPM_FAIL
        } else {
            let extra = fds.len() - 1;
            let fd = fds.swap_remove(0);
            drop(fds);
            match self.attach(fd) {
                Ok(raw) => {
                    self.log.line(format_args!(
                        "control: SET_DATAFD -> 0: data channel on fd {raw}{}",
                        if extra > 0 {
                            format!(" ({extra} more descriptor(s) closed)")
                        } else {
                            String::new()
                        }
                    ));
                    TPM_SUCCESS
                }
                Err(e) => {
                    self.log.line(format_args!(
                        "control: SET_DATAFD -> 0x{TPM_FAIL:X}: unusable descriptor: {e}"
                    ));
                    TPM_FAIL
                }
            }
        };
        res.to_be_bytes().to_vec()
    }

    fn attach(&mut self, fd: OwnedFd) -> io::Result<i32> {
        let kind = rustix::net::sockopt::socket_type(&fd)?;
        if kind != rustix::net::SocketType::STREAM {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "not a stream socket",
            ));
        }
        let raw = fd.as_raw_fd();
        let stream = UnixStream::from(fd);
        let serving = stream.try_clone()?;
        let device = Arc::clone(&self.device);
        let log = self.log;
        let thread = thread::Builder::new()
            .name("qemu-data".into())
            .spawn(move || serve_data(&serving, &device, log))?;
        self.data = Some(DataChannel { stream, thread });
        Ok(raw)
    }

    /// Close the data channel and wait for its thread.
    fn finish(&mut self) {
        if let Some(data) = self.data.take() {
            let _ = data.stream.shutdown(std::net::Shutdown::Both);
            if data.thread.join().is_err() {
                self.log
                    .line(format_args!("data: the data-channel thread panicked"));
            }
        }
    }
}

/// Serve TPM commands on the data channel until it closes.
fn serve_data(stream: &UnixStream, device: &Mutex<Device>, log: Log) {
    let served = serve_data_inner(stream, device);
    match served {
        Ok(()) => log.line(format_args!("data: channel closed")),
        Err(e) => log.line(format_args!("data: channel failed: {e}")),
    }
}

fn serve_data_inner(mut stream: &UnixStream, device: &Mutex<Device>) -> io::Result<()> {
    // One byte more than the largest buffer, to see a command that is too large.
    let mut buf = vec![0u8; MAX_BUFFER_SIZE as usize + 1];
    loop {
        let limit = lock(device).buffer_size as usize;
        stream.set_read_timeout(None)?;
        let mut got = match read_some(stream, &mut buf[..=limit])? {
            0 => return Ok(()),
            n => n,
        };
        // QEMU writes a command whole; a split read is completed within REST_OF_MESSAGE. A
        // command shorter than its header says (TIS sends what the guest wrote) is executed
        // as it is, after that wait, and the core answers it.
        stream.set_read_timeout(Some(REST_OF_MESSAGE))?;
        loop {
            let want = match be32_at(&buf[..got], 2) {
                Some(size) => (size as usize).clamp(10, limit + 1),
                None => 10,
            };
            if got >= want || got > limit {
                break;
            }
            match read_some(stream, &mut buf[got..=limit]) {
                Ok(0) => return Ok(()),
                Ok(n) => got += n,
                Err(e) if timed_out(&e) => break,
                Err(e) => return Err(e),
            }
        }
        let mut total = got;
        if got > limit {
            // Drain the rest of the oversized command so that it is not taken for the next.
            let mut scratch = [0u8; 4096];
            loop {
                match read_some(stream, &mut scratch) {
                    Ok(0) => break,
                    Ok(n) => total += n,
                    Err(e) if timed_out(&e) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        let rsp = {
            let mut d = lock(device);
            if total > got {
                d.log
                    .line(format_args!("data: {total} bytes arrived for one command"));
            }
            d.data(&buf[..got])
        };
        // One write: QEMU's version probe does a single read().
        stream.write_all(&rsp)?;
    }
}

fn read_some(mut stream: &UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// Listens on a unix socket and serves one QEMU.
pub struct QemuServer {
    listener: UnixListener,
    path: PathBuf,
    device: Arc<Mutex<Device>>,
    log: Log,
}

impl fmt::Debug for QemuServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QemuServer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl QemuServer {
    /// Listen on the unix socket `path` with a freshly manufactured TPM on `platform`. A stale
    /// socket left at `path` by an earlier run is replaced; any other file there, or a socket
    /// someone still listens on, is an error.
    pub fn bind(path: &Path, platform: SimPlatform) -> io::Result<Self> {
        if let Ok(meta) = fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{}: exists and is not a socket", path.display()),
                ));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    ErrorKind::AddrInUse,
                    format!("{}: another server is listening there", path.display()),
                ));
            }
            fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let log = Log::default();
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            device: Arc::new(Mutex::new(Device::new(platform, log))),
            log,
        })
    }

    /// No log lines on stderr.
    #[must_use]
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.log.quiet = quiet;
        self.sync_log();
        self
    }

    /// A log line per TPM command too (not only per control command).
    #[must_use]
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.log.verbose = verbose;
        self.sync_log();
        self
    }

    fn sync_log(&self) {
        lock(&self.device).log = self.log;
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wait for QEMU, serve it until it sends SHUTDOWN or disconnects, then remove the socket.
    /// Other clients that connect meanwhile are closed at once.
    pub fn run(self) -> io::Result<Summary> {
        let result = self.run_inner();
        let _ = fs::remove_file(&self.path);
        result
    }

    fn run_inner(&self) -> io::Result<Summary> {
        let (stream, _) = self.listener.accept()?;
        self.log
            .line(format_args!("QEMU connected on {}", self.path.display()));

        // Refuse everyone else while this QEMU is served.
        let stopping = Arc::new(AtomicBool::new(false));
        let refuser = {
            let listener = self.listener.try_clone()?;
            let stopping = Arc::clone(&stopping);
            let log = self.log;
            thread::Builder::new()
                .name("qemu-refuse".into())
                .spawn(move || refuse_others(&listener, &stopping, log))?
        };

        let mut session = Session {
            device: Arc::clone(&self.device),
            data: None,
            log: self.log,
        };
        let end = session.serve(&stream);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        session.finish();

        stopping.store(true, Ordering::SeqCst);
        // Wake the refuser's accept.
        drop(UnixStream::connect(&self.path));
        let _ = refuser.join();

        let d = lock(&self.device);
        let summary = Summary {
            end,
            inits: d.inits,
            tally: d.tally.clone(),
        };
        drop(d);
        self.log.line(format_args!(
            "session ended ({}): {} INIT(s), {} TPM command(s)",
            summary.end,
            summary.inits,
            summary.tally.total()
        ));
        for line in summary.tally.lines() {
            self.log.line(format_args!("  {line}"));
        }
        Ok(summary)
    }
}

fn refuse_others(listener: &UnixListener, stopping: &AtomicBool, log: Log) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                log.line(format_args!(
                    "refused a second client: this server serves one QEMU (connection closed)"
                ));
                drop(stream);
            }
            Err(e) => {
                log.line(format_args!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `host-sim qemu` options.
#[derive(Debug, Default, PartialEq, Eq, clap::Parser)]
#[command(
    name = "host-sim qemu",
    about = "Serve one QEMU through its tpm-emulator backend: listen on the unix socket PATH (the \
             control channel); QEMU hands over the data channel with SET_DATAFD. Exits when QEMU \
             exits.",
    after_help = "QEMU (7.2):\n  qemu-system-x86_64 ... -chardev socket,id=chrtpm,path=PATH \\\n      \
                  -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0   (or tpm-tis)"
)]
pub struct Options {
    /// The control socket (a stale socket there is replaced).
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Deterministic entropy from seed N (decimal or 0x hex): reproducible tests only.
    #[arg(long, value_name = "N", value_parser = crate::parse_seed)]
    pub seed: Option<u64>,
    /// No log lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// A log line per TPM command, not only per control command.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `host-sim qemu`: serve one QEMU, report. Returns the process exit code.
pub fn main(opts: &Options) -> std::process::ExitCode {
    use std::process::ExitCode;
    let platform = opts.seed.map_or_else(SimPlatform::new, SimPlatform::seeded);
    let server = match QemuServer::bind(&opts.socket, platform) {
        Ok(s) => s.quiet(opts.quiet).verbose(opts.verbose),
        Err(e) => {
            eprintln!("host-sim qemu: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !opts.quiet {
        eprintln!(
            "host-sim: qemu: pid {}: waiting for QEMU on {} (tpm-emulator control channel); a \
             fresh ephemeral TPM{}",
            std::process::id(),
            opts.socket.display(),
            match opts.seed {
                Some(seed) => format!(", DETERMINISTIC entropy from seed {seed} (tests only)"),
                None => String::new(),
            }
        );
    }
    match server.run() {
        Ok(summary) => match summary.end {
            SessionEnd::Error(_) => ExitCode::FAILURE,
            SessionEnd::Shutdown | SessionEnd::Closed => ExitCode::SUCCESS,
        },
        Err(e) => {
            eprintln!("host-sim qemu: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use std::os::fd::AsFd;

    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};

    /// TPM2_Startup(CLEAR).
    const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];
    /// TPM2_ReadClock, QEMU's version probe.
    const READ_CLOCK: [u8; 10] = [0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x81];
    /// TPM 1.2 GetTicks, OVMF's probe under TIS.
    const TPM12_GET_TICKS: [u8; 10] = [0x00, 0xC1, 0, 0, 0, 0x0A, 0, 0, 0, 0xF1];

    fn device() -> Device {
        Device::new(
            SimPlatform::seeded(0),
            Log {
                quiet: true,
                verbose: false,
            },
        )
    }

    fn be(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    #[test]
    fn names_table_is_sorted_and_known() {
        assert_eq!(command_name(0x17A), Some("GetCapability"));
        assert_eq!(command_name(0x129), Some("HierarchyChangeAuth"));
        assert_eq!(command_name(0x182), Some("PCR_Extend"));
        assert_eq!(command_name(0x11F), Some("NV_UndefineSpaceSpecial"));
        assert_eq!(command_name(0x193), Some("EncryptDecrypt2"));
        assert_eq!(command_name(0x999), None);
        assert_eq!(describe_command(&READ_CLOCK), "ReadClock (0x181)");
        assert_eq!(
            describe_command(&TPM12_GET_TICKS),
            "TPM 1.2 ordinal 0xF1 (tag 0x00C1)"
        );
        assert_eq!(describe_command(&[1, 2]), "2-byte fragment");
        for pair in NAMES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?}");
        }
        let pcr_read = [
            0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 0x01, 0x80, 0,
        ];
        assert_eq!(command_detail(&pcr_read), " [sha256:0,15]");
        assert_eq!(command_detail(&STARTUP_CLEAR), " [CLEAR]");
        assert_eq!(command_detail(&pcr_read[..16]), " [sha256:]");
    }

    #[test]
    fn control_commands_in_qemu_order() {
        let mut d = device();
        assert_eq!(
            d.control(CMD_GET_CAPABILITY, &[]).0,
            0x348Fu64.to_be_bytes()
        );
        assert_eq!(d.control(CMD_STOP, &[]).0, be(0));
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(0));
        assert_eq!(r, [be(0), be(4087), be(3968), be(4087)].concat());
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(0xF80));
        assert_eq!(r, [be(0), be(0xF80), be(3968), be(4087)].concat());
        assert_eq!(d.buffer_size, 0xF80);
        // Out of range: clamped.
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(100_000));
        assert_eq!(&r[4..8], &be(4087));
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(16));
        assert_eq!(&r[4..8], &be(3968));
        assert!(!d.running);
        assert_eq!(d.control(CMD_INIT, &be(0)).0, be(0));
        assert!(d.running);
        assert_eq!(d.inits, 1);
        // Setting the size while running is refused; querying is fine.
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(4096));
        assert_eq!(&r[..8], &[be(TPM_BAD_ORDINAL), be(3968)].concat());
        let (r, _) = d.control(CMD_SET_BUFFERSIZE, &be(0));
        assert_eq!(&r[..4], &be(0));
        assert_eq!(d.control(CMD_GET_TPMESTABLISHED, &[]).0, [0u8; 8]);
        assert_eq!(d.control(CMD_SET_LOCALITY, &[3, 0, 0, 0]).0, be(0));
        assert_eq!(d.locality, 3);
        assert_eq!(
            d.control(CMD_SET_LOCALITY, &[5, 0, 0, 0]).0,
            be(TPM_BAD_LOCALITY)
        );
        assert_eq!(d.locality, 3);
        assert_eq!(d.control(CMD_RESET_TPMESTABLISHED, &[3, 0, 0, 0]).0, be(0));
        assert_eq!(
            d.control(CMD_RESET_TPMESTABLISHED, &[0, 0, 0, 0]).0,
            be(TPM_BAD_LOCALITY)
        );
        // A reset keeps the locality (QEMU does not send it again).
        d.control(CMD_STOP, &[]);
        assert_eq!(
            d.control(CMD_GET_TPMESTABLISHED, &[]).0,
            [be(TPM_BAD_ORDINAL), be(0)].concat()
        );
        assert_eq!(
            d.control(CMD_RESET_TPMESTABLISHED, &[3, 0, 0, 0]).0,
            be(TPM_BAD_ORDINAL)
        );
        d.control(CMD_INIT, &be(INIT_FLAG_DELETE_VOLATILE));
        assert_eq!(d.locality, 3);
        assert_eq!(d.inits, 2);
        assert_eq!(d.control(CMD_SHUTDOWN, &[]).0, be(0));
        assert_eq!(d.control(0x77, &[]).0, be(TPM_BAD_ORDINAL));
    }

    #[test]
    fn data_before_init_answers_failure_then_the_core_answers() {
        let mut d = device();
        assert_eq!(d.data(&READ_CLOCK), NOT_RUNNING_RESPONSE);
        assert_eq!(d.data(&TPM12_GET_TICKS), NOT_RUNNING_RESPONSE);
        assert_eq!(d.tally.not_running, 2);
        d.control(CMD_INIT, &be(0));
        let r = d.data(&STARTUP_CLEAR);
        assert_eq!(r, error_response(0));
        // A second Startup: TPM_RC_INITIALIZE.
        assert_eq!(be32_at(&d.data(&STARTUP_CLEAR), 6), Some(0x100));
        // TPM 1.2 under TIS: TPM_RC_BAD_TAG with a TPM 2.0 tag (OVMF takes any TPM 1.2 tag,
        // even the core's TPM_ST_RSP_COMMAND, for a TPM 1.2).
        let r = d.data(&TPM12_GET_TICKS);
        assert_eq!(r, [0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0, 0x1E]);
        assert_eq!(d.tally.tpm12, 1);
        let mut tpm = Tpm::new(SimPlatform::seeded(0));
        let mut rsp = [0u8; MAX_RESPONSE_SIZE];
        let n = tpm.execute(0, &TPM12_GET_TICKS, &mut rsp);
        assert_eq!(
            &rsp[..n],
            &[0x00, 0xC4, 0, 0, 0, 0x0A, 0, 0, 0, 0x1E],
            "the core answers TPM_ST_RSP_COMMAND (Part 2 §6.9); if this changes, so may the \
             transport's rewrite"
        );
        // INIT again: a new boot of the same TPM expects Startup again.
        d.control(CMD_INIT, &be(0));
        assert_eq!(d.data(&STARTUP_CLEAR), error_response(0));
        assert_eq!(d.tally.by_code.get(&(0x144, 0)), Some(&2));
        assert_eq!(d.tally.by_code.get(&(0x144, 0x100)), Some(&1));
        assert!(
            d.tally
                .lines()
                .iter()
                .any(|l| l.starts_with("Startup (0x144) x3"))
        );
    }

    #[test]
    fn tally_is_bounded_whatever_codes_the_guest_sends() {
        let mut d = device();
        d.control(CMD_INIT, &be(0));
        assert_eq!(d.data(&STARTUP_CLEAR), error_response(0));
        // Every command a new code: without a bound, one map entry each.
        let sent = MAX_TALLY_CODES + 500;
        for cc in (0x2000_0000u32..).take(sent) {
            let mut cmd = STARTUP_CLEAR;
            cmd[6..10].copy_from_slice(&cc.to_be_bytes());
            assert_eq!(
                be32_at(&d.data(&cmd), 6),
                Some(0x143),
                "TPM_RC_COMMAND_CODE"
            );
        }
        assert_eq!(d.tally.by_code.len(), MAX_TALLY_CODES);
        assert_eq!(d.tally.other, (sent + 1 - MAX_TALLY_CODES) as u64);
        assert_eq!(d.tally.total(), sent as u64 + 1);
        // Pairs already in the map keep counting there.
        assert_eq!(be32_at(&d.data(&STARTUP_CLEAR), 6), Some(0x100));
        assert_eq!(d.tally.by_code.get(&(0x144, 0)), Some(&1));
        assert_eq!(d.tally.other, (sent + 2 - MAX_TALLY_CODES) as u64);
        let mut first = STARTUP_CLEAR;
        first[6..10].copy_from_slice(&0x2000_0000u32.to_be_bytes());
        assert_eq!(be32_at(&d.data(&first), 6), Some(0x143));
        assert_eq!(d.tally.by_code.get(&(0x2000_0000, 0x143)), Some(&2));
        assert!(
            d.tally
                .lines()
                .iter()
                .any(|l| l.contains("more command(s) with other command / response codes"))
        );
    }

    #[test]
    fn oversized_data_command_is_refused_without_the_core() {
        let mut d = device();
        d.control(CMD_SET_BUFFERSIZE, &be(0xF80));
        d.control(CMD_INIT, &be(0));
        let mut big = vec![0u8; 0xF81];
        big[..10].copy_from_slice(&STARTUP_CLEAR[..10]);
        assert_eq!(d.data(&big), error_response(TPM_RC_COMMAND_SIZE));
        assert_eq!(d.tally.oversized, 1);
        assert!(d.tally.by_code.is_empty());
        // The TPM still waits for Startup.
        assert_eq!(d.data(&STARTUP_CLEAR), error_response(0));
    }

    #[test]
    fn parse_command_line() {
        use clap::Parser;
        let parse = |a: &[&str]| {
            Options::try_parse_from(core::iter::once("host-sim qemu").chain(a.iter().copied()))
        };
        assert_eq!(
            parse(&["--socket", "/tmp/x", "--seed", "0x10", "-v"]).ok(),
            Some(Options {
                socket: "/tmp/x".into(),
                seed: Some(16),
                quiet: false,
                verbose: true
            })
        );
        assert_eq!(
            parse(&["--socket=/s", "--quiet"]).ok().map(|o| o.quiet),
            Some(true)
        );
        assert_eq!(
            parse(&["--help"]).map_err(|e| e.kind()).err(),
            Some(clap::error::ErrorKind::DisplayHelp)
        );
        for bad in [
            &[][..],
            &["--socket"],
            &["--socket="],
            &["--socket", "/s", "--seed", "x"],
            &["--socket", "/s", "--bogus"],
            &["--socket", "/s", "--quiet=1"],
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.use_stderr(), "{bad:?}: {e}");
        }
    }

    /// A running server on a fresh socket path, and a client connected to it.
    struct Harness {
        dir: PathBuf,
        path: PathBuf,
        thread: Option<JoinHandle<io::Result<Summary>>>,
    }

    impl Harness {
        fn start(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("vtpm-qemu-test-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join("ctrl.sock");
            let server = QemuServer::bind(&path, SimPlatform::seeded(1))
                .unwrap()
                .quiet(true);
            let thread = thread::spawn(move || server.run());
            Self {
                dir,
                path,
                thread: Some(thread),
            }
        }

        fn connect(&self) -> UnixStream {
            let s = UnixStream::connect(&self.path).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        }

        fn join(mut self) -> Summary {
            self.thread.take().unwrap().join().unwrap().unwrap()
        }
    }

    impl Drop for Harness {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn send_with_fd(ctrl: &UnixStream, bytes: &[u8], fd: impl AsFd) {
        let fds = [fd.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        let n = sendmsg(
            ctrl,
            &[IoSlice::new(bytes)],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        assert_eq!(n, bytes.len());
    }

    fn read_n(mut s: &UnixStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).unwrap();
        buf
    }

    fn transact(mut s: &UnixStream, cmd: &[u8]) -> Vec<u8> {
        s.write_all(cmd).unwrap();
        let mut rsp = read_n(s, 10);
        let size = be32_at(&rsp, 2).unwrap() as usize;
        rsp.extend(read_n(s, size - 10));
        rsp
    }

    fn control(mut s: &UnixStream, code: u32, payload: &[u8]) -> Vec<u8> {
        s.write_all(&[&be(code)[..], payload].concat()).unwrap();
        read_n(s, response_len(code))
    }

    #[test]
    fn qemu_boot_sequence_over_sockets() {
        let h = Harness::start("boot");
        let ctrl = h.connect();
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        send_with_fd(&ctrl, &be(CMD_SET_DATAFD), &theirs);
        drop(theirs);
        assert_eq!(read_n(&ctrl, 4), be(0));

        // The probe: answered in one write, within QEMU's second.
        (&ours).write_all(&READ_CLOCK).unwrap();
        let mut buf = [0u8; 64];
        let n = (&ours).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], &NOT_RUNNING_RESPONSE);

        assert_eq!(
            control(&ctrl, CMD_GET_CAPABILITY, &[]),
            CAPABILITIES.to_be_bytes()
        );
        // A second client is refused while QEMU is served.
        let mut other = h.connect();
        let mut b = [0u8; 4];
        assert_eq!(other.read(&mut b).unwrap_or(0), 0);

        assert_eq!(control(&ctrl, CMD_STOP, &[]), be(0));
        assert_eq!(control(&ctrl, CMD_SET_BUFFERSIZE, &be(0))[4..8], be(4087));
        assert_eq!(control(&ctrl, CMD_STOP, &[]), be(0));
        assert_eq!(
            control(&ctrl, CMD_SET_BUFFERSIZE, &be(0xF80))[..8],
            [be(0), be(0xF80)].concat()
        );
        assert_eq!(control(&ctrl, CMD_INIT, &be(0)), be(0));
        assert_eq!(control(&ctrl, CMD_GET_TPMESTABLISHED, &[]), [0u8; 8]);
        assert_eq!(control(&ctrl, CMD_SET_LOCALITY, &[0, 0, 0, 0]), be(0));
        assert_eq!(transact(&ours, &STARTUP_CLEAR), error_response(0));

        // Bad input on the control channel: short payload, unknown code, stray fd.
        (&ctrl)
            .write_all(&[&be(CMD_SET_LOCALITY)[..], &[0, 0]].concat())
            .unwrap();
        assert_eq!(read_n(&ctrl, 4), be(TPM_BAD_PARAMETER));
        (&ctrl)
            .write_all(&[&be(CMD_SET_BUFFERSIZE)[..], &[0]].concat())
            .unwrap();
        assert_eq!(
            read_n(&ctrl, 16),
            [be(TPM_BAD_PARAMETER), be(0), be(0), be(0)].concat()
        );
        (&ctrl).write_all(&[0, 0]).unwrap();
        assert_eq!(read_n(&ctrl, 4), be(TPM_BAD_PARAMETER));
        (&ctrl)
            .write_all(&[&be(0x99)[..], &[1, 2, 3]].concat())
            .unwrap();
        assert_eq!(read_n(&ctrl, 4), be(TPM_BAD_ORDINAL));
        assert_eq!(control(&ctrl, CMD_GET_STATEBLOB, &[]), be(TPM_BAD_ORDINAL));
        let (x, _y) = UnixStream::pair().unwrap();
        send_with_fd(
            &ctrl,
            &[&be(CMD_SET_LOCALITY)[..], &[0, 0, 0, 0]].concat(),
            &x,
        );
        assert_eq!(read_n(&ctrl, 4), be(0));
        // A second SET_DATAFD, and one without a descriptor.
        send_with_fd(&ctrl, &be(CMD_SET_DATAFD), &x);
        assert_eq!(read_n(&ctrl, 4), be(TPM_FAIL));

        // Oversized data command: TPM_RC_COMMAND_SIZE, and the channel still works.
        let mut big = vec![0u8; 5000];
        big[..10].copy_from_slice(&[0x80, 0x01, 0, 0, 0x13, 0x88, 0, 0, 0x01, 0x7A]);
        assert_eq!(transact(&ours, &big), error_response(TPM_RC_COMMAND_SIZE));
        // A command shorter than its header says: the core answers it.
        let short = [0x80, 0x01, 0, 0, 0, 0x20, 0, 0, 0x01, 0x7A];
        let r = transact(&ours, &short);
        assert_ne!(be32_at(&r, 6), Some(0));

        // Guest reset: INIT again; Startup is expected again, at the kept locality.
        assert_eq!(control(&ctrl, CMD_STOP, &[]), be(0));
        assert_eq!(transact(&ours, &READ_CLOCK), NOT_RUNNING_RESPONSE);
        assert_eq!(control(&ctrl, CMD_INIT, &be(0)), be(0));
        assert_eq!(transact(&ours, &STARTUP_CLEAR), error_response(0));

        assert_eq!(control(&ctrl, CMD_SHUTDOWN, &[]), be(0));
        drop(ctrl);
        drop(other);
        let path = h.path.clone();
        let summary = h.join();
        assert!(
            matches!(summary.end, SessionEnd::Shutdown),
            "{:?}",
            summary.end
        );
        assert_eq!(summary.inits, 2);
        assert_eq!(summary.tally.not_running, 2);
        assert_eq!(summary.tally.oversized, 1);
        assert_eq!(summary.tally.by_code.get(&(0x144, 0)), Some(&2));
        assert!(!path.exists(), "socket removed");
        // The data channel is closed.
        let mut b = [0u8; 1];
        assert_eq!((&ours).read(&mut b).unwrap_or(0), 0);
    }

    #[test]
    fn set_datafd_without_descriptor_and_eof_end_the_session_cleanly() {
        let h = Harness::start("nofd");
        let ctrl = h.connect();
        assert_eq!(control(&ctrl, CMD_SET_DATAFD, &[]), be(TPM_FAIL));
        // A regular file is not a data channel.
        let file = fs::File::open("/dev/null").unwrap();
        send_with_fd(&ctrl, &be(CMD_SET_DATAFD), &file);
        assert_eq!(read_n(&ctrl, 4), be(TPM_FAIL));
        // Half a message, then EOF.
        (&ctrl).write_all(&be(CMD_INIT)[..2]).unwrap();
        drop(ctrl);
        let summary = h.join();
        assert!(
            matches!(summary.end, SessionEnd::Closed),
            "{:?}",
            summary.end
        );
        assert_eq!(summary.inits, 0);
    }

    /// A small deterministic generator (xorshift64*), enough for garbage.
    struct Garbage(u64);

    impl Garbage {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let n = usize::try_from(self.next() % (u64::try_from(max).unwrap() + 1)).unwrap();
            (0..n).map(|_| self.next().to_le_bytes()[0]).collect()
        }
    }

    #[test]
    fn garbage_on_both_channels_never_takes_the_server_down() {
        let h = Harness::start("garbage");
        let ctrl = h.connect();
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        send_with_fd(&ctrl, &be(CMD_SET_DATAFD), &theirs);
        drop(theirs);
        assert_eq!(read_n(&ctrl, 4), be(0));
        assert_eq!(control(&ctrl, CMD_INIT, &be(0)), be(0));
        let mut g = Garbage(0x5EED);
        for round in 0..6 {
            // Control: a served code with a random payload (long or short), or random bytes.
            let code = [CMD_SET_LOCALITY, CMD_SET_BUFFERSIZE, CMD_INIT, 0x42][round % 4];
            let mut msg = be(code).to_vec();
            msg.extend(g.bytes(6));
            if round % 3 == 2 {
                msg = g.bytes(9);
                msg.push(0xFF); // never empty, never a served code
            }
            (&ctrl).write_all(&msg).unwrap();
            // Take whatever comes back until the server is quiet; then it still answers
            // GET_CAPABILITY.
            ctrl.set_read_timeout(Some(REST_OF_MESSAGE * 3)).unwrap();
            let mut sink = [0u8; 256];
            while (&ctrl).read(&mut sink).is_ok_and(|n| n > 0) {}
            ctrl.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(
                control(&ctrl, CMD_GET_CAPABILITY, &[]),
                CAPABILITIES.to_be_bytes(),
                "round {round}"
            );
            // Data: a random command, answered with a well-formed response.
            let mut cmd = g.bytes(64);
            if cmd.len() >= 6 && round % 2 == 0 {
                let len = u32::try_from(cmd.len()).unwrap();
                cmd[2..6].copy_from_slice(&be(len));
            }
            if cmd.is_empty() {
                cmd.push(0);
            }
            let r = transact(&ours, &cmd);
            assert_eq!(be32_at(&r, 2), Some(u32::try_from(r.len()).unwrap()));
        }
        // The TPM still works.
        assert_eq!(control(&ctrl, CMD_STOP, &[]), be(0));
        assert_eq!(control(&ctrl, CMD_INIT, &be(0)), be(0));
        assert_eq!(control(&ctrl, CMD_SET_LOCALITY, &[0, 0, 0, 0]), be(0));
        assert_eq!(transact(&ours, &STARTUP_CLEAR), error_response(0));
        drop(ctrl);
        let summary = h.join();
        assert!(
            matches!(summary.end, SessionEnd::Closed),
            "{:?}",
            summary.end
        );
    }

    #[test]
    fn bind_replaces_stale_sockets_only() {
        let dir = std::env::temp_dir().join(format!("vtpm-qemu-bind-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        fs::write(&file, b"x").unwrap();
        let e = QemuServer::bind(&file, SimPlatform::seeded(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert!(file.exists());

        let sock = dir.join("s");
        let live = QemuServer::bind(&sock, SimPlatform::seeded(0)).unwrap();
        let e = QemuServer::bind(&sock, SimPlatform::seeded(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        drop(live); // leaves a stale socket file behind
        assert!(sock.exists());
        let again = QemuServer::bind(&sock, SimPlatform::seeded(0)).unwrap();
        assert_eq!(again.path(), sock);
        drop(again);
        let _ = fs::remove_dir_all(&dir);
    }
}
