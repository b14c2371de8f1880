use super::*;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn finds_options_like_getopt() {
    assert_eq!(
        option_value(&os(&["-t", "cxgb3i"]), 't', "type").as_deref(),
        Some("cxgb3i")
    );
    assert_eq!(
        option_value(&os(&["-tcxgb3i"]), 't', "type").as_deref(),
        Some("cxgb3i")
    );
    assert_eq!(
        option_value(&os(&["-q", "2", "--type", "loop"]), 't', "type").as_deref(),
        Some("loop")
    );
    assert_eq!(
        option_value(&os(&["--type=null"]), 't', "type").as_deref(),
        Some("null")
    );
    assert_eq!(option_value(&os(&["-n", "3"]), 't', "type"), None);
    assert_eq!(option_value(&os(&["-t"]), 't', "type"), None);
    assert_eq!(option_value(&os(&["--", "-t", "x"]), 't', "type"), None);
    assert_eq!(option_value(&os(&["--tx"]), 't', "type"), None);
}

/// The description of the front end for its man page and completions: valid for clap,
/// and naming each command the front end takes.
#[test]
fn described_commands_are_the_front_ends() {
    let command = described_command();
    command.clone().debug_assert();
    let names: Vec<_> = command.get_subcommands().map(|s| s.get_name()).collect();
    assert_eq!(names, ["add", "del", "list", "recover", "features", "help"]);
    // And the usage text names no other.
    for line in USAGE.lines() {
        let mut words = line.split_whitespace().skip_while(|word| *word != "ublk");
        if let Some(word) = words.nth(1) {
            assert!(names.contains(&word), "{line}");
        }
    }
}

#[test]
fn target_program_candidates() {
    assert_eq!(
        target_program(Path::new("/usr/sbin/ublk"), "cxgb3i"),
        [
            PathBuf::from("/usr/sbin/ublk.cxgb3i"),
            PathBuf::from("/usr/sbin/ublk-cxgb3i")
        ]
    );
    assert_eq!(
        target_program(Path::new("/x/target/debug/ublk-front"), "cxgb3i"),
        [
            PathBuf::from("/x/target/debug/ublk-front.cxgb3i"),
            PathBuf::from("/x/target/debug/ublk.cxgb3i"),
            PathBuf::from("/x/target/debug/ublk-cxgb3i"),
        ]
    );
}
