use super::*;

#[test]
fn config_from_url() {
    let url: IscsiUrl =
        "iscsi://alice%secret1234@10.0.0.1:3261/iqn.2026-11.test:disk/3?header_digest=crc32c&data_digest=none"
            .parse()
            .unwrap();
    let config = login_config(&url, "iqn.x:init", queue_isid(0, 2));
    assert_eq!(config.initiator_name, "iqn.x:init");
    assert_eq!(config.target_name.as_deref(), Some("iqn.2026-11.test:disk"));
    assert_eq!(config.isid, [0x80, 0, 0, 0, 0, 2]);
    assert_eq!(config.chap.as_ref().map(|c| c.user.as_str()), Some("alice"));
    assert!(config.mutual_chap.is_none());
    assert_eq!(
        config.operational.header_digest,
        DigestPreference::Crc32cRequired
    );
    assert_eq!(config.operational.data_digest, DigestPreference::None);
    assert_eq!(config.operational.max_recv_data_segment_length, 1 << 20);
    assert_eq!(config.cmdsn, 1);
}

#[test]
fn a_queue_keeps_its_isid_and_no_two_queues_share_one() {
    assert_eq!(queue_isid(7, 3), queue_isid(7, 3));
    assert_eq!(
        queue_isid(0x0012_3456, 0x0102),
        [0x80, 0x12, 0x34, 0x56, 1, 2]
    );
    let mut seen = std::collections::HashSet::new();
    for dev in [0, 1, 2, 1 << 20] {
        for qid in 0..4 {
            assert!(seen.insert(queue_isid(dev, qid)));
        }
    }
}

#[test]
fn libiscsi_default_digest_offers() {
    let url: IscsiUrl = "iscsi://h/iqn.t:d/0".parse().unwrap();
    let config = login_config(&url, "iqn.x:init", queue_isid(0, 0));
    assert_eq!(
        config.operational.header_digest,
        DigestPreference::NonePreferred
    );
    assert_eq!(config.operational.data_digest, DigestPreference::None);
    assert!(config.chap.is_none());
}

#[test]
fn data_digest_only_when_the_url_asks() {
    let parse = |url: &str| url.parse::<IscsiUrl>().unwrap();
    assert!(!may_negotiate_data_digest(&parse("iscsi://h/iqn.t:d/0")));
    assert!(!may_negotiate_data_digest(&parse(
        "iscsi://h/iqn.t:d/0?data_digest=none"
    )));
    assert!(!may_negotiate_data_digest(&parse(
        "iscsi://h/iqn.t:d/0?header_digest=crc32c"
    )));
    assert!(may_negotiate_data_digest(&parse(
        "iscsi://h/iqn.t:d/0?data_digest=crc32c"
    )));
}
