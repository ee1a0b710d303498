//! RSA-2048 objects (the `rsa` feature): primaries, signatures and encryption checked against
//! an independent implementation (RustCrypto `rsa`), keys loaded from outside, children and
//! contexts, credentials and the error codes of bad inputs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{
    BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, PrivateKey as RsaPrivateKey, Pss,
    PublicKey as RsaPublicKey,
};
use sha2::{Digest, Sha256};
use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const CREATE: u32 = 0x153;
const LOAD: u32 = 0x157;
const SIGN: u32 = 0x15D;
const VERIFY_SIGNATURE: u32 = 0x177;
const RSA_ENCRYPT: u32 = 0x174;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const RSA_DECRYPT: u32 = 0x159;
const LOAD_EXTERNAL: u32 = 0x167;
const CONTEXT_SAVE: u32 = 0x162;
const CONTEXT_LOAD: u32 = 0x161;
const FLUSH: u32 = 0x165;
const MAKE_CREDENTIAL: u32 = 0x168;
const ACTIVATE_CREDENTIAL: u32 = 0x147;
const TEST_PARMS: u32 = 0x18A;
const QUOTE: u32 = 0x158;

const RSA: u16 = 0x0001;
const RSASSA: u16 = 0x0014;
const RSAES: u16 = 0x0015;
const RSAPSS: u16 = 0x0016;
const OAEP: u16 = 0x0017;
const NULL: u16 = 0x0010;

const STORAGE: u32 = 0x0003_0072;
const SIGNER: u32 = 0x0004_0072; // unrestricted sign
const AK: u32 = 0x0005_0072; // restricted sign
const DECRYPTER: u32 = 0x0002_0072; // unrestricted decrypt

const TPM_RC_VALUE: u32 = 0x084;
const TPM_RC_SIGNATURE: u32 = 0x09B;
const TPM_RC_SCHEME: u32 = 0x092;
const TPM_RC_SIZE: u32 = 0x095;
const TPM_RC_BINDING: u32 = 0x0A5;
const TPM_RC_KEY_SIZE: u32 = 0x087;
const TPM_RC_KEY: u32 = 0x09C;
const TPM_RC_ATTRIBUTES: u32 = 0x082;
const RC_P1: u32 = 0x100;
const RC_P2: u32 = 0x200;
const RC_P3: u32 = 0x300;
const RC_P: u32 = 0x040;
const RC_H1: u32 = 0x100;

/// An RSA-2048 template: nameAlg SHA-256, `attrs`, symmetric (for storage) or NULL, `scheme`
/// (alg, hash) or NULL, exponent 0, empty unique.
fn rsa_template(attrs: u32, scheme: Option<(u16, u16)>) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(RSA.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]);
    if attrs & 0x0003_0000 == 0x0003_0000 {
        t.extend([0, 6, 0, 0x80, 0, 0x43]);
    } else {
        t.extend(NULL.to_be_bytes());
    }
    match scheme {
        Some((alg, _)) if alg == RSAES => t.extend(alg.to_be_bytes()),
        Some((alg, hash)) => {
            t.extend(alg.to_be_bytes());
            t.extend(hash.to_be_bytes());
        }
        None => t.extend(NULL.to_be_bytes()),
    }
    t.extend(2048u16.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend([0, 0]);
    t
}

fn create_primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> Rsp {
    let mut p = Vec::new();
    p.extend([0, 4, 0, 0, 0, 0]);
    tpm2b(&mut p, template);
    p.extend([0, 0]);
    p.extend(0u32.to_be_bytes());
    h.send(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p)
}

/// (handle, TPMT_PUBLIC) of a successful CreatePrimary.
fn primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> (u32, Vec<u8>) {
    let r = create_primary(h, hierarchy, template);
    assert_eq!(r.rc(), 0, "CreatePrimary {:#x}", r.rc());
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    (handle, params[2..2 + n].to_vec())
}

/// The modulus of an RSA TPMT_PUBLIC (the trailing TPM2B).
fn modulus(public: &[u8]) -> Vec<u8> {
    let n = &public[public.len() - 256..];
    assert_eq!(
        u16::from_be_bytes(
            public[public.len() - 258..public.len() - 256]
                .try_into()
                .unwrap()
        ),
        256
    );
    n.to_vec()
}

fn public_key(public: &[u8]) -> RsaPublicKey {
    RsaPublicKey::new(
        BoxedUint::from_be_slice_vartime(&modulus(public)),
        BoxedUint::from(65537u32),
    )
    .unwrap()
}

/// Sign `digest` with `scheme` (alg, hash): the TPMT_SIGNATURE bytes.
fn sign(h: &mut Harness, key: u32, digest: &[u8], scheme: (u16, u16)) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, digest);
    p.extend(scheme.0.to_be_bytes());
    p.extend(scheme.1.to_be_bytes());
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]); // TPMT_TK_HASHCHECK null ticket
    h.send(SIGN, &[key], &[AuthCmd::pw(b"")], &p)
}

fn verify(h: &mut Harness, key: u32, digest: &[u8], sig: &[u8]) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, digest);
    p.extend(sig);
    h.send(VERIFY_SIGNATURE, &[key], &[], &p)
}

#[test]
fn rsa_primaries_are_deterministic_and_well_formed() {
    let mut h = Harness::new();
    let t = rsa_template(STORAGE, None);
    let (h1, p1) = primary(&mut h, RH_OWNER, &t);
    let (h2, p2) = primary(&mut h, RH_OWNER, &t);
    assert_ne!(h1, h2);
    assert_eq!(p1, p2, "the same template gives the same key within a boot");
    assert_eq!(p1.len(), 2 + 2 + 4 + 2 + 6 + 2 + 2 + 4 + 2 + 256);
    let n = modulus(&p1);
    assert!(n[0] >= 0x80, "a 2048-bit modulus");
    assert_eq!(n[255] & 1, 1, "odd modulus");
    // Another hierarchy's seed gives another key.
    let (_, p3) = primary(&mut h, RH_ENDORSEMENT, &t);
    assert_ne!(modulus(&p3), n);
}

#[test]
fn rsassa_and_pss_signatures_verify_independently_and_in_the_tpm() {
    let mut h = Harness::new();
    let (key, public) = primary(&mut h, RH_OWNER, &rsa_template(SIGNER, None));
    let pk = public_key(&public);
    let digest = Sha256::digest(b"message").to_vec();
    for alg in [RSASSA, RSAPSS] {
        let r = sign(&mut h, key, &digest, (alg, SHA256));
        assert_eq!(r.rc(), 0, "Sign {alg:#x}: {:#x}", r.rc());
        let (sig, _) = r.split_sessions(0);
        assert_eq!(&sig[..2], &alg.to_be_bytes());
        assert_eq!(&sig[2..4], &SHA256.to_be_bytes());
        assert_eq!(u16::from_be_bytes(sig[4..6].try_into().unwrap()), 256);
        let s = &sig[6..];
        if alg == RSASSA {
            pk.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, s)
                .unwrap();
        } else {
            pk.verify(Pss::<Sha256>::new(), &digest, s).unwrap();
        }
        let sig = sig.to_vec();
        assert_eq!(verify(&mut h, key, &digest, &sig).rc(), 0);
        let mut bad = sig.clone();
        bad[100] ^= 1;
        assert_eq!(
            verify(&mut h, key, &digest, &bad).rc(),
            TPM_RC_SIGNATURE + RC_P + RC_P2
        );
        let other = Sha256::digest(b"other").to_vec();
        assert_eq!(
            verify(&mut h, key, &other, &sig).rc(),
            TPM_RC_SIGNATURE + RC_P + RC_P2
        );
    }
    // An ECDSA scheme for an RSA key is refused.
    assert_eq!(
        sign(&mut h, key, &digest, (0x0018, SHA256)).rc(),
        TPM_RC_SCHEME + RC_P + RC_P2
    );
}

#[test]
fn signatures_made_outside_verify_in_the_tpm() {
    let mut rng = rand_chacha_like();
    let sk = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let pk = sk.to_public_key();
    let mut h = Harness::new();
    let public = external_public(&pk, SIGNER & !0x0000_0032, None);
    let key = load_external(&mut h, &[], &public);
    let digest = Sha256::digest(b"signed outside").to_vec();
    for (alg, s) in [
        (
            RSASSA,
            sk.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap(),
        ),
        (
            RSAPSS,
            sk.sign_with_rng(&mut rng, Pss::<Sha256>::new(), &digest)
                .unwrap(),
        ),
    ] {
        let mut sig = Vec::new();
        sig.extend(alg.to_be_bytes());
        sig.extend(SHA256.to_be_bytes());
        tpm2b(&mut sig, &s);
        assert_eq!(verify(&mut h, key, &digest, &sig).rc(), 0, "{alg:#x}");
    }
}

/// A deterministic RNG for the independent key (rsa's own).
fn rand_chacha_like() -> impl rsa::rand_core::CryptoRng {
    struct Counter(u64);
    impl rsa::rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(1);
            let d = Sha256::digest(self.0.to_be_bytes());
            Ok(u64::from_be_bytes(d[..8].try_into().unwrap()))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_be_bytes();
                b.copy_from_slice(&v[..b.len()]);
            }
            Ok(())
        }
    }
    impl rsa::rand_core::TryCryptoRng for Counter {}
    Counter(7)
}

/// TPMT_PUBLIC of an outside key: nameAlg SHA-256, `attrs`, scheme as given, its modulus.
fn external_public(pk: &RsaPublicKey, attrs: u32, scheme: Option<(u16, u16)>) -> Vec<u8> {
    let mut t = rsa_template(attrs, scheme);
    t.truncate(t.len() - 2);
    tpm2b(&mut t, &pk.n().to_be_bytes_trimmed_vartime());
    t
}

fn load_external(h: &mut Harness, sensitive: &[u8], public: &[u8]) -> u32 {
    let r = load_external_rsp(h, sensitive, public);
    assert_eq!(r.rc(), 0, "LoadExternal {:#x}", r.rc());
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

fn load_external_rsp(h: &mut Harness, sensitive: &[u8], public: &[u8]) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, sensitive);
    tpm2b(&mut p, public);
    p.extend(RH_NULL.to_be_bytes());
    h.send(LOAD_EXTERNAL, &[], &[], &p)
}

/// TPMT_SENSITIVE of an RSA key: type, empty authValue and seed, one prime.
fn rsa_sensitive(prime: &[u8]) -> Vec<u8> {
    let mut s = RSA.to_be_bytes().to_vec();
    s.extend([0, 0, 0, 0]);
    tpm2b(&mut s, prime);
    s
}

#[test]
fn a_key_loaded_with_its_prime_signs_and_decrypts_for_the_outside_world() {
    let mut rng = rand_chacha_like();
    let sk = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let pk = sk.to_public_key();
    let p = sk.primes()[0].to_be_bytes_trimmed_vartime();
    let attrs = 0x0006_0040; // userWithAuth | sign | decrypt
    let public = external_public(&pk, attrs, None);
    let mut h = Harness::new();
    let key = load_external(&mut h, &rsa_sensitive(&p), &public);
    let digest = Sha256::digest(b"loaded").to_vec();
    let r = sign(&mut h, key, &digest, (RSASSA, SHA256));
    assert_eq!(r.rc(), 0);
    let (sig, _) = r.split_sessions(0);
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig[6..])
        .unwrap();
    // The outside world encrypts with OAEP (label "label\0") and RSAES; the TPM decrypts.
    let ct = pk
        .encrypt(
            &mut rng,
            Oaep::<Sha256>::new_with_label(b"label\0".as_slice()),
            b"hello",
        )
        .unwrap();
    assert_eq!(
        decrypt(&mut h, key, &ct, Some((OAEP, SHA256)), b"label\0").unwrap(),
        b"hello"
    );
    let ct = pk.encrypt(&mut rng, Pkcs1v15Encrypt, b"hello").unwrap();
    assert_eq!(
        decrypt(&mut h, key, &ct, Some((RSAES, 0)), b"").unwrap(),
        b"hello"
    );
    // And the TPM encrypts for the key's owner.
    let ct = encrypt(&mut h, key, b"to the owner", Some((OAEP, SHA256)), b"L\0").unwrap();
    assert_eq!(
        sk.decrypt(Oaep::<Sha256>::new_with_label(b"L\0".as_slice()), &ct)
            .unwrap(),
        b"to the owner"
    );

    // A prime of the right size that does not divide n: TPM_RC_BINDING without a position
    // (the reference's ObjectLoad returns CryptRsaLoadPrivateExponent's code as it is; so
    // does libtpms). A prime of the wrong size: TPM_RC_KEY_SIZE at the sensitive area.
    let mut wrong = sk.primes()[1].to_be_bytes_trimmed_vartime();
    wrong[127] ^= 2;
    assert_eq!(
        load_external_rsp(&mut h, &rsa_sensitive(&wrong), &public).rc(),
        TPM_RC_BINDING
    );
    assert_eq!(
        load_external_rsp(&mut h, &rsa_sensitive(&p[1..]), &public).rc(),
        TPM_RC_KEY_SIZE + RC_P + RC_P1
    );
}

fn scheme_bytes(scheme: Option<(u16, u16)>) -> Vec<u8> {
    match scheme {
        None => NULL.to_be_bytes().to_vec(),
        Some((RSAES, _)) => RSAES.to_be_bytes().to_vec(),
        Some((a, h)) => [a.to_be_bytes(), h.to_be_bytes()].concat(),
    }
}

fn decrypt(
    h: &mut Harness,
    key: u32,
    ct: &[u8],
    scheme: Option<(u16, u16)>,
    label: &[u8],
) -> Result<Vec<u8>, u32> {
    let mut p = Vec::new();
    tpm2b(&mut p, ct);
    p.extend(scheme_bytes(scheme));
    tpm2b(&mut p, label);
    let r = h.send(RSA_DECRYPT, &[key], &[AuthCmd::pw(b"")], &p);
    if r.rc() != 0 {
        return Err(r.rc());
    }
    let (params, _) = r.split_sessions(0);
    Ok(params[2..].to_vec())
}

fn encrypt(
    h: &mut Harness,
    key: u32,
    msg: &[u8],
    scheme: Option<(u16, u16)>,
    label: &[u8],
) -> Result<Vec<u8>, u32> {
    let mut p = Vec::new();
    tpm2b(&mut p, msg);
    p.extend(scheme_bytes(scheme));
    tpm2b(&mut p, label);
    let r = h.send(RSA_ENCRYPT, &[key], &[], &p);
    if r.rc() != 0 {
        return Err(r.rc());
    }
    Ok(r.body()[2..].to_vec())
}

#[test]
fn rsa_encrypt_decrypt_schemes_labels_and_errors() {
    let mut h = Harness::new();
    let (key, public) = primary(&mut h, RH_OWNER, &rsa_template(DECRYPTER, None));
    let n = modulus(&public);
    for scheme in [Some((OAEP, SHA256)), Some((OAEP, SHA384)), Some((RSAES, 0))] {
        let ct = encrypt(&mut h, key, b"secret", scheme, b"label\0").unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(
            decrypt(&mut h, key, &ct, scheme, b"label\0").unwrap(),
            b"secret"
        );
    }
    // NULL: the message is a number; leading zeros are dropped and the result is the number.
    let mut m = vec![0u8; 256];
    m[255] = 5;
    let ct = encrypt(&mut h, key, &m, None, b"").unwrap();
    assert_eq!(decrypt(&mut h, key, &ct, None, b"").unwrap(), m);
    // A number not below n: TPM_RC_SIZE (RSADP) or VALUE (RSAEP) as in the reference.
    assert!(encrypt(&mut h, key, &n, None, b"").is_err());
    assert_eq!(decrypt(&mut h, key, &n, None, b""), Err(TPM_RC_SIZE));
    // A ciphertext of another size than the modulus: TPM_RC_SIZE.
    assert_eq!(
        decrypt(&mut h, key, &ct[1..], Some((OAEP, SHA256)), b""),
        Err(TPM_RC_SIZE)
    );
    // A label without its terminating zero: TPM_RC_VALUE at the label.
    assert_eq!(
        encrypt(&mut h, key, b"x", Some((OAEP, SHA256)), b"label"),
        Err(TPM_RC_VALUE + RC_P + RC_P3)
    );
    // Another label, or another hash: a padding failure, TPM_RC_VALUE.
    let ct = encrypt(&mut h, key, b"secret", Some((OAEP, SHA256)), b"a\0").unwrap();
    assert_eq!(
        decrypt(&mut h, key, &ct, Some((OAEP, SHA256)), b"b\0"),
        Err(TPM_RC_VALUE)
    );
    assert_eq!(
        decrypt(&mut h, key, &ct, Some((OAEP, SHA384)), b"a\0"),
        Err(TPM_RC_VALUE)
    );
    // A message too long for OAEP-SHA256 (256 - 2·32 - 2 = 190 bytes).
    assert_eq!(
        encrypt(&mut h, key, &[1; 191], Some((OAEP, SHA256)), b""),
        Err(TPM_RC_VALUE)
    );
    assert!(encrypt(&mut h, key, &[1; 190], Some((OAEP, SHA256)), b"").is_ok());

    // A key with a scheme: a different scheme in the command is TPM_RC_SCHEME.
    let (k2, _) = primary(
        &mut h,
        RH_OWNER,
        &rsa_template(DECRYPTER, Some((OAEP, SHA256))),
    );
    assert_eq!(
        encrypt(&mut h, k2, b"x", Some((RSAES, 0)), b""),
        Err(TPM_RC_SCHEME + RC_P + RC_P2)
    );
    // A signing key does not decrypt: TPM_RC_ATTRIBUTES at the key.
    let (signer, _) = primary(&mut h, RH_OWNER, &rsa_template(SIGNER, None));
    assert_eq!(
        decrypt(&mut h, signer, &ct, None, b""),
        Err(TPM_RC_ATTRIBUTES + RC_H1)
    );
    // An ECC key is not an RSA key: TPM_RC_KEY at the key.
    let ecc = [
        0x00, 0x23, 0x00, 0x0B, 0x00, 0x02, 0x00, 0x72, 0, 0, 0, 0x10, 0, 0x10, 0, 3, 0, 0x10, 0,
        0, 0, 0,
    ];
    let (ecc_key, _) = primary(&mut h, RH_OWNER, &ecc);
    assert_eq!(
        encrypt(&mut h, ecc_key, b"x", None, b""),
        Err(TPM_RC_KEY + RC_H1)
    );
}

#[test]
fn rsa_children_load_sign_and_survive_a_context_round_trip() {
    let mut h = Harness::new();
    let (srk, _) = primary(&mut h, RH_OWNER, &rsa_template(STORAGE, None));
    let mut p = Vec::new();
    p.extend([0, 4, 0, 0, 0, 0]);
    tpm2b(&mut p, &rsa_template(AK, Some((RSASSA, SHA256))));
    p.extend([0, 0]);
    p.extend(0u32.to_be_bytes());
    let r = h.ok(CREATE, &[srk], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    let np = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let private = params[..2 + np].to_vec();
    let nq = u16::from_be_bytes(params[2 + np..4 + np].try_into().unwrap()) as usize;
    let public2b = params[2 + np..4 + np + nq].to_vec();
    let public = public2b[2..].to_vec();
    let r = h.ok(
        LOAD,
        &[srk],
        &[AuthCmd::pw(b"")],
        &[private, public2b].concat(),
    );
    let ak = u32::from_be_bytes(r.body()[..4].try_into().unwrap());

    // A quote signed with the RSA AK verifies with the independent implementation.
    let mut q = Vec::new();
    tpm2b(&mut q, b"nonce");
    q.extend(NULL.to_be_bytes());
    q.extend([0, 0, 0, 1, 0, 0x0B, 3, 1, 0, 0]);
    let r = h.ok(QUOTE, &[ak], &[AuthCmd::pw(b"")], &q);
    let (params, _) = r.split_sessions(0);
    let na = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let attest = &params[2..2 + na];
    let sig = &params[2 + na..];
    assert_eq!(&sig[..4], &[0, 0x14, 0, 0x0B]);
    public_key(&public)
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(attest),
            &sig[6..],
        )
        .unwrap();

    // ContextSave / flush / ContextLoad: the key still signs.
    let r = h.ok(CONTEXT_SAVE, &[ak], &[], &[]);
    let blob = r.body().to_vec();
    h.ok(FLUSH, &[], &[], &ak.to_be_bytes());
    let r = h.ok(CONTEXT_LOAD, &[], &[], &blob);
    let ak2 = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let digest = Sha256::digest(b"after context load").to_vec();
    let mut t = Vec::new();
    tpm2b(&mut t, &digest);
    t.extend(NULL.to_be_bytes());
    t.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    // A restricted key signs only with a ticket: an external digest is refused.
    assert_ne!(h.send(SIGN, &[ak2], &[AuthCmd::pw(b"")], &t).rc(), 0);
}

#[test]
fn credentials_under_an_rsa_ek_activate_only_for_the_named_key() {
    let mut h = Harness::new();
    let (ek, _) = primary(&mut h, RH_ENDORSEMENT, &rsa_template(STORAGE, None));
    let (ak, ak_public) = primary(&mut h, RH_OWNER, &rsa_template(AK, Some((RSASSA, SHA256))));
    let name = [SHA256.to_be_bytes().to_vec(), digest(SHA256, &[&ak_public])].concat();
    let mut p = Vec::new();
    tpm2b(&mut p, b"credential secret");
    tpm2b(&mut p, &name);
    let r = h.ok(MAKE_CREDENTIAL, &[ek], &[], &p);
    let out = r.body();
    let nb = u16::from_be_bytes(out[..2].try_into().unwrap()) as usize;
    let blob = out[..2 + nb].to_vec();
    let secret = out[2 + nb..].to_vec();
    assert_eq!(secret.len(), 2 + 256, "an OAEP-protected seed");
    let r = h.ok(
        ACTIVATE_CREDENTIAL,
        &[ak, ek],
        &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
        &[blob.clone(), secret.clone()].concat(),
    );
    let (params, _) = r.split_sessions(0);
    assert_eq!(&params[2..], b"credential secret");
    // For another key: the integrity check fails.
    let (other, _) = primary(&mut h, RH_OWNER, &rsa_template(SIGNER, None));
    let r = h.send(
        ACTIVATE_CREDENTIAL,
        &[other, ek],
        &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
        &[blob.clone(), secret.clone()].concat(),
    );
    assert_eq!(r.rc(), 0x09F + RC_P + RC_P1, "TPM_RC_INTEGRITY at the blob");
    // A tampered secret: the seed does not decrypt (an OAEP failure at the secret).
    let mut bad = secret.clone();
    bad[100] ^= 1;
    let r = h.send(
        ACTIVATE_CREDENTIAL,
        &[ak, ek],
        &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
        &[blob, bad].concat(),
    );
    assert_eq!(r.rc(), TPM_RC_VALUE + RC_P + RC_P2);
}

#[test]
fn test_parms_answers_for_rsa_parameters() {
    let mut h = Harness::new();
    let parms = |bits: u16, scheme: &[u8]| {
        let mut p = RSA.to_be_bytes().to_vec();
        p.extend(NULL.to_be_bytes());
        p.extend(scheme);
        p.extend(bits.to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p
    };
    assert_eq!(
        h.send(TEST_PARMS, &[], &[], &parms(2048, &[0, 0x10])).rc(),
        0
    );
    assert_eq!(
        h.send(TEST_PARMS, &[], &[], &parms(1000, &[0, 0x10])).rc(),
        TPM_RC_VALUE + RC_P + RC_P1
    );
    assert_eq!(
        h.send(TEST_PARMS, &[], &[], &parms(2048, &[0, 0x18, 0, 0x0B]))
            .rc(),
        TPM_RC_VALUE + RC_P + RC_P1,
        "ECDSA is not an RSA scheme"
    );
}
