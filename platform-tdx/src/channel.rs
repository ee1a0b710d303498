//! The attested channel between a user TD and the vTPM TD, across the untrusted VMM.
//!
//! **Handshake.** Each side draws an ephemeral P-384 key and asks the TDX module for a TDREPORT
//! whose REPORTDATA is `SHA-384(public key, 97-byte SEC1 uncompressed) ‖ 16 zero bytes`. It sends
//! a hello (`version 1 ‖ kind 1 ‖ role ‖ 0 ‖ public key ‖ TDREPORT`). On receiving the peer's
//! hello it checks, in this order, and stops at the first failure:
//! 1. the hello's shape and the peer's role (a reflected hello is refused);
//! 2. the peer key is a valid P-384 point and is not our own key;
//! 3. TDG.MR.VERIFYREPORT accepts the peer's REPORTMACSTRUCT (same platform, genuine MAC);
//! 4. SHA-384(TEE_TCB_INFO) and SHA-384(TDINFO) equal the hashes inside REPORTMACSTRUCT (the MAC
//!    covers only those 256 bytes);
//! 5. **REPORTDATA equals SHA-384 of the key received** (the check intel/vtpm-td never made,
//!    though its design guide, Table 6, requires it: without it the VMM can pair a genuine
//!    report with its own key);
//! 6. the peer's measurements satisfy the [`Policy`] (MRTD, RTMRs, DEBUG off, SERVTD_HASH, or a
//!    SERVTD_HASH that names this TD: [`Policy::bound_to_self`]).
//!
//! Then ECDH gives Z; HKDF-SHA384 (RFC 5869) with salt = SHA-384(client hello ‖ server hello)
//! and info naming the direction gives one AES-256-GCM key per direction.
//!
//! **Records.** `version 1 ‖ kind ‖ 0 ‖ 0 ‖ sequence u64 ‖ length u32 ‖ ciphertext ‖ tag 16`,
//! all little-endian; the 16-byte header is the AAD; the nonce is `direction u8 ‖ 0 0 0 ‖
//! sequence (big-endian)` under a key used for one direction only, so no nonce repeats. Each side
//! counts the records it sends and expects exactly the next one: a replayed, reordered, dropped
//! (the next one arrives early), altered or truncated record is refused. **Any failure closes the
//! channel and wipes both keys**; so does running out of sequence numbers.

use sha2::{Digest, Sha384};
use subtle::ConstantTimeEq;
use vtpm::PlatformError;
use vtpm::crypto::ecc::{self, Curve, EccPrivate};
use zeroize::Zeroizing;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};

use crate::report::{REPORTMACSTRUCT_SIZE, TD_ATTRIBUTES_DEBUG, TDREPORT_SIZE, TdReport};
use crate::servtd::SelfBinding;
use crate::transport::{TdcallError, TdxTransport};

/// Protocol version of hellos and records.
pub const VERSION: u8 = 1;
/// Size of a SEC1 uncompressed P-384 public key: `04 ‖ x ‖ y`.
pub const PUBLIC_KEY_SIZE: usize = 97;
/// Size of a hello: 4-byte header, public key, TDREPORT.
pub const HELLO_SIZE: usize = 4 + PUBLIC_KEY_SIZE + TDREPORT_SIZE;
/// Size of a record header (the AAD).
pub const RECORD_HEADER_SIZE: usize = 16;
/// Size of the GCM tag.
pub const TAG_SIZE: usize = 16;
/// Largest plaintext in one record: a TD quote with its certificates (a TPM message is at most
/// 4 KiB).
pub const MAX_PLAINTEXT: usize = 8192;
/// Largest record.
pub const MAX_RECORD: usize = RECORD_HEADER_SIZE + MAX_PLAINTEXT + TAG_SIZE;

/// Record and hello kinds.
pub mod kind {
    /// A hello (plaintext, handshake).
    pub const HELLO: u8 = 1;
    /// A TPM command (to the vTPM) or response (from it).
    pub const TPM: u8 = 2;
    /// A request for EK evidence (a nonce) or its answer (EK public area and TD quote).
    pub const EK_EVIDENCE: u8 = 3;
    /// An error report from the vTPM TD (one status byte).
    pub const ERROR: u8 = 4;
}

/// Which end of the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The user TD (initiator).
    Client,
    /// The vTPM TD (responder).
    Server,
}

impl Role {
    const fn byte(self) -> u8 {
        match self {
            Self::Client => 1,
            Self::Server => 2,
        }
    }
    const fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// What a peer's TDREPORT must show (each `None` is not checked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Expected MRTD (the peer's build-time measurement).
    pub mrtd: Option<[u8; 48]>,
    /// Expected RTMR values (e.g. RTMR3 all zero: the firmware, not the OS, opened the channel).
    pub rtmr: [Option<[u8; 48]>; 4],
    /// Accept a TD with ATTRIBUTES.DEBUG set (its memory is open to the host). Default: no.
    pub allow_debug: bool,
    /// Expected SERVTD_HASH (TDX 1.5 service-TD binding).
    pub servtd_hash: Option<[u8; 48]>,
    /// Require the peer to be bound to this TD (TDX 1.5) with this SERVTD_TYPE and SERVTD_ATTR:
    /// its SERVTD_HASH must be the one TDH.MR.FINALIZE computes for a single binding to us
    /// ([`SelfBinding::expected_hash`] of the TDINFO in our own hello's TDREPORT), so this TD is
    /// its (only) bound service TD. For the vTPM TD: admit only user TDs whose binding names it,
    /// which the relying party then sees in the user TD's own quote (MRSERVICETD).
    pub bound_to_self: Option<SelfBinding>,
}

/// Which policy item the peer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyViolation {
    /// MRTD differs.
    Mrtd,
    /// RTMR\[n\] differs.
    Rtmr(u8),
    /// The peer is a debug TD.
    Debug,
    /// SERVTD_HASH differs (from [`Policy::servtd_hash`], or does not name this TD when
    /// [`Policy::bound_to_self`] asks for it).
    ServtdHash,
}

impl Policy {
    /// Check `report` against the policy.
    pub fn check(&self, report: &TdReport) -> Result<(), PolicyViolation> {
        let td = &report.td_info;
        if !self.allow_debug && td.attributes_u64() & TD_ATTRIBUTES_DEBUG != 0 {
            return Err(PolicyViolation::Debug);
        }
        if self.mrtd.is_some_and(|m| m != td.mrtd) {
            return Err(PolicyViolation::Mrtd);
        }
        for (i, (want, have)) in self.rtmr.iter().zip(td.rtmr.iter()).enumerate() {
            if want.is_some_and(|w| &w != have) {
                return Err(PolicyViolation::Rtmr(u8::try_from(i).unwrap_or(u8::MAX)));
            }
        }
        if self.servtd_hash.is_some_and(|s| s != td.servtd_hash) {
            return Err(PolicyViolation::ServtdHash);
        }
        Ok(())
    }
}

/// Why the handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// No entropy for the ephemeral key.
    Entropy,
    /// TDG.MR.REPORT failed for our own report.
    Report(TdcallError),
    /// The peer's hello is not a hello of this version and size.
    Malformed,
    /// The hello claims the wrong role (e.g. our own hello reflected back).
    WrongRole,
    /// The peer's public key is not a valid P-384 point.
    InvalidKey,
    /// The peer presented our own public key.
    ReflectedKey,
    /// TDG.MR.VERIFYREPORT refused the peer's report (forged, or from another platform).
    VerifyReport(TdcallError),
    /// TEE_TCB_INFO or TDINFO does not hash to the value in the MAC'd REPORTMACSTRUCT.
    ReportHashMismatch,
    /// The peer's REPORTDATA does not bind the key it sent.
    ReportDataMismatch,
    /// The peer's measurements fail the policy.
    Policy(PolicyViolation),
    /// ECDH or the key derivation failed.
    KeyDerivation,
}

/// REPORTDATA that binds `public`: SHA-384(public) ‖ 16 zero bytes.
pub fn bind_key(public: &[u8; PUBLIC_KEY_SIZE]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    let h = Sha384::digest(public);
    if let Some(d) = rd.get_mut(..48) {
        d.copy_from_slice(&h);
    }
    rd
}

/// One side of a handshake in progress: the ephemeral key and our hello.
pub struct Handshake {
    role: Role,
    secret: EccPrivate,
    public: [u8; PUBLIC_KEY_SIZE],
    hello: [u8; HELLO_SIZE],
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Draw an ephemeral P-384 key from `entropy` and get a TDREPORT binding it.
    pub fn start<T: TdxTransport + ?Sized>(
        role: Role,
        transport: &mut T,
        entropy: impl FnOnce(&mut [u8]) -> Result<(), PlatformError>,
    ) -> Result<Self, HandshakeError> {
        let secret = ecc::try_random_private(Curve::P384, entropy)
            .map_err(|_| HandshakeError::Entropy)?
            .ok_or(HandshakeError::Entropy)?;
        let point = ecc::public_from_private(Curve::P384, secret.expose())
            .ok_or(HandshakeError::Entropy)?;
        let mut public = [0u8; PUBLIC_KEY_SIZE];
        encode_point(&mut public, point.x.as_slice(), point.y.as_slice())
            .ok_or(HandshakeError::KeyDerivation)?;
        let mut report = [0u8; TDREPORT_SIZE];
        transport
            .tdreport(&bind_key(&public), &mut report)
            .map_err(HandshakeError::Report)?;
        let mut hello = [0u8; HELLO_SIZE];
        hello[0] = VERSION;
        hello[1] = kind::HELLO;
        hello[2] = role.byte();
        let (_, rest) = hello.split_at_mut(4);
        let (k, r) = rest.split_at_mut(PUBLIC_KEY_SIZE);
        k.copy_from_slice(&public);
        r.copy_from_slice(&report);
        Ok(Self {
            role,
            secret,
            public,
            hello,
        })
    }

    /// Our hello, to send to the peer.
    pub fn hello(&self) -> &[u8; HELLO_SIZE] {
        &self.hello
    }

    /// Our public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.public
    }

    /// Check the peer's hello (see the module documentation for the order) and derive the
    /// channel. Returns the channel and the peer's (verified) TDREPORT. The ephemeral secret is
    /// wiped whatever the outcome.
    pub fn finish<T: TdxTransport + ?Sized>(
        self,
        peer_hello: &[u8],
        policy: &Policy,
        transport: &mut T,
    ) -> Result<(Channel, TdReport), HandshakeError> {
        let (peer_key, report) = parse_hello(peer_hello, self.role.peer())?;
        if peer_key == self.public {
            return Err(HandshakeError::ReflectedKey);
        }
        let (x, y) = split_point(&peer_key).ok_or(HandshakeError::InvalidKey)?;
        if !ecc::validate_point(Curve::P384, x, y) {
            return Err(HandshakeError::InvalidKey);
        }
        let mac: [u8; REPORTMACSTRUCT_SIZE] = *report
            .first_chunk::<REPORTMACSTRUCT_SIZE>()
            .ok_or(HandshakeError::Malformed)?;
        transport
            .verify_report(&mac)
            .map_err(HandshakeError::VerifyReport)?;
        let report = TdReport::parse(report).map_err(|_| HandshakeError::Malformed)?;
        if !report.hashes_match() {
            return Err(HandshakeError::ReportHashMismatch);
        }
        if !bool::from(report.report_data().ct_eq(&bind_key(&peer_key))) {
            return Err(HandshakeError::ReportDataMismatch);
        }
        policy.check(&report).map_err(HandshakeError::Policy)?;
        if let Some(binding) = policy.bound_to_self {
            let own = self
                .hello
                .get(4usize.saturating_add(PUBLIC_KEY_SIZE)..)
                .and_then(|r| TdReport::parse(r).ok())
                .ok_or(HandshakeError::Malformed)?;
            let expected = binding.expected_hash(&own.td_info);
            if !bool::from(report.td_info.servtd_hash.ct_eq(&expected)) {
                return Err(HandshakeError::Policy(PolicyViolation::ServtdHash));
            }
        }

        let z = ecc::ecdh(Curve::P384, self.secret.expose(), x, y)
            .ok_or(HandshakeError::KeyDerivation)?;
        let (client_hello, server_hello) = match self.role {
            Role::Client => (&self.hello[..], peer_hello),
            Role::Server => (peer_hello, &self.hello[..]),
        };
        let mut th = Sha384::new();
        th.update(client_hello);
        th.update(server_hello);
        let salt = th.finalize();
        let hk = hkdf::Hkdf::<Sha384>::new(Some(&salt), z.expose());
        let mut c2s = Zeroizing::new([0u8; 32]);
        let mut s2c = Zeroizing::new([0u8; 32]);
        hk.expand(b"vtpm-tdx channel v1 client to server", c2s.as_mut())
            .map_err(|_| HandshakeError::KeyDerivation)?;
        hk.expand(b"vtpm-tdx channel v1 server to client", s2c.as_mut())
            .map_err(|_| HandshakeError::KeyDerivation)?;
        let c2s =
            Aes256Gcm::new_from_slice(c2s.as_ref()).map_err(|_| HandshakeError::KeyDerivation)?;
        let s2c =
            Aes256Gcm::new_from_slice(s2c.as_ref()).map_err(|_| HandshakeError::KeyDerivation)?;
        let (send, recv) = match self.role {
            Role::Client => (c2s, s2c),
            Role::Server => (s2c, c2s),
        };
        Ok((
            Channel {
                role: self.role,
                keys: Some(Keys { send, recv }),
                send_seq: 0,
                recv_seq: 0,
            },
            report,
        ))
    }
}

fn encode_point(out: &mut [u8; PUBLIC_KEY_SIZE], x: &[u8], y: &[u8]) -> Option<()> {
    let (tag, xy) = out.split_first_mut()?;
    *tag = 0x04;
    let (ox, oy) = xy.split_at_mut(48);
    ox.copy_from_slice(x.get(..48)?);
    oy.copy_from_slice(y.get(..48)?);
    Some(())
}

fn split_point(p: &[u8; PUBLIC_KEY_SIZE]) -> Option<(&[u8], &[u8])> {
    let (tag, xy) = p.split_first()?;
    (*tag == 0x04).then(|| xy.split_at(48))
}

/// Split a hello into (public key, TDREPORT bytes), checking version, kind and role.
pub fn parse_hello(
    b: &[u8],
    expected_role: Role,
) -> Result<([u8; PUBLIC_KEY_SIZE], &[u8]), HandshakeError> {
    if b.len() != HELLO_SIZE {
        return Err(HandshakeError::Malformed);
    }
    let (hdr, rest) = b
        .split_first_chunk::<4>()
        .ok_or(HandshakeError::Malformed)?;
    if hdr[0] != VERSION || hdr[1] != kind::HELLO || hdr[3] != 0 {
        return Err(HandshakeError::Malformed);
    }
    if hdr[2] != expected_role.byte() {
        return Err(HandshakeError::WrongRole);
    }
    let (key, report) = rest
        .split_first_chunk::<PUBLIC_KEY_SIZE>()
        .ok_or(HandshakeError::Malformed)?;
    Ok((*key, report))
}

/// Why a record was refused (the channel is closed afterwards, whatever the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The channel was closed by an earlier failure; its keys are gone.
    Closed,
    /// The record is shorter than its header and tag, or its length field disagrees with its
    /// size (truncated or padded).
    Malformed,
    /// Not the sequence number expected: a replayed, reordered or dropped record.
    Sequence {
        /// The sequence number expected.
        expected: u64,
        /// The one received.
        received: u64,
    },
    /// The tag did not verify: the record was altered (or sealed with another key).
    Authentication,
    /// The plaintext does not fit a record, or the output buffer is too small.
    TooLarge,
    /// The 2^64 sequence numbers are spent.
    Exhausted,
}

struct Keys {
    send: Aes256Gcm,
    recv: Aes256Gcm,
}

/// An established channel: one AES-256-GCM key per direction and the two sequence numbers.
pub struct Channel {
    role: Role,
    keys: Option<Keys>,
    send_seq: u64,
    recv_seq: u64,
}

impl core::fmt::Debug for Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Channel")
            .field("role", &self.role)
            .field("open", &self.keys.is_some())
            .field("send_seq", &self.send_seq)
            .field("recv_seq", &self.recv_seq)
            .finish()
    }
}

fn nonce(dir: Role, seq: u64) -> Nonce<Aes256Gcm> {
    let mut n = [0u8; 12];
    n[0] = dir.byte();
    let (_, s) = n.split_at_mut(4);
    s.copy_from_slice(&seq.to_be_bytes());
    Nonce::<Aes256Gcm>::from(n)
}

fn record_header(kind: u8, seq: u64, len: u32) -> [u8; RECORD_HEADER_SIZE] {
    let mut h = [0u8; RECORD_HEADER_SIZE];
    h[0] = VERSION;
    h[1] = kind;
    let (_, rest) = h.split_at_mut(4);
    let (s, l) = rest.split_at_mut(8);
    s.copy_from_slice(&seq.to_le_bytes());
    l.copy_from_slice(&len.to_le_bytes());
    h
}

/// The header fields of a record: (kind, sequence, length).
pub fn parse_record_header(b: &[u8]) -> Option<(u8, u64, usize)> {
    let (h, _) = b.split_first_chunk::<RECORD_HEADER_SIZE>()?;
    if h[0] != VERSION || h[2] != 0 || h[3] != 0 {
        return None;
    }
    let seq = u64::from_le_bytes(*h.get(4..)?.first_chunk::<8>()?);
    let len = u32::from_le_bytes(*h.get(12..)?.first_chunk::<4>()?);
    Some((h[1], seq, usize::try_from(len).ok()?))
}

impl Channel {
    /// A channel over fixed keys, for the fuzz targets only (feature `fuzzing`, which only
    /// `fuzz/` enables): a handshake per input would cost four P-384 scalar multiplications.
    /// Never in a firmware build.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn from_keys_for_fuzzing(role: Role, send: &[u8; 32], recv: &[u8; 32]) -> Self {
        Self {
            role,
            keys: Some(Keys {
                send: Aes256Gcm::new(&(*send).into()),
                recv: Aes256Gcm::new(&(*recv).into()),
            }),
            send_seq: 0,
            recv_seq: 0,
        }
    }

    /// Whether the channel still has its keys.
    pub fn is_open(&self) -> bool {
        self.keys.is_some()
    }

    /// Sequence numbers (next to send, next expected).
    pub fn sequence(&self) -> (u64, u64) {
        (self.send_seq, self.recv_seq)
    }

    /// End the channel and wipe its keys (the AES key schedules are zeroized on drop).
    pub fn close(&mut self) {
        self.keys = None;
    }

    fn fail(&mut self, e: ChannelError) -> ChannelError {
        self.close();
        e
    }

    /// Seal `plaintext` of `kind` as the next record into `out`; returns the record length.
    pub fn seal(
        &mut self,
        kind: u8,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ChannelError> {
        let r = self.seal_inner(kind, plaintext, out);
        if let Err(e) = r
            && e != ChannelError::TooLarge
        {
            return Err(self.fail(e));
        }
        r
    }

    fn seal_inner(
        &mut self,
        kind: u8,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ChannelError> {
        let keys = self.keys.as_ref().ok_or(ChannelError::Closed)?;
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(ChannelError::TooLarge);
        }
        let total = RECORD_HEADER_SIZE
            .checked_add(plaintext.len())
            .and_then(|n| n.checked_add(TAG_SIZE))
            .ok_or(ChannelError::TooLarge)?;
        let out = out.get_mut(..total).ok_or(ChannelError::TooLarge)?;
        let seq = self.send_seq;
        let next = seq.checked_add(1).ok_or(ChannelError::Exhausted)?;
        let len = u32::try_from(plaintext.len()).map_err(|_| ChannelError::TooLarge)?;
        let hdr = record_header(kind, seq, len);
        let (h, rest) = out.split_at_mut(RECORD_HEADER_SIZE);
        h.copy_from_slice(&hdr);
        let (ct, tag_out) = rest.split_at_mut(plaintext.len());
        ct.copy_from_slice(plaintext);
        let tag = keys
            .send
            .encrypt_inout_detached(&nonce(self.role, seq), &hdr, ct.into())
            .map_err(|_| ChannelError::TooLarge)?;
        tag_out.copy_from_slice(tag.as_slice());
        self.send_seq = next;
        Ok(total)
    }

    /// Open the next record in place; returns its kind and plaintext (a sub-slice of `record`).
    /// Any failure closes the channel.
    pub fn open<'r>(&mut self, record: &'r mut [u8]) -> Result<(u8, &'r [u8]), ChannelError> {
        match self.open_inner(record) {
            Ok((k, n)) => Ok((
                k,
                record
                    .get(RECORD_HEADER_SIZE..)
                    .and_then(|r| r.get(..n))
                    .unwrap_or(&[]),
            )),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn open_inner(&mut self, record: &mut [u8]) -> Result<(u8, usize), ChannelError> {
        let keys = self.keys.as_ref().ok_or(ChannelError::Closed)?;
        let (kind, seq, len) = parse_record_header(record).ok_or(ChannelError::Malformed)?;
        let expect = RECORD_HEADER_SIZE
            .checked_add(len)
            .and_then(|n| n.checked_add(TAG_SIZE))
            .ok_or(ChannelError::Malformed)?;
        if len > MAX_PLAINTEXT || record.len() != expect {
            return Err(ChannelError::Malformed);
        }
        if seq != self.recv_seq {
            return Err(ChannelError::Sequence {
                expected: self.recv_seq,
                received: seq,
            });
        }
        let next = seq.checked_add(1).ok_or(ChannelError::Exhausted)?;
        let (h, rest) = record.split_at_mut(RECORD_HEADER_SIZE);
        let (ct, tag) = rest.split_at_mut(len);
        let tag: [u8; TAG_SIZE] = *tag.first_chunk().ok_or(ChannelError::Malformed)?;
        keys.recv
            .decrypt_inout_detached(
                &nonce(self.role.peer(), seq),
                h,
                ct.into(),
                &Tag::<Aes256Gcm>::from(tag),
            )
            .map_err(|_| ChannelError::Authentication)?;
        self.recv_seq = next;
        Ok((kind, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_tamper() {
        let (mut a, mut b) = test_pair();
        let mut rec = [0u8; 256];
        let n = a.seal(kind::TPM, b"hello tpm", &mut rec).unwrap();
        assert_eq!(n, RECORD_HEADER_SIZE + 9 + TAG_SIZE);
        let mut copy = rec;
        let (k, p) = b.open(&mut copy[..n]).unwrap();
        assert_eq!((k, p), (kind::TPM, &b"hello tpm"[..]));
        // Replay: closed.
        let mut copy = rec;
        assert_eq!(
            b.open(&mut copy[..n]),
            Err(ChannelError::Sequence {
                expected: 1,
                received: 0
            })
        );
        assert!(!b.is_open());
        assert_eq!(b.open(&mut rec[..n]), Err(ChannelError::Closed));
    }

    #[test]
    fn every_byte_flip_refused() {
        let mut base = [0u8; 64];
        let (mut a, _) = test_pair();
        let n = a.seal(kind::TPM, b"0123456789", &mut base).unwrap();
        for i in 0..n {
            let (mut a, mut b) = test_pair();
            let mut rec = [0u8; 64];
            a.seal(kind::TPM, b"0123456789", &mut rec).unwrap();
            rec[i] ^= 0x01;
            assert!(b.open(&mut rec[..n]).is_err(), "byte {i}");
            assert!(!b.is_open());
        }
    }

    #[test]
    fn truncated_and_reordered_refused() {
        let (mut a, mut b) = test_pair();
        let mut r0 = [0u8; 64];
        let mut r1 = [0u8; 64];
        let n0 = a.seal(kind::TPM, b"first", &mut r0).unwrap();
        let n1 = a.seal(kind::TPM, b"second", &mut r1).unwrap();
        assert_eq!(b.open(&mut r0[..n0 - 1]), Err(ChannelError::Malformed));
        let (_, mut b) = test_pair_again();
        assert_eq!(
            b.open(&mut r1[..n1]),
            Err(ChannelError::Sequence {
                expected: 0,
                received: 1
            })
        );
    }

    /// Two channels over fixed keys (the handshake is tested end to end in host-sim and
    /// tests/tests/tdx.rs).
    fn test_pair() -> (Channel, Channel) {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let mk = |role, s: &[u8; 32], r: &[u8; 32]| Channel {
            role,
            keys: Some(Keys {
                send: Aes256Gcm::new_from_slice(s).unwrap(),
                recv: Aes256Gcm::new_from_slice(r).unwrap(),
            }),
            send_seq: 0,
            recv_seq: 0,
        };
        (mk(Role::Client, &k1, &k2), mk(Role::Server, &k2, &k1))
    }

    fn test_pair_again() -> (Channel, Channel) {
        test_pair()
    }

    #[test]
    fn policy_checks() {
        let mut b = [0u8; TDREPORT_SIZE];
        b[0] = 0x81;
        let mut r = TdReport::parse(&b).unwrap();
        let p = Policy {
            mrtd: Some([0; 48]),
            rtmr: [None, None, None, Some([0; 48])],
            ..Policy::default()
        };
        assert_eq!(p.check(&r), Ok(()));
        r.td_info.rtmr[3][0] = 1;
        assert_eq!(p.check(&r), Err(PolicyViolation::Rtmr(3)));
        r.td_info.attributes[0] = 1;
        assert_eq!(p.check(&r), Err(PolicyViolation::Debug));
        r.td_info.attributes[0] = 0;
        r.td_info.mrtd[0] = 1;
        assert_eq!(p.check(&r), Err(PolicyViolation::Mrtd));
    }
}
