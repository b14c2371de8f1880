use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use iscsi_proto::url::{env_vars, DigestChoice};

use super::*;

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("ublk-target-config-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
    ConfigFile::parse(Path::new("/etc/x/d.toml"), text, FileKind::Device, 0o600)
}

/// (line, key) of an Invalid error, with its text.
fn invalid(text: &str) -> (usize, String, String) {
    match parse(text) {
        Err(error @ ConfigError::Invalid { .. }) => {
            let shown = error.to_string();
            let ConfigError::Invalid { line, key, .. } = error else {
                unreachable!()
            };
            (line, key, shown)
        }
        other => panic!("{text}: {other:?}"),
    }
}

const EXAMPLE: &str = r#"
# disk1
portal = "192.0.2.10:3260"
target = "iqn.2026-11.example:disk"
lun = 1
initiator_name = "iqn.2026-11.example:host"
chap_user = "alice"
chap_secret = "alice-secret-12"
header_digest = "crc32c"
data_digest = "none"
queues = 2
depth = 64
zero_copy = false
max_io_buf_bytes = 524288
user_recovery = true
user_recovery_reissue = true
number = 3
startup = "automatic"

[timeouts]
replacement = 15
command = 20
"#;

#[test]
fn the_example_parses() {
    let file = parse(EXAMPLE).unwrap();
    let s = &file.settings;
    assert_eq!(s.queues, Some(2));
    assert_eq!(s.lun, Some(1));
    assert_eq!(s.header_digest, Some(Digest::Crc32c));
    assert_eq!(file.startup(), Startup::Automatic);
    let timeouts = s.timeouts.unwrap();
    assert_eq!((timeouts.replacement, timeouts.login), (Some(15), None));
    assert_eq!(file.line("queues"), 11);
    assert_eq!(file.line("timeouts.command"), 22);
    assert_eq!(
        file.chap(env_vars::CHAP_PASSWORD).as_deref(),
        Some("alice-secret-12")
    );
    assert!(!format!("{file:?}").contains("alice-secret-12"));
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let (line, key, shown) = invalid("queues = 2\n\nqueus = 3\n");
    assert_eq!((line, key.as_str()), (3, "queus"));
    assert!(
        shown.starts_with("/etc/x/d.toml:3: queus: unknown field"),
        "{shown}"
    );

    let (line, key, _) = invalid("queues = 2\n[timeouts]\ncommand = 5\ncomand = 5\n");
    assert_eq!((line, key.as_str()), (4, "timeouts.comand"));

    let (line, key, _) = invalid("queues = 2\n[timeout]\ncommand = 5\n");
    assert_eq!((line, key.as_str()), (2, "timeout"));
}

#[test]
fn a_wrong_type_names_the_key() {
    let (line, key, shown) = invalid("depth = 64\nqueues = \"two\"\n");
    assert_eq!((line, key.as_str()), (2, "queues"));
    assert!(shown.contains("invalid type"), "{shown}");

    let (line, key, _) = invalid("[timeouts]\n\nlogin = -1\n");
    assert_eq!((line, key.as_str()), (3, "timeouts.login"));

    let (line, key, _) = invalid("startup = \"sometimes\"\n");
    assert_eq!((line, key.as_str()), (1, "startup"));
    let (_, key, _) = invalid("header_digest = \"md5\"\n");
    assert_eq!(key, "header_digest");
}

#[test]
fn a_syntax_error_names_the_line() {
    let (line, key, _) = invalid("queues = 2\ndepth = \n");
    assert_eq!((line, key.as_str()), (2, "depth"));
    match parse("queues = 2\n[timeouts\n") {
        Err(ConfigError::Syntax { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_are_checked() {
    for (text, key) in [
        ("queues = 33", "queues"),
        ("queues = 0", "queues"),
        ("depth = 4097", "depth"),
        ("max_io_buf_bytes = 5000", "max_io_buf_bytes"),
        ("number = -2", "number"),
        ("[timeouts]\nlogin = 0", "timeouts.login"),
        ("url = \"http://h/iqn.x:y/1\"", "url"),
        (
            "portal = \"h:99999\"\ntarget = \"iqn.x:y\"\nlun = 1",
            "portal",
        ),
        ("portal = \"h\"\ntarget = \"iqn x\"\nlun = 1", "target"),
        ("portal = \"h\"\ntarget = \"iqn.x:y\"\nlun = 20000", "lun"),
        ("portal = \"h\"\ntarget = \"iqn.x:y\"", "portal"),
        ("url = \"iscsi://h/iqn.x:y/1\"\nlun = 1", "lun"),
        (
            "chap_secret = \"a\"\nchap_secret_file = \"f\"",
            "chap_secret_file",
        ),
        ("initiator_name = \"\"", "initiator_name"),
    ] {
        let (_, found, shown) = invalid(text);
        assert_eq!(found, key, "{text}: {shown}");
    }
    // Zero where it means "off" or "fail at once" is fine.
    parse("[timeouts]\nnoop_out_interval = 0\nreplacement = 0\nretry_window = 0\n").unwrap();
}

#[test]
fn an_url_error_does_not_show_its_password() {
    let (_, key, shown) = invalid("url = \"iscsi://u%hunter2@h:99999/iqn.x:y/1\"");
    assert_eq!(key, "url");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn the_defaults_file_names_no_lun() {
    for key in ["url", "portal", "number"] {
        let text = format!("{key} = {}\n", if key == "number" { "1" } else { "\"x\"" });
        match ConfigFile::parse(Path::new("d"), &text, FileKind::Defaults, 0o644) {
            Err(ConfigError::Invalid { key: found, .. }) => assert_eq!(found, key),
            other => panic!("{key}: {other:?}"),
        }
    }
    ConfigFile::parse(Path::new("d"), EXAMPLE_DEFAULTS, FileKind::Defaults, 0o644).unwrap();
}

const EXAMPLE_DEFAULTS: &str = "queues = 4\nheader_digest = \"none\"\n[timeouts]\ncommand = 10\n";

#[test]
fn a_file_holding_a_secret_must_be_private() {
    let open = |text: &str, mode: u32| {
        ConfigFile::parse(Path::new("/etc/x/d.toml"), text, FileKind::Device, mode)
    };
    let error = open("chap_user = \"a\"\nchap_secret = \"s3cret-12\"\n", 0o644).unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.starts_with("/etc/x/d.toml:2: chap_secret:"),
        "{shown}"
    );
    assert!(shown.contains("mode 0644"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let error = open("url = \"iscsi://u%pw@h/iqn.x:y/1\"\n", 0o640).unwrap_err();
    assert!(error.to_string().contains("mode 0640"), "{error}");
    open("chap_user = \"a\"\nchap_secret = \"s\"\n", 0o600).unwrap();
    open("url = \"iscsi://u@h/iqn.x:y/1\"\nqueues = 2\n", 0o644).unwrap();
}

#[test]
fn a_secret_file_must_be_private() {
    let scratch = Scratch::new("secret-file");
    scratch.write("alice.secret", "from-a-file-12\n", 0o644);
    let config = scratch.write(
        "d.toml",
        "url = \"iscsi://h/iqn.x:y/1\"\nchap_user = \"alice\"\nchap_secret_file = \"alice.secret\"\n",
        0o644,
    );
    let error = ConfigFile::load(&config, FileKind::Device).unwrap_err();
    let shown = error.to_string();
    let secret_path = scratch.0.join("alice.secret");
    assert!(
        shown.contains(&format!("{}:3: chap_secret_file", config.display())),
        "{shown}"
    );
    assert!(
        shown.contains(&secret_path.display().to_string()),
        "{shown}"
    );
    assert!(shown.contains("mode 0644"), "{shown}");

    fs::set_permissions(&secret_path, fs::Permissions::from_mode(0o600)).unwrap();
    let file = ConfigFile::load(&config, FileKind::Device).unwrap();
    assert_eq!(
        file.chap(env_vars::CHAP_PASSWORD).as_deref(),
        Some("from-a-file-12"),
        "one trailing newline is not part of it"
    );

    fs::remove_file(&secret_path).unwrap();
    let error = ConfigFile::load(&config, FileKind::Device).unwrap_err();
    assert!(error.to_string().contains("cannot read"), "{error}");
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn files(device: Option<&str>, defaults: Option<&str>) -> Files {
    Files {
        device: device.map(|text| {
            ConfigFile::parse(Path::new("/etc/x/d.toml"), text, FileKind::Device, 0o600).unwrap()
        }),
        defaults: defaults.map(|text| {
            ConfigFile::parse(
                Path::new("/etc/x/defaults.toml"),
                text,
                FileKind::Defaults,
                0o600,
            )
            .unwrap()
        }),
    }
}

#[test]
fn layers_command_line_device_defaults_builtin() {
    let files = files(Some(EXAMPLE), Some(EXAMPLE_DEFAULTS));
    let cli = CommandLine {
        queues: Some(1),
        timeouts: TimeoutOverrides {
            command: Some(40),
            ..Default::default()
        },
        ..Default::default()
    };
    let config = resolve_add(cli, &files, &no_env).unwrap();
    assert_eq!(config.queues, 1, "the command line wins");
    assert_eq!(config.depth, 64, "then the device's file");
    assert_eq!(config.number, 3);
    assert_eq!(config.timeouts.command, 40);
    assert_eq!(config.timeouts.replacement, 15);
    assert_eq!(config.timeouts.login, 15, "built in");
    assert_eq!(config.url.target, "iqn.2026-11.example:disk");
    assert_eq!(config.url.port, 3260);
    assert_eq!(config.url.header_digest, Some(DigestChoice::Crc32c));
    assert_eq!(config.url.data_digest, Some(DigestChoice::Disabled));
    assert_eq!(
        config.url.initiator_chap.as_ref().unwrap().secret.expose(),
        b"alice-secret-12"
    );
    assert_eq!(config.secret_source, Some(SecretSource::ConfigFile));
    assert!(config.user_recovery && config.user_recovery_reissue);
    assert_eq!(config.config.as_deref(), Some(Path::new("/etc/x/d.toml")));

    // The defaults where the device's file is silent.
    let files = self::files(
        Some("url = \"iscsi://h/iqn.x:y/0\"\n"),
        Some(EXAMPLE_DEFAULTS),
    );
    let config = resolve_add(CommandLine::default(), &files, &no_env).unwrap();
    assert_eq!(config.queues, 4);
    assert_eq!(config.depth, limits::DEFAULT_DEPTH);
    assert_eq!(config.timeouts.command, 10);
    assert_eq!(config.url.header_digest, Some(DigestChoice::Disabled));
    assert_eq!(config.number, -1);
    assert_eq!(config.secret_source, None);
}

#[test]
fn the_command_line_url_wins_and_its_arguments_beat_the_keys() {
    let files = files(Some(EXAMPLE), None);
    let cli = CommandLine {
        url: Some("iscsi://other:3261/iqn.x:other/7?header_digest=none".into()),
        ..Default::default()
    };
    let config = resolve_add(cli, &files, &no_env).unwrap();
    assert_eq!((config.url.host.as_str(), config.url.lun), ("other", 7));
    assert_eq!(config.url.header_digest, Some(DigestChoice::Disabled));
    // CHAP from the file still applies to a URL without credentials.
    assert_eq!(config.url.initiator_chap.unwrap().user, "alice");
}

#[test]
fn credentials_url_then_pipe_then_environment_then_files() {
    let device =
        "url = \"iscsi://h/iqn.x:y/0\"\nchap_user = \"file-user\"\nchap_secret = \"file-secret\"\n";
    let defaults = "target_chap_user = \"tgt\"\ntarget_chap_secret = \"tgt-secret\"\n";
    let files = files(Some(device), Some(defaults));
    let env = |name: &str| (name == env_vars::CHAP_PASSWORD).then(|| "env-secret".to_owned());

    let config = resolve_add(CommandLine::default(), &files, &env).unwrap();
    let initiator = config.url.initiator_chap.unwrap();
    assert_eq!(
        (initiator.user.as_str(), initiator.secret.expose()),
        ("file-user", &b"env-secret"[..])
    );
    assert_eq!(
        config.url.target_chap.unwrap().secret.expose(),
        b"tgt-secret"
    );
    assert_eq!(config.secret_source, Some(SecretSource::Environment));

    let mut args = vec![std::ffi::OsString::from(
        "iscsi://cli-user%piped-secret@h/iqn.x:y/0",
    )];
    let piped = PipedSecrets::take_from(&mut args);
    let cli = CommandLine {
        url: Some(args[0].to_str().unwrap().to_owned()),
        piped,
        ..Default::default()
    };
    let config = resolve_add(cli, &files, &env).unwrap();
    let initiator = config.url.initiator_chap.unwrap();
    assert_eq!(
        (initiator.user.as_str(), initiator.secret.expose()),
        ("cli-user", &b"piped-secret"[..])
    );
    assert_eq!(config.secret_source, Some(SecretSource::CommandLine));

    let cli = CommandLine {
        url: Some("iscsi://u%in-argv@h/iqn.x:y/0".into()),
        ..Default::default()
    };
    let config = resolve_add(cli, &Files::default(), &no_env).unwrap();
    assert_eq!(config.secret_source, Some(SecretSource::CommandLine));
}

#[test]
fn errors_of_the_whole() {
    assert!(matches!(
        resolve_add(CommandLine::default(), &Files::default(), &no_env),
        Err(ConfigError::NoLun)
    ));
    let half = files(
        Some("url = \"iscsi://h/iqn.x:y/0\"\nchap_user = \"a\"\n"),
        None,
    );
    let error = resolve_add(CommandLine::default(), &half, &no_env).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("/etc/x/d.toml: initiator CHAP user given without a password"),
        "{error}"
    );
    let cli = CommandLine {
        url: Some("iscsi://h/iqn.x:y/0".into()),
        timeouts: TimeoutOverrides {
            abort: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    let error = resolve_add(cli, &Files::default(), &no_env).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--abort-timeout must be at least 1 second"
    );
}

#[test]
fn finds_files_by_name_in_the_directory() {
    let scratch = Scratch::new("find");
    let disk = scratch.write("disk1.toml", "queues = 1\n", 0o644);
    assert_eq!(find(&scratch.0, Path::new("disk1")).unwrap(), disk);
    assert_eq!(find(&scratch.0, Path::new("disk1.toml")).unwrap(), disk);
    assert_eq!(find(Path::new("/nonexistent"), &disk).unwrap(), disk);
    let error = find(&scratch.0, Path::new("disk2")).unwrap_err();
    assert!(
        error.to_string().contains("no configuration file disk2"),
        "{error}"
    );
}

#[test]
fn loads_the_defaults_file_of_the_directory() {
    let scratch = Scratch::new("load");
    scratch.write(DEFAULTS_FILE, EXAMPLE_DEFAULTS, 0o644);
    scratch.write("disk1.toml", "url = \"iscsi://h/iqn.x:y/0\"\n", 0o644);
    let files = Files::load_in(&scratch.0, Some(Path::new("disk1"))).unwrap();
    assert_eq!(files.defaults.unwrap().settings.queues, Some(4));
    assert!(files.device.unwrap().path.ends_with("disk1.toml"));
    let none = Files::load_in(&scratch.0.join("nothing"), None).unwrap();
    assert!(none.device.is_none() && none.defaults.is_none());
}

#[test]
fn device_files_are_listed() {
    let scratch = Scratch::new("automatic");
    scratch.write(DEFAULTS_FILE, "queues = 2\n", 0o644);
    scratch.write(
        "b.toml",
        "url = \"iscsi://h/iqn.x:y/0\"\nstartup = \"automatic\"\n",
        0o644,
    );
    scratch.write(
        "a.toml",
        "url = \"iscsi://h/iqn.x:y/1\"\nstartup = \"manual\"\n",
        0o644,
    );
    scratch.write("c.toml", "url = \"iscsi://h/iqn.x:y/2\"\n", 0o644);
    scratch.write("notes.txt", "not a device", 0o644);
    let found = device_files(&scratch.0).unwrap();
    assert_eq!(
        found,
        ["a.toml", "b.toml", "c.toml"].map(|name| scratch.0.join(name))
    );
    let startups: Vec<Startup> = found
        .iter()
        .map(|path| ConfigFile::load(path, FileKind::Device).unwrap().startup())
        .collect();
    assert_eq!(
        startups,
        [Startup::Manual, Startup::Automatic, Startup::Manual]
    );
}

#[test]
fn target_names_are_encoded_for_the_url() {
    assert_eq!(
        url_text("h:3261", "iqn.2026-11.x:a/b c", 2),
        "iscsi://h:3261/iqn.2026-11.x:a%2Fb%20c/2"
    );
}
