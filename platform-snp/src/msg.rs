//! SNP guest messages: the header of AMD 56860 (SEV Secure Nested Paging Firmware ABI) §8.26
//! "Guest Messages" (Table 98, message header) and their AES-256-GCM protection with a VMPCK.
//!
//! One 4 KiB page per message: a 0x60-byte header, then `MSG_SIZE` bytes of ciphertext. The GCM
//! tag sits in the header at 0x00; the IV is `MSG_SEQNO` (u64, little-endian) followed by four
//! zero bytes; the additional authenticated data is the header from 0x30 to 0x5F, so the
//! sequence number is bound through the IV only. Everything here works on private copies: a
//! caller seals into private memory and copies the page out, and copies a response in before
//! [`open`] looks at it.

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::aes::cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut,
    Key, KeySizeUser, ParBlocksSizeUser,
    consts::{U1, U12},
};
use core::fmt;
use core::mem::{offset_of, size_of};
use zeroize::{Zeroize, Zeroizing};

use crate::PAGE_SIZE;
use crate::layout::{get, put, put_u8, u8_at, u16_at, u64_at};

/// AES-256-GCM (NIST SP 800-38D) from the `aes-gcm` crate, over [`Aes256OneBlock`].
type Aes256Gcm = aes_gcm::AesGcm<Aes256OneBlock, U12>;

/// The `aes` crate's AES-256, offering GCM's counter mode one block at a time. The soft AES
/// backend's own parallel path (four blocks bitsliced at once) would be a second copy of the
/// cipher in the firmware, 4.5 KB of code for this one use: the messages are small, so the
/// single-block cipher the rest of the firmware uses serves them too (README, "Firmware
/// fitness"). The cipher is the crate's, unchanged; the key schedule is wiped on drop by it.
struct Aes256OneBlock(aes_gcm::aes::Aes256);

impl KeySizeUser for Aes256OneBlock {
    type KeySize = <aes_gcm::aes::Aes256 as KeySizeUser>::KeySize;
}

impl KeyInit for Aes256OneBlock {
    fn new(key: &Key<Self>) -> Self {
        Self(aes_gcm::aes::Aes256::new(key))
    }
}

impl BlockSizeUser for Aes256OneBlock {
    type BlockSize = <aes_gcm::aes::Aes256 as BlockSizeUser>::BlockSize;
}

impl BlockCipherEncrypt for Aes256OneBlock {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        f.call(&OneBlock(&self.0));
    }
}

impl zeroize::ZeroizeOnDrop for Aes256OneBlock {}

/// [`Aes256OneBlock`]'s backend: one block per call.
struct OneBlock<'a>(&'a aes_gcm::aes::Aes256);

impl BlockSizeUser for OneBlock<'_> {
    type BlockSize = <aes_gcm::aes::Aes256 as BlockSizeUser>::BlockSize;
}

impl ParBlocksSizeUser for OneBlock<'_> {
    type ParBlocksSize = U1;
}

impl BlockCipherEncBackend for OneBlock<'_> {
    fn encrypt_block(&self, block: InOut<'_, '_, Block<Self>>) {
        self.0.encrypt_block_inout(block);
    }
}

/// Size of the message header (HDR_SIZE).
pub const HEADER_SIZE: usize = 0x60;
/// HDR_SIZE as it appears in the header.
const HEADER_SIZE_U16: u16 = 0x60;
/// Largest payload (ciphertext) that fits in the page after the header.
pub const MAX_PAYLOAD: usize = PAGE_SIZE - HEADER_SIZE;
/// Size of a VMPCK (VM platform communication key), AES-256.
pub const VMPCK_SIZE: usize = 32;
/// GCM tag size; the tag occupies the first 16 of the header's 32 AUTHTAG bytes.
pub const TAG_SIZE: usize = 16;
/// ALGO value for AES-256-GCM (Table 98).
pub const ALGO_AES_256_GCM: u8 = 1;
/// HDR_VERSION this implementation speaks.
pub const HDR_VERSION: u8 = 1;
/// MSG_VERSION of the messages we send (MSG_REPORT_REQ version 1).
pub const MSG_VERSION: u8 = 1;
/// Start of the additional authenticated data in the header (ALGO).
pub const AAD_START: usize = 0x30;

/// A guest message type (AMD 56860 §8.26, Table 100 "Message Type Encodings").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgType(pub u8);

impl MsgType {
    /// MSG_CPUID_REQ.
    pub const CPUID_REQ: Self = Self(1);
    /// MSG_KEY_REQ.
    pub const KEY_REQ: Self = Self(3);
    /// MSG_REPORT_REQ.
    pub const REPORT_REQ: Self = Self(5);
    /// MSG_REPORT_RSP.
    pub const REPORT_RSP: Self = Self(6);
    /// MSG_TSC_INFO_REQ.
    pub const TSC_INFO_REQ: Self = Self(17);

    /// The response type of a request type (request + 1); `None` past 255.
    pub const fn response(self) -> Option<Self> {
        match self.0.checked_add(1) {
            Some(t) => Some(Self(t)),
            None => None,
        }
    }
}

/// The guest message header (AMD 56860 §8.26, Table 98 "Message Header Format"), 0x60 bytes,
/// little-endian. Reserved fields (and AUTHTAG bytes 16..32) are kept as read: PSP responses carry
/// non-zero reserved bytes, so they are never required to be zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgHeader {
    /// AUTHTAG: the GCM tag in bytes 0..16, the rest zero.
    pub authtag: [u8; 32],
    /// MSG_SEQNO: the message sequence number (IV bytes 0..8).
    pub msg_seqno: u64,
    /// Reserved.
    pub reserved1: [u8; 8],
    /// ALGO: 1 = AES-256-GCM.
    pub algo: u8,
    /// HDR_VERSION: 1.
    pub hdr_version: u8,
    /// HDR_SIZE: 0x60.
    pub hdr_size: u16,
    /// MSG_TYPE (Table 100).
    pub msg_type: u8,
    /// MSG_VERSION.
    pub msg_version: u8,
    /// MSG_SIZE: the payload length (ciphertext, no tag).
    pub msg_size: u16,
    /// Reserved.
    pub reserved2: u32,
    /// MSG_VMPCK: which VMPCK protects the message (0..3).
    pub msg_vmpck: u8,
    /// Reserved.
    pub reserved3: [u8; 35],
}

const _: () = {
    assert!(size_of::<MsgHeader>() == HEADER_SIZE);
    assert!(HEADER_SIZE_U16 as usize == HEADER_SIZE);
    assert!(offset_of!(MsgHeader, authtag) == 0x00);
    assert!(offset_of!(MsgHeader, msg_seqno) == 0x20);
    assert!(offset_of!(MsgHeader, reserved1) == 0x28);
    assert!(offset_of!(MsgHeader, algo) == 0x30);
    assert!(offset_of!(MsgHeader, hdr_version) == 0x31);
    assert!(offset_of!(MsgHeader, hdr_size) == 0x32);
    assert!(offset_of!(MsgHeader, msg_type) == 0x34);
    assert!(offset_of!(MsgHeader, msg_version) == 0x35);
    assert!(offset_of!(MsgHeader, msg_size) == 0x36);
    assert!(offset_of!(MsgHeader, reserved2) == 0x38);
    assert!(offset_of!(MsgHeader, msg_vmpck) == 0x3C);
    assert!(offset_of!(MsgHeader, reserved3) == 0x3D);
    assert!(AAD_START == offset_of!(MsgHeader, algo));
    assert!(HEADER_SIZE + MAX_PAYLOAD == PAGE_SIZE);
};

impl MsgHeader {
    /// A request header with zero tag and reserved fields.
    pub const fn new(msg_type: MsgType, msg_size: u16, msg_seqno: u64, msg_vmpck: u8) -> Self {
        Self {
            authtag: [0; 32],
            msg_seqno,
            reserved1: [0; 8],
            algo: ALGO_AES_256_GCM,
            hdr_version: HDR_VERSION,
            hdr_size: HEADER_SIZE_U16,
            msg_type: msg_type.0,
            msg_version: MSG_VERSION,
            msg_size,
            reserved2: 0,
            msg_vmpck,
            reserved3: [0; 35],
        }
    }

    /// Read the header from the start of a message page.
    pub fn parse(page: &[u8; PAGE_SIZE]) -> Self {
        Self::from_bytes(&get::<HEADER_SIZE>(page, 0))
    }

    /// The header from its 0x60 wire bytes.
    pub fn from_bytes(b: &[u8; HEADER_SIZE]) -> Self {
        Self {
            authtag: get(b, offset_of!(Self, authtag)),
            msg_seqno: u64_at(b, offset_of!(Self, msg_seqno)),
            reserved1: get(b, offset_of!(Self, reserved1)),
            algo: u8_at(b, offset_of!(Self, algo)),
            hdr_version: u8_at(b, offset_of!(Self, hdr_version)),
            hdr_size: u16_at(b, offset_of!(Self, hdr_size)),
            msg_type: u8_at(b, offset_of!(Self, msg_type)),
            msg_version: u8_at(b, offset_of!(Self, msg_version)),
            msg_size: u16_at(b, offset_of!(Self, msg_size)),
            reserved2: u32::from_le_bytes(get(b, offset_of!(Self, reserved2))),
            msg_vmpck: u8_at(b, offset_of!(Self, msg_vmpck)),
            reserved3: get(b, offset_of!(Self, reserved3)),
        }
    }

    /// The 0x60 wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        put(&mut b, offset_of!(Self, authtag), &self.authtag);
        put(
            &mut b,
            offset_of!(Self, msg_seqno),
            &self.msg_seqno.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved1), &self.reserved1);
        put_u8(&mut b, offset_of!(Self, algo), self.algo);
        put_u8(&mut b, offset_of!(Self, hdr_version), self.hdr_version);
        put(
            &mut b,
            offset_of!(Self, hdr_size),
            &self.hdr_size.to_le_bytes(),
        );
        put_u8(&mut b, offset_of!(Self, msg_type), self.msg_type);
        put_u8(&mut b, offset_of!(Self, msg_version), self.msg_version);
        put(
            &mut b,
            offset_of!(Self, msg_size),
            &self.msg_size.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, reserved2),
            &self.reserved2.to_le_bytes(),
        );
        put_u8(&mut b, offset_of!(Self, msg_vmpck), self.msg_vmpck);
        put(&mut b, offset_of!(Self, reserved3), &self.reserved3);
        b
    }
}

/// The AES-GCM IV of a message: MSG_SEQNO little-endian, then four zero bytes.
pub fn iv(seqno: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    put(&mut iv, 0, &seqno.to_le_bytes());
    iv
}

/// A VM platform communication key (VMPCK0..3, from the secrets page: AMD 56860 §8.14.2.5,
/// Table 71 "Secrets Page Format"), 32 bytes of AES-256 key, zeroized on drop and never printed.
pub struct Vmpck(Zeroizing<[u8; VMPCK_SIZE]>);

impl Vmpck {
    /// Take ownership of key bytes (the caller should wipe its own copy).
    pub fn new(key: [u8; VMPCK_SIZE]) -> Self {
        Self(Zeroizing::new(key))
    }

    /// Copy the key out of `src` and zero `src`.
    pub fn take(src: &mut [u8; VMPCK_SIZE]) -> Self {
        let k = Self(Zeroizing::new(*src));
        src.zeroize();
        k
    }

    /// An all-zero key means "disabled" (Linux and COCONUT zero a VMPCK to retire it).
    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, &b| acc | b) == 0
    }

    /// Overwrite the key with zeros.
    pub fn wipe(&mut self) {
        self.0.zeroize();
    }

    fn cipher(&self) -> Option<Aes256Gcm> {
        Aes256Gcm::new_from_slice(self.0.as_slice()).ok()
    }
}

impl fmt::Debug for Vmpck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vmpck([REDACTED])")
    }
}

/// Why a message could not be sealed or opened. Opaque about the cryptographic failure, as
/// RustCrypto's `aead::Error` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgError {
    /// The payload exceeds [`MAX_PAYLOAD`] (or the header's MSG_SIZE disagrees with it).
    PayloadTooLarge,
    /// The caller's output buffer is smaller than the response's MSG_SIZE.
    BufferTooSmall,
    /// The key is zero (disabled) or unusable.
    KeyDisabled,
    /// A response header field differs from what the request implies.
    Header(HeaderField),
    /// The GCM tag did not verify (wrong key, corrupted or forged message).
    Authentication,
}

/// Which header field of a response failed its check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderField {
    /// ALGO is not AES-256-GCM.
    Algo,
    /// HDR_VERSION is not 1.
    HdrVersion,
    /// HDR_SIZE is not 0x60.
    HdrSize,
    /// MSG_TYPE is not the request's type + 1.
    MsgType,
    /// MSG_VERSION differs from the request's.
    MsgVersion,
    /// MSG_SEQNO is not the request's + 1 (a replayed or skipped response).
    Seqno,
    /// MSG_VMPCK differs from the request's.
    Vmpck,
    /// MSG_SIZE exceeds the page.
    MsgSize,
}

/// What a response must look like (derived from the request that was sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// MSG_TYPE of the response.
    pub msg_type: MsgType,
    /// MSG_VERSION (same as the request's).
    pub msg_version: u8,
    /// MSG_SEQNO (request + 1).
    pub seqno: u64,
    /// MSG_VMPCK (same as the request's).
    pub vmpck: u8,
}

/// Seal `payload` into `page` (private memory): header with MSG_TYPE `msg_type`, sequence
/// number `seqno`, key index `vmpck_id`; payload encrypted with `key`, tag in the header. The
/// rest of the page is zeroed.
pub fn seal(
    key: &Vmpck,
    msg_type: MsgType,
    seqno: u64,
    vmpck_id: u8,
    payload: &[u8],
    page: &mut [u8; PAGE_SIZE],
) -> Result<(), MsgError> {
    if key.is_zero() {
        return Err(MsgError::KeyDisabled);
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(MsgError::PayloadTooLarge);
    }
    let size = u16::try_from(payload.len()).map_err(|_| MsgError::PayloadTooLarge)?;
    let cipher = key.cipher().ok_or(MsgError::KeyDisabled)?;
    let header = MsgHeader::new(msg_type, size, seqno, vmpck_id);
    page.fill(0);
    let (hdr, body) = page.split_at_mut(HEADER_SIZE);
    hdr.copy_from_slice(&header.to_bytes());
    let ct = body
        .get_mut(..payload.len())
        .ok_or(MsgError::PayloadTooLarge)?;
    ct.copy_from_slice(payload);
    let aad = hdr.get(AAD_START..).ok_or(MsgError::PayloadTooLarge)?;
    let nonce = Nonce::<Aes256Gcm>::from(iv(seqno));
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, ct.into())
        .map_err(|_| MsgError::PayloadTooLarge)?;
    let tag_dst = hdr
        .first_chunk_mut::<TAG_SIZE>()
        .ok_or(MsgError::PayloadTooLarge)?;
    tag_dst.copy_from_slice(tag.as_slice());
    Ok(())
}

/// Check a response header against what the request implies (AMD 56860 §8.26; the checks of
/// Linux `verify_and_dec_payload` and COCONUT `validate`). Reserved bytes are not checked.
pub fn check_header(h: &MsgHeader, expected: &Expected) -> Result<(), HeaderField> {
    if h.algo != ALGO_AES_256_GCM {
        return Err(HeaderField::Algo);
    }
    if h.hdr_version != HDR_VERSION {
        return Err(HeaderField::HdrVersion);
    }
    if usize::from(h.hdr_size) != HEADER_SIZE {
        return Err(HeaderField::HdrSize);
    }
    if h.msg_type != expected.msg_type.0 {
        return Err(HeaderField::MsgType);
    }
    if h.msg_version != expected.msg_version {
        return Err(HeaderField::MsgVersion);
    }
    if h.msg_seqno != expected.seqno {
        return Err(HeaderField::Seqno);
    }
    if h.msg_vmpck != expected.vmpck {
        return Err(HeaderField::Vmpck);
    }
    if usize::from(h.msg_size) > MAX_PAYLOAD {
        return Err(HeaderField::MsgSize);
    }
    Ok(())
}

/// Authenticate and decrypt a response `page` (already copied into private memory) into `out`;
/// returns the payload length. On any failure `out` is zeroed.
pub fn open(
    key: &Vmpck,
    page: &[u8; PAGE_SIZE],
    expected: &Expected,
    out: &mut [u8],
) -> Result<usize, MsgError> {
    let r = open_inner(key, page, expected, out);
    if r.is_err() {
        out.zeroize();
    }
    r
}

fn open_inner(
    key: &Vmpck,
    page: &[u8; PAGE_SIZE],
    expected: &Expected,
    out: &mut [u8],
) -> Result<usize, MsgError> {
    if key.is_zero() {
        return Err(MsgError::KeyDisabled);
    }
    let header = MsgHeader::parse(page);
    check_header(&header, expected).map_err(MsgError::Header)?;
    let len = usize::from(header.msg_size);
    let (hdr, body) = page.split_at(HEADER_SIZE);
    let ct = body
        .get(..len)
        .ok_or(MsgError::Header(HeaderField::MsgSize))?;
    let dst = out.get_mut(..len).ok_or(MsgError::BufferTooSmall)?;
    dst.copy_from_slice(ct);
    let aad = hdr.get(AAD_START..).ok_or(MsgError::Authentication)?;
    let tag_bytes: [u8; TAG_SIZE] = get(hdr, 0);
    let tag = Tag::<Aes256Gcm>::from(tag_bytes);
    let cipher = key.cipher().ok_or(MsgError::KeyDisabled)?;
    cipher
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(iv(header.msg_seqno)),
            aad,
            dst.into(),
            &tag,
        )
        .map_err(|_| MsgError::Authentication)?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtpm::crypto::hash::HashAlg;

    fn hex(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn key() -> Vmpck {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        Vmpck::new(k)
    }

    fn report_req_payload() -> [u8; 0x60] {
        let mut p = [0u8; 0x60];
        for (i, b) in p[..64].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }

    /// The synthetic vector of spec/snp.md §1 (aes-gcm 0.11.1 = Python `cryptography`).
    #[test]
    fn synthetic_vector() {
        let mut page = [0u8; PAGE_SIZE];
        seal(
            &key(),
            MsgType::REPORT_REQ,
            1,
            0,
            &report_req_payload(),
            &mut page,
        )
        .unwrap();
        assert_eq!(page[..16], hex("0f354f26b13f7433d3674d8eebcaf847"));
        assert_eq!(page[0x60..0x70], hex("e22d803ca0aaea00420d0fc830cc86c4"));
        let d = HashAlg::Sha256.digest(&[&page]);
        let want = "80287cc666d38c7378104b319db2e4f42eb0cbf307c8a97646a01b63e64b38d8";
        assert_eq!(d.as_slice()[..16], hex(&want[..32]));
        assert_eq!(d.as_slice()[16..], hex(&want[32..]));
        // Header bytes as the table says.
        assert_eq!(&page[0x20..0x28], &1u64.to_le_bytes());
        assert_eq!(&page[0x30..0x38], &[1, 1, 0x60, 0, 5, 1, 0x60, 0]);
        assert_eq!(page[0x3C], 0);
    }

    #[test]
    fn seal_open_round_trip_and_checks() {
        let k = key();
        let mut page = [0u8; PAGE_SIZE];
        seal(&k, MsgType::REPORT_REQ, 7, 0, b"hello", &mut page).unwrap();
        let exp = Expected {
            msg_type: MsgType::REPORT_REQ,
            msg_version: 1,
            seqno: 7,
            vmpck: 0,
        };
        let mut out = [0u8; 16];
        assert_eq!(open(&k, &page, &exp, &mut out), Ok(5));
        assert_eq!(&out[..5], b"hello");

        // Each header check.
        let cases: [(usize, u8, HeaderField); 6] = [
            (0x30, 2, HeaderField::Algo),
            (0x31, 2, HeaderField::HdrVersion),
            (0x32, 0x61, HeaderField::HdrSize),
            (0x34, 6, HeaderField::MsgType),
            (0x35, 2, HeaderField::MsgVersion),
            (0x3C, 1, HeaderField::Vmpck),
        ];
        for (off, v, field) in cases {
            let mut p = page;
            p[off] = v;
            assert_eq!(
                open(&k, &p, &exp, &mut out),
                Err(MsgError::Header(field)),
                "{off:#x}"
            );
            assert_eq!(out, [0; 16], "output wiped");
        }
        let mut p = page;
        p[0x20] = 9;
        assert_eq!(
            open(&k, &p, &exp, &mut out),
            Err(MsgError::Header(HeaderField::Seqno))
        );
        let mut p = page;
        p[0x36] = 0xA1;
        p[0x37] = 0x0F;
        assert_eq!(
            open(&k, &p, &exp, &mut out),
            Err(MsgError::Header(HeaderField::MsgSize))
        );
        // AUTHTAG bytes 16..32 are not checked (neither Linux nor COCONUT does).
        let mut p = page;
        p[0x10] = 1;
        assert_eq!(open(&k, &p, &exp, &mut out), Ok(5));
        // Reserved bytes are not checked but are authenticated when in the AAD.
        let mut p = page;
        p[0x28] = 0xAA;
        assert_eq!(open(&k, &p, &exp, &mut out), Ok(5));
        let mut p = page;
        p[0x40] = 0xAA;
        assert_eq!(open(&k, &p, &exp, &mut out), Err(MsgError::Authentication));
        // Tag, ciphertext, wrong key.
        for off in [0, 15, 0x60, 0x64] {
            let mut p = page;
            p[off] ^= 1;
            assert_eq!(open(&k, &p, &exp, &mut out), Err(MsgError::Authentication));
        }
        assert_eq!(
            open(&Vmpck::new([9; 32]), &page, &exp, &mut out),
            Err(MsgError::Authentication)
        );
        let mut small = [0u8; 4];
        assert_eq!(
            open(&k, &page, &exp, &mut small),
            Err(MsgError::BufferTooSmall)
        );
    }

    #[test]
    fn zero_key_and_oversize_refused() {
        let mut page = [0u8; PAGE_SIZE];
        assert_eq!(
            seal(
                &Vmpck::new([0; 32]),
                MsgType::REPORT_REQ,
                1,
                0,
                b"x",
                &mut page
            ),
            Err(MsgError::KeyDisabled)
        );
        assert_eq!(
            seal(
                &key(),
                MsgType::REPORT_REQ,
                1,
                0,
                &[0; MAX_PAYLOAD + 1],
                &mut page
            ),
            Err(MsgError::PayloadTooLarge)
        );
        assert!(
            seal(
                &key(),
                MsgType::REPORT_REQ,
                1,
                0,
                &[0; MAX_PAYLOAD],
                &mut page
            )
            .is_ok()
        );
        let mut k = key();
        k.wipe();
        assert!(k.is_zero());
        assert_eq!(format!("{k:?}"), "Vmpck([REDACTED])");
        let mut src = [5u8; 32];
        let t = Vmpck::take(&mut src);
        assert_eq!(src, [0; 32]);
        assert!(!t.is_zero());
    }

    #[test]
    fn header_round_trip() {
        let mut h = MsgHeader::new(MsgType::REPORT_RSP, 0x4C0, 0x0102_0304_0506_0708, 3);
        h.reserved3[34] = 0x55;
        h.authtag[3] = 9;
        let b = h.to_bytes();
        assert_eq!(MsgHeader::from_bytes(&b), h);
        assert_eq!(&b[0x20..0x28], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(b[0x5F], 0x55);
        assert_eq!(MsgType::REPORT_REQ.response(), Some(MsgType::REPORT_RSP));
        assert_eq!(MsgType(255).response(), None);
    }
}
