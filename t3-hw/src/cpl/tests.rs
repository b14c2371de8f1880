use super::*;

#[test]
fn status_codes_round_trip() {
    let named = [
        (CplStatus::None, 0),
        (CplStatus::TcamParity, 1),
        (CplStatus::TcamFull, 3),
        (CplStatus::ConnReset, 20),
        (CplStatus::ConnExist, 22),
        (CplStatus::ArpMiss, 23),
        (CplStatus::BadSyn, 24),
        (CplStatus::ConnTimedOut, 30),
        (CplStatus::XmitTimedOut, 31),
        (CplStatus::PersistTimedOut, 32),
        (CplStatus::FinWait2TimedOut, 33),
        (CplStatus::KeepaliveTimedOut, 34),
        (CplStatus::RtxNegAdvice, 35),
        (CplStatus::PersistNegAdvice, 36),
        (CplStatus::AbortFailed, 42),
        (CplStatus::General, 99),
    ];
    for (status, code) in named {
        assert_eq!(status.code(), code);
        assert_eq!(CplStatus::from_code(code), status);
    }
    for code in 0..=u8::MAX {
        assert_eq!(CplStatus::from_code(code).code(), code);
    }
    assert_eq!(CplStatus::from_code(2), CplStatus::Other(2));
}

#[test]
fn act_open_errno_mapping_both_ways() {
    let pairs = [
        (CplStatus::ConnReset, libc::ECONNREFUSED),
        (CplStatus::ArpMiss, libc::EHOSTUNREACH),
        (CplStatus::ConnTimedOut, libc::ETIMEDOUT),
        (CplStatus::TcamFull, libc::ENOMEM),
        (CplStatus::ConnExist, libc::EADDRINUSE),
    ];
    for (status, errno) in pairs {
        assert_eq!(status.act_open_errno(), errno, "{status:?}");
        assert_eq!(CplStatus::from_connect_errno(errno), status, "{errno}");
    }
    assert_eq!(
        CplStatus::from_connect_errno(libc::ENETUNREACH),
        CplStatus::ArpMiss
    );
    assert_eq!(
        CplStatus::from_connect_errno(libc::EACCES),
        CplStatus::General
    );
    assert_eq!(CplStatus::General.act_open_errno(), libc::EIO);
    assert_eq!(CplStatus::Other(77).act_open_errno(), libc::EIO);
}

#[test]
fn abort_errno_mapping() {
    assert_eq!(CplStatus::ConnReset.abort_errno(false), libc::ECONNRESET);
    assert_eq!(CplStatus::BadSyn.abort_errno(false), libc::ECONNRESET);
    assert_eq!(CplStatus::ConnReset.abort_errno(true), libc::EPIPE);
    for timeout in [
        CplStatus::XmitTimedOut,
        CplStatus::PersistTimedOut,
        CplStatus::FinWait2TimedOut,
        CplStatus::KeepaliveTimedOut,
    ] {
        assert_eq!(timeout.abort_errno(false), libc::ETIMEDOUT);
    }
    assert_eq!(CplStatus::General.abort_errno(false), libc::EIO);
    assert_eq!(
        CplStatus::from_socket_errno(libc::ECONNRESET),
        CplStatus::ConnReset
    );
    assert_eq!(
        CplStatus::from_socket_errno(libc::EPIPE),
        CplStatus::ConnReset
    );
    assert_eq!(
        CplStatus::from_socket_errno(libc::ETIMEDOUT),
        CplStatus::XmitTimedOut
    );
    assert_eq!(CplStatus::from_socket_errno(libc::EIO), CplStatus::General);
    assert!(CplStatus::RtxNegAdvice.is_negative_advice());
    assert!(CplStatus::PersistNegAdvice.is_negative_advice());
    assert!(!CplStatus::ConnReset.is_negative_advice());
}

#[test]
fn placed_only_without_inline_data() {
    let tid = Tid::new(5).unwrap();
    let mut hdr = IscsiHdr {
        tid,
        header: Ok(Header::DataIn(iscsi_proto::pdu::DataIn::default())),
        data_len: 4096,
        data: Vec::new(),
        ddp_status: DdpStatus::DDP_PDU,
        pdu_len: 48 + 4096,
    };
    assert!(hdr.data_placed());
    hdr.data = vec![0; 16];
    assert!(!hdr.data_placed());
    hdr.data.clear();
    hdr.ddp_status = DdpStatus::NONE;
    assert!(!hdr.data_placed());
    assert_eq!(Completion::IscsiHdr(hdr).tid(), Some(tid));
    assert_eq!(
        Completion::ActOpenRpl {
            atid: 1,
            status: CplStatus::ArpMiss
        }
        .tid(),
        None
    );
    assert_eq!(Completion::TxDmaAck { tid, credits: 3 }.tid(), Some(tid));
}
