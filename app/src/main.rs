//! `ack-ram-tool`: the composition root. Parses the command line, loads configuration, wires
//! adapters to the domain's ports, and turns any failure into one paragraph on stderr and exit
//! code 1. stdout carries only the product.

mod cli;
mod commands;
mod config;
mod error;
mod logging;
mod output;
mod wiring;

use ack_ram_adapters::env::Environment;
use clap::{CommandFactory, Parser};
use cli::{AuthCommand, Cli, Command, PluginCommand};
use error::AppError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // What kubectl runs is recognised without building clap's command tree (cli/fast.rs);
    // everything else, errors and help included, is clap's.
    let parsed = match cli::fast::parse(&args) {
        Some(cli) => Ok(cli),
        None => Cli::try_parse_from(&args),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // A bare command group: its help, on stderr, and exit 1 (nothing was done).
            eprint!("{}", e.render());
            return ExitCode::from(1);
        }
        Err(e) if e.use_stderr() => {
            // Like the Go tool: usage errors exit 1, as one paragraph like every other error.
            eprintln!("{}", error::usage_paragraph(&e.render().to_string()));
            return ExitCode::from(1);
        }
        Err(e) => {
            // Help and version, on stdout, exit 0 (a closed pipe is fine).
            let _ = output::print(&e.render().to_string());
            return ExitCode::SUCCESS;
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.render());
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), AppError> {
    let env = Environment::from_process();
    // Configuration and logging, once the command is known (get-credential has its own
    // --credential-cache-dir layer).
    let setup = |command: Option<&cli::GetCredentialArgs>| -> Result<config::Settings, AppError> {
        let settings = config::load(&cli.global, command, &env)?;
        init_logging(&settings, &env);
        Ok(settings)
    };
    match &cli.command {
        Command::CredentialPlugin(plugin) => match &plugin.command {
            PluginCommand::GetCredential(args) => {
                commands::get_credential::run(args, &setup(Some(args))?, &env)
            }
            PluginCommand::GetKubeconfig(args) => {
                commands::get_kubeconfig::run(args, &cli.global, &setup(None)?, &env)
            }
            PluginCommand::Cache(args) => commands::cache::run(
                &args.command,
                args.credential_cache_dir.as_deref(),
                &setup(None)?,
                &env,
            ),
            PluginCommand::GetToken(args) => commands::get_token::run(args, &setup(None)?, &env),
        },
        Command::GetKubeconfig(args) => {
            commands::get_kubeconfig::run(args, &cli.global, &setup(None)?, &env)
        }
        Command::Keyring(args) => {
            setup(None)?;
            commands::keyring::run(&args.command)
        }
        Command::Completion(args) => output::print(&completion_script(args.shell)),
        Command::Version(args) => output::print(&version(args.output)),
        Command::Doctor(args) => commands::doctor::run(args, &setup(None)?, &env),
        Command::Auth(auth) => match &auth.command {
            AuthCommand::Whoami(args) => commands::whoami::run(args, &setup(None)?, &env),
        },
        Command::ExportCredentials(args) => {
            commands::export_credentials::run(args, &setup(None)?, &env)
        }
    }
}

/// `ack-ram-tool version`: the Go tool prints `Version: x` and `GitCommit: y`; JSON adds the
/// target for bug reports.
fn version(format: cli::OutputFormat) -> String {
    let (version, commit, target) = (
        env!("CARGO_PKG_VERSION"),
        env!("ACK_RAM_TOOL_GIT_COMMIT"),
        env!("ACK_RAM_TOOL_TARGET"),
    );
    match format {
        cli::OutputFormat::Text => {
            format!("Version: {version}\nGitCommit: {commit}\nTarget: {target}\n")
        }
        cli::OutputFormat::Json => format!(
            "{}\n",
            serde_json::json!({"version": version, "gitCommit": commit, "target": target})
        ),
    }
}

/// The completion script for `shell`, generated into memory (clap_complete writes with
/// print-like calls that panic on a closed pipe: `completion bash | head -1`).
///
/// clap_complete's bash generator mangles a hyphenated binary name two ways: the state it
/// tracks is `ack__ram__tool__subcmd__auth`, but its case branches are named
/// `ack__subcmd__ram__subcmd__tool__subcmd__auth`, so nothing after the first word completes.
/// The branch names are rewritten to the state's spelling.
fn completion_script(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ack-ram-tool", &mut script);
    let script = String::from_utf8_lossy(&script);
    match shell {
        clap_complete::Shell::Bash => {
            script.replace("ack__subcmd__ram__subcmd__tool", "ack__ram__tool")
        }
        _ => script.into_owned(),
    }
}

fn init_logging(settings: &config::Settings, env: &Environment) {
    let level = logging::level(settings.log_level, settings.verbose, env.get("DEBUG"));
    logging::init(level, env);
}
