use super::*;

#[test]
fn recover_says_where_a_secret_must_come_from() {
    let shown = DeviceError::RecoverSecret {
        dev_id: 2,
        role: CredentialRole::Initiator,
        given_by: Some(SecretSource::CommandLine),
    }
    .to_string();
    assert_eq!(
        shown,
        "device 2 was created with its initiator CHAP secret on the command line, which \
         keeps it nowhere: give it in LIBISCSI_CHAP_PASSWORD, or in a configuration \
         file's chap_secret or chap_secret_file (`recover --config FILE`)"
    );
    let target = DeviceError::RecoverSecret {
        dev_id: 2,
        role: CredentialRole::Target,
        given_by: None,
    }
    .to_string();
    assert!(target.contains("LIBISCSI_CHAP_TARGET_PASSWORD"), "{target}");
    assert!(target.contains("target_chap_secret_file"), "{target}");
}

#[test]
fn messages() {
    assert_eq!(
        DeviceError::create(3, UblkError::UringIOError(-libc::EEXIST)).to_string(),
        "device id 3 is already in use"
    );
    assert_eq!(
        DeviceError::create(-1, UblkError::UringIOError(-libc::ENOMEM)).to_string(),
        "cannot create the ublk device: Cannot allocate memory (os error 12)"
    );
    assert_eq!(
        DeviceError::control("start the device", UblkError::OtherError(-libc::EINVAL)).to_string(),
        "cannot start the device: Invalid argument (os error 22)"
    );
}

#[test]
fn only_what_a_retry_repeats_is_permanent() {
    let portal: std::net::SocketAddr = "192.0.2.1:3260".parse().unwrap();
    let login = |error: LoginError| {
        DeviceError::Probe(ProbeFailure::Login {
            portal,
            source: ClientError::Conn(ConnFailure::Login(error)),
        })
    };
    // Authentication failure (0x0201) and no such target (0x0203): our fault.
    assert!(login(LoginError::Refused {
        class: 2,
        detail: 1
    })
    .is_permanent());
    assert!(login(LoginError::Refused {
        class: 2,
        detail: 3
    })
    .is_permanent());
    assert!(login(LoginError::MissingTargetName).is_permanent());
    // Target error, e.g. service unavailable (0x0301): the target may come back.
    assert!(!login(LoginError::Refused {
        class: 3,
        detail: 1
    })
    .is_permanent());
    let refused = ConnFailure::Connect {
        peer: portal,
        errno: libc::ECONNREFUSED,
    };
    assert!(!DeviceError::Probe(ProbeFailure::Connect(ClientError::Conn(refused))).is_permanent());
    assert!(!DeviceError::Probe(ProbeFailure::Resolve {
        host: "disk.example".into(),
        reason: "temporary failure in name resolution".into(),
    })
    .is_permanent());
    assert!(DeviceError::Probe(ProbeFailure::NoSuchLun {
        target: "iqn.x:y".into(),
        lun: 3,
    })
    .is_permanent());
    assert!(DeviceError::WrongLu {
        expected: "naa.1".into(),
        found: "naa.2".into(),
    }
    .is_permanent());
    assert!(!DeviceError::QueueLogin {
        qid: 0,
        error: QueueError::NoAddress,
    }
    .is_permanent());
    assert!(DeviceError::QueueLogin {
        qid: 1,
        error: QueueError::WrongLu,
    }
    .is_permanent());
    assert!(DeviceError::QueueLogin {
        qid: 1,
        error: QueueError::Conn(ConnFailure::Login(LoginError::Refused {
            class: 2,
            detail: 1
        })),
    }
    .is_permanent());
}
