//! `host-sim`: run the vtpm core behind the Microsoft TPM simulator protocol.
//!
//! ```text
//! host-sim attest [--seed N] [--ek ecc384|ecc256|rsa2048] [--json] [--out DIR] [--tamper MODE]
//!                 [--policy FILE] [--serve PORT]
//! host-sim serve [--port N] [--seed N] [--quiet] [--max-connections N] [--idle-timeout SECONDS]
//! host-sim qemu --socket PATH [--seed N] [--verbose] [--quiet]
//! host-sim verify-snp-report REPORT.bin VCEK [--chain ASK_ARK.pem] [--trust-simulated-root]
//! host-sim verify-tdx-quote QUOTE [--root CERT] [--ignore-time] [--bound-to QUOTE]
//! tpm_server [-port N] [-rm] [-h]        (this binary invoked under the name `tpm_server`)
//! ```
//! Under the name `tpm_server` (a symlink or copy) it accepts the flags of IBM's `tpm_server`
//! that the tpm2-tools and tpm2-pytss test harnesses pass, and serves.

use core::time::Duration;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use host_sim::SimPlatform;
use host_sim::mssim::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, Server};

/// The synopsis of every command, `Usage:` in the help and after a usage error.
const SYNOPSIS: &str = "\
host-sim attest [--seed N] [--ek ecc384|ecc256|rsa2048] [--json] [--out DIR]
                       [--tamper MODE] [--policy FILE] [--serve PORT]
       host-sim serve [--port N] [--seed N] [--quiet] [--max-connections N]
                      [--idle-timeout SECONDS]
       host-sim qemu --socket PATH [--seed N] [--verbose] [--quiet]
       host-sim verify-snp-report REPORT.bin VCEK [--chain ASK_ARK.pem] [--trust-simulated-root]
       host-sim verify-tdx-quote QUOTE [--root CERT] [--ignore-time] [--bound-to QUOTE]
       host-sim --help";

/// After the list of commands in `host-sim --help`.
const AFTER_HELP: &str = "\
Invoked as `tpm_server` (symlink or copy), it takes IBM tpm_server's flags instead:
  tpm_server [-port N] [-rm] [-h]
  -rm is accepted and ignored: every start is a freshly manufactured, ephemeral TPM.

Example: host-sim serve --port 2321 &
         tpm2_startup -c -T mssim:host=127.0.0.1,port=2321";

const TPM_SERVER_USAGE: &str = "\
Usage: tpm_server [-port N] [-rm] [-h]
  -port N  command port N (default 2321), platform port N + 1, on 127.0.0.1
  -rm      accepted and ignored: every start is a freshly manufactured, ephemeral TPM
  -h       this help
(the vtpm host simulator under IBM tpm_server's name; `host-sim --help` for more)
";

/// `host-sim`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "host-sim",
    about = "The vtpm core on an ordinary host: Microsoft TPM simulator protocol server, QEMU \
             tpm-emulator backend, simulated SEV-SNP and TDX attestation.",
    override_usage = SYNOPSIS,
    after_help = AFTER_HELP,
    subcommand_required = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands. `attest`, `verify-snp-report` and `verify-tdx-quote` parse their own options
/// (with clap, in their modules); their arguments are passed through untouched.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Microsoft TPM simulator protocol on 127.0.0.1: TPM commands on port N,
    /// platform signals (power, NV, reset, cancel) on port N + 1 (`host-sim serve --help`).
    ///
    /// The TPM starts powered on and waits for TPM2_Startup; its state lasts until the process
    /// exits.
    #[command(after_help = "Example: host-sim serve --port 2321 &\n         \
                            tpm2_startup -c -T mssim:host=127.0.0.1,port=2321")]
    Serve(ServeArgs),
    /// Serve one QEMU through its tpm-emulator backend on the unix socket PATH
    /// (`host-sim qemu --help` for the QEMU command line).
    Qemu(host_sim::qemu::Options),
    /// Boot a simulated SEV-SNP confidential VM, measure its boot into the vTPM and attest it
    /// remotely end to end (`host-sim attest --help`).
    #[command(disable_help_flag = true)]
    Attest(PassThrough),
    /// Print an SEV-SNP attestation report and verify its signature with the VCEK (certificate
    /// DER/PEM or public key), and with --chain AMD's chain up to a pinned ARK (Milan, Genoa,
    /// Turin); `host-sim verify-snp-report --help`.
    #[command(disable_help_flag = true)]
    VerifySnpReport(PassThrough),
    /// Verify an Intel TDX quote (v4/v5) up to the pinned Intel SGX Root CA and print its TD
    /// fields; `host-sim verify-tdx-quote --help`.
    #[command(disable_help_flag = true)]
    VerifyTdxQuote(PassThrough),
}

/// The arguments of a command that parses its own.
#[derive(Debug, PartialEq, Eq, clap::Args)]
struct PassThrough {
    /// Its arguments (`--help` included).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// `host-sim serve` options.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Command port (platform port: N + 1); 0 picks a free pair and prints N on stdout.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_PORT,
        value_parser = clap::value_parser!(u16).range(..i64::from(u16::MAX))
    )]
    port: u16,
    /// Deterministic entropy from seed N (decimal or 0x hex): reproducible tests only.
    #[arg(long, value_name = "N", value_parser = host_sim::parse_seed)]
    seed: Option<u64>,
    /// No log lines on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Connections open at once on each port (at most 1024); more are accepted and closed at
    /// once. tpm2-tools holds one per port per run.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = parse_max_connections
    )]
    max_connections: usize,
    /// Close a connection that sends nothing (or takes no reply) for this long; 0: never, for
    /// a client that keeps one connection open while idle (tpm2-abrmd).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(..=u64::from(u32::MAX))
    )]
    idle_timeout: u64,
}

fn parse_max_connections(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|&n| (1..=1024).contains(&n))
        .ok_or_else(|| "not a number in 1..=1024".to_owned())
}

/// What `serve` (either personality) runs with.
#[derive(Debug, PartialEq, Eq)]
struct ServeOptions {
    port: u16,
    seed: Option<u64>,
    quiet: bool,
    /// Connections open at once per port.
    max_connections: usize,
    /// Idle timeout; `None`: none.
    idle_timeout: Option<Duration>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            seed: None,
            quiet: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

impl From<ServeArgs> for ServeOptions {
    fn from(a: ServeArgs) -> Self {
        Self {
            port: a.port,
            seed: a.seed,
            quiet: a.quiet,
            max_connections: a.max_connections,
            idle_timeout: (a.idle_timeout != 0).then(|| Duration::from_secs(a.idle_timeout)),
        }
    }
}

/// What the `tpm_server` command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum TpmServerAction {
    /// Print [`TPM_SERVER_USAGE`] on stdout and exit successfully.
    Help,
    /// Serve.
    Serve(ServeOptions),
}

/// `tpm_server ARGS...` (without argv[0]): IBM's flags, single-dash long options (`-port N`),
/// which clap does not parse. An error is the message to print before [`TPM_SERVER_USAGE`].
fn parse_tpm_server(args: &[String]) -> Result<TpmServerAction, String> {
    let mut opts = ServeOptions::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-port" => {
                let value = it.next().ok_or("-port needs a port number")?;
                opts.port = value
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p < u16::MAX)
                    .ok_or_else(|| format!("-port {value}: not a port number in 0..=65534"))?;
            }
            "-rm" => {}
            "-h" | "-help" | "--help" => return Ok(TpmServerAction::Help),
            other => return Err(format!("{other} is not a valid option")),
        }
    }
    Ok(TpmServerAction::Serve(opts))
}

/// Whether argv[0] names the IBM-compatible personality.
fn is_tpm_server(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|name| name == "tpm_server")
}

fn serve(prog: &str, opts: &ServeOptions) -> ExitCode {
    let platform = opts.seed.map_or_else(SimPlatform::new, SimPlatform::seeded);
    let server = match Server::bind(opts.port, platform) {
        Ok(s) => s
            .quiet(opts.quiet)
            .max_connections(opts.max_connections)
            .idle_timeout(opts.idle_timeout),
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !opts.quiet {
        eprintln!(
            "{prog}: pid {}: mssim server on 127.0.0.1:{} (TPM commands) and 127.0.0.1:{} \
             (platform); TPM powered on, waiting for TPM2_Startup{}",
            std::process::id(),
            server.command_port(),
            server.platform_port(),
            match opts.seed {
                Some(seed) => format!("; DETERMINISTIC entropy from seed {seed} (tests only)"),
                None => String::new(),
            }
        );
    }
    if opts.port == 0 {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", server.command_port());
        let _ = out.flush();
    }
    match server.run() {
        Ok(()) => {
            if !opts.quiet {
                eprintln!("{prog}: stopped");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{prog}: server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `host-sim ARGS...` (without argv[0]).
fn parse_host_sim(args: &[String]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(core::iter::once("host-sim").chain(args.iter().map(String::as_str)))
        .map(|cli| cli.command)
}

fn main() -> ExitCode {
    let mut raw = std::env::args_os();
    let argv0 = raw.next();
    let tpm_server = is_tpm_server(argv0.as_ref());
    let prog = if tpm_server { "tpm_server" } else { "host-sim" };
    let mut args = Vec::new();
    for a in raw {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                eprintln!("{prog}: argument {a:?} is not valid UTF-8");
                return ExitCode::from(2);
            }
        }
    }
    if tpm_server {
        return match parse_tpm_server(&args) {
            Ok(TpmServerAction::Help) => {
                print!("{TPM_SERVER_USAGE}");
                ExitCode::SUCCESS
            }
            Ok(TpmServerAction::Serve(opts)) => serve(prog, &opts),
            Err(e) => {
                eprintln!("{prog}: {e}\n\n{TPM_SERVER_USAGE}");
                ExitCode::from(2)
            }
        };
    }
    match parse_host_sim(&args) {
        Ok(Command::Serve(a)) => serve(prog, &a.into()),
        Ok(Command::Qemu(opts)) => host_sim::qemu::main(&opts),
        Ok(Command::Attest(p)) => host_sim::attest::main(&p.args),
        Ok(Command::VerifySnpReport(p)) => host_sim::snp_verify::main(&p.args),
        Ok(Command::VerifyTdxQuote(p)) => host_sim::tdx_verify::main(&p.args),
        Err(e) => {
            // Help on stdout (exit 0); usage errors on stderr (exit 2).
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    /// `host-sim ARGS` as the options `serve` runs with.
    fn serve_options(a: &[&str]) -> Result<ServeOptions, ErrorKind> {
        match parse_host_sim(&args(a)) {
            Ok(Command::Serve(s)) => Ok(s.into()),
            Ok(other) => panic!("{a:?}: {other:?}"),
            Err(e) => Err(e.kind()),
        }
    }

    fn serve_opts(port: u16, seed: Option<u64>, quiet: bool) -> Result<ServeOptions, ErrorKind> {
        Ok(ServeOptions {
            port,
            seed,
            quiet,
            ..ServeOptions::default()
        })
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_limits_on_the_command_line() {
        let serve = |max_connections, idle_timeout| {
            Ok(ServeOptions {
                max_connections,
                idle_timeout,
                ..ServeOptions::default()
            })
        };
        assert_eq!(
            serve_options(&["serve"]),
            serve(DEFAULT_MAX_CONNECTIONS, Some(DEFAULT_IDLE_TIMEOUT))
        );
        assert_eq!(
            serve_options(&["serve", "--max-connections", "2", "--idle-timeout", "30"]),
            serve(2, Some(Duration::from_secs(30)))
        );
        assert_eq!(
            serve_options(&["serve", "--max-connections=1", "--idle-timeout=0"]),
            serve(1, None)
        );
        assert_eq!(
            serve_options(&[
                "serve",
                "--max-connections=1024",
                "--idle-timeout=4294967295"
            ]),
            serve(1024, Some(Duration::from_secs(u64::from(u32::MAX))))
        );
        for bad in [
            &["serve", "--max-connections"][..],
            &["serve", "--max-connections", "0"],
            &["serve", "--max-connections", "1025"],
            &["serve", "--idle-timeout", "-1"],
            &["serve", "--idle-timeout", "1.5"],
            &["serve", "--idle-timeout", "4294967296"],
            &["serve", "--idle-timeout"],
        ] {
            assert!(serve_options(bad).is_err(), "{bad:?}");
        }
        // IBM's tpm_server has no such flags.
        assert!(parse_tpm_server(&args(&["--idle-timeout", "1"])).is_err());
    }

    #[test]
    fn host_sim_command_line() {
        assert_eq!(serve_options(&["serve"]), serve_opts(2321, None, false));
        assert_eq!(
            serve_options(&["serve", "--port", "4000", "--seed", "0x10", "--quiet"]),
            serve_opts(4000, Some(16), true)
        );
        assert_eq!(
            serve_options(&["serve", "--port=0", "--seed=7", "-q"]),
            serve_opts(0, Some(7), true)
        );
        assert_eq!(
            serve_options(&["serve", "--port", "65534"]),
            serve_opts(65534, None, false)
        );
        for help in [&["--help"][..], &["-h"], &["help"], &["serve", "-h"]] {
            let e = parse_host_sim(&args(help)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayHelp, "{help:?}");
            assert!(!e.use_stderr());
        }
        for bad in [
            &[][..],
            &["frobnicate"],
            &["serve", "--port"],
            &["serve", "--port", "65535"],
            &["serve", "--port", "x"],
            &["serve", "--seed", "-1"],
            &["serve", "--seed", "0x"],
            &["serve", "--bogus"],
            &["serve", "--quiet=yes"],
            &["serve", "-port", "1"],
        ] {
            let e = parse_host_sim(&args(bad)).unwrap_err();
            assert!(e.use_stderr(), "{bad:?}: {e}");
        }
    }

    #[test]
    fn other_commands_get_their_arguments_untouched() {
        let passed = |a: &[&str]| match parse_host_sim(&args(a)) {
            Ok(Command::Attest(p) | Command::VerifySnpReport(p) | Command::VerifyTdxQuote(p)) => {
                p.args
            }
            other => panic!("{a:?}: {other:?}"),
        };
        assert_eq!(passed(&["attest"]), args(&[]));
        assert_eq!(
            passed(&["attest", "--json", "--seed", "3", "--help"]),
            args(&["--json", "--seed", "3", "--help"])
        );
        assert_eq!(
            passed(&["verify-snp-report", "-h", "r.bin", "--", "v"]),
            args(&["-h", "r.bin", "--", "v"])
        );
        assert_eq!(
            passed(&["verify-tdx-quote", "q", "--ignore-time"]),
            args(&["q", "--ignore-time"])
        );
        assert!(matches!(
            parse_host_sim(&args(&["qemu", "--socket", "/s", "-v"])),
            Ok(Command::Qemu(o)) if o.verbose && o.socket == Path::new("/s")
        ));
    }

    #[test]
    fn tpm_server_command_line() {
        assert_eq!(
            parse_tpm_server(&[]),
            Ok(TpmServerAction::Serve(ServeOptions::default()))
        );
        assert_eq!(
            parse_tpm_server(&args(&["-rm", "-port", "5000"])),
            Ok(TpmServerAction::Serve(ServeOptions {
                port: 5000,
                ..ServeOptions::default()
            }))
        );
        assert_eq!(parse_tpm_server(&args(&["-h"])), Ok(TpmServerAction::Help));
        for bad in [
            &["-port"][..],
            &["--port", "1"],
            &["-port", "70000"],
            &["-port", "65535"],
            &["serve"],
        ] {
            assert!(parse_tpm_server(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn personality_comes_from_argv0_basename() {
        assert!(is_tpm_server(Some(&"/usr/local/bin/tpm_server".into())));
        assert!(is_tpm_server(Some(&"tpm_server".into())));
        assert!(!is_tpm_server(Some(&"/x/host-sim".into())));
        assert!(!is_tpm_server(Some(&"/x/tpm_server_old".into())));
        assert!(!is_tpm_server(None));
    }
}
