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
                let settings = config::load(&cli.global, Some(args), env.get("HOME"))?;
                init_logging(&settings, &env);
                commands::get_credential::run(args, &settings, &env)
            }
            Some(PluginCommand::GetKubeconfig(args)) => get_kubeconfig(cli, args, &env),
            Some(PluginCommand::Cache(args)) => {
                let settings = config::load(&cli.global, None, env.get("HOME"))?;
                init_logging(&settings, &env);
                commands::cache::run(
                    &args.command,
                    args.credential_cache_dir.as_deref(),
                    &settings,
                    &env,
                )
            }
            Some(PluginCommand::GetToken(args)) => {
                let settings = config::load(&cli.global, None, env.get("HOME"))?;
                init_logging(&settings, &env);
                commands::get_token::run(args, &settings, &env)
            }
        },
        Command::GetKubeconfig(args) => get_kubeconfig(cli, args, &env),
        Command::Keyring(args) => {
            let settings = config::load(&cli.global, None, env.get("HOME"))?;
            init_logging(&settings, &env);
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
            AuthCommand::Whoami(args) => {
                let settings = config::load(&cli.global, None, env.get("HOME"))?;
                init_logging(&settings, &env);
                commands::whoami::run(args, &settings, &env)
            }
        },
    }
}

fn get_kubeconfig(
    cli: &Cli,
    args: &cli::GetKubeconfigArgs,
    env: &Environment,
) -> Result<(), AppError> {
    let settings = config::load(&cli.global, None, env.get("HOME"))?;
    init_logging(&settings, env);
    commands::get_kubeconfig::run(args, &cli.global, &settings, env)
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
