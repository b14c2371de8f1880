use super::*;
use std::collections::HashMap;

fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn url_wins_over_environment_field_by_field() {
    let from_url = UrlCredentials {
        initiator_user: Some("alice"),
        ..UrlCredentials::default()
    };
    let env = environment(&[
        (env_vars::CHAP_USERNAME, "bob"),
        (env_vars::CHAP_PASSWORD, "from-env-secret"),
        (env_vars::CHAP_TARGET_USERNAME, "tgt"),
        (env_vars::CHAP_TARGET_PASSWORD, "tgt-secret"),
    ]);
    let resolved = resolve(&from_url, &env).unwrap();
    assert_eq!(
        resolved.initiator,
        Some(ChapCredentials::new("alice", "from-env-secret"))
    );
    assert_eq!(
        resolved.target,
        Some(ChapCredentials::new("tgt", "tgt-secret"))
    );
}

#[test]
fn empty_values_count_as_absent() {
    let from_url = UrlCredentials {
        initiator_user: Some(""),
        ..UrlCredentials::default()
    };
    let env = environment(&[(env_vars::CHAP_USERNAME, ""), (env_vars::CHAP_PASSWORD, "")]);
    let resolved = resolve(&from_url, &env).unwrap();
    assert!(resolved.initiator.is_none() && resolved.target.is_none());
}

#[test]
fn half_given_credentials_are_errors() {
    let none = |_: &str| None;
    let user_only = UrlCredentials {
        initiator_user: Some("alice"),
        ..UrlCredentials::default()
    };
    assert_eq!(
        resolve(&user_only, &none).err(),
        Some(UrlError::MissingChapPassword {
            role: CredentialRole::Initiator
        })
    );
    let target_password_only = environment(&[(env_vars::CHAP_TARGET_PASSWORD, "x")]);
    assert_eq!(
        resolve(&UrlCredentials::default(), &target_password_only).err(),
        Some(UrlError::MissingChapUser {
            role: CredentialRole::Target
        })
    );
    let mutual_only = environment(&[
        (env_vars::CHAP_TARGET_USERNAME, "t"),
        (env_vars::CHAP_TARGET_PASSWORD, "x"),
    ]);
    assert_eq!(
        resolve(&UrlCredentials::default(), &mutual_only).err(),
        Some(UrlError::MutualWithoutInitiator)
    );
}

#[test]
fn control_characters_are_rejected_without_echoing_the_secret() {
    let from_url = UrlCredentials {
        initiator_user: Some("alice"),
        initiator_password: Some("s3cr\0et"),
        ..UrlCredentials::default()
    };
    let error = resolve(&from_url, &|_: &str| None).err().unwrap();
    assert_eq!(
        error,
        UrlError::BadCredentialCharacter {
            field: CredentialField::InitiatorPassword
        }
    );
    assert!(!error.to_string().contains("s3cr"), "{error}");
}
