//! `host-sim`: run the vtpm core behind the Microsoft TPM simulator protocol.
//!
//! ```text
//! host-sim attest [--seed N] [--json] [--out DIR] [--tamper MODE] [--policy FILE] [--serve PORT]
//! host-sim serve [--port N] [--seed N] [--quiet] [--max-connections N] [--idle-timeout SECONDS]
//! host-sim qemu --socket PATH [--seed N] [--verbose] [--quiet]
//! host-sim verify-snp-report REPORT.bin VCEK [--chain ASK_ARK.pem] [--trust-simulated-root]
//! host-sim verify-tdx-quote QUOTE [--root CERT] [--ignore-time]
//! tpm_server [-port N] [-rm] [-h]        (this binary invoked under the name `tpm_server`)
//! ```
//! Under the name `tpm_server` (a symlink or copy) it accepts the flags of IBM's `tpm_server`
//! that the tpm2-tools and tpm2-pytss test harnesses pass, and serves.

use core::time::Duration;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use host_sim::SimPlatform;
use host_sim::mssim::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, Server};

const USAGE: &str = "\
Usage:
  host-sim attest [--seed N] [--json] [--out DIR] [--tamper MODE] [--policy FILE] [--serve PORT]
  host-sim serve [--port N] [--seed N] [--quiet] [--max-connections N]
                 [--idle-timeout SECONDS]
  host-sim qemu --socket PATH [--seed N] [--verbose] [--quiet]
  host-sim verify-snp-report REPORT.bin VCEK [--chain ASK_ARK.pem] [--trust-simulated-root]
  host-sim verify-tdx-quote QUOTE [--root CERT] [--ignore-time]
  host-sim --help

serve     Serve the Microsoft TPM simulator protocol on 127.0.0.1: TPM commands on port N,
          platform signals (power, NV, reset, cancel) on port N + 1. The TPM starts powered on
          and waits for TPM2_Startup; its state lasts until the process exits.
  --port N  command port (default 2321); 0 picks a free pair and prints N on stdout
  --seed N  deterministic entropy from seed N (decimal or 0x hex): reproducible tests only
  --quiet   no log lines on stderr
  --max-connections N  connections open at once on each port (default 8, at most 1024);
            more are accepted and closed at once. tpm2-tools holds one per port per run.
  --idle-timeout SECONDS  close a connection that sends nothing (or takes no reply) for this
            long (default 600); 0: never, for a client that keeps one connection open while
            idle (tpm2-abrmd)

attest    Boot a simulated SEV-SNP confidential VM, measure its boot into the vTPM and attest
          it remotely end to end (`host-sim attest --help`).

qemu      Serve one QEMU through its tpm-emulator backend on the unix socket PATH
          (`host-sim qemu --help` for the QEMU command line).

verify-snp-report  Print an SEV-SNP attestation report and verify its signature with the VCEK
          (certificate DER/PEM or public key), and with --chain AMD's chain up to a pinned
          ARK (Milan, Genoa, Turin); `host-sim verify-snp-report --help`.

verify-tdx-quote  Verify an Intel TDX quote (v4/v5) up to the pinned Intel SGX Root CA and
          print its TD fields; `host-sim verify-tdx-quote --help`.

Invoked as `tpm_server` (symlink or copy), it takes IBM tpm_server's flags instead:
  tpm_server [-port N] [-rm] [-h]
  -rm is accepted and ignored: every start is a freshly manufactured, ephemeral TPM.

Example: host-sim serve --port 2321 &
         tpm2_startup -c -T mssim:host=127.0.0.1,port=2321
";

const TPM_SERVER_USAGE: &str = "\
Usage: tpm_server [-port N] [-rm] [-h]
  -port N  command port N (default 2321), platform port N + 1, on 127.0.0.1
  -rm      accepted and ignored: every start is a freshly manufactured, ephemeral TPM
  -h       this help
(the vtpm host simulator under IBM tpm_server's name; `host-sim --help` for more)
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// Print this text on stdout and exit successfully.
    Help(&'static str),
    /// Serve.
    Serve(ServeOptions),
    /// `host-sim qemu ARGS...`: parsed by [`host_sim::qemu::parse_args`].
    Qemu(Vec<String>),
    /// `host-sim verify-snp-report ARGS...`: see [`host_sim::snp_verify::main`].
    VerifySnpReport(Vec<String>),
    /// `host-sim verify-tdx-quote ARGS...`: see [`host_sim::tdx_verify::main`].
    VerifyTdxQuote(Vec<String>),
    /// `host-sim attest ARGS...`: see [`host_sim::attest::main`].
    Attest(Vec<String>),
}

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

/// A command-line error, with the usage text to show after it.
#[derive(Debug, PartialEq, Eq)]
struct UsageError {
    message: String,
    usage: &'static str,
}

fn parse_port(value: Option<&str>, flag: &str, usage: &'static str) -> Result<u16, UsageError> {
    let value = value.ok_or_else(|| usage_error(format!("{flag} needs a port number"), usage))?;
    value
        .parse::<u16>()
        .ok()
        .filter(|&p| p < u16::MAX)
        .ok_or_else(|| {
            usage_error(
                format!("{flag} {value}: not a port number in 0..=65534"),
                usage,
            )
        })
}

fn parse_seed(value: Option<&str>) -> Result<u64, UsageError> {
    let value = value.ok_or_else(|| usage_error("--seed needs a number".into(), USAGE))?;
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse::<u64>(),
    };
    parsed.map_err(|_| usage_error(format!("--seed {value}: not a 64-bit number"), USAGE))
}

fn parse_max_connections(value: Option<&str>) -> Result<usize, UsageError> {
    let value =
        value.ok_or_else(|| usage_error("--max-connections needs a number".into(), USAGE))?;
    value
        .parse::<usize>()
        .ok()
        .filter(|&n| (1..=1024).contains(&n))
        .ok_or_else(|| {
            usage_error(
                format!("--max-connections {value}: not a number in 1..=1024"),
                USAGE,
            )
        })
}

fn parse_idle_timeout(value: Option<&str>) -> Result<Option<Duration>, UsageError> {
    let value = value.ok_or_else(|| usage_error("--idle-timeout needs seconds".into(), USAGE))?;
    match value.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(secs) => Ok(Some(Duration::from_secs(u64::from(secs)))),
        Err(_) => Err(usage_error(
            format!("--idle-timeout {value}: not a number of seconds (0: no timeout)"),
            USAGE,
        )),
    }
}

fn usage_error(message: String, usage: &'static str) -> UsageError {
    UsageError { message, usage }
}

/// `host-sim ARGS...` (without argv[0]).
fn parse_host_sim(args: &[String]) -> Result<Action, UsageError> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(usage_error("no command given".into(), USAGE));
    };
    match sub.as_str() {
        "-h" | "--help" | "help" => return Ok(Action::Help(USAGE)),
        "serve" => {}
        "qemu" => return Ok(Action::Qemu(rest.to_vec())),
        "verify-snp-report" => return Ok(Action::VerifySnpReport(rest.to_vec())),
        "verify-tdx-quote" => return Ok(Action::VerifyTdxQuote(rest.to_vec())),
        "attest" => return Ok(Action::Attest(rest.to_vec())),
        other => return Err(usage_error(format!("unknown command `{other}`"), USAGE)),
    }
    let mut opts = ServeOptions::default();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.or_else(|| it.next().map(String::as_str));
        match flag {
            "--port" => opts.port = parse_port(value(), "--port", USAGE)?,
            "--seed" => opts.seed = Some(parse_seed(value())?),
            "--max-connections" => opts.max_connections = parse_max_connections(value())?,
            "--idle-timeout" => opts.idle_timeout = parse_idle_timeout(value())?,
            "--quiet" | "-q" if inline.is_none() => opts.quiet = true,
            "-h" | "--help" if inline.is_none() => return Ok(Action::Help(USAGE)),
            _ => return Err(usage_error(format!("unknown option `{arg}`"), USAGE)),
        }
    }
    Ok(Action::Serve(opts))
}

/// `tpm_server ARGS...` (without argv[0]): IBM's flags.
fn parse_tpm_server(args: &[String]) -> Result<Action, UsageError> {
    let mut opts = ServeOptions::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-port" => {
                opts.port = parse_port(it.next().map(String::as_str), "-port", TPM_SERVER_USAGE)?;
            }
            "-rm" => {}
            "-h" | "-help" | "--help" => return Ok(Action::Help(TPM_SERVER_USAGE)),
            other => {
                return Err(usage_error(
                    format!("{other} is not a valid option"),
                    TPM_SERVER_USAGE,
                ));
            }
        }
    }
    Ok(Action::Serve(opts))
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
    let action = if tpm_server {
        parse_tpm_server(&args)
    } else {
        parse_host_sim(&args)
    };
    match action {
        Ok(Action::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Action::Serve(opts)) => serve(prog, &opts),
        Ok(Action::Qemu(args)) => host_sim::qemu::main(&args),
        Ok(Action::VerifySnpReport(args)) => host_sim::snp_verify::main(&args),
        Ok(Action::VerifyTdxQuote(args)) => host_sim::tdx_verify::main(&args),
        Ok(Action::Attest(args)) => host_sim::attest::main(&args),
        Err(e) => {
            eprintln!("{prog}: {}\n\n{}", e.message, e.usage);
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    fn serve_opts(port: u16, seed: Option<u64>, quiet: bool) -> Result<Action, UsageError> {
        Ok(Action::Serve(ServeOptions {
            port,
            seed,
            quiet,
            ..ServeOptions::default()
        }))
    }

    #[test]
    fn connection_limits_on_the_command_line() {
        let serve = |max_connections, idle_timeout| {
            Ok(Action::Serve(ServeOptions {
                max_connections,
                idle_timeout,
                ..ServeOptions::default()
            }))
        };
        assert_eq!(
            parse_host_sim(&args(&["serve"])),
            serve(DEFAULT_MAX_CONNECTIONS, Some(DEFAULT_IDLE_TIMEOUT))
        );
        assert_eq!(
            parse_host_sim(&args(&[
                "serve",
                "--max-connections",
                "2",
                "--idle-timeout",
                "30"
            ])),
            serve(2, Some(Duration::from_secs(30)))
        );
        assert_eq!(
            parse_host_sim(&args(&["serve", "--max-connections=1", "--idle-timeout=0"])),
            serve(1, None)
        );
        for bad in [
            &["serve", "--max-connections"][..],
            &["serve", "--max-connections", "0"],
            &["serve", "--max-connections", "1025"],
            &["serve", "--idle-timeout", "-1"],
            &["serve", "--idle-timeout", "1.5"],
            &["serve", "--idle-timeout"],
        ] {
            assert!(parse_host_sim(&args(bad)).is_err(), "{bad:?}");
        }
        // IBM's tpm_server has no such flags.
        assert!(parse_tpm_server(&args(&["--idle-timeout", "1"])).is_err());
    }

    #[test]
    fn host_sim_command_line() {
        assert_eq!(
            parse_host_sim(&args(&["serve"])),
            serve_opts(2321, None, false)
        );
        assert_eq!(
            parse_host_sim(&args(&[
                "serve", "--port", "4000", "--seed", "0x10", "--quiet"
            ])),
            serve_opts(4000, Some(16), true)
        );
        assert_eq!(
            parse_host_sim(&args(&["serve", "--port=0", "--seed=7"])),
            serve_opts(0, Some(7), false)
        );
        assert_eq!(parse_host_sim(&args(&["--help"])), Ok(Action::Help(USAGE)));
        assert_eq!(
            parse_host_sim(&args(&["serve", "-h"])),
            Ok(Action::Help(USAGE))
        );
        for bad in [
            &[][..],
            &["frobnicate"],
            &["serve", "--port"],
            &["serve", "--port", "65535"],
            &["serve", "--port", "x"],
            &["serve", "--seed", "-1"],
            &["serve", "--bogus"],
            &["serve", "--quiet=yes"],
            &["serve", "-port", "1"],
        ] {
            assert!(parse_host_sim(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tpm_server_command_line() {
        assert_eq!(parse_tpm_server(&[]), serve_opts(2321, None, false));
        assert_eq!(
            parse_tpm_server(&args(&["-rm", "-port", "5000"])),
            serve_opts(5000, None, false)
        );
        assert_eq!(
            parse_tpm_server(&args(&["-h"])),
            Ok(Action::Help(TPM_SERVER_USAGE))
        );
        for bad in [
            &["-port"][..],
            &["--port", "1"],
            &["-port", "70000"],
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
