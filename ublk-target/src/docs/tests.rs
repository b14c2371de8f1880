use super::*;

use clap::{Arg, ArgAction};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ublk-target-docs-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn program() -> Command {
    Command::new("tool.x")
        .version("1.2.3")
        .about("Does things")
        .subcommand(
            Command::new("add")
                .about("Adds a thing")
                .arg(Arg::new("queues").short('q').long("queues").help("Queues")),
        )
        .subcommand(Command::new("del").about("Removes a thing"))
        .subcommand(Command::new("internal").hide(true))
        .arg(
            Arg::new("verbose")
                .long("verbose")
                .action(ArgAction::SetTrue),
        )
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_page_per_visible_subcommand() {
    let dir = scratch("per-subcommand");
    let written = write_man_pages(program(), ManPages::PerSubcommand, &dir).unwrap();
    assert_eq!(
        names(&written),
        ["tool.x.8", "tool.x-add.8", "tool.x-del.8"]
    );
    let add = fs::read_to_string(dir.join("tool.x-add.8")).unwrap();
    assert!(add.contains("\n.TH tool.x-add 8 "), "{add}");
    assert!(add.contains("tool.x 1.2.3"), "{add}");
    // The usage line names the program and the command.
    assert!(add.contains("tool.x add"), "{add}");
    assert!(add.contains("queues"), "{add}");
    let program_page = fs::read_to_string(dir.join("tool.x.8")).unwrap();
    assert!(program_page.contains("tool.x\\-add(8)"), "{program_page}");
    assert!(!program_page.contains("internal"), "{program_page}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_program_alone() {
    let dir = scratch("program-only");
    let written = write_man_pages(program(), ManPages::ProgramOnly, &dir).unwrap();
    assert_eq!(names(&written), ["tool.x.8"]);
    let page = fs::read_to_string(&written[0]).unwrap();
    // Its commands are described there, not referred to pages that are not written.
    assert!(page.contains(".SH COMMANDS"), "{page}");
    assert!(page.contains("tool.x add"), "{page}");
    assert!(page.contains("Adds a thing"), "{page}");
    assert!(!page.contains("(8)"), "{page}");
    assert!(!page.contains("internal"), "{page}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_where_each_shell_looks() {
    let dir = scratch("completions");
    let written = write_completions(program(), "tool.x", &dir).unwrap();
    assert_eq!(
        written,
        [
            dir.join("bash/tool.x"),
            dir.join("zsh/_tool.x"),
            dir.join("fish/tool.x.fish")
        ]
    );
    let bash = fs::read_to_string(dir.join("bash/tool.x")).unwrap();
    assert!(bash.contains("complete -F"), "{bash}");
    assert!(bash.contains("tool.x"), "{bash}");
    let zsh = fs::read_to_string(dir.join("zsh/_tool.x")).unwrap();
    assert!(zsh.starts_with("#compdef tool.x"), "{zsh}");
    let fish = fs::read_to_string(dir.join("fish/tool.x.fish")).unwrap();
    assert!(fish.contains("complete -c tool.x"), "{fish}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_directory_is_an_error_naming_the_file() {
    let dir = scratch("unwritable");
    fs::create_dir_all(&dir).unwrap();
    // A file where the directory should be.
    let blocked = dir.join("man");
    fs::write(&blocked, b"").unwrap();
    let error = write_man_pages(program(), ManPages::ProgramOnly, &blocked).unwrap_err();
    assert_eq!(error.path, blocked.join("tool.x.8"));
    assert!(error
        .to_string()
        .starts_with(&blocked.display().to_string()));
    fs::remove_dir_all(&dir).unwrap();
}
