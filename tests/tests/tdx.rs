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
    Direction, Fault, FaultPlan, QuoteFault, SeamError, SimQuotingService, SimTdDoor, SimTdxHost,
    SimTdxModule, TdHandle, TdIdentity, UserTdDoor, VTPM_BINDING,
};
use host_sim::tdx_verify::verify_quote;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use platform_tdx::report::TdReport;
use platform_tdx::service::{ek_report_data, parse_ek_evidence, status};
use platform_tdx::servtd::{
    SERVTD_TYPE_MIGTD, SelfBinding, ServtdAttr, ServtdBinding, servtd_hash, servtd_info_hash,
};
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
        servtd_hash(&mut [ServtdBinding {
            info_hash: servtd_info_hash(&vtpm_info, VTPM_BINDING.attr),
            servtd_type: VTPM_BINDING.servtd_type,
            attr: VTPM_BINDING.attr,
        }])
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
        bound_to_self: Some(VTPM_BINDING),
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
    let bound = module
        .borrow_mut()
        .launch_bound(&user_id(), vt, VTPM_BINDING)
        .unwrap();
    let unbound = module.borrow_mut().launch(&user_id());
    let elsewhere = module
        .borrow_mut()
        .launch_bound(&user_id(), other, VTPM_BINDING)
        .unwrap();
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

/// A handshake of `user` (client) with `servtd` (server) on `module`, the server asking for
/// `bound_to_self`.
fn servtd_admits(
    module: &host_sim::tdx::SharedModule,
    user: TdHandle,
    servtd: TdHandle,
    bound_to_self: SelfBinding,
) -> Result<(), HandshakeError> {
    let quoting = SimQuotingService::shared(7);
    let relay = std::rc::Rc::default();
    let mut cd = SimTdDoor::new(
        module.clone(),
        quoting.clone(),
        std::rc::Rc::clone(&relay),
        user,
    );
    let mut sd = SimTdDoor::new(module.clone(), quoting, relay, servtd);
    let c = Handshake::start(Role::Client, &mut cd, entropy(1)).unwrap();
    let s = Handshake::start(Role::Server, &mut sd, entropy(2)).unwrap();
    let policy = Policy {
        bound_to_self: Some(bound_to_self),
        ..server_policy()
    };
    s.finish(c.hello(), &policy, &mut sd).map(|_| ())
}

#[test]
fn servtd_hash_ignores_masked_fields_and_sees_the_others() {
    let module = SimTdxModule::shared(7);
    let vt = module.borrow_mut().launch(&vtpm_id());
    let strict = SelfBinding {
        attr: ServtdAttr(0),
        ..VTPM_BINDING
    };
    // VTPM_BINDING ignores the RTMRs; `strict` ignores nothing.
    let lax_user = module
        .borrow_mut()
        .launch_bound(&user_id(), vt, VTPM_BINDING)
        .unwrap();
    let strict_user = module
        .borrow_mut()
        .launch_bound(&user_id(), vt, strict)
        .unwrap();
    assert_ne!(
        module.borrow().td_info(lax_user).servtd_hash,
        module.borrow().td_info(strict_user).servtd_hash
    );
    assert_eq!(servtd_admits(&module, lax_user, vt, VTPM_BINDING), Ok(()));
    assert_eq!(servtd_admits(&module, strict_user, vt, strict), Ok(()));
    // Mismatch: the binding's attributes or type differ from what the vTPM TD expects.
    let refused = Err(HandshakeError::Policy(PolicyViolation::ServtdHash));
    assert_eq!(servtd_admits(&module, lax_user, vt, strict), refused);
    assert_eq!(
        servtd_admits(&module, strict_user, vt, VTPM_BINDING),
        refused
    );
    let migtd_typed = module
        .borrow_mut()
        .launch_bound(
            &user_id(),
            vt,
            SelfBinding {
                servtd_type: SERVTD_TYPE_MIGTD,
                ..VTPM_BINDING
            },
        )
        .unwrap();
    assert_eq!(
        servtd_admits(&module, migtd_typed, vt, VTPM_BINDING),
        refused
    );

    // The vTPM TD extends RTMR2 after the bindings: a masked field changed, the lax binding
    // still names it; the strict one (RTMRs unmasked) no longer does.
    assert!(module.borrow_mut().extend(vt, 2, &[0x42; 48]));
    assert_eq!(servtd_admits(&module, lax_user, vt, VTPM_BINDING), Ok(()));
    assert_eq!(servtd_admits(&module, strict_user, vt, strict), refused);

    // MRCONFIGID: a binding that ignores it is satisfied by a vTPM TD of another
    // configuration (same MRTD); one that does not ignore it is not.
    let other_config = TdIdentity {
        mrconfigid: [0x77; 48],
        ..vtpm_id()
    };
    let vt2 = module.borrow_mut().launch(&other_config);
    let ignore_config = SelfBinding {
        attr: ServtdAttr(ServtdAttr::IGNORE_RTMRS | ServtdAttr::IGNORE_MRCONFIGID),
        ..VTPM_BINDING
    };
    let u = module
        .borrow_mut()
        .launch_bound(&user_id(), vt, ignore_config)
        .unwrap();
    assert_eq!(servtd_admits(&module, u, vt2, ignore_config), Ok(()));
    assert_eq!(servtd_admits(&module, lax_user, vt2, VTPM_BINDING), refused);
    // MRTD is never ignored by these bindings: another vTPM build is refused.
    let vt3 = module
        .borrow_mut()
        .launch(&TdIdentity::named("another vtpm-td build"));
    assert_eq!(servtd_admits(&module, u, vt3, ignore_config), refused);
}

#[test]
fn servtd_bind_prebind_and_finalize_follow_the_tdx_1_5_module() {
    let mut m = SimTdxModule::new(7);
    let vt = m.launch(&vtpm_id());
    let other = m.launch(&TdIdentity::named("another service TD"));
    let ty = VTPM_BINDING.servtd_type;
    let attr = VTPM_BINDING.attr;
    let info = servtd_info_hash(&m.td_info(vt), attr);

    // Operand checks (TDX_OPERAND_INVALID) and op-state checks.
    let t = m.create(&user_id());
    assert_eq!(
        m.servtd_bind(t, vt, 1, ty, attr),
        Err(SeamError::OperandInvalid("slot"))
    );
    assert_eq!(
        m.servtd_bind(t, vt, 0, 1, attr),
        Err(SeamError::OperandInvalid("SERVTD_TYPE"))
    );
    assert_eq!(
        m.servtd_bind(t, vt, 0, ty, ServtdAttr(1 << 1)),
        Err(SeamError::OperandInvalid("SERVTD_ATTR"))
    );
    assert!(matches!(
        m.servtd_bind(t, t, 0, ty, attr),
        Err(SeamError::OperandInvalid(_))
    ));
    let unfinished = m.create(&TdIdentity::named("service TD being built"));
    assert_eq!(
        m.servtd_bind(t, unfinished, 0, ty, attr),
        Err(SeamError::OpStateIncorrect)
    );

    // PREBIND then BIND: type, attributes and info hash must match the pre-binding.
    m.servtd_prebind(t, &info, 0, ty, attr).unwrap();
    assert_eq!(
        m.servtd_bind(t, other, 0, ty, attr),
        Err(SeamError::ServtdInfoHashMismatch)
    );
    assert_eq!(
        m.servtd_bind(t, vt, 0, ty, ServtdAttr(0)),
        Err(SeamError::ServtdAttrMismatch)
    );
    assert_eq!(
        m.servtd_bind(t, vt, 0, SERVTD_TYPE_MIGTD, attr),
        Err(SeamError::ServtdTypeMismatch)
    );
    m.servtd_bind(t, vt, 0, ty, attr).unwrap();
    assert_eq!(
        m.servtd_prebind(t, &info, 0, ty, attr),
        Err(SeamError::ServtdBound)
    );
    // SERVTD_HASH is zero until TDH.MR.FINALIZE, then SHA-384 over the 58-byte entry.
    assert_eq!(m.td_info(t).servtd_hash, [0; 48]);
    m.finalize(t).unwrap();
    let mut entry = info.to_vec();
    entry.extend(ty.to_le_bytes());
    entry.extend(attr.0.to_le_bytes());
    assert_eq!(entry.len(), 58);
    let want = digest(SHA384, &[&entry]);
    assert_eq!(m.td_info(t).servtd_hash.to_vec(), want);
    assert_eq!(
        m.td_info(t).servtd_hash,
        VTPM_BINDING.expected_hash(&m.td_info(vt))
    );
    assert_eq!(m.finalize(t), Err(SeamError::OpStateIncorrect));

    // No initial binding after finalize.
    let late = m.launch(&user_id());
    assert_eq!(
        m.servtd_bind(late, vt, 0, ty, attr),
        Err(SeamError::OpStateIncorrect)
    );
    assert_eq!(
        m.servtd_prebind(late, &info, 0, ty, attr),
        Err(SeamError::OpStateIncorrect)
    );
    assert_eq!(m.td_info(late).servtd_hash, [0; 48]);

    // A pre-bound slot never bound still enters SERVTD_HASH at finalize.
    let pre = m.create(&user_id());
    m.servtd_prebind(pre, &info, 0, ty, attr).unwrap();
    m.finalize(pre).unwrap();
    assert_eq!(m.td_info(pre).servtd_hash, m.td_info(t).servtd_hash);
    assert_eq!(m.bindings(pre).len(), 1);
    assert!(!m.bindings(pre)[0].1);
    // Late initial binding of the pre-bound slot, after finalize: only the matching TD.
    assert_eq!(
        m.servtd_bind(pre, other, 0, ty, attr),
        Err(SeamError::ServtdInfoHashMismatch)
    );
    m.servtd_bind(pre, vt, 0, ty, attr).unwrap();
    assert!(m.bindings(pre)[0].1);
    assert_eq!(m.td_info(pre).servtd_hash, m.td_info(t).servtd_hash);

    // Rebinding after finalize. Without INSTANCE_BINDING: any TD with the bound info hash (a
    // second instance of the same vTPM TD build) may rebind, another build may not.
    let vt_twin = m.launch(&vtpm_id());
    m.servtd_bind(t, vt_twin, 0, ty, attr).unwrap();
    assert_eq!(
        m.servtd_bind(t, other, 0, ty, attr),
        Err(SeamError::ServtdInfoHashMismatch)
    );
    // With INSTANCE_BINDING: only the same instance, whose new info hash is recorded; the
    // target's SERVTD_HASH (fixed at finalize) does not change.
    let inst = SelfBinding {
        attr: ServtdAttr(ServtdAttr::INSTANCE_BINDING),
        ..VTPM_BINDING
    };
    let ti = m.launch_bound(&user_id(), vt, inst).unwrap();
    let before = m.td_info(ti).servtd_hash;
    assert_eq!(
        m.servtd_bind(ti, vt_twin, 0, ty, inst.attr),
        Err(SeamError::ServtdUuidMismatch)
    );
    assert!(m.extend(vt, 1, &[9; 48]));
    m.servtd_bind(ti, vt, 0, ty, inst.attr).unwrap();
    assert_eq!(
        m.bindings(ti)[0].0.info_hash,
        servtd_info_hash(&m.td_info(vt), inst.attr)
    );
    assert_ne!(
        m.bindings(ti)[0].0.info_hash,
        inst.expected_hash(&m.td_info(vt))
    );
    assert_eq!(m.td_info(ti).servtd_hash, before);
}

/// `BootConfig::rsa2048()` on TDX: each instance gets the TCG L-1 RSA-2048 EK, persisted at
/// 0x81010001, and the EK evidence quote binds it.
#[test]
fn rsa2048_ek_on_a_tdx_instance() {
    let host = SimTdxHost::with_ek(
        7,
        &vtpm_id(),
        server_policy(),
        platform_snp::boot::BootConfig::rsa2048(),
    );
    let (_, door) = host.launch_user(&user_id(), ID, false);
    assert_eq!(host.vmm.borrow_mut().create(&ID), Some(status::OK));
    let mut client = Client::new(door);
    client.connect(&client_policy(), entropy(1)).unwrap();
    let ek = host
        .vmm
        .borrow()
        .server()
        .ek(&ID)
        .unwrap()
        .public()
        .to_vec();
    assert_eq!(
        host.vmm.borrow().server().ek(&ID).unwrap().handle(),
        0x8101_0001
    );
    // TPMT_PUBLIC: type RSA, nameAlg SHA-256, TCG L-1 policy, RSA-2048, exponent 0 (65537),
    // a 256-byte modulus.
    assert_eq!(&ek[..4], &[0x00, 0x01, 0x00, 0x0B]);
    let policy = &ek[8..8 + 2 + 32];
    assert_eq!(
        policy[2..],
        [
            0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5,
            0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B,
            0x33, 0x14, 0x69, 0xAA,
        ]
    );
    let params = &ek[8 + 34..];
    assert_eq!(&params[..10], &[0, 6, 0, 128, 0, 0x43, 0, 0x10, 8, 0]);
    assert_eq!(&params[10..14], &[0, 0, 0, 0]);
    assert_eq!(u16::from_be_bytes([params[14], params[15]]), 256);
    assert_eq!(params.len(), 16 + 256);
    // The persistent EK through the channel is that public area.
    let r = ok(&mut client, &command(0x173, &[0x8101_0001], &[], &[]));
    let n = u16::from_be_bytes(r.body()[..2].try_into().unwrap()) as usize;
    assert_eq!(&r.body()[2..2 + n], ek.as_slice());
    // The EK evidence: a quote of the vTPM TD over SHA-384(nonce ‖ EK).
    let nonce = [0x33; 32];
    let mut out = vec![0u8; 9000];
    let len = client.ek_evidence(&nonce, &mut out).unwrap();
    let (got, quote) = parse_ek_evidence(&out[..len]).unwrap();
    assert_eq!(got, ek.as_slice());
    let root = host.quoting.borrow().root_point();
    let v = verify_quote(quote, &root, None).unwrap();
    assert_eq!(v.quote.body.report_data, ek_report_data(&nonce, &ek));
    assert_eq!(v.quote.body.mrtd, vtpm_id().mrtd);
}
