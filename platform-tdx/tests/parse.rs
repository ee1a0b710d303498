//! The genuine TD quotes (tests/data/tdx, from go-tdx-guest) parse: v4 with a TD 1.0 body and
//! v5 with a TD 1.5 body, certification data type 6 around a type-5 PEM chain; truncations and
//! wrong header fields are refused without panicking.
#![allow(missing_docs, clippy::indexing_slicing, clippy::unwrap_used)]

use platform_tdx::report::{
    BodyKind, CERT_TYPE_PCK_CHAIN, INTEL_QE_VENDOR_ID, ParseError, QE_REPORT_SIZE, Quote,
};

const V4: &[u8] = include_bytes!("data/tdx/quote_v4_spr_e4.dat");
const V5: &[u8] = include_bytes!("data/tdx/quote_v5_td15.dat");
const COS: &[u8] = include_bytes!("data/tdx/quote_v4_cos113.dat");

#[test]
fn v4_parses() {
    let q = Quote::parse(V4).unwrap();
    assert_eq!(q.header.version, 4);
    assert_eq!(q.header.qe_vendor_id, INTEL_QE_VENDOR_ID);
    assert_eq!(q.body_kind, BodyKind::Td10);
    assert_eq!(q.signed.len(), 632);
    assert_eq!(q.len, 4935);
    assert_eq!(q.qe_report_bytes.len(), QE_REPORT_SIZE);
    assert_eq!(q.qe_auth_data.len(), 32);
    assert_eq!(q.cert_type, CERT_TYPE_PCK_CHAIN);
    assert!(q.cert_data.starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert_eq!(&q.body.rtmr[0][..4], &[0x29, 0x27, 0xda, 0x70]);
    assert_eq!(q.body.mrservicetd, [0; 48]);
    // The body's REPORTDATA is at quote offset 568.
    assert_eq!(&q.body.report_data[..], &V4[568..632]);
    assert_eq!(&q.body.mrtd[..], &V4[184..232]);
}

#[test]
fn v5_td15_parses() {
    let q = Quote::parse(V5).unwrap();
    assert_eq!(q.header.version, 5);
    assert_eq!(q.body_kind, BodyKind::Td15);
    assert_eq!(q.signed.len(), 48 + 6 + 648);
    assert_eq!(q.len, V5.len());
    assert_eq!(&q.body.rtmr[0][..4], &[0x5c, 0x8d, 0xaf, 0x76]);
    assert_eq!(&q.body.mrservicetd[..], &V5[54 + 600..54 + 648]);
    assert_eq!(&q.body.tee_tcb_svn2[..], &V5[54 + 584..54 + 600]);
}

#[test]
fn padded_buffer_parses_to_the_quote_length() {
    let q = Quote::parse(COS).unwrap();
    assert_eq!(q.len, 4935);
    assert!(COS[q.len..].iter().all(|&b| b == 0));
}

#[test]
fn every_truncation_is_refused() {
    for quote in [V4, V5] {
        let len = Quote::parse(quote).unwrap().len;
        for n in 0..len {
            assert!(Quote::parse(&quote[..n]).is_err(), "length {n}");
        }
    }
}

#[test]
fn wrong_header_fields_are_refused() {
    let mut q = V4.to_vec();
    q[0] = 3;
    assert_eq!(
        Quote::parse(&q).unwrap_err(),
        ParseError::UnsupportedVersion(3)
    );
    let mut q = V4.to_vec();
    q[2] = 3;
    assert_eq!(
        Quote::parse(&q).unwrap_err(),
        ParseError::UnsupportedKeyType(3)
    );
    let mut q = V4.to_vec();
    q[4] = 0;
    assert_eq!(Quote::parse(&q).unwrap_err(), ParseError::NotTdxQuote(0));
    let mut q = V5.to_vec();
    q[48] = 9;
    assert_eq!(
        Quote::parse(&q).unwrap_err(),
        ParseError::UnsupportedBody(9)
    );
    let mut q = V4.to_vec();
    // Outer certification data type (after signature length, signature and key).
    q[632 + 4 + 128] = 5;
    assert_eq!(
        Quote::parse(&q).unwrap_err(),
        ParseError::UnexpectedCertType(5)
    );
}
