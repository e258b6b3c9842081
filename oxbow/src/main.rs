//! `oxbow`: serve the roles, migrate, mint development tokens, and audit the log.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::flags::Cli;

// The command path allocates many small, short-lived buffers; mimalloc serves them far
// cheaper than glibc's malloc under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Every TLS client (PostgreSQL, Redis, HTTP) uses rustls with ring.
    platform::tls::install();
    // `oxbow serve --help` lists every variable of the configuration.
    let command = Cli::command().mut_subcommand("serve", |serve| serve.after_help(platform::variables::help()));
    let cli = match command.try_get_matches().and_then(|matches| Cli::from_arg_matches(&matches)) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // One line, not clap's usage block.
            let message = error.render().to_string();
            let mut lines = message.lines().map(str::trim).filter(|line| !line.is_empty());
            let mut first = lines.next().unwrap_or("error: invalid arguments").to_owned();
            // "…were not provided:" names them on the next line.
            if first.ends_with(':')
                && let Some(next) = lines.next()
            {
                first = format!("{first} {next}");
            }
            eprintln!("{first} (see oxbow --help)");
            return ExitCode::from(2);
        }
    };
    let telemetry = platform::telemetry::init(&cli.command.roles(), cli.command.verbosity());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    telemetry.shut_down();
    code
}
