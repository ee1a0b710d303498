//! TPM2B / TPMS / TPML / TPMT structures this core marshals (TCG TPM 2.0 Part 2).

use super::{Reader, WireError, Writer};
use crate::crypto::hash::HashAlg;
use crate::error::{TpmRc, TpmResult};
use crate::wire::constants::TpmAlgId;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A byte string of at most `N` bytes stored inline: the contents of a TPM2B (Part 2 §10.4).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Buf<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self {
            len: 0,
            bytes: [0; N],
        }
    }
}

impl<const N: usize> Buf<N> {
    /// The empty buffer.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; N],
    };

    /// A copy of `data`, or `None` if it is longer than `N`.
    pub fn from_slice(data: &[u8]) -> Option<Self> {
        let mut b = Self::EMPTY;
        b.bytes.get_mut(..data.len())?.copy_from_slice(data);
        b.len = data.len();
        Some(b)
    }

    /// A buffer of `len` zero bytes, to be filled through [`Buf::as_mut_slice`].
    pub fn zeroed(len: usize) -> Option<Self> {
        (len <= N).then_some(Self { len, bytes: [0; N] })
    }

    /// The contents.
    #[inline(never)]
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The contents, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.bytes.get_mut(..self.len).unwrap_or(&mut [])
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `data`; fails (changing nothing) if the result would exceed `N`.
    pub fn extend(&mut self, data: &[u8]) -> Option<()> {
        let end = self.len.checked_add(data.len())?;
        self.bytes.get_mut(self.len..end)?.copy_from_slice(data);
        self.len = end;
        Some(())
    }

    /// Drop trailing zero bytes (authValue comparison rule, Part 1 §19.6.4.3).
    pub fn strip_trailing_zeros(&mut self) {
        while self.len > 0 && self.as_slice().last() == Some(&0) {
            self.len = self.len.saturating_sub(1);
        }
    }
}

impl<const N: usize> core::fmt::Debug for Buf<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Secret bytes (authValues, seeds, keys): wiped on drop, compared in constant time, never
/// printed.
#[derive(Clone, Default)]
pub struct Secret<const N: usize>(Buf<N>);

impl<const N: usize> Secret<N> {
    /// The empty secret.
    pub const EMPTY: Self = Self(Buf::EMPTY);

    /// A copy of `data`, or `None` if it is longer than `N`.
    pub fn from_slice(data: &[u8]) -> Option<Self> {
        Buf::from_slice(data).map(Self)
    }

    /// `len` zero bytes to be filled in place.
    pub fn zeroed(len: usize) -> Option<Self> {
        Buf::zeroed(len).map(Self)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The secret bytes, mutably.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Append bytes (to build `sessionKey ‖ authValue`).
    pub fn extend(&mut self, data: &[u8]) -> Option<()> {
        self.0.extend(data)
    }

    /// Drop trailing zero bytes.
    pub fn strip_trailing_zeros(&mut self) {
        self.0.strip_trailing_zeros();
    }

    /// Constant-time equality of contents (the lengths are not secret).
    pub fn ct_eq_slice(&self, other: &[u8]) -> bool {
        bool::from(self.expose().ct_eq(other))
    }
}

impl<const N: usize> Zeroize for Secret<N> {
    fn zeroize(&mut self) {
        wipe(&mut self.0.bytes, &mut self.0.len);
    }
}

/// Wipe `bytes` and `len` with zeroize's volatile writes: one out-of-line copy for every secret
/// size and drop site (inlined, each `Secret<N>` drop was its own unrolled loop: 6 KB of
/// firmware code).
#[inline(never)]
fn wipe(bytes: &mut [u8], len: &mut usize) {
    bytes.zeroize();
    len.zeroize();
}

/// Wipe `bytes` with zeroize's volatile writes, out of line (for fixed arrays of key material
/// outside [`Secret`], such as the DRBG's K and V).
#[inline(never)]
pub(crate) fn wipe_bytes(bytes: &mut [u8]) {
    bytes.zeroize();
}

impl<const N: usize> Drop for Secret<N> {
    #[inline(never)]
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<const N: usize> zeroize::ZeroizeOnDrop for Secret<N> {}

/// Prints `[REDACTED]` and nothing else (not even the length, which can tell a password
/// apart from a digest-sized authValue): every `Debug` derived over a secret-holding struct
/// (objects, sessions, hierarchies, NV indices) is safe to print.
impl<const N: usize> core::fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Largest digest (SHA-512).
pub const MAX_DIGEST: usize = 64;
/// TPM2B_DATA maximum (Part 2 §10.4.3): sizeof(TPMT_HA), a hash algorithm and the largest
/// digest (2 + 64), so that a TPMT_HA fits (qualifyingData, outsideInfo).
pub const MAX_DATA: usize = 2 + MAX_DIGEST;
/// TPM2B_SENSITIVE_DATA maximum (MAX_SYM_DATA, Part 2 §11.1.14): 128 bytes.
pub const MAX_SYM_DATA: usize = 128;
/// TPM2B_MAX_BUFFER / TPM2B_EVENT maximum (MAX_DIGEST_BUFFER, TPM_PT_INPUT_BUFFER).
pub const MAX_BUFFER: usize = 1024;
/// TPM2B_EVENT maximum (Part 2 §10.4.7).
pub const MAX_EVENT: usize = 1024;

/// TPM2B_DIGEST contents (Part 2 §10.4.2).
pub type Digest = Buf<MAX_DIGEST>;
/// TPM2B_AUTH contents (Part 2 §10.4.5), a secret.
pub type Auth = Secret<MAX_DIGEST>;
/// TPM2B_NONCE contents (Part 2 §10.4.4).
pub type Nonce = Buf<MAX_DIGEST>;
/// TPM2B_NAME contents (Part 2 §10.5.3): a handle, or nameAlg ‖ digest.
pub type Name = Buf<MAX_NAME>;

/// The largest TPM2B_NAME contents: nameAlg ‖ digest.
pub const MAX_NAME: usize = 2 + MAX_DIGEST;

/// The Name of an entity whose Name is its handle (PCR, permanent, session; Part 1 §16).
pub fn handle_name(handle: u32) -> Name {
    Name::from_slice(&handle.to_be_bytes()).unwrap_or_default()
}

/// Number of PCR banks the wire format can carry (HASH_COUNT).
pub const HASH_COUNT: usize = crate::crypto::hash::HashAlg::ALL.len();
/// PCRs in a bank (IMPLEMENTATION_PCR).
pub const PCR_COUNT: usize = 24;
/// Size of the select bitmap (PCR_SELECT_MAX = PCR_SELECT_MIN), as sizeofSelect.
pub const PCR_SELECT_BYTES: u8 = 3;
/// Size of the select bitmap (PCR_SELECT_MAX).
pub const PCR_SELECT_MAX: usize = PCR_SELECT_BYTES as usize;

/// Unmarshal TPMI_ALG_HASH (Part 2 §9.27): an implemented hash, else TPM_RC_HASH.
pub fn read_hash(r: &mut Reader<'_>) -> TpmResult<HashAlg> {
    HashAlg::from_alg(TpmAlgId(r.u16()?)).ok_or(TpmRc::HASH)
}

/// Unmarshal TPMI_ALG_HASH+ : an implemented hash or TPM_ALG_NULL (`None`).
pub fn read_hash_or_null(r: &mut Reader<'_>) -> TpmResult<Option<HashAlg>> {
    let alg = TpmAlgId(r.u16()?);
    if alg == TpmAlgId::NULL {
        return Ok(None);
    }
    HashAlg::from_alg(alg).map(Some).ok_or(TpmRc::HASH)
}

/// TPMS_PCR_SELECTION (Part 2 §10.6.2): a hash and a bitmap of PCRs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrSelection {
    /// The bank's hash algorithm (TPMI_ALG_HASH: an implemented hash, not necessarily an
    /// allocated bank).
    pub hash: HashAlg,
    /// The bitmap, bit n of byte n/8 = PCR n.
    pub select: [u8; PCR_SELECT_MAX],
}

impl PcrSelection {
    /// Whether PCR `i` is selected.
    pub fn is_selected(&self, i: usize) -> bool {
        let byte = self.select.get(i / 8).copied().unwrap_or(0);
        byte & (1u8 << (i % 8)) != 0
    }

    /// Deselect PCR `i`.
    pub fn clear(&mut self, i: usize) {
        if let Some(b) = self.select.get_mut(i / 8) {
            *b &= !(1u8 << (i % 8));
        }
    }

    /// Whether no PCR is selected.
    pub fn is_empty(&self) -> bool {
        self.select.iter().all(|b| *b == 0)
    }

    /// Unmarshal (Part 2 §10.6.2): an unimplemented hash is TPM_RC_HASH; sizeofSelect outside
    /// PCR_SELECT_MIN..=PCR_SELECT_MAX (both 3 here) is TPM_RC_VALUE.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        let hash = HashAlg::from_alg(TpmAlgId(r.u16()?)).ok_or(TpmRc::HASH)?;
        let size = usize::from(r.u8()?);
        if size != PCR_SELECT_MAX {
            return Err(TpmRc::VALUE);
        }
        let select = *r.array::<PCR_SELECT_MAX>()?;
        Ok(Self { hash, select })
    }

    /// Marshal with sizeofSelect = 3.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.hash.alg_id().0)?;
        w.u8(PCR_SELECT_BYTES)?;
        w.bytes(&self.select)
    }
}

/// Unmarshal a TPML_ of at most `N` elements (`u32 count ‖ elements`); a larger count is
/// TPM_RC_SIZE (Part 2 §10.9).
pub fn read_list<T, const N: usize>(
    r: &mut Reader<'_>,
    mut element: impl FnMut(&mut Reader<'_>) -> TpmResult<T>,
) -> TpmResult<heapless::Vec<T, N>> {
    let count = r.u32()?;
    if usize::try_from(count).map_or(true, |c| c > N) {
        return Err(TpmRc::SIZE);
    }
    let mut v = heapless::Vec::new();
    for _ in 0..count {
        v.push(element(r)?).map_err(|_| TpmRc::SIZE)?;
    }
    Ok(v)
}

/// Marshal a TPML_: `u32 count ‖ elements`.
pub fn write_list<T>(
    w: &mut Writer<'_>,
    items: &[T],
    mut element: impl FnMut(&T, &mut Writer<'_>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    w.u32(u32::try_from(items.len()).map_err(|_| WireError::Size)?)?;
    items.iter().try_for_each(|i| element(i, w))
}

/// TPML_PCR_SELECTION (Part 2 §10.9.7): at most HASH_COUNT selections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcrSelectionList(pub heapless::Vec<PcrSelection, HASH_COUNT>);

impl PcrSelectionList {
    /// Unmarshal; count > HASH_COUNT → TPM_RC_SIZE.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        read_list(r, PcrSelection::unmarshal).map(Self)
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        write_list(w, &self.0, PcrSelection::marshal)
    }
}

/// TPMT_HA (Part 2 §10.3.2): a digest tagged with its algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaggedDigest {
    /// Algorithm.
    pub alg: HashAlg,
    /// Digest of `alg.size()` bytes.
    pub digest: Digest,
}

impl TaggedDigest {
    /// Unmarshal; an unimplemented hash → TPM_RC_HASH.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        let alg = HashAlg::from_alg(TpmAlgId(r.u16()?)).ok_or(TpmRc::HASH)?;
        let bytes = r.bytes(alg.size())?;
        let digest = Digest::from_slice(bytes).ok_or(TpmRc::SIZE)?;
        Ok(Self { alg, digest })
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.alg.alg_id().0)?;
        w.bytes(self.digest.as_slice())
    }
}

/// TPML_DIGEST_VALUES (Part 2 §10.9.8): at most HASH_COUNT tagged digests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestValues(pub heapless::Vec<TaggedDigest, HASH_COUNT>);

impl DigestValues {
    /// Unmarshal; count > HASH_COUNT → TPM_RC_SIZE.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        read_list(r, TaggedDigest::unmarshal).map(Self)
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        write_list(w, &self.0, TaggedDigest::marshal)
    }
}

/// TPMS_CLOCK_INFO (Part 2 §10.11.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since manufacture (here: since this instance).
    pub clock: u64,
    /// TPM Reset count.
    pub reset_count: u32,
    /// TPM Restart / Resume count since the last Reset.
    pub restart_count: u32,
    /// Whether Clock has not been set back.
    pub safe: bool,
}

impl ClockInfo {
    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u64(self.clock)?;
        w.u32(self.reset_count)?;
        w.u32(self.restart_count)?;
        w.u8(u8::from(self.safe))
    }
}

/// Test helper: the ways a `Debug` output could show secret bytes.
#[cfg(test)]
pub(crate) mod redaction {
    extern crate std;
    use std::format;
    use std::string::String;

    /// Panics if `debug` (a `{:?}` output) shows `secret` as hex (as [`super::Buf`] prints),
    /// as a slice of numbers (as `&[u8]` prints) or as text, or does not say `[REDACTED]`.
    pub(crate) fn assert_redacted(debug: &str, secret: &[u8]) {
        assert!(
            secret.len() >= 4,
            "use a secret long enough to be recognisable"
        );
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let list = format!("{secret:?}");
        let numbers = list.trim_start_matches('[').trim_end_matches(']');
        assert!(!debug.contains(&hex), "hex of the secret in {debug}");
        assert!(!debug.contains(numbers), "bytes of the secret in {debug}");
        if let Ok(text) = core::str::from_utf8(secret) {
            assert!(!debug.contains(text), "text of the secret in {debug}");
        }
        assert!(debug.contains("[REDACTED]"), "no [REDACTED] in {debug}");
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::redaction::assert_redacted;
    use super::*;
    use std::format;

    const PASSWORD: &[u8] = b"hunter2-correct-horse";

    #[test]
    fn secret_and_auth_debug_are_redacted() {
        let s = Secret::<64>::from_slice(PASSWORD).unwrap();
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_redacted(&format!("{s:?}"), PASSWORD);
        let a = Auth::from_slice(PASSWORD).unwrap();
        assert_redacted(&format!("{a:?}"), PASSWORD);
        assert_redacted(&format!("{:?}", Some(&a)), PASSWORD);
        // The helper itself notices a leak: a Buf prints its bytes as hex.
        let b = Buf::<64>::from_slice(PASSWORD).unwrap();
        let leaked = std::panic::catch_unwind(|| assert_redacted(&format!("{b:?}"), PASSWORD));
        assert!(leaked.is_err());
    }

    /// Session derives Debug; its sessionKey is a Secret (Part 1 §19.6.8).
    #[test]
    fn session_debug_redacts_the_session_key() {
        use crate::state::session::{Session, SessionKind, SessionSym};
        let key = [0xC3u8; 32];
        let s = Session {
            kind: SessionKind::Hmac,
            auth_hash: HashAlg::Sha256,
            nonce_tpm: Nonce::from_slice(&[1; 16]).unwrap(),
            session_key: Secret::from_slice(&key).unwrap(),
            bound: None,
            da_bound: false,
            lockout_bound: false,
            policy_digest: Digest::EMPTY,
            policy: crate::state::session::PolicyState::default(),
            start_ms: 0,
            audit_digest: None,
            symmetric: SessionSym::Null,
            saved: None,
        };
        let d = format!("{s:?}");
        assert_redacted(&d, &key);
        assert!(d.contains("session_key: [REDACTED]"), "{d}");
    }

    /// The hierarchies' seeds, proofs and authValues (Part 1 §14) are Secrets.
    #[test]
    fn hierarchies_debug_redacts_seeds_and_auths() {
        let h = crate::state::hierarchy::Hierarchies {
            eps: Secret::from_slice(&[0xE5; 64]).unwrap(),
            owner_auth: Auth::from_slice(PASSWORD).unwrap(),
            ..Default::default()
        };
        let d = format!("{h:?}");
        assert_redacted(&d, &[0xE5; 64]);
        assert_redacted(&d, PASSWORD);
    }
}
