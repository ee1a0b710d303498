//! The TD quote path of `platform-tdx` and `host-sim verify-tdx-quote` on arbitrary bytes: the
//! TDREPORT_STRUCT and TD Quote v4 / v5 parsers (header, TD 1.0 / 1.5 body, signature data,
//! type-6 QE report certification data, QE report, QE authentication data, type-5 PCK chain),
//! the relying party's verifier (quote signature, QE report data, PEM chain parse, QE report
//! signature, chain signatures, pinned root) and the EK evidence splitter.
//!
//! Input: the quote (or report) bytes, as a quote service or a peer would hand them over.
//!
//! Invariants: no panic; whatever parses re-serializes to the bytes it came from (header, body,
//! QE report, TDREPORT), its sub-slices are where the lengths say, and it parses again, alike,
//! from exactly `len` bytes; a quote that does not parse fails the verifier at `parse`; a quote
//! the verifier accepts is the one the parser saw.
#![no_main]

use host_sim::tdx::SimQuotingService;
use host_sim::tdx_verify::{Check, INTEL_SGX_ROOT_CA_KEY, describe, verify_quote};
use libfuzzer_sys::fuzz_target;
use platform_tdx::report::{
    BodyKind, QUOTE_HEADER_SIZE, Quote, TD10_BODY_SIZE, TD15_BODY_SIZE, TDREPORT_SIZE, TdReport,
};
use platform_tdx::service::parse_ek_evidence;
use std::sync::OnceLock;

/// The root key of the simulated quoting service with seed 7 (the seeds carry its quotes too).
fn sim_root() -> &'static [u8; 65] {
    static ROOT: OnceLock<[u8; 65]> = OnceLock::new();
    ROOT.get_or_init(|| SimQuotingService::new(7).root_point())
}

/// Where `inner` starts in `outer`, if it is a sub-slice of it.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    (i >= o && i + inner.len() <= o + outer.len()).then(|| i - o)
}

fn check_quote(data: &[u8], q: &Quote<'_>) {
    assert!(q.len <= data.len(), "len past the input");
    assert_eq!(
        &q.header.to_bytes()[..],
        &data[..QUOTE_HEADER_SIZE],
        "header"
    );
    assert_eq!(offset_in(data, q.signed), Some(0), "signed range");
    let body = q.body.to_bytes();
    match (q.header.version, q.body_kind) {
        (4, BodyKind::Td10) => {
            assert_eq!(q.signed.len(), QUOTE_HEADER_SIZE + TD10_BODY_SIZE);
            assert_eq!(&body[..TD10_BODY_SIZE], &q.signed[QUOTE_HEADER_SIZE..]);
        }
        (5, kind) => {
            let n = if kind == BodyKind::Td15 {
                TD15_BODY_SIZE
            } else {
                TD10_BODY_SIZE
            };
            assert_eq!(q.signed.len(), QUOTE_HEADER_SIZE + 6 + n);
            let size = u32::from_le_bytes(q.signed[50..54].try_into().unwrap());
            assert_eq!(size as usize, n, "v5 body size");
            assert_eq!(&body[..n], &q.signed[QUOTE_HEADER_SIZE + 6..]);
        }
        other => panic!("parsed an unsupported version / body: {other:?}"),
    }
    if q.body_kind == BodyKind::Td10 {
        // Fields a TD 1.0 body does not have read as zero.
        assert_eq!(body[TD10_BODY_SIZE..], [0; TD15_BODY_SIZE - TD10_BODY_SIZE]);
    }
    // The signature data follows the signed range; its length field bounds `len`.
    let s = q.signed.len();
    let sig_len = u32::from_le_bytes(data[s..s + 4].try_into().unwrap()) as usize;
    assert_eq!(q.len, s + 4 + sig_len, "len");
    assert_eq!(&data[s + 4..s + 68], &q.signature[..]);
    assert_eq!(&data[s + 68..s + 132], &q.attestation_key[..]);
    assert_eq!(&q.qe_report.to_bytes()[..], q.qe_report_bytes, "QE report");
    let sig_end = q.len;
    for part in [q.qe_report_bytes, q.qe_auth_data, q.cert_data] {
        let off = offset_in(data, part).expect("a sub-slice of the input");
        assert!(
            off + part.len() <= sig_end,
            "a part past the signature data"
        );
    }
    let qe = offset_in(data, q.qe_report_bytes).unwrap();
    assert_eq!(&data[qe + 384..qe + 448], &q.qe_report_signature[..]);
    let auth = offset_in(data, q.qe_auth_data).unwrap();
    assert_eq!(auth, qe + 384 + 64 + 2, "QE auth data offset");
    // The same quote from exactly its own bytes.
    let again = Quote::parse(&data[..q.len]).expect("a quote parses from its own bytes");
    assert_eq!(again.header, q.header);
    assert_eq!(again.body, q.body);
    assert_eq!(again.body_kind, q.body_kind);
    assert_eq!(again.signed, q.signed);
    assert_eq!(again.qe_report, q.qe_report);
    assert_eq!(again.qe_auth_data, q.qe_auth_data);
    assert_eq!(
        (again.cert_type, again.cert_data),
        (q.cert_type, q.cert_data)
    );
    assert_eq!(again.len, q.len);
    // Short of its length, it does not parse.
    if q.len > 0 {
        assert!(
            Quote::parse(&data[..q.len - 1]).is_err(),
            "parsed a truncated quote"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // TDREPORT_STRUCT: the first 1024 bytes, byte for byte.
    if let Ok(r) = TdReport::parse(data) {
        assert_eq!(
            &r.to_bytes()[..],
            &data[..TDREPORT_SIZE],
            "TDREPORT round trip"
        );
        let _ = r.hashes_match();
        let _ = r.measurement_digest();
    }
    let _ = parse_ek_evidence(data);

    match Quote::parse(data) {
        Ok(q) => {
            check_quote(data, &q);
            let _ = describe(&q);
            for root in [&INTEL_SGX_ROOT_CA_KEY, sim_root()] {
                if let Ok(v) = verify_quote(data, root, None) {
                    assert_eq!(v.quote.signed, q.signed);
                    assert_eq!(v.quote.body, q.body);
                    assert!(v.chain.len() >= 2);
                }
            }
        }
        Err(_) => {
            let e = verify_quote(data, &INTEL_SGX_ROOT_CA_KEY, None).unwrap_err();
            assert_eq!(e.check, Check::Parse, "{e}");
        }
    }
});
