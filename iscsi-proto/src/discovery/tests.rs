use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn address(host: &str, port: u16, tpgt: Option<u16>) -> TargetAddress {
    TargetAddress {
        host: host.to_owned(),
        port,
        tpgt,
    }
}

#[test]
fn request_asks_for_all_targets() {
    assert_eq!(send_targets_request(), pairs(&[("SendTargets", "All")]));
}

#[test]
fn parses_tgtd_answer_with_several_targets_and_portals() {
    // What tgtd 1.0.85 answers for two targets on a dual-stack portal group, plus one
    // target behind a DNS-named portal without a tag.
    let answer = pairs(&[
        ("TargetName", "iqn.2024-01.com.example:storage.disk1"),
        ("TargetAddress", "192.168.122.10:3260,1"),
        ("TargetAddress", "[fe80::5054:ff:fe12:3456]:3260,1"),
        ("TargetName", "iqn.2024-01.com.example:storage.disk2"),
        ("TargetAddress", "192.168.122.10:3261,2"),
        ("TargetAddress", "[2001:db8::10],2"),
        ("TargetName", "iqn.2024-01.com.example:storage.disk3"),
        ("TargetAddress", "san.example.com"),
        ("TargetName", "iqn.2024-01.com.example:storage.noportal"),
    ]);
    let targets = parse_send_targets_response(&answer).unwrap();
    assert_eq!(
        targets,
        vec![
            DiscoveredTarget {
                name: "iqn.2024-01.com.example:storage.disk1".into(),
                addresses: vec![
                    address("192.168.122.10", 3260, Some(1)),
                    address("fe80::5054:ff:fe12:3456", 3260, Some(1)),
                ],
            },
            DiscoveredTarget {
                name: "iqn.2024-01.com.example:storage.disk2".into(),
                addresses: vec![
                    address("192.168.122.10", 3261, Some(2)),
                    address("2001:db8::10", 3260, Some(2)),
                ],
            },
            DiscoveredTarget {
                name: "iqn.2024-01.com.example:storage.disk3".into(),
                addresses: vec![address("san.example.com", 3260, None)],
            },
            DiscoveredTarget {
                name: "iqn.2024-01.com.example:storage.noportal".into(),
                addresses: vec![],
            },
        ]
    );
    let printed: Vec<String> = targets[0..2]
        .iter()
        .flat_map(|target| target.addresses.iter().map(ToString::to_string))
        .collect();
    assert_eq!(
        printed,
        [
            "192.168.122.10:3260,1",
            "[fe80::5054:ff:fe12:3456]:3260,1",
            "192.168.122.10:3261,2",
            "[2001:db8::10]:3260,2",
        ]
    );
    assert_eq!(
        targets[2].addresses[0].to_string(),
        "san.example.com:3260,-1"
    );
}

#[test]
fn empty_answer_and_unknown_keys() {
    assert_eq!(parse_send_targets_response(&[]).unwrap(), vec![]);
    let answer = pairs(&[
        ("X-com.example.Vendor", "1"),
        ("TargetName", "iqn.2024-01.com.example:t"),
        ("TargetAlias", "disk"),
        ("TargetAddress", "10.0.0.1:3260,1"),
    ]);
    assert_eq!(
        parse_send_targets_response(&answer).unwrap(),
        vec![DiscoveredTarget {
            name: "iqn.2024-01.com.example:t".into(),
            addresses: vec![address("10.0.0.1", 3260, Some(1))],
        }]
    );
}

#[test]
fn errors_name_the_value() {
    let parse = |list: &[(&str, &str)]| parse_send_targets_response(&pairs(list)).unwrap_err();
    assert_eq!(
        parse(&[("TargetAddress", "10.0.0.1:3260,1")]),
        DiscoveryError::AddressBeforeTargetName {
            value: "10.0.0.1:3260,1".into()
        }
    );
    let with_target = |value: &str| parse(&[("TargetName", "iqn.x:t"), ("TargetAddress", value)]);
    assert_eq!(
        with_target("10.0.0.1:99999,1"),
        DiscoveryError::BadTargetAddress {
            value: "10.0.0.1:99999,1".into(),
            reason: UrlError::BadPort {
                text: "99999".into()
            },
        }
    );
    assert_eq!(
        with_target("fe80::1:3260,1"),
        DiscoveryError::BadTargetAddress {
            value: "fe80::1:3260,1".into(),
            reason: UrlError::UnbracketedIpv6 {
                text: "fe80::1:3260".into()
            },
        }
    );
    assert_eq!(
        with_target("[fe80::1:3260,1"),
        DiscoveryError::BadTargetAddress {
            value: "[fe80::1:3260,1".into(),
            reason: UrlError::UnterminatedIpv6 {
                text: "[fe80::1:3260".into()
            },
        }
    );
    for bad_tag in [
        "10.0.0.1:3260,",
        "10.0.0.1:3260,65536",
        "10.0.0.1,-1",
        "h,1,2",
    ] {
        assert_eq!(
            with_target(bad_tag),
            DiscoveryError::BadPortalGroupTag {
                value: bad_tag.into()
            }
        );
    }
    assert_eq!(
        with_target(""),
        DiscoveryError::BadTargetAddress {
            value: "".into(),
            reason: UrlError::MissingHost
        }
    );
    for bad_name in ["", "iqn.x: y", &"a".repeat(MAX_ISCSI_NAME_LEN + 1)] {
        assert_eq!(
            parse(&[("TargetName", bad_name)]),
            DiscoveryError::BadTargetName {
                value: bad_name.into()
            }
        );
    }
    assert_eq!(
        with_target("10.0.0.1:99999,1").to_string(),
        "bad TargetAddress \"10.0.0.1:99999,1\": bad port \"99999\" (expected 1..=65535)"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> impl Strategy<Value = (String, String)> {
        let key = prop::sample::select(vec!["TargetName", "TargetAddress", "Other"])
            .prop_map(str::to_owned);
        let value = prop_oneof![
            any::<String>(),
            "\\[?[0-9a-f:.%]{0,20}\\]?(:[0-9]{0,6})?(,[0-9-]{0,6})?",
        ];
        (key, value)
    }

    proptest! {
        #[test]
        fn arbitrary_answers_never_panic(answer in prop::collection::vec(pair(), 0..12)) {
            let _ = parse_send_targets_response(&answer);
        }

        #[test]
        fn address_display_round_trips(
            host in prop_oneof![
                "[a-z][a-z0-9.-]{0,20}",
                any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
                any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
            ],
            port in 1u16..,
            tpgt in any::<u16>(),
        ) {
            let original = TargetAddress { host, port, tpgt: Some(tpgt) };
            prop_assert_eq!(TargetAddress::parse(&original.to_string()).unwrap(), original);
        }
    }
}
