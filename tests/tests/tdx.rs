//! The TDX backend end to end: a user TD reaches the vTPM TD through the simulated VMM over the
//! attested channel; TPM commands, PCR 0 = the user TD, the EK bound to the vTPM TD's quote, the
//! TDX 1.5 SERVTD binding; and every fault the VMM can inject is caught.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use host_sim::tdx::{
    Direction, Fault, FaultPlan, QuoteFault, SimQuotingService, SimTdDoor, SimTdxHost,
    SimTdxModule, TdHandle, TdIdentity, UserTdDoor,
};
use host_sim::tdx_verify::verify_quote;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use platform_tdx::report::{TdReport, servtd_hash, servtd_info_hash};
use platform_tdx::service::{ek_report_data, parse_ek_evidence, status};
use platform_tdx::transport::{ServiceError, ServiceStatus};
use platform_tdx::{
    ChannelError, Client, ClientError, Handshake, HandshakeError, Policy, PolicyViolation, Role,
};
use vtpm_tests::*;

const ID: [u8; 16] = *b"user-td-0000001\0";

fn vtpm_id() -> TdIdentity {
    TdIdentity::named("vtpm-td")
}

fn user_id() -> TdIdentity {
    TdIdentity::named("user-td (TDVF)")
}

/// What the vTPM TD admits: production user TDs whose RTMR3 is still zero (the firmware opens
/// the channel).
fn server_policy() -> Policy {
    Policy {
        rtmr: [None, None, None, Some([0; 48])],
        ..Policy::default()
    }
}

/// What the user TD admits: the vTPM TD's MRTD.
fn client_policy() -> Policy {
    Policy {
        mrtd: Some(vtpm_id().mrtd),
        ..Policy::default()
    }
}

fn entropy(seed: u8) -> impl FnOnce(&mut [u8]) -> Result<(), vtpm::PlatformError> {
    move |b: &mut [u8]| {
        for (i, x) in b.iter_mut().enumerate() {
            *x = seed
                .wrapping_mul(31)
                .wrapping_add(i as u8)
                .wrapping_mul(0x9d);
        }
        Ok(())
    }
}

struct Setup {
    host: SimTdxHost,
    user: TdHandle,
    client: Client<UserTdDoor>,
}

fn setup_unconnected(bind: bool) -> Setup {
    let host = SimTdxHost::new(7, &vtpm_id(), server_policy());
    let (user, door) = host.launch_user(&user_id(), ID, bind);
    assert_eq!(host.vmm.borrow_mut().create(&ID), Some(status::OK));
    Setup {
        host,
        user,
        client: Client::new(door),
    }
}

fn setup(bind: bool) -> Setup {
    let mut s = setup_unconnected(bind);
    let peer = s.client.connect(&client_policy(), entropy(1)).unwrap();
    assert_eq!(peer.td_info.mrtd, vtpm_id().mrtd);
    s
}

fn inject(s: &Setup, direction: Direction, index: usize, fault: Fault) {
    s.host.vmm.borrow().relay().borrow_mut().inject(FaultPlan {
        direction,
        index,
        fault,
    });
}

fn exec(client: &mut Client<UserTdDoor>, cmd: &[u8]) -> Result<Rsp, ClientError> {
    let mut out = vec![0u8; 4096];
    let n = client.execute(cmd, &mut out)?;
    out.truncate(n);
    Ok(Rsp { bytes: out })
}

fn ok(client: &mut Client<UserTdDoor>, cmd: &[u8]) -> Rsp {
    let r = exec(client, cmd).unwrap();
    assert_eq!(r.rc(), 0, "rc {:#x}", r.rc());
    r
}

fn pcr_read_sha384(client: &mut Client<UserTdDoor>, pcr: u8) -> Vec<u8> {
    let mut sel = [0u8; 3];
    sel[usize::from(pcr / 8)] = 1 << (pcr % 8);
    let mut p = 1u32.to_be_bytes().to_vec();
    p.extend(SHA384.to_be_bytes());
    p.push(3);
    p.extend(sel);
    let r = ok(client, &command(0x17E, &[], &[], &p));
    // updateCounter 4, selection 4 + 6, count 4, TPM2B.
    r.body()[4 + 10 + 4 + 2..][..48].to_vec()
}

fn user_report(s: &Setup) -> TdReport {
    TdReport::parse(&s.host.module.borrow().report(s.user, &[0; 64])).unwrap()
}

#[test]
fn end_to_end_commands_pcr0_quote_and_ek_binding() {
    let mut s = setup(true);
    // The vTPM TD started the TPM for the EK; the user TD's Startup answers INITIALIZE.
    let r = exec(&mut s.client, &command(0x144, &[], &[], &[0, 0])).unwrap();
    assert_eq!(r.rc(), 0x100);

    // PCR 0 holds the user TD: SHA-384(0 ‖ SHA-384(its TDREPORT without REPORTDATA and MAC)).
    let m = user_report(&s).measurement_digest();
    let expected = digest(SHA384, &[&[0u8; 48], &m]);
    assert_eq!(pcr_read_sha384(&mut s.client, 0), expected);

    // PCR_Extend, CreatePrimary (a P-384 restricted signing key), Quote; the quote verifies.
    let ext = digest(SHA384, &[b"kernel"]);
    ok(
        &mut s.client,
        &command(
            0x182,
            &[16],
            &[AuthCmd::pw(b"")],
            &digest_values(&[(SHA384, &ext)]),
        ),
    );
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA384.to_be_bytes());
    t.extend(0x0005_0072u32.to_be_bytes());
    t.extend([0, 0, 0, 0x10, 0, 0x18, 0, 0x0C, 0, 4, 0, 0x10, 0, 0, 0, 0]);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = ok(
        &mut s.client,
        &command(0x131, &[0x4000_000B], &[AuthCmd::pw(b"")], &p),
    );
    let ak = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let public = &params[2..2 + n];
    let (x, y) = (&public[n - 98..n - 50], &public[n - 48..]);
    let mut q = Vec::new();
    tpm2b(&mut q, b"verifier nonce");
    q.extend([0, 0x10]);
    q.extend(1u32.to_be_bytes());
    q.extend([0, 0x0C, 3, 1, 0, 1]);
    let r = ok(
        &mut s.client,
        &command(0x158, &[ak], &[AuthCmd::pw(b"")], &q),
    );
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let attest = &params[2..2 + n];
    assert_eq!(&attest[..4], &[0xFF, 0x54, 0x43, 0x47]);
    let pcr_digest = digest(SHA384, &[&expected, &pcr_read_sha384(&mut s.client, 16)]);
    assert_eq!(&attest[n - 48..], pcr_digest.as_slice());
    let sig = &params[2 + n..];
    assert_eq!(&sig[..4], &[0, 0x18, 0, 0x0C]);
    let (r_, s_) = (&sig[6..54], &sig[56..104]);
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], x, y].concat()).unwrap();
    let sig = p384::ecdsa::Signature::from_slice(&[r_, s_].concat()).unwrap();
    vk.verify_prehash(&digest(SHA384, &[attest]), &sig).unwrap();

    // EK evidence: a TD quote of the vTPM TD whose REPORTDATA binds nonce and EK.
    let nonce = [0x5a; 32];
    let mut out = vec![0u8; 9000];
    let len = s.client.ek_evidence(&nonce, &mut out).unwrap();
    let (ek, quote) = parse_ek_evidence(&out[..len]).unwrap();
    assert_eq!(ek, s.host.vmm.borrow().server().ek(&ID).unwrap().public());
    let root = s.host.quoting.borrow().root_point();
    let v = verify_quote(quote, &root, None).unwrap();
    assert_eq!(v.quote.body.report_data, ek_report_data(&nonce, ek));
    assert_eq!(v.quote.body.mrtd, vtpm_id().mrtd);
    // Intel's pinned root refuses the simulated chain.
    let e = verify_quote(quote, &host_sim::tdx_verify::INTEL_SGX_ROOT_CA_KEY, None).unwrap_err();
    assert_eq!(e.check, host_sim::tdx_verify::Check::RootPinned);

    // TDX 1.5 binding: the user TD's v5 quote carries SERVTD_HASH of this vTPM TD.
    s.host.quoting.borrow_mut().version = 5;
    let uq = s.host.quoting.borrow().quote(&user_report(&s));
    let v = verify_quote(&uq, &root, None).unwrap();
    let vtpm_info = s.host.module.borrow().td_info(s.host.vtpm_td);
    assert_eq!(
        v.quote.body.mrservicetd,
        servtd_hash(&[servtd_info_hash(&vtpm_info)])
    );
    assert_ne!(v.quote.body.mrservicetd, [0; 48]);
}

#[test]
fn the_vmm_sees_no_plaintext() {
    let mut s = setup(false);
    let cmd = command(0x17B, &[], &[], &[0, 32]); // GetRandom(32)
    ok(&mut s.client, &cmd);
    let relay = s.host.vmm.borrow().relay();
    let seen = &relay.borrow().seen;
    // Hello, hello, then sealed records: the command bytes never appear.
    assert_eq!(seen.len(), 4);
    assert!(!seen[2].1.windows(cmd.len()).any(|w| w == cmd.as_slice()));
}

/// After a fault: the client is disconnected (keys wiped); a reconnect makes new keys, and
/// the same command then seals to different bytes (no key / nonce reuse).
fn recovers(mut s: Setup) {
    assert!(!s.client.is_connected());
    let cmd = command(0x17B, &[], &[], &[0, 8]);
    assert_eq!(
        exec(&mut s.client, &cmd).unwrap_err(),
        ClientError::NotConnected
    );
    s.client.connect(&client_policy(), entropy(2)).unwrap();
    ok(&mut s.client, &cmd);
    let relay = s.host.vmm.borrow().relay();
    let seen = &relay.borrow().seen;
    let records: Vec<&Vec<u8>> = seen
        .iter()
        .filter(|(d, m)| *d == Direction::ToServer && m.len() == 16 + cmd.len() + 16)
        .map(|(_, m)| m)
        .collect();
    for (i, a) in records.iter().enumerate() {
        for b in &records[i + 1..] {
            assert_ne!(
                a, b,
                "a record was sealed twice with the same key and nonce"
            );
        }
    }
}

fn faulted(direction: Direction, fault: Fault) -> (Setup, ClientError) {
    let mut s = setup(false);
    let cmd = command(0x17B, &[], &[], &[0, 8]);
    ok(&mut s.client, &cmd); // record 0 each way
    inject(&s, direction, 2, fault); // record 1 each way (index 0 is the hello)
    let e = exec(&mut s.client, &cmd).unwrap_err();
    (s, e)
}

#[test]
fn dropped_messages_time_out_and_end_the_channel() {
    for d in [Direction::ToServer, Direction::ToClient] {
        let (s, e) = faulted(d, Fault::Drop);
        assert_eq!(
            e,
            ClientError::Service(ServiceError::Status(ServiceStatus::Timeout))
        );
        recovers(s);
    }
}

#[test]
fn altered_messages_are_refused() {
    let (s, e) = faulted(Direction::ToServer, Fault::Alter(20));
    assert_eq!(e, ClientError::Refused(status::SECURE_SESSION));
    assert!(!s.host.vmm.borrow().server().is_connected(&ID));
    recovers(s);
    let (s, e) = faulted(Direction::ToClient, Fault::Alter(20));
    assert_eq!(e, ClientError::Channel(ChannelError::Authentication));
    recovers(s);
    // A flipped header bit (the sequence number) is refused too.
    let (s, e) = faulted(Direction::ToClient, Fault::Alter(4));
    assert!(matches!(
        e,
        ClientError::Channel(ChannelError::Sequence { .. })
    ));
    recovers(s);
}

#[test]
fn replayed_and_reordered_messages_are_refused() {
    let (s, e) = faulted(Direction::ToServer, Fault::Replay);
    assert_eq!(e, ClientError::Refused(status::SECURE_SESSION));
    recovers(s);
    let (s, e) = faulted(Direction::ToClient, Fault::Replay);
    assert_eq!(
        e,
        ClientError::Channel(ChannelError::Sequence {
            expected: 1,
            received: 0
        })
    );
    recovers(s);
}

#[test]
fn truncated_messages_are_refused() {
    let (s, e) = faulted(Direction::ToServer, Fault::Truncate(1));
    assert_eq!(e, ClientError::Refused(status::SECURE_SESSION));
    recovers(s);
    let (s, e) = faulted(Direction::ToClient, Fault::Truncate(5));
    assert_eq!(e, ClientError::Channel(ChannelError::Malformed));
    recovers(s);
}

#[test]
fn a_key_the_report_does_not_bind_is_refused() {
    // The VMM swaps the vTPM TD's key: the user TD refuses.
    let mut s = setup_unconnected(false);
    inject(&s, Direction::ToClient, 0, Fault::SwapHelloKey);
    let e = s.client.connect(&client_policy(), entropy(1)).unwrap_err();
    assert_eq!(
        e,
        ClientError::Handshake(HandshakeError::ReportDataMismatch)
    );
    // The VMM swaps the user TD's key: the vTPM TD refuses.
    let mut s = setup_unconnected(false);
    inject(&s, Direction::ToServer, 0, Fault::SwapHelloKey);
    let e = s.client.connect(&client_policy(), entropy(1)).unwrap_err();
    assert_eq!(e, ClientError::Refused(status::MUTUAL_ATTESTATION));
    assert!(!s.host.vmm.borrow().server().is_connected(&ID));
    // A reflected hello (the user TD's own) is refused by the user TD.
    let mut s = setup_unconnected(false);
    inject(&s, Direction::ToServer, 0, Fault::Drop);
    let e = s.client.connect(&client_policy(), entropy(1)).unwrap_err();
    assert_eq!(
        e,
        ClientError::Service(ServiceError::Status(ServiceStatus::Timeout))
    );
}

#[test]
fn wrong_measurements_are_refused() {
    // The user TD expects another vTPM TD.
    let mut s = setup_unconnected(false);
    let p = Policy {
        mrtd: Some([0xAA; 48]),
        ..Policy::default()
    };
    let e = s.client.connect(&p, entropy(1)).unwrap_err();
    assert_eq!(
        e,
        ClientError::Handshake(HandshakeError::Policy(PolicyViolation::Mrtd))
    );
    // The user TD's OS (RTMR3 extended) tries to open the channel: the vTPM TD refuses.
    let mut s = setup_unconnected(false);
    s.host.module.borrow_mut().extend(s.user, 3, &[1; 48]);
    let e = s.client.connect(&client_policy(), entropy(1)).unwrap_err();
    assert_eq!(e, ClientError::Refused(status::MUTUAL_ATTESTATION));
    // A debug user TD is refused.
    let host = SimTdxHost::new(7, &vtpm_id(), server_policy());
    let mut dbg = user_id();
    dbg.attributes = 1;
    let (_, door) = host.launch_user(&dbg, ID, false);
    host.vmm.borrow_mut().create(&ID);
    let e = Client::new(door)
        .connect(&client_policy(), entropy(1))
        .unwrap_err();
    assert_eq!(e, ClientError::Refused(status::MUTUAL_ATTESTATION));
}

#[test]
fn a_report_from_another_platform_is_refused() {
    let host = SimTdxHost::new(7, &vtpm_id(), server_policy());
    let other = SimTdxModule::shared(8);
    let td = other.borrow_mut().launch(&user_id());
    let door = UserTdDoor::new(other, host.quoting.clone(), host.vmm.clone(), td, ID);
    host.vmm.borrow_mut().create(&ID);
    let e = Client::new(door)
        .connect(&client_policy(), entropy(1))
        .unwrap_err();
    assert_eq!(e, ClientError::Refused(status::MUTUAL_ATTESTATION));
}

#[test]
fn quote_service_failures_are_reported() {
    let mut out = vec![0u8; 9000];
    for (fault, expect_ok) in [
        (QuoteFault::Fail, false),
        (QuoteFault::Unavailable, false),
        (QuoteFault::Busy, false),
        (QuoteFault::Slow(3), true),
    ] {
        let mut s = setup(false);
        s.host.quoting.borrow_mut().fault = fault;
        let r = s.client.ek_evidence(&[1; 32], &mut out);
        if expect_ok {
            assert!(r.is_ok(), "{fault:?}");
        } else {
            assert_eq!(
                r.unwrap_err(),
                ClientError::Remote(status::INTERNAL),
                "{fault:?}"
            );
        }
    }
}

#[test]
fn instances_are_separate_and_destroy_wipes() {
    let mut s = setup(false);
    ok(&mut s.client, &command(0x17B, &[], &[], &[0, 8]));
    assert_eq!(
        s.host.vmm.borrow_mut().create(&ID),
        Some(status::ALREADY_STARTED)
    );
    let ek1 = s
        .host
        .vmm
        .borrow()
        .server()
        .ek(&ID)
        .unwrap()
        .public()
        .to_vec();
    // A second user TD gets its own instance and its own EK.
    let id2 = *b"user-td-0000002\0";
    let (_, door2) = s.host.launch_user(&user_id(), id2, false);
    assert_eq!(s.host.vmm.borrow_mut().create(&id2), Some(status::OK));
    let mut c2 = Client::new(door2);
    c2.connect(&client_policy(), entropy(3)).unwrap();
    let ek2 = s
        .host
        .vmm
        .borrow()
        .server()
        .ek(&id2)
        .unwrap()
        .public()
        .to_vec();
    assert_ne!(ek1, ek2);
    assert_eq!(s.host.vmm.borrow().server().instances(), 2);
    assert_eq!(s.host.vmm.borrow_mut().destroy(&ID), Some(status::OK));
    assert_eq!(s.host.vmm.borrow().server().instances(), 1);
    assert_eq!(
        exec(&mut s.client, &command(0x17B, &[], &[], &[0, 8])).unwrap_err(),
        ClientError::Refused(status::NOT_STARTED)
    );
    assert_eq!(
        s.host.vmm.borrow_mut().destroy(&ID),
        Some(status::NOT_STARTED)
    );
}

/// The vTPM TD's policy asks for the TDX 1.5 binding: the user TD's SERVTD_HASH must name it.
fn bound_policy() -> Policy {
    Policy {
        bound_to_self: true,
        ..server_policy()
    }
}

#[test]
fn servtd_binding_is_checked_when_the_policy_asks() {
    // The handshake names the failed check: an unbound user TD, and one bound to another service
    // TD of the same platform, fail on SERVTD_HASH; the bound one passes.
    let module = SimTdxModule::shared(7);
    let quoting = SimQuotingService::shared(7);
    let relay = std::rc::Rc::default();
    let vt = module.borrow_mut().launch(&vtpm_id());
    let other = module
        .borrow_mut()
        .launch(&TdIdentity::named("another service TD"));
    let door = |td| {
        SimTdDoor::new(
            module.clone(),
            quoting.clone(),
            std::rc::Rc::clone(&relay),
            td,
        )
    };
    let bound = module.borrow_mut().launch(&user_id());
    module.borrow_mut().bind_servtd(bound, vt);
    let unbound = module.borrow_mut().launch(&user_id());
    let elsewhere = module.borrow_mut().launch(&user_id());
    module.borrow_mut().bind_servtd(elsewhere, other);
    for (user, expect) in [
        (bound, Ok(())),
        (unbound, Err(PolicyViolation::ServtdHash)),
        (elsewhere, Err(PolicyViolation::ServtdHash)),
    ] {
        let mut cd = door(user);
        let mut sd = door(vt);
        let c = Handshake::start(Role::Client, &mut cd, entropy(1)).unwrap();
        let s = Handshake::start(Role::Server, &mut sd, entropy(2)).unwrap();
        let r = s.finish(c.hello(), &bound_policy(), &mut sd);
        match expect {
            Ok(()) => assert!(r.unwrap().0.is_open()),
            Err(v) => assert_eq!(r.unwrap_err(), HandshakeError::Policy(v)),
        }
        // Without the requirement all three are admitted.
        let c = Handshake::start(Role::Client, &mut cd, entropy(1)).unwrap();
        let s = Handshake::start(Role::Server, &mut sd, entropy(2)).unwrap();
        assert!(s.finish(c.hello(), &server_policy(), &mut sd).is_ok());
    }

    // End to end: the vTPM TD serves the bound user TD and refuses the others.
    let host = SimTdxHost::new(7, &vtpm_id(), bound_policy());
    let (_, door) = host.launch_user(&user_id(), ID, true);
    assert_eq!(host.vmm.borrow_mut().create(&ID), Some(status::OK));
    let mut c = Client::new(door);
    c.connect(&client_policy(), entropy(1)).unwrap();
    ok(&mut c, &command(0x17B, &[], &[], &8u16.to_be_bytes()));
    let id2: [u8; 16] = *b"user-td-0000002\0";
    let (_, door) = host.launch_user(&user_id(), id2, false);
    assert_eq!(host.vmm.borrow_mut().create(&id2), Some(status::OK));
    let e = Client::new(door)
        .connect(&client_policy(), entropy(1))
        .unwrap_err();
    assert_eq!(e, ClientError::Refused(status::MUTUAL_ATTESTATION));
    assert!(!host.vmm.borrow().server().is_connected(&id2));
    assert!(host.vmm.borrow().server().is_connected(&ID));
}
