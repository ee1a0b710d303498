//! Transient object slots (Part 1 §30): keys, data objects and hash / event sequences.

use crate::crypto::hash::{HashAlg, HashState};
use crate::wire::constants::handle::HT_TRANSIENT;
use crate::wire::types::Auth;

/// Transient object slots: enough for the kernel's resource manager and tpm2-tools without one.
pub const MAX_OBJECTS: usize = 16;

/// First transient handle (TRANSIENT_FIRST); slot i has handle TRANSIENT_FIRST + i.
pub const TRANSIENT_FIRST: u32 = (HT_TRANSIENT as u32) << 24;

/// What a hash sequence accumulates.
// Slots are fixed-size either way (no allocation), so the variants' size difference costs
// nothing that boxing could save.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum SequenceKind {
    /// TPM2_HashSequenceStart with a hash algorithm.
    Hash(HashState),
    /// TPM2_HashSequenceStart with TPM_ALG_NULL: an event sequence over every implemented hash.
    Event(crate::crypto::hash::AllHashes),
    /// TPM2_HMAC_Start: an HMAC with a keyed-hash key (Part 3 §17.2).
    Hmac(crate::crypto::hmac::HmacState),
}

/// A hash or event sequence object (Part 3 §17).
#[derive(Clone)]
pub struct Sequence {
    /// The running digest(s).
    pub kind: SequenceKind,
    /// The sequence's authValue.
    pub auth: Auth,
    /// For hash sequences: whether the data so far could be the start of a TPM-generated
    /// structure (begins with TPM_GENERATED_VALUE), which voids the ticket.
    pub first_block: Option<[u8; 4]>,
    /// Bytes fed so far (bounded to what the first-block check needs).
    pub first_len: u8,
}

impl Sequence {
    /// A new sequence for `alg` (None = event sequence).
    pub fn new(alg: Option<HashAlg>, auth: Auth) -> Self {
        let kind = match alg {
            Some(a) => SequenceKind::Hash(HashState::new(a)),
            None => SequenceKind::Event(crate::crypto::hash::AllHashes::new()),
        };
        Self {
            kind,
            auth,
            first_block: Some([0; 4]),
            first_len: 0,
        }
    }

    /// A new HMAC sequence (TPM2_HMAC_Start) keyed with `key`.
    pub fn new_hmac(alg: HashAlg, key: &[u8], auth: Auth) -> Self {
        Self {
            kind: SequenceKind::Hmac(crate::crypto::hmac::HmacState::new(alg, key)),
            auth,
            first_block: None,
            first_len: 0,
        }
    }

    /// Absorb `data`.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.kind {
            SequenceKind::Hash(h) => h.update(data),
            SequenceKind::Event(hs) => hs.update(data),
            SequenceKind::Hmac(m) => m.update(data),
        }
        if let Some(fb) = self.first_block.as_mut() {
            for b in data {
                match fb.get_mut(usize::from(self.first_len)) {
                    Some(slot) => {
                        *slot = *b;
                        self.first_len = self.first_len.saturating_add(1);
                    }
                    None => break,
                }
            }
        }
    }

    /// Whether the data hashed so far starts with TPM_GENERATED_VALUE (0xFF544347).
    pub fn starts_generated(&self) -> bool {
        self.first_len >= 4 && self.first_block == Some(crate::TPM_GENERATED_VALUE.to_be_bytes())
    }
}

/// Largest private value: an ECC scalar (P-384) or keyed-hash data.
pub const MAX_SENSITIVE: usize = 128;

/// A loaded key or data object (Part 1 §27): its public area, names and secrets.
///
/// `Debug` is derived: `auth`, `sensitive` and `seed_value` are `Secret`s, which print
/// `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct KeyObject {
    /// The public area.
    pub public: crate::wire::public::Public,
    /// Name = nameAlg ‖ H(public).
    pub name: crate::wire::types::Name,
    /// Qualified name = nameAlg ‖ H(parent's QN ‖ Name) (Part 1 §16.6).
    pub qualified_name: crate::wire::types::Name,
    /// The hierarchy the object belongs to (a TPM_RH_ handle).
    pub hierarchy: u32,
    /// authValue.
    pub auth: Auth,
    /// The private value: ECC scalar or keyed-hash data / HMAC key.
    pub sensitive: crate::wire::types::Secret<MAX_SENSITIVE>,
    /// seedValue: the child-protection seed of a storage parent.
    pub seed_value: crate::wire::types::Secret<64>,
    /// Whether only the public area was loaded (LoadExternal without a private part).
    pub public_only: bool,
}

/// A loaded transient object.
#[derive(Clone)]
// Slots are fixed-size (no allocation); boxing could not save anything.
#[allow(clippy::large_enum_variant)]
pub enum Object {
    /// A hash or event sequence.
    Sequence(Sequence),
    /// A key or data object.
    Key(KeyObject),
}

/// Persistent object slots (TPM2_EvictControl). Held in RAM: "persistent" for this TPM
/// instance, which never outlives the confidential VM's boot.
pub const MAX_PERSISTENT: usize = 8;

/// The object slots: transient (handle = TRANSIENT_FIRST + slot) and persistent.
pub struct Objects {
    slots: [Option<Object>; MAX_OBJECTS],
    persistent: [Option<(u32, Object)>; MAX_PERSISTENT],
}

impl Default for Objects {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Objects {
    /// No objects.
    pub const EMPTY: Self = Self {
        slots: [const { None }; MAX_OBJECTS],
        persistent: [const { None }; MAX_PERSISTENT],
    };
}

impl Objects {
    fn index(handle: u32) -> Option<usize> {
        let i = usize::try_from(handle.checked_sub(TRANSIENT_FIRST)?).ok()?;
        (i < MAX_OBJECTS).then_some(i)
    }

    /// The object at `handle` (transient or persistent), if present.
    pub fn get(&self, handle: u32) -> Option<&Object> {
        if let Some(i) = Self::index(handle) {
            return self.slots.get(i)?.as_ref();
        }
        self.persistent
            .iter()
            .flatten()
            .find(|(h, _)| *h == handle)
            .map(|(_, o)| o)
    }

    /// The object at `handle`, mutably.
    pub fn get_mut(&mut self, handle: u32) -> Option<&mut Object> {
        if let Some(i) = Self::index(handle) {
            return self.slots.get_mut(i)?.as_mut();
        }
        self.persistent
            .iter_mut()
            .flatten()
            .find(|(h, _)| *h == handle)
            .map(|(_, o)| o)
    }

    /// Make `obj` persistent at `handle`; `None` if every persistent slot is taken.
    pub fn persist(&mut self, handle: u32, obj: Object) -> Option<()> {
        let slot = self.persistent.iter_mut().find(|s| s.is_none())?;
        *slot = Some((handle, obj));
        Some(())
    }

    /// Evict the persistent object at `handle`; returns whether it existed.
    pub fn evict(&mut self, handle: u32) -> bool {
        match self
            .persistent
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|(h, _)| *h == handle))
        {
            Some(s) => {
                *s = None;
                true
            }
            None => false,
        }
    }

    /// Persistent handles, ascending.
    pub fn persistent_handles(&self) -> heapless::Vec<u32, MAX_PERSISTENT> {
        crate::state::ascending(self.persistent.iter().flatten().map(|(h, _)| *h))
    }

    /// Remove every object (transient and persistent) that belongs to one of `hierarchies`.
    pub fn flush_hierarchies(&mut self, hierarchies: &[u32]) {
        let doomed = |o: &Object| matches!(o, Object::Key(k) if hierarchies.contains(&k.hierarchy));
        for s in self.slots.iter_mut() {
            if s.as_ref().is_some_and(doomed) {
                *s = None;
            }
        }
        for s in self.persistent.iter_mut() {
            if s.as_ref().is_some_and(|(_, o)| doomed(o)) {
                *s = None;
            }
        }
    }

    /// Flush the transient objects of `hierarchy` (a disabled hierarchy's persistent
    /// objects stay, unreachable until it is enabled again).
    pub fn flush_transient(&mut self, hierarchy: u32) {
        for s in self.slots.iter_mut() {
            if matches!(s, Some(Object::Key(k)) if k.hierarchy == hierarchy) {
                *s = None;
            }
        }
    }

    /// Whether a free slot exists.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Load `obj` into a free slot; returns its handle, or `None` if all slots are used.
    pub fn insert(&mut self, obj: Object) -> Option<u32> {
        let i = self.slots.iter().position(Option::is_none)?;
        *self.slots.get_mut(i)? = Some(obj);
        TRANSIENT_FIRST.checked_add(u32::try_from(i).ok()?)
    }

    /// Remove the object at `handle`; returns it if it was loaded.
    pub fn remove(&mut self, handle: u32) -> Option<Object> {
        self.slots.get_mut(Self::index(handle)?)?.take()
    }

    /// Flush every transient object (at _TPM_Init); persistent objects stay.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// Handles of loaded objects, ascending.
    pub fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .filter_map(|(i, _)| TRANSIENT_FIRST.checked_add(u32::try_from(i).ok()?))
    }

    /// Number of free slots.
    pub fn free(&self) -> usize {
        self.slots.iter().filter(|s| s.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::public::{ObjectAttrs, Public, PublicKind, Scheme};
    use crate::wire::types::redaction::assert_redacted;
    use crate::wire::types::{Digest, Name, Secret};
    use std::format;

    #[test]
    fn key_object_debug_redacts_auth_sensitive_and_seed() {
        let password = b"object-user-auth";
        let sensitive = [0x5Eu8; 48];
        let seed = [0x5Du8; 32];
        let k = KeyObject {
            public: Public {
                name_alg: Some(HashAlg::Sha256),
                attrs: ObjectAttrs(0),
                auth_policy: Digest::EMPTY,
                kind: PublicKind::KeyedHash {
                    scheme: Scheme::Null,
                    unique: Digest::EMPTY,
                },
            },
            name: Name::EMPTY,
            qualified_name: Name::EMPTY,
            hierarchy: crate::wire::constants::handle::RH_OWNER,
            auth: Auth::from_slice(password).unwrap(),
            sensitive: Secret::from_slice(&sensitive).unwrap(),
            seed_value: Secret::from_slice(&seed).unwrap(),
            public_only: false,
        };
        let d = format!("{k:?}");
        assert_redacted(&d, password);
        assert_redacted(&d, &sensitive);
        assert_redacted(&d, &seed);
    }
}
