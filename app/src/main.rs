//! `ack-ram-tool`: the composition root. Parses the command line, loads configuration, wires
//! adapters to the domain's ports, and turns any failure into one paragraph on stderr and exit
//! code 1. stdout carries only the product.

mod cli;
mod commands;
mod config;
mod error;
mod logging;
mod wiring;

use ack_ram_adapters::env::Environment;
use clap::{CommandFactory, Parser};
use cli::{AuthCommand, Cli, Command, PluginCommand};
use error::AppError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Like the Go tool: help and version exit 0, usage errors exit 1.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
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
        let settings = config::load(&cli.global, command, env.get("HOME"))?;
        init_logging(&settings, &env);
        Ok(settings)
    };
    match &cli.command {
        Command::CredentialPlugin(plugin) => match &plugin.command {
            None => {
                let mut help = Cli::command();
                let sub = help.find_subcommand_mut("credential-plugin");
                if let Some(sub) = sub {
                    let _ = sub.print_help();
                }
                Ok(())
            }
            Some(PluginCommand::GetCredential(args)) => {
                commands::get_credential::run(args, &setup(Some(args))?, &env)
            }
            Some(PluginCommand::GetKubeconfig(args)) => {
                commands::get_kubeconfig::run(args, &cli.global, &setup(None)?, &env)
            }
            Some(PluginCommand::Cache(args)) => commands::cache::run(
                &args.command,
                args.credential_cache_dir.as_deref(),
                &setup(None)?,
                &env,
            ),
            Some(PluginCommand::GetToken(args)) => {
                commands::get_token::run(args, &setup(None)?, &env)
            }
        },
        Command::GetKubeconfig(args) => {
            commands::get_kubeconfig::run(args, &cli.global, &setup(None)?, &env)
        }
        Command::Keyring(args) => {
            setup(None)?;
            commands::keyring::run(&args.command)
        }
        Command::Completion(args) => {
            let mut command = Cli::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "ack-ram-tool",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Auth(auth) => match &auth.command {
            AuthCommand::Whoami(args) => commands::whoami::run(args, &setup(None)?, &env),
        },
    }
}

fn init_logging(settings: &config::Settings, env: &Environment) {
    let (level, unknown) = logging::level(&settings.log_level, settings.verbose, env.get("DEBUG"));
    logging::init(level);
    if let Some(unknown) = unknown {
        tracing::warn!(
            "unknown log level {unknown:?}; using info (valid: debug, info, warn, error)"
        );
    }
}
