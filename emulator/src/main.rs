//! `ack-ram-emulator` command: runs the CS + STS API emulator (and optionally its Kubernetes API
//! listener) in the foreground.
//!
//! Exists for the README demo (run the plugin end to end without an Alibaba Cloud account) and
//! for shell-driven tests and benchmarks: it prints a ready line to stdout (two with
//! `--kube-api`), can write the CA and the endpoints to files, logs one line per request to
//! stderr and exits cleanly on SIGTERM/SIGINT. Fault injection is driven over HTTP
//! (`POST /__emulator/faults`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use ack_ram_emulator::{DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, EmulatorConfig};
use clap::Parser;

/// Local stand-in for the ACK (CS) OpenAPI `DescribeClusterUserKubeconfig` and STS
/// `AssumeRole`/`GetCallerIdentity`: verifies ROA and RPC signatures and issues real short-lived
/// client certificates from a throw-away CA; optionally serves a minimal Kubernetes API over
/// mTLS that accepts them.
#[derive(Debug, Parser)]
#[command(name = "ack-ram-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a certificate for 127.0.0.1/localhost signed by the emulator CA.
    #[arg(long)]
    tls: bool,
    /// Delay every API answer by this many milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Write the CA certificate (PEM) to this file before reporting ready.
    #[arg(long, value_name = "FILE")]
    ca_out: Option<PathBuf>,
    /// AccessKey id to accept.
    #[arg(long, default_value = DEMO_ACCESS_KEY_ID)]
    access_key_id: String,
    /// Secret of that AccessKey.
    #[arg(long, default_value = DEMO_ACCESS_KEY_SECRET, hide_default_value = false)]
    access_key_secret: String,
    /// Security token registered with that AccessKey (required for ids starting with `STS.`).
    #[arg(long, value_name = "TOKEN")]
    security_token: Option<String>,
    /// Accept only this cluster id (repeatable); default: any valid-looking id.
    #[arg(long = "cluster", value_name = "ID")]
    clusters: Vec<String>,
    /// API server URL written into kubeconfigs (public address) [default:
    /// https://127.0.0.1:6443, or the kube-api endpoint with --kube-api].
    #[arg(long, value_name = "URL")]
    api_server: Option<String>,
    /// API server URL written into kubeconfigs for `PrivateIpAddress=true` [default:
    /// https://192.168.0.10:6443, or the kube-api endpoint as https://localhost:PORT with
    /// --kube-api].
    #[arg(long, value_name = "URL")]
    private_api_server: Option<String>,
    /// Write the endpoint URL to this file (atomically) once listening.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Accept only this role ARN in STS AssumeRole (repeatable); default: any well-formed
    /// acs:ram::<digits>:role/<name>.
    #[arg(long = "role", value_name = "ARN")]
    roles: Vec<String>,
    /// Also serve a minimal Kubernetes API over mTLS (client certificates from the emulator CA)
    /// on a second port; kubeconfigs then point at it.
    #[arg(long)]
    kube_api: bool,
    /// Address of the Kubernetes API listener (implies --kube-api) [default: the --listen IP,
    /// any free port].
    #[arg(long, value_name = "ADDR")]
    kube_listen: Option<SocketAddr>,
    /// Write the Kubernetes API URL to this file (atomically) once listening (implies
    /// --kube-api).
    #[arg(long, value_name = "FILE")]
    kube_ready_file: Option<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ack-ram-emulator: error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // Install the handlers before announcing readiness, so a supervisor that signals right after
    // the ready line still gets a clean shutdown.
    let signals = Signals::install()?;
    let config = EmulatorConfig {
        access_keys: vec![(args.access_key_id.clone(), args.access_key_secret.clone())],
        clusters: (!args.clusters.is_empty()).then(|| args.clusters.clone()),
        response_delay: Duration::from_millis(args.delay_ms),
        tls: args.tls,
        roles: (!args.roles.is_empty()).then(|| args.roles.clone()),
        kube_api: args.kube_api || args.kube_listen.is_some() || args.kube_ready_file.is_some(),
        kube_api_addr: args.kube_listen,
    };
    let emulator = Emulator::start_on(args.listen, config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(token) = &args.security_token {
        emulator.add_security_token(&args.access_key_id, &args.access_key_secret, token);
    }
    if args.api_server.is_some() || args.private_api_server.is_some() {
        let (public, private) = if emulator.kube_endpoint().is_empty() {
            (
                ack_ram_emulator::DEFAULT_PUBLIC_SERVER.to_owned(),
                ack_ram_emulator::DEFAULT_PRIVATE_SERVER.to_owned(),
            )
        } else {
            let kube = emulator.kube_endpoint();
            let private = kube.replace("://127.0.0.1:", "://localhost:");
            (kube, private)
        };
        emulator.set_api_servers(
            args.api_server.as_deref().unwrap_or(&public),
            args.private_api_server.as_deref().unwrap_or(&private),
        );
    }
    emulator.set_request_log(true);
    let kube_endpoint = emulator.kube_endpoint();

    if let Some(path) = &args.ca_out {
        write_atomically(path, &emulator.ca_pem())
            .map_err(|e| format!("writing the CA to {}: {e}", path.display()))?;
    }
    // The kube ready file first: whoever sees the main one can rely on it.
    if let Some(path) = &args.kube_ready_file {
        write_atomically(path, &format!("{kube_endpoint}\n"))
            .map_err(|e| format!("writing the kube ready file {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.ready_file {
        write_atomically(path, &format!("{}\n", emulator.endpoint()))
            .map_err(|e| format!("writing the ready file {}: {e}", path.display()))?;
    }
    {
        let mut stdout = std::io::stdout().lock();
        let mut lines = format!("ack-ram-emulator listening on {}\n", emulator.endpoint());
        if !kube_endpoint.is_empty() {
            lines.push_str(&format!(
                "ack-ram-emulator kube-api listening on {kube_endpoint}\n"
            ));
        }
        stdout
            .write_all(lines.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("writing to stdout: {e}"))?;
    }

    signals.wait().await;
    eprintln!("ack-ram-emulator: shutting down");
    emulator.shutdown().await;
    Ok(())
}

/// SIGTERM and SIGINT (Ctrl-C elsewhere), registered up front.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Signals, String> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?,
            int: signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?,
        })
    }

    #[cfg(unix)]
    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }

    #[cfg(not(unix))]
    fn install() -> Result<Signals, String> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes through a temporary file in the same directory and renames it into place, so a
/// watcher never sees a partial file.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ack-ram-emulator".to_owned());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
