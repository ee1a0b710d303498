//! The SEV-SNP guest-message path of `platform-snp` on hostile responses: the requester's
//! header checks and AES-GCM open, the MSG_REPORT_RSP / ATTESTATION_REPORT parsers, the report
//! verifier and the certificate-table walker.
//!
//! Byte 0 picks what the "hypervisor" does with the request:
//! - 0: answers with the rest of the input as the raw response page (forgeries, bad headers);
//! - 1: answers with a correctly sealed MSG_REPORT_RSP whose payload is the rest of the input
//!   (reaches the STATUS / REPORT_SIZE / report checks behind the tag);
//! - 2: fails with SW_EXITINFO2 / RBX taken from the input (then the requester must be wiped
//!   unless the error is INVALID_LEN on an extended request or a finite BUSY).
//!
//! Invariants: no panic; an error that `wipes_key` leaves the requester disabled and it sends
//! nothing more; a disabled requester never calls the transport.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_snp::msg::{self, MsgHeader, MsgType, Vmpck};
use platform_snp::report::{self, AttestationReport, REPORT_SIZE};
use platform_snp::transport::{GuestRequestTransport, TransportError};
use platform_snp::{PAGE_SIZE, Requester, VcekPublicKey};

const KEY: [u8; 32] = [0x42; 32];
/// The genuine VCEK's public point (tests/data/snp/vcek.der, SPKI BIT STRING at 392).
const VCEK_DER: &[u8] = include_bytes!("../../platform-snp/tests/data/snp/vcek.der");

struct Hostile<'a> {
    mode: u8,
    data: &'a [u8],
    sends: u32,
}

impl GuestRequestTransport for Hostile<'_> {
    fn guest_request(
        &mut self,
        request: &[u8; PAGE_SIZE],
        response: &mut [u8; PAGE_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), TransportError> {
        self.sends += 1;
        let seqno = MsgHeader::parse(request).msg_seqno;
        match self.mode % 3 {
            0 => {
                let n = self.data.len().min(PAGE_SIZE);
                response[..n].copy_from_slice(&self.data[..n]);
                Ok(())
            }
            1 => {
                let n = self.data.len().min(msg::MAX_PAYLOAD);
                msg::seal(
                    &Vmpck::new(KEY),
                    MsgType::REPORT_RSP,
                    seqno + 1,
                    0,
                    &self.data[..n],
                    response,
                )
                .ok();
                if let Some(c) = certs {
                    let m = self.data.len().min(c.len());
                    c[..m].copy_from_slice(&self.data[..m]);
                }
                Ok(())
            }
            _ => {
                let mut w = [0u8; 16];
                let n = self.data.len().min(16);
                w[..n].copy_from_slice(&self.data[..n]);
                let info2 = u64::from_le_bytes(w[..8].try_into().unwrap());
                let rbx = u64::from_le_bytes(w[8..].try_into().unwrap());
                TransportError::from_exit(0, info2, rbx)
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The parsers on their own.
    let mut page = [0u8; PAGE_SIZE];
    let n = rest.len().min(PAGE_SIZE);
    page[..n].copy_from_slice(&rest[..n]);
    let _ = MsgHeader::parse(&page);
    let _ = AttestationReport::parse(rest);
    let key = VcekPublicKey::from_sec1(&VCEK_DER[392..489]).unwrap();
    let _ = report::verify(rest, &key);
    let _ = report::cert_entries(rest).count();
    let _ = report::find_cert(rest, &report::GUID_VCEK);
    let _ = report::cert_table_length(rest);

    // The requester against a hostile hypervisor.
    let transport = Hostile {
        mode,
        data: rest,
        sends: 0,
    };
    let mut req = Requester::new(transport, Vmpck::new(KEY), 0, 0).unwrap();
    req.set_busy_retries(2);
    let mut out = [0u8; REPORT_SIZE];
    let mut certs = [0u8; 8192];
    let extended = mode & 0x80 != 0;
    let r = report::request_report(
        &mut req,
        &[7; 64],
        0,
        &mut out,
        if extended { Some(&mut certs[..]) } else { None },
    );
    if let Err(report::ReportError::Request(e)) = r {
        assert_eq!(e.wipes_key(), req.is_disabled(), "{e:?}");
    }
    if req.is_disabled() {
        let sends = req.transport().sends;
        let again = report::request_report(&mut req, &[7; 64], 0, &mut out, None);
        assert_eq!(
            again,
            Err(report::ReportError::Request(
                platform_snp::RequestError::KeyDisabled
            ))
        );
        assert_eq!(
            req.transport().sends,
            sends,
            "a wiped requester sent a page"
        );
    }
});
