//! Differential oracle: the same command sequences through `vtpm::Tpm::execute` and through
//! libtpms 0.9 in-process (`TPMLIB_Process`), response codes compared command by command.
//!
//! Inputs: the committed seeds (`seeds/sequence`: records `locality u8 ‖ length u16 ‖
//! command`, length 0 = _TPM_Init; `seeds/execute`: locality ‖ one command), first as they are,
//! then mutated by a seeded xorshift (byte flips, truncation, commandSize edits, records
//! spliced from other seeds, dropped or repeated, tokens of `tpm2.dict`, locality changes).
//! Each sequence starts on a fresh TPM on both sides: ours on the `sequence` target's
//! deterministic platform, libtpms from a snapshot of its NV state taken once after
//! manufacturing and PCR_Allocate(SHA-256 + SHA-384, ours' banks), then Startup(CLEAR).
//!
//! Per command: TPM_RC_RETRY from libtpms is resubmitted (as ESYS does); a command one side
//! answers TPM_RC_COMMAND_CODE and the other does not is counted as "one side only"; libtpms'
//! TPM_RC_YIELDED / CANCELED / TESTING / NV_RATE / NV_UNAVAILABLE are counted apart. Every
//! other command is compared; the first difference in a sequence goes into a bucket
//! (command code, ours, libtpms) with a count and the shortest example seen; later commands of
//! that sequence ran on diverged state and are counted as "after a difference".
//!
//! Build and run (needs libtpms 0.9, Debian `libtpms0`):
//! `cargo run --release --manifest-path fuzz/Cargo.toml --features libtpms-oracle --example
//! libtpms_oracle -- [--iters N] [--seconds S] [--seed X] [--out DIR] [--replay FILE]`.
//! The report goes to `DIR/report.json` (default `$CARGO_TARGET_DIR/libtpms-oracle`), every
//! bucket's example to `DIR/examples/<cc>_<ours>_<theirs>` in the `sequence` target's format.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vtpm::MAX_RESPONSE_SIZE;
use vtpm_fuzz::started_tpm;

// ---- libtpms (libtpms/tpm_library.h) ------------------------------------------------------

#[repr(C)]
struct Callbacks {
    size_of_struct: c_int,
    nvram_init: Option<extern "C" fn() -> u32>,
    nvram_loaddata: Option<extern "C" fn(*mut *mut u8, *mut u32, u32, *const c_char) -> u32>,
    nvram_storedata: Option<extern "C" fn(*const u8, u32, u32, *const c_char) -> u32>,
    nvram_deletename: Option<extern "C" fn(u32, *const c_char, u8) -> u32>,
    io_init: Option<extern "C" fn() -> u32>,
    io_getlocality: Option<extern "C" fn(*mut u32, u32) -> u32>,
    io_getphysicalpresence: Option<extern "C" fn(*mut u8, u32) -> u32>,
}

#[link(name = "tpms")]
unsafe extern "C" {
    fn TPMLIB_ChooseTPMVersion(v: c_int) -> u32;
    fn TPMLIB_RegisterCallbacks(cbs: *const Callbacks) -> u32;
    fn TPMLIB_MainInit() -> u32;
    fn TPMLIB_Terminate();
    fn TPMLIB_GetVersion() -> u32;
    fn TPMLIB_Process(
        rsp: *mut *mut u8,
        rsp_len: *mut u32,
        rsp_size: *mut u32,
        cmd: *mut u8,
        cmd_len: u32,
    ) -> u32;
}

unsafe extern "C" {
    fn malloc(n: usize) -> *mut c_void;
}

const TPM_SUCCESS: u32 = 0;
const TPM_FAIL: u32 = 9;
/// libtpms' "no such state" answer from the NV load callback: it then manufactures.
const TPM_RETRY: u32 = 0x800;

/// The NV blobs libtpms stores by name (permanent state, volatile state).
static NV: Mutex<BTreeMap<String, Vec<u8>>> = Mutex::new(BTreeMap::new());
static LOCALITY: AtomicU32 = AtomicU32::new(0);

fn cname(name: *const c_char) -> String {
    // SAFETY: libtpms passes a NUL-terminated name.
    unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

extern "C" fn cb_ok() -> u32 {
    TPM_SUCCESS
}

extern "C" fn cb_load(data: *mut *mut u8, length: *mut u32, _tpm: u32, name: *const c_char) -> u32 {
    let nv = NV.lock().unwrap();
    let Some(blob) = nv.get(&cname(name)) else {
        return TPM_RETRY;
    };
    // SAFETY: libtpms free()s the buffer; it gets `blob.len()` bytes.
    unsafe {
        let p = malloc(blob.len().max(1)).cast::<u8>();
        if p.is_null() {
            return TPM_FAIL;
        }
        std::ptr::copy_nonoverlapping(blob.as_ptr(), p, blob.len());
        *data = p;
        *length = blob.len() as u32;
    }
    TPM_SUCCESS
}

extern "C" fn cb_store(data: *const u8, length: u32, _tpm: u32, name: *const c_char) -> u32 {
    // SAFETY: libtpms passes `length` readable bytes.
    let blob = unsafe { std::slice::from_raw_parts(data, length as usize) }.to_vec();
    NV.lock().unwrap().insert(cname(name), blob);
    TPM_SUCCESS
}

extern "C" fn cb_delete(_tpm: u32, name: *const c_char, must_exist: u8) -> u32 {
    let gone = NV.lock().unwrap().remove(&cname(name)).is_some();
    if gone || must_exist == 0 {
        TPM_SUCCESS
    } else {
        TPM_FAIL
    }
}

extern "C" fn cb_locality(loc: *mut u32, _tpm: u32) -> u32 {
    // SAFETY: libtpms passes a valid pointer.
    unsafe { *loc = LOCALITY.load(Ordering::Relaxed) };
    TPM_SUCCESS
}

extern "C" fn cb_pp(pp: *mut u8, _tpm: u32) -> u32 {
    // SAFETY: libtpms passes a valid pointer.
    unsafe { *pp = 0 };
    TPM_SUCCESS
}

static CALLBACKS: Callbacks = Callbacks {
    size_of_struct: std::mem::size_of::<Callbacks>() as c_int,
    nvram_init: Some(cb_ok),
    nvram_loaddata: Some(cb_load),
    nvram_storedata: Some(cb_store),
    nvram_deletename: Some(cb_delete),
    io_init: Some(cb_ok),
    io_getlocality: Some(cb_locality),
    io_getphysicalpresence: Some(cb_pp),
};

const RC_RETRY: u32 = 0x922;
const RC_COMMAND_CODE: u32 = 0x143;

/// libtpms, reset per sequence from an NV snapshot.
struct Libtpms {
    rsp: *mut u8,
    rsp_len: u32,
    rsp_size: u32,
    cmd: Vec<u8>,
    snapshot: BTreeMap<String, Vec<u8>>,
    running: bool,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Libtpms {
    /// Manufacture, allocate the SHA-256 and SHA-384 banks only (ours'), shut down orderly
    /// and keep the NV state as the snapshot every sequence starts from.
    fn boot() -> Self {
        let mut t = Libtpms {
            rsp: std::ptr::null_mut(),
            rsp_len: 0,
            rsp_size: 0,
            cmd: Vec::new(),
            snapshot: BTreeMap::new(),
            running: false,
        };
        // SAFETY: plain library calls in the documented order.
        unsafe {
            assert_eq!(TPMLIB_ChooseTPMVersion(1), 0, "TPMLIB_ChooseTPMVersion(2)");
            assert_eq!(TPMLIB_RegisterCallbacks(&CALLBACKS), 0, "RegisterCallbacks");
        }
        t.main_init();
        assert_eq!(t.rc(0, &vtpm_fuzz::STARTUP_CLEAR), 0, "Startup(CLEAR)");
        // PCR_Allocate(TPM_RH_PLATFORM, password): sha1 none, sha256 all, sha384 all, sha512 none.
        let mut alloc = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2B, 0x40, 0, 0, 0x0C];
        alloc.extend_from_slice(&[0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 0, 0, 0]);
        alloc.extend_from_slice(&[0, 0, 0, 4]);
        for (alg, bits) in [(4u16, 0u8), (0xB, 0xFF), (0xC, 0xFF), (0xD, 0)] {
            alloc.extend_from_slice(&alg.to_be_bytes());
            alloc.extend_from_slice(&[3, bits, bits, bits]);
        }
        let n = alloc.len() as u32;
        alloc[2..6].copy_from_slice(&n.to_be_bytes());
        assert_eq!(t.rc(0, &alloc), 0, "PCR_Allocate");
        // Shutdown(CLEAR)
        assert_eq!(
            t.rc(0, &[0x80, 1, 0, 0, 0, 12, 0, 0, 1, 0x45, 0, 0]),
            0,
            "Shutdown"
        );
        t.snapshot = NV.lock().unwrap().clone();
        t
    }

    fn main_init(&mut self) {
        if self.running {
            // SAFETY: initialized before.
            unsafe { TPMLIB_Terminate() };
        }
        // SAFETY: callbacks registered.
        let r = unsafe { TPMLIB_MainInit() };
        assert_eq!(r, 0, "TPMLIB_MainInit");
        self.running = true;
    }

    /// A fresh TPM from the snapshot, through Startup(CLEAR).
    fn reset(&mut self) {
        *NV.lock().unwrap() = self.snapshot.clone();
        self.main_init();
        let rc = self.rc(0, &vtpm_fuzz::STARTUP_CLEAR);
        assert_eq!(rc, 0, "Startup(CLEAR) after reset");
    }

    /// _TPM_Init: the volatile state is lost, NV kept.
    fn tpm_init(&mut self) {
        NV.lock().unwrap().retain(|k, _| k == "permall");
        self.main_init();
    }

    /// One command; TPM_RC_RETRY is resubmitted (at most 8 times).
    fn rc(&mut self, locality: u8, cmd: &[u8]) -> u32 {
        LOCALITY.store(u32::from(locality), Ordering::Relaxed);
        for _ in 0..8 {
            self.cmd.clear();
            self.cmd.extend_from_slice(cmd);
            // SAFETY: rsp/rsp_len/rsp_size are libtpms' own buffer state; cmd is ours.
            let r = unsafe {
                TPMLIB_Process(
                    &mut self.rsp,
                    &mut self.rsp_len,
                    &mut self.rsp_size,
                    self.cmd.as_mut_ptr(),
                    self.cmd.len() as u32,
                )
            };
            assert_eq!(r, 0, "TPMLIB_Process failed: {r:#x}");
            assert!(
                self.rsp_len >= 10,
                "libtpms response of {} bytes",
                self.rsp_len
            );
            // SAFETY: libtpms wrote rsp_len bytes.
            let rsp = unsafe { std::slice::from_raw_parts(self.rsp, self.rsp_len as usize) };
            let rc = be32(&rsp[6..10]);
            if rc != RC_RETRY {
                return rc;
            }
        }
        RC_RETRY
    }

    fn response(&self) -> &[u8] {
        // SAFETY: as in `rc`.
        unsafe { std::slice::from_raw_parts(self.rsp, self.rsp_len as usize) }
    }
}

// ---- inputs -------------------------------------------------------------------------------

/// One record: a command at a locality, or None = _TPM_Init.
#[derive(Clone)]
struct Rec {
    locality: u8,
    cmd: Option<Vec<u8>>,
}

const MAX_RECORDS: usize = 64;

fn parse(data: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < MAX_RECORDS {
        let Some((&[locality, hi, lo], tail)) = rest.split_first_chunk::<3>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (cmd, tail) = tail.split_at(len);
        rest = tail;
        out.push(Rec {
            locality,
            cmd: (!cmd.is_empty()).then(|| cmd.to_vec()),
        });
    }
    out
}

fn serialize(recs: &[Rec]) -> Vec<u8> {
    let mut v = Vec::new();
    for r in recs {
        let c = r.cmd.as_deref().unwrap_or(&[]);
        v.push(r.locality);
        v.extend_from_slice(&(c.len() as u16).to_be_bytes());
        v.extend_from_slice(c);
    }
    v
}

fn load_corpus(root: &Path) -> Vec<(String, Vec<Rec>)> {
    let mut corpus = Vec::new();
    for (dir, execute) in [("seeds/sequence", false), ("seeds/execute", true)] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let recs = if execute {
                match data.split_first() {
                    Some((&locality, cmd)) if !cmd.is_empty() => vec![Rec {
                        locality,
                        cmd: Some(cmd.to_vec()),
                    }],
                    _ => continue,
                }
            } else {
                parse(&data)
            };
            let name = format!("{dir}/{}", f.file_name().unwrap().to_string_lossy());
            corpus.push((name, recs));
        }
    }
    corpus
}

/// `tpm2.dict` tokens (`name="\xHH..."`).
fn load_dict(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(q) = line.find('"') else { continue };
        if line.starts_with('#') {
            continue;
        }
        let body = line[q + 1..].trim_end().trim_end_matches('"');
        let b = body.as_bytes();
        let mut tok = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
                let h = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                tok.push(u8::from_str_radix(h, 16).unwrap());
                i += 4;
            } else {
                tok.push(b[i]);
                i += 1;
            }
        }
        if !tok.is_empty() {
            out.push(tok);
        }
    }
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// 1 to 4 mutations of a seed.
fn mutate(
    rng: &mut Rng,
    base: &[Rec],
    corpus: &[(String, Vec<Rec>)],
    dict: &[Vec<u8>],
) -> Vec<Rec> {
    let mut recs = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        // Mostly mutate a command (the first ones after Startup more often for short seeds).
        let idx = rng.below(recs.len().max(1));
        match rng.below(10) {
            0 | 1 => {
                // byte flip
                if let Some(Some(c)) = recs.get_mut(idx).map(|r| r.cmd.as_mut()) {
                    let i = rng.below(c.len());
                    c[i] ^= 1 + rng.below(255) as u8;
                }
            }
            2 => {
                // truncate a command
                if let Some(Some(c)) = recs.get_mut(idx).map(|r| r.cmd.as_mut()) {
                    let n = rng.below(c.len());
                    c.truncate(n.max(1));
                }
            }
            3 => {
                // commandSize edit
                if let Some(Some(c)) = recs.get_mut(idx).map(|r| r.cmd.as_mut())
                    && c.len() >= 6
                {
                    let n = be32(&c[2..6]);
                    let v = match rng.below(4) {
                        0 => n.wrapping_add(1 + rng.below(8) as u32),
                        1 => n.wrapping_sub(1 + rng.below(8) as u32),
                        2 => rng.below(16) as u32,
                        _ => rng.next() as u32,
                    };
                    c[2..6].copy_from_slice(&v.to_be_bytes());
                }
            }
            4 | 5 => {
                // dictionary token over the bytes of a command (or inserted)
                if let Some(Some(c)) = recs.get_mut(idx).map(|r| r.cmd.as_mut())
                    && !dict.is_empty()
                {
                    let tok = &dict[rng.below(dict.len())];
                    let at = rng.below(c.len() + 1);
                    if rng.below(2) == 0 {
                        for (k, &b) in tok.iter().enumerate() {
                            match c.get_mut(at + k) {
                                Some(x) => *x = b,
                                None => c.push(b),
                            }
                        }
                    } else {
                        c.splice(at..at, tok.iter().copied());
                        let n = c.len() as u32;
                        if c.len() >= 6 && rng.below(2) == 0 {
                            c[2..6].copy_from_slice(&n.to_be_bytes());
                        }
                    }
                }
            }
            6 => {
                // splice records from another seed
                let (_, other) = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = 1 + rng.below(4.min(other.len() - from));
                    let at = rng.below(recs.len() + 1);
                    recs.splice(at..at, other[from..from + n].iter().cloned());
                }
            }
            7 => {
                if !recs.is_empty() {
                    if rng.below(2) == 0 {
                        recs.remove(idx);
                    } else {
                        let r = recs[idx].clone();
                        recs.insert(idx, r);
                    }
                }
            }
            8 => {
                // truncate the sequence
                let n = rng.below(recs.len() + 1);
                recs.truncate(n.max(1));
            }
            _ => {
                if let Some(r) = recs.get_mut(idx) {
                    r.locality = rng.below(5) as u8;
                }
            }
        }
    }
    recs.truncate(MAX_RECORDS);
    recs
}

// ---- comparison ---------------------------------------------------------------------------

/// libtpms' answers that mean "not now" rather than a verdict.
fn transient(rc: u32) -> bool {
    matches!(rc, 0x908 | 0x909 | 0x90A | 0x920 | 0x923 | RC_RETRY)
}

#[derive(Default)]
struct Bucket {
    count: u64,
    example: Vec<Rec>,
    seed: String,
}

#[derive(Default)]
struct Stats {
    sequences: u64,
    commands: u64,
    compared: u64,
    equal: u64,
    differing: u64,
    one_side: BTreeMap<(u32, bool), u64>,
    transient: u64,
    after_diff: u64,
    after_diff_equal: u64,
    buckets: BTreeMap<(u32, u32, u32), Bucket>,
}

/// What one sequence gave: per command (ours, libtpms), or None for _TPM_Init.
fn run_one(
    ours_fresh: &mut dyn FnMut() -> vtpm::Tpm<vtpm_fuzz::FuzzPlatform>,
    lib: &mut Libtpms,
    recs: &[Rec],
) -> Vec<Option<(u32, u32)>> {
    let mut tpm = ours_fresh();
    lib.reset();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut out = Vec::with_capacity(recs.len());
    let mut regions: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for r in recs {
        match &r.cmd {
            None => {
                tpm.init();
                lib.tpm_init();
                out.push(None);
            }
            Some(cmd) => {
                let n = tpm.execute(r.locality, cmd, &mut rsp);
                let ours = be32(&rsp[6..10]);
                let lib_cmd = substitute(cmd, &regions);
                let theirs = lib.rc(r.locality, &lib_cmd);
                out.push(Some((ours, theirs)));
                if ours == 0 && theirs == 0 {
                    learn(&mut regions, &rsp[..n], lib.response());
                }
            }
        }
    }
    out
}

/// The seeds were recorded on ours, so later commands carry what ours answered (keys, blobs,
/// nonces). Where both answered success with responses of the same length, the byte runs in
/// which they differ (≥ 8 bytes, gaps of ≤ 4 equal bytes merged) are remembered as (ours,
/// libtpms') pairs.
fn learn(regions: &mut Vec<(Vec<u8>, Vec<u8>)>, ours: &[u8], theirs: &[u8]) {
    if ours.len() != theirs.len() {
        return;
    }
    let mut i = 10;
    while i < ours.len() {
        if ours[i] == theirs[i] {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        let mut j = i + 1;
        while j < ours.len() && j <= end + 4 {
            if ours[j] != theirs[j] {
                end = j + 1;
            }
            j += 1;
        }
        if end - start >= 8 {
            regions.push((ours[start..end].to_vec(), theirs[start..end].to_vec()));
        }
        i = end;
    }
    if regions.len() > 256 {
        regions.drain(..regions.len() - 256);
    }
}

/// The command for libtpms: every remembered run of ours' bytes replaced by libtpms' bytes.
fn substitute(cmd: &[u8], regions: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut c = cmd.to_vec();
    for (ours, theirs) in regions.iter().rev() {
        let mut k = 10;
        while k + ours.len() <= c.len() {
            if c[k..k + ours.len()] == ours[..] {
                c[k..k + ours.len()].copy_from_slice(theirs);
                k += ours.len();
            } else {
                k += 1;
            }
        }
    }
    c
}

fn cc_of(cmd: &[u8]) -> u32 {
    if cmd.len() >= 10 {
        be32(&cmd[6..10])
    } else {
        u32::MAX
    }
}

fn account(stats: &mut Stats, recs: &[Rec], seed: &str, results: &[Option<(u32, u32)>]) {
    stats.sequences += 1;
    let mut diverged = false;
    for (i, (r, res)) in recs.iter().zip(results).enumerate() {
        let (Some(cmd), Some((ours, theirs))) = (&r.cmd, res) else {
            continue;
        };
        let (ours, theirs) = (*ours, *theirs);
        stats.commands += 1;
        let cc = cc_of(cmd);
        if (ours == RC_COMMAND_CODE) != (theirs == RC_COMMAND_CODE) {
            *stats
                .one_side
                .entry((cc, ours == RC_COMMAND_CODE))
                .or_default() += 1;
            continue;
        }
        if transient(theirs) {
            stats.transient += 1;
            continue;
        }
        if diverged {
            stats.after_diff += 1;
            if ours == theirs {
                stats.after_diff_equal += 1;
            }
            continue;
        }
        stats.compared += 1;
        if ours == theirs {
            stats.equal += 1;
            continue;
        }
        stats.differing += 1;
        diverged = true;
        let b = stats.buckets.entry((cc, ours, theirs)).or_default();
        b.count += 1;
        let ex = &recs[..=i];
        if b.example.is_empty() || serialize(ex).len() < serialize(&b.example).len() {
            b.example = ex.to_vec();
            b.seed = seed.to_string();
        }
    }
}

/// Drop records of an example while the last command still gives the same first difference.
fn minimize(
    ours_fresh: &mut dyn FnMut() -> vtpm::Tpm<vtpm_fuzz::FuzzPlatform>,
    lib: &mut Libtpms,
    key: (u32, u32, u32),
    example: &[Rec],
) -> Vec<Rec> {
    let reproduces = |ours_fresh: &mut dyn FnMut() -> vtpm::Tpm<vtpm_fuzz::FuzzPlatform>,
                      lib: &mut Libtpms,
                      recs: &[Rec]|
     -> bool {
        let res = run_one(ours_fresh, lib, recs);
        // the last command differs as in the bucket and nothing before it differs
        let Some(Some((o, t))) = res.last() else {
            return false;
        };
        let last_ok = (
            cc_of(recs.last().unwrap().cmd.as_deref().unwrap_or(&[])),
            *o,
            *t,
        ) == key;
        last_ok
            && res[..res.len() - 1].iter().flatten().all(|(o, t)| {
                o == t || transient(*t) || (*o == RC_COMMAND_CODE) != (*t == RC_COMMAND_CODE)
            })
    };
    let mut cur = example.to_vec();
    let mut i = 0;
    while i + 1 < cur.len() {
        let mut trial = cur.clone();
        trial.remove(i);
        if reproduces(ours_fresh, lib, &trial) {
            cur = trial;
        } else {
            i += 1;
        }
    }
    cur
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn rate(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn report(
    stats: &Stats,
    out: &Path,
    elapsed: Duration,
    minimized: &BTreeMap<(u32, u32, u32), Vec<Rec>>,
) {
    let mut j = String::new();
    let secs = elapsed.as_secs_f64();
    let _ = write!(
        j,
        "{{\n \"libtpms_version\": \"{:#x}\",\n \"seconds\": {secs:.1},\n \"sequences\": {},\n \"sequences_per_second\": {:.1},\n \"commands\": {},\n \"compared\": {},\n \"equal\": {},\n \"differing\": {},\n \"agreement_percent\": {:.4},\n \"transient\": {},\n \"after_difference\": {},\n \"after_difference_equal\": {},\n \"one_side_only\": [",
        // SAFETY: plain getter.
        unsafe { TPMLIB_GetVersion() },
        stats.sequences,
        stats.sequences as f64 / secs.max(1e-9),
        stats.commands,
        stats.compared,
        stats.equal,
        stats.differing,
        rate(stats.equal, stats.compared),
        stats.transient,
        stats.after_diff,
        stats.after_diff_equal,
    );
    for (k, ((cc, ours_missing), n)) in stats.one_side.iter().enumerate() {
        let _ = write!(
            j,
            "{}\n  {{\"cc\": \"{cc:#x}\", \"missing_in\": \"{}\", \"count\": {n}}}",
            if k == 0 { "" } else { "," },
            if *ours_missing { "ours" } else { "libtpms" }
        );
    }
    j.push_str("\n ],\n \"buckets\": [");
    let mut sorted: Vec<_> = stats.buckets.iter().collect();
    sorted.sort_by(|a, b| b.1.count.cmp(&a.1.count));
    let exdir = out.join("examples");
    let _ = std::fs::create_dir_all(&exdir);
    for (k, ((cc, ours, theirs), b)) in sorted.iter().enumerate() {
        let ex = minimized.get(&(*cc, *ours, *theirs)).unwrap_or(&b.example);
        let bytes = serialize(ex);
        let name = format!("{cc:08x}_{ours:03x}_{theirs:03x}");
        let _ = std::fs::write(exdir.join(&name), &bytes);
        let _ = write!(
            j,
            "{}\n  {{\"cc\": \"{cc:#x}\", \"ours\": \"{ours:#x}\", \"libtpms\": \"{theirs:#x}\", \"count\": {}, \"from\": \"{}\", \"records\": {}, \"minimized\": {}, \"example\": \"{}\"}}",
            if k == 0 { "" } else { "," },
            b.count,
            b.seed,
            ex.len(),
            minimized.contains_key(&(*cc, *ours, *theirs)),
            hex(&bytes)
        );
    }
    j.push_str("\n ]\n}\n");
    std::fs::write(out.join("report.json"), j).unwrap();
}

fn summary(stats: &Stats, elapsed: Duration, top: usize) {
    let secs = elapsed.as_secs_f64();
    println!(
        "sequences {} ({:.1}/s), commands {}, compared {}, equal {}, differing {} (agreement {:.3}%), one side only {}, libtpms transient {}, after a difference {} ({} equal)",
        stats.sequences,
        stats.sequences as f64 / secs.max(1e-9),
        stats.commands,
        stats.compared,
        stats.equal,
        stats.differing,
        rate(stats.equal, stats.compared),
        stats.one_side.values().sum::<u64>(),
        stats.transient,
        stats.after_diff,
        stats.after_diff_equal
    );
    let mut sorted: Vec<_> = stats.buckets.iter().collect();
    sorted.sort_by(|a, b| b.1.count.cmp(&a.1.count));
    println!("| cc | ours | libtpms | count | example from |");
    println!("|---|---|---|---:|---|");
    for ((cc, ours, theirs), b) in sorted.iter().take(top) {
        println!(
            "| {cc:#x} | {ours:#x} | {theirs:#x} | {} | {} |",
            b.count, b.seed
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let iters: u64 = arg("--iters").map_or(1_000_000, |v| v.parse().unwrap());
    let seconds: u64 = arg("--seconds").map_or(u64::MAX, |v| v.parse().unwrap());
    let seed: u64 = arg("--seed").map_or(0x0a0c_1e11, |v| v.parse().unwrap());
    let minimize_top: usize = arg("--minimize").map_or(40, |v| v.parse().unwrap());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = arg("--out").map(PathBuf::from).unwrap_or_else(|| {
        let t = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| root.join("target").display().to_string());
        PathBuf::from(t).join("libtpms-oracle")
    });
    std::fs::create_dir_all(&out).unwrap();
    let replay =
        arg("--replay").map(|f| parse(&std::fs::read(&f).unwrap_or_else(|e| panic!("{f}: {e}"))));
    // libtpms keeps its state in our callbacks; a private working directory anyway.
    let work = out.join("cwd");
    std::fs::create_dir_all(&work).unwrap();
    std::env::set_current_dir(&work).unwrap();

    let mut lib = Libtpms::boot();
    let mut ours_fresh = started_tpm;

    // The banks must match: GetCapability(TPM_CAP_PCRS).
    let getcap = [
        0x80, 1, 0, 0, 0, 22, 0, 0, 1, 0x7A, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 8,
    ];
    lib.reset();
    lib.rc(0, &getcap);
    let theirs = lib.response().to_vec();
    let mut tpm = ours_fresh();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let n = tpm.execute(0, &getcap, &mut rsp);
    println!("PCR banks, ours:    {}", hex(&rsp[..n]));
    println!("PCR banks, libtpms: {}", hex(&theirs));

    if let Some(recs) = &replay {
        for (r, res) in recs.iter().zip(run_one(&mut ours_fresh, &mut lib, recs)) {
            match (r, res) {
                (
                    Rec {
                        cmd: Some(c),
                        locality,
                    },
                    Some((o, t)),
                ) => println!(
                    "loc {locality} cc {:#06x} ours {o:#05x} libtpms {t:#05x}{} {}",
                    cc_of(c),
                    if o == t { "" } else { "  <-- differs" },
                    hex(&c[..c.len().min(64)])
                ),
                _ => println!("_TPM_Init"),
            }
        }
        return;
    }

    let corpus = load_corpus(&root);
    let dict = load_dict(&root.join("tpm2.dict"));
    println!(
        "{} seeds, {} dictionary tokens, up to {iters} sequences, seed {seed:#x}",
        corpus.len(),
        dict.len()
    );
    let start = Instant::now();
    let mut last = Instant::now();
    let mut stats = Stats::default();
    let empty = BTreeMap::new();
    for i in 0..iters {
        if start.elapsed().as_secs() >= seconds {
            break;
        }
        let (name, recs) = if (i as usize) < corpus.len() {
            let (n, r) = &corpus[i as usize];
            (n.clone(), r.clone())
        } else {
            let mut rng = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            rng.next();
            let (n, base) = &corpus[rng.below(corpus.len())];
            (
                format!("{n} (mutation {i})"),
                mutate(&mut rng, base, &corpus, &dict),
            )
        };
        let res = run_one(&mut ours_fresh, &mut lib, &recs);
        account(&mut stats, &recs, &name, &res);
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            summary(&stats, start.elapsed(), 0);
            report(&stats, &out, start.elapsed(), &empty);
        }
    }
    let elapsed = start.elapsed();
    let mut minimized = BTreeMap::new();
    let mut sorted: Vec<_> = stats
        .buckets
        .iter()
        .map(|(k, b)| (*k, b.count, b.example.clone()))
        .collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1));
    for (key, _, ex) in sorted.into_iter().take(minimize_top) {
        minimized.insert(key, minimize(&mut ours_fresh, &mut lib, key, &ex));
    }
    summary(&stats, elapsed, 60);
    report(&stats, &out, elapsed, &minimized);
    println!("report: {}", out.join("report.json").display());
}
