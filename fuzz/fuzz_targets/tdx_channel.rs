//! The attested channel of `platform-tdx` against a VMM that rewrites everything it carries:
//! the hello parser and the handshake's checks, the record header parser, and the receive path
//! of an established channel fed arbitrary, replayed, reordered, dropped, altered and truncated
//! records.
//!
//! Byte 0: bit 0 picks the receiving side (0: the vTPM TD receives from the user TD, 1: the
//! other way); bit 1 picks the start:
//! - 0: a channel over fixed keys (`Channel::from_keys_for_fuzzing`, feature `fuzzing`; cheap,
//!   for the record path); the rest is a script of operations;
//! - 1: a real handshake on the simulated TDX module: the next `HELLO_SIZE` bytes are the
//!   peer's hello as the VMM delivers it (the seeds hold the genuine one); if the receiver accepts
//!   it, the peer finishes with the receiver's hello and the rest is the script.
//!
//! Script operations (byte `op % 6`, at most 64):
//! - 0 `kind, len u16, bytes`: the peer seals a message and the VMM delivers it;
//! - 1 `kind, len u16, bytes`: the peer seals a message and the VMM holds it back;
//! - 2 `index, mutation, position u16`: the VMM delivers a held or delivered record again,
//!   unchanged (0), with one bit flipped (1), cut short (2), with a byte appended (3), or with
//!   another record's header (4);
//! - 3 `len u16, bytes`: the VMM delivers bytes of its own;
//! - 4: the receiver seals a reply and the peer opens it;
//! - 5 `len u16, bytes`: the bytes are offered as a hello to the receiver's parser.
//!
//! Invariants: no panic; a record is accepted only if it is, byte for byte, the record the peer
//! sealed with the next sequence number, and then it yields the peer's kind and plaintext; any
//! refusal closes the channel for good (every later open or seal answers `Closed`, so no key
//! is used again); the peer never seals two records under one sequence number; a hello is
//! accepted only with the peer's genuine key, MAC'd report and binding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tdx::channel::{
    HELLO_SIZE, MAX_PLAINTEXT, MAX_RECORD, bind_key, parse_hello, parse_record_header,
};
use platform_tdx::report::{REPORTMACSTRUCT_SIZE, TdReport};
use platform_tdx::{Channel, ChannelError, Role};
use vtpm_fuzz::tdx::{TdxWorld, policy};

const C2S: [u8; 32] = [0xC2; 32];
const S2C: [u8; 32] = [0x5C; 32];

fn peer_of(r: Role) -> Role {
    match r {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn u16(&mut self) -> Option<usize> {
        let (b, rest) = self.0.split_first_chunk::<2>()?;
        self.0 = rest;
        Some(usize::from(u16::from_le_bytes(*b)))
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (b, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        b
    }
}

/// A record the peer sealed: its bytes, kind and plaintext.
struct Sealed {
    record: Vec<u8>,
    kind: u8,
    plain: Vec<u8>,
}

struct Run {
    rx: Channel,
    peer: Channel,
    /// Every record the peer sealed, by sequence number.
    sealed: Vec<Sealed>,
    /// Records the VMM has seen (delivered or held), by index.
    vmm: Vec<Vec<u8>>,
}

impl Run {
    fn peer_seal(&mut self, kind: u8, plain: &[u8]) -> Option<Vec<u8>> {
        let (seq, _) = self.peer.sequence();
        let mut out = vec![0u8; MAX_RECORD];
        match self.peer.seal(kind, plain, &mut out) {
            Ok(n) => {
                assert!(plain.len() <= MAX_PLAINTEXT);
                out.truncate(n);
                let (k, s, len) = parse_record_header(&out).expect("own header parses");
                assert_eq!((k, s, len), (kind, seq, plain.len()));
                assert_eq!(
                    s as usize,
                    self.sealed.len(),
                    "a sequence number used twice"
                );
                assert_eq!(self.peer.sequence().0, seq + 1);
                self.sealed.push(Sealed {
                    record: out.clone(),
                    kind,
                    plain: plain.to_vec(),
                });
                self.vmm.push(out.clone());
                Some(out)
            }
            Err(ChannelError::TooLarge) => {
                assert!(plain.len() > MAX_PLAINTEXT);
                assert!(
                    self.peer.is_open(),
                    "an oversized message closed the channel"
                );
                None
            }
            Err(e) => panic!("the peer failed to seal: {e:?}"),
        }
    }

    fn deliver(&mut self, bytes: &[u8]) {
        let was_open = self.rx.is_open();
        let (_, expected) = self.rx.sequence();
        let mut buf = bytes.to_vec();
        let _ = parse_record_header(&buf);
        match self.rx.open(&mut buf) {
            Ok((kind, plain)) => {
                assert!(was_open);
                let s = self
                    .sealed
                    .get(expected as usize)
                    .expect("accepted a record the peer never sealed");
                assert_eq!(
                    bytes,
                    &s.record[..],
                    "accepted a record the peer did not seal"
                );
                assert_eq!((kind, plain), (s.kind, &s.plain[..]));
                assert_eq!(self.rx.sequence().1, expected + 1);
            }
            Err(e) => {
                if !was_open {
                    assert_eq!(e, ChannelError::Closed);
                }
                assert!(!self.rx.is_open(), "a refused record left the channel open");
                self.assert_closed();
            }
        }
    }

    fn assert_closed(&mut self) {
        let mut out = [0u8; 64];
        assert_eq!(self.rx.seal(2, b"x", &mut out), Err(ChannelError::Closed));
        let mut rec = self
            .sealed
            .first()
            .map(|s| s.record.clone())
            .unwrap_or_default();
        assert_eq!(self.rx.open(&mut rec), Err(ChannelError::Closed));
    }

    fn reply(&mut self) {
        let was_open = self.rx.is_open();
        let mut out = vec![0u8; MAX_RECORD];
        match self.rx.seal(2, b"reply", &mut out) {
            Ok(n) => {
                assert!(was_open);
                let (kind, plain) = self.peer.open(&mut out[..n]).expect("the peer opens");
                assert_eq!((kind, plain), (2, &b"reply"[..]));
            }
            Err(e) => {
                assert!(!was_open);
                assert_eq!(e, ChannelError::Closed);
            }
        }
    }

    fn script(&mut self, mut input: Input<'_>, rx_role: Role) {
        for _ in 0..64 {
            let Some(op) = input.u8() else { break };
            match op % 6 {
                0 | 1 => {
                    let kind = input.u8().unwrap_or(2);
                    let n = input.u16().unwrap_or(0);
                    let mut plain = input.bytes(n).to_vec();
                    // Lengths past the input stand for large messages (zero filled).
                    plain.resize(n.max(plain.len()), 0);
                    if let Some(rec) = self.peer_seal(kind, &plain)
                        && op % 6 == 0
                    {
                        self.deliver(&rec);
                    }
                }
                2 => {
                    let i = input.u8().unwrap_or(0);
                    let m = input.u8().unwrap_or(0);
                    let pos = input.u16().unwrap_or(0);
                    if self.vmm.is_empty() {
                        continue;
                    }
                    let mut rec = self.vmm[usize::from(i) % self.vmm.len()].clone();
                    match m % 5 {
                        0 => {}
                        1 => {
                            let p = pos % (rec.len() * 8);
                            rec[p / 8] ^= 1 << (p % 8);
                        }
                        2 => rec.truncate(pos % rec.len()),
                        3 => rec.push(pos as u8),
                        _ => {
                            let other = &self.vmm[pos % self.vmm.len()];
                            let n = 16.min(other.len()).min(rec.len());
                            rec[..n].copy_from_slice(&other[..n]);
                        }
                    }
                    self.deliver(&rec);
                }
                3 => {
                    let n = input.u16().unwrap_or(0);
                    let rec = input.bytes(n).to_vec();
                    self.deliver(&rec);
                }
                4 => self.reply(),
                _ => {
                    let n = input.u16().unwrap_or(0);
                    let b = input.bytes(n);
                    let _ = parse_hello(b, peer_of(rx_role));
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(mode) = input.u8() else { return };
    let rx_role = if mode & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let peer_role = peer_of(rx_role);
    let (rx, peer) = if mode & 2 == 0 {
        let mk = |r: Role| match r {
            Role::Client => Channel::from_keys_for_fuzzing(r, &C2S, &S2C),
            Role::Server => Channel::from_keys_for_fuzzing(r, &S2C, &C2S),
        };
        (mk(rx_role), mk(peer_role))
    } else {
        let peer_hello = input.bytes(HELLO_SIZE);
        let mut world = TdxWorld::new();
        let ours = world.handshake(rx_role, 0);
        let our_hello = *ours.hello();
        let pol = policy(&world, rx_role);
        let parsed = parse_hello(peer_hello, peer_role);
        match ours.finish(peer_hello, &pol, &mut world.door(rx_role)) {
            Ok((ch, report)) => {
                // Only the peer's own hello gets through: its key, its MAC'd report.
                // (Deterministic: the seeds hold the hello of this very handshake.)
                let genuine = world.handshake(peer_role, 0);
                let (key, report_bytes) = parsed.expect("an accepted hello parses");
                assert_eq!(
                    &key,
                    genuine.public_key(),
                    "accepted a key the peer never made"
                );
                let mac: &[u8; REPORTMACSTRUCT_SIZE] =
                    report_bytes[..REPORTMACSTRUCT_SIZE].try_into().unwrap();
                assert!(world.module.verify(mac));
                assert_eq!(TdReport::parse(report_bytes).unwrap(), report);
                assert!(report.hashes_match());
                assert_eq!(report.report_data(), &bind_key(&key));
                assert_eq!(pol.check(&report), Ok(()));
                assert!(ch.is_open());
                assert_eq!(ch.sequence(), (0, 0));
                let peer_pol = policy(&world, peer_role);
                let (peer_ch, _) = genuine
                    .finish(&our_hello, &peer_pol, &mut world.door(peer_role))
                    .expect("the genuine peer accepts the receiver's hello");
                (ch, peer_ch)
            }
            Err(_) => return,
        }
    };
    let mut run = Run {
        rx,
        peer,
        sealed: Vec::new(),
        vmm: Vec::new(),
    };
    run.script(input, rx_role);
});
