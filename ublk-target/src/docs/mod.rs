//! Man pages (section 8) and shell completions made from a program's clap definitions, for
//! the install script: each binary has a `generate-docs` command that calls [`run_generate_docs`], so
//! what is installed describes exactly the binary that is installed.
//!
//! Layout written:
//!
//! ```text
//! MAN_DIR/NAME.8                 the program
//! MAN_DIR/NAME-COMMAND.8         each visible subcommand (when asked for)
//! COMPLETIONS_DIR/bash/NAME      bash-completion loads completions by command name
//! COMPLETIONS_DIR/zsh/_NAME      zsh's #compdef file naming convention
//! COMPLETIONS_DIR/fish/NAME.fish
//! ```

#[cfg(test)]
mod tests;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;
use thiserror::Error;

/// Administration commands live in section 8.
pub(crate) const MAN_SECTION: &str = "8";

/// `generate-docs --man DIR --completions DIR` (hidden: for the install script).
#[derive(clap::Args, Debug, Clone)]
pub struct GenerateDocsArgs {
    /// Write the man pages here.
    #[arg(long = "man", value_name = "DIR")]
    pub man_dir: Option<PathBuf>,
    /// Write the completions here, in bash/, zsh/ and fish/.
    #[arg(long = "completions", value_name = "DIR")]
    pub completions_dir: Option<PathBuf>,
}

/// Whether the subcommands get man pages of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManPages {
    /// `NAME.8` only, describing its subcommands in a COMMANDS section (clap_mangen's own
    /// subcommand section would refer to `NAME-COMMAND(8)` pages that do not exist).
    ProgramOnly,
    /// `NAME.8` and `NAME-COMMAND.8` for each visible subcommand.
    PerSubcommand,
}

/// A file that could not be written.
#[derive(Debug, Error)]
#[error("{path}: {source}")]
pub(crate) struct DocsError {
    pub path: PathBuf,
    pub source: io::Error,
}

fn write_file(
    path: &Path,
    render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
) -> Result<(), DocsError> {
    let error = |source| DocsError {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    render(&mut bytes).map_err(error)?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(error)?;
    }
    let mut file = fs::File::create(path).map_err(error)?;
    file.write_all(&bytes).map_err(error)
}

/// Writes the man pages of `command` (named by its `name`) into `dir`; returns their paths.
pub(crate) fn write_man_pages(
    command: Command,
    pages: ManPages,
    dir: &Path,
) -> Result<Vec<PathBuf>, DocsError> {
    let mut command = command.disable_help_subcommand(true);
    // Gives each subcommand its display name (`NAME-COMMAND`, the page's title and file
    // name) and its usage line (`NAME COMMAND ...`).
    command.build();
    let mut commands = vec![command.clone()];
    if pages == ManPages::PerSubcommand {
        commands.extend(
            command
                .get_subcommands()
                .filter(|subcommand| !subcommand.is_hide_set())
                .cloned(),
        );
    }
    let source = format!(
        "{} {}",
        command.get_name(),
        command.get_version().unwrap_or_default()
    );
    let mut written = Vec::new();
    for page in commands {
        let man = Man::new(page)
            .section(MAN_SECTION)
            .source(source.clone())
            .manual("System Administration");
        let path = dir.join(man.get_filename());
        match pages {
            ManPages::PerSubcommand => write_file(&path, |bytes| man.render(bytes))?,
            ManPages::ProgramOnly => {
                write_file(&path, |bytes| render_with_commands(&man, &command, bytes))?
            }
        }
        written.push(path);
    }
    Ok(written)
}

/// The program's page with its subcommands described in it: the usual sections, with a
/// COMMANDS section (each command's usage line and description) for clap_mangen's list.
fn render_with_commands(man: &Man, command: &Command, out: &mut Vec<u8>) -> io::Result<()> {
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut subcommand = subcommand.clone();
        let usage = subcommand.render_usage().to_string();
        let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_owned();
        roff.control("TP", []);
        roff.text([bold(usage)]);
        let about = subcommand
            .get_long_about()
            .or(subcommand.get_about())
            .map(ToString::to_string)
            .unwrap_or_default();
        roff.text([roman(about)]);
    }
    roff.to_writer(out)?;
    man.render_version_section(out)
}

/// Where a shell's completion file for `bin_name` goes under the completions directory.
pub(crate) fn completion_path(dir: &Path, shell: Shell, bin_name: &str) -> PathBuf {
    let file = match shell {
        Shell::Zsh => format!("_{bin_name}"),
        Shell::Fish => format!("{bin_name}.fish"),
        _ => bin_name.to_owned(),
    };
    dir.join(shell.to_string()).join(file)
}

/// The shells completions are installed for.
pub(crate) const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes the bash, zsh and fish completions of `command` as `bin_name`; returns their paths.
pub(crate) fn write_completions(
    mut command: Command,
    bin_name: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, DocsError> {
    let mut written = Vec::new();
    for shell in SHELLS {
        let path = completion_path(dir, shell, bin_name);
        write_file(&path, |bytes| {
            clap_complete::generate(shell, &mut command, bin_name, bytes);
            Ok(())
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `generate-docs`: the man pages and completions asked for, each path written on
/// stdout; an error as one line on stderr.
pub fn run_generate_docs(command: Command, pages: ManPages, args: &GenerateDocsArgs) -> ExitCode {
    let bin_name = command.get_name().to_owned();
    let mut written = Vec::new();
    let mut result = Ok(());
    if let Some(dir) = &args.man_dir {
        result = write_man_pages(command.clone(), pages, dir).map(|paths| written.extend(paths));
    }
    if let (Ok(()), Some(dir)) = (&result, &args.completions_dir) {
        result = write_completions(command, &bin_name, dir).map(|paths| written.extend(paths));
    }
    for path in &written {
        println!("{}", path.display());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{bin_name} generate-docs: {error}");
            ExitCode::FAILURE
        }
    }
}
