use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn failed_logins_go_round_the_addresses() {
    let mut portals = Portals::new(vec![addr("127.0.0.1:3260"), addr("[::1]:3260")]);
    assert_eq!(portals.next_login(), Some(addr("127.0.0.1:3260")));
    assert_eq!(
        portals.next_login(),
        Some(addr("127.0.0.1:3260")),
        "until one fails"
    );
    portals.failed();
    assert_eq!(portals.next_login(), Some(addr("[::1]:3260")));
    portals.failed();
    assert_eq!(portals.next_login(), Some(addr("127.0.0.1:3260")));
}

#[test]
fn a_temporary_redirection_is_for_the_next_login_only() {
    let mut portals = Portals::new(vec![addr("127.0.0.1:3260")]);
    let to = portals.redirect(&["127.0.0.2:3261,1".into()], true);
    assert_eq!(to, Some(addr("127.0.0.2:3261")));
    assert_eq!(portals.next_login(), Some(addr("127.0.0.2:3261")));
    assert_eq!(portals.next_login(), Some(addr("127.0.0.1:3260")));
}

#[test]
fn a_permanent_redirection_is_for_every_later_login() {
    let mut portals = Portals::new(vec![addr("127.0.0.1:3260"), addr("127.0.0.3:3260")]);
    portals.redirect(&["[::1]:3262".into()], false);
    for _ in 0..3 {
        assert_eq!(portals.next_login(), Some(addr("[::1]:3262")));
        portals.failed();
    }
}

#[test]
fn an_unusable_redirection_changes_nothing() {
    let mut portals = Portals::new(vec![addr("127.0.0.1:3260")]);
    assert_eq!(
        portals.redirect(&["not an address:port:x".into()], false),
        None
    );
    assert_eq!(portals.redirect(&[], true), None);
    assert_eq!(portals.next_login(), Some(addr("127.0.0.1:3260")));
}
