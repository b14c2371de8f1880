use super::*;

#[test]
fn defaults_are_the_supervisors() {
    assert_eq!(TimeoutSettings::default().timeouts(), Timeouts::default());
}

#[test]
fn a_record_without_timeouts_gets_the_defaults() {
    let partial: TimeoutSettings = serde_json::from_str(r#"{"command": 5}"#).unwrap();
    assert_eq!(partial.command, 5);
    assert_eq!(partial.replacement, 120);
}

/// A layer names its fields as the settings do: every key of one is a key of the other.
#[test]
fn overrides_have_the_settings_keys() {
    let settings = serde_json::to_value(TimeoutSettings::default()).unwrap();
    let keys: Vec<&String> = settings.as_object().unwrap().keys().collect();
    for key in &keys {
        let one: TimeoutOverrides = serde_json::from_str(&format!(r#"{{"{key}": 7}}"#)).unwrap();
        let applied = serde_json::to_value(one.apply(TimeoutSettings::default())).unwrap();
        assert_eq!(applied[key.as_str()], 7, "{key}");
    }
    assert!(serde_json::from_str::<TimeoutOverrides>(r#"{"comand": 7}"#).is_err());
    assert_eq!(keys.len(), 9);
}

#[test]
fn layers_replace_only_what_they_set() {
    let lower = TimeoutOverrides {
        command: Some(10),
        replacement: Some(5),
        ..Default::default()
    };
    let upper = TimeoutOverrides {
        replacement: Some(7),
        ..Default::default()
    };
    let settings = upper.apply(lower.apply(TimeoutSettings::default()));
    assert_eq!(
        (settings.command, settings.replacement, settings.login),
        (10, 7, 15)
    );
}

#[test]
fn zero_is_refused_where_it_means_nothing() {
    let zero_login = TimeoutOverrides {
        login: Some(0),
        ..Default::default()
    };
    assert_eq!(zero_login.check().unwrap_err().field, "login");
    let off = TimeoutOverrides {
        noop_out_interval: Some(0),
        replacement: Some(0),
        retry_window: Some(0),
        ..Default::default()
    };
    assert!(off.check().is_ok());
}
