//! `oxbow log`: the auditor's commands (verify, export, state) and forgetting a person.

use std::process::ExitCode;

use super::database;
use super::flags::{ExportArgs, ExportFormat, StateArgs, VerifyArgs};
use super::progress::Progress;

pub async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let (_, pool) = database::connect(2).await?;
    let started = std::time::Instant::now();
    let range = replay::verify::Range { from: args.from, to: args.to };
    let (first, last) = (args.from.unwrap_or(1).max(1), store::read_head(&pool).await?.position);
    let progress = Progress::new("verifying".into(), first, args.to.map_or(last, |to| to.min(last)));
    let outcome = replay::verify::verify(&pool, range, |position| progress.show(position)).await;
    progress.clear();
    match outcome {
        Ok(verified) => {
            let seconds = started.elapsed().as_secs_f64();
            match (verified.first, verified.last) {
                (Some(first), Some(last)) => println!(
                    "ok: {} events verified, positions {first}..={last}, in {seconds:.2} s ({:.0} events/s)",
                    verified.events,
                    verified.events as f64 / seconds.max(1e-9)
                ),
                _ => println!("ok: the range holds no events"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(replay::verify::Error::Broken(broken)) => {
            eprintln!("error: the log is broken at position {}: {broken}", broken.position());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        anyhow::bail!("--from {from} is not before --to {to}");
    }
    let scope = match (args.stream, args.workspace) {
        (Some(stream), _) if stream.trim().is_empty() => anyhow::bail!("--stream must not be empty"),
        (Some(stream), _) => replay::export::Scope::Stream(stream),
        (None, Some(workspace)) => replay::export::Scope::Workspace(workspace),
        (None, None) => anyhow::bail!("name --stream or --workspace"),
    };
    let format = match args.format {
        ExportFormat::Jsonl => replay::export::Format::JsonLines,
        ExportFormat::Csv => replay::export::Format::Csv,
    };
    let (_, pool) = database::connect(2).await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = replay::export::export(&pool, &scope, args.from, args.to, format, &mut out).await?;
    drop(out);
    eprintln!("exported {written} events");
    Ok(ExitCode::SUCCESS)
}

pub async fn state(args: StateArgs) -> anyhow::Result<ExitCode> {
    let cut = match (args.at, args.position) {
        (_, Some(position)) if position < 1 => anyhow::bail!("--position must be 1 or more"),
        (_, Some(position)) => replay::state::Cut::Position(position),
        (Some(at), None) => replay::state::Cut::At(at),
        (None, None) => anyhow::bail!("name --at or --position"),
    };
    let (_, pool) = database::connect(2).await?;
    let state = replay::state::state_at(&pool, &args.stream, cut).await?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(ExitCode::SUCCESS)
}

/// Forgets a person (named by `subject`) or the keys `key_ids`, recording it in the log.
pub async fn forget(subject: Option<&str>, key_ids: Vec<uuid::Uuid>, by: Option<String>) -> anyhow::Result<ExitCode> {
    if subject.is_some_and(str::is_empty) {
        anyhow::bail!("--subject must name a person: an email or a user id");
    }
    let by = by.or_else(|| std::env::var("USER").ok()).filter(|by| !by.trim().is_empty());
    let Some(by) = by else { anyhow::bail!("--by must name the operator (no $USER to default to)") };
    let (_, pool) = database::connect(2).await?;
    let key_ids = match subject {
        Some(email) if email.contains('@') => store::personal::live_keys_of(&pool, email).await?,
        Some(user) => {
            // A user's emails are those of the invitations they accepted.
            let emails = projections::workspaces::accepted_emails(&pool, user).await?;
            emails.iter().filter_map(|email| store::personal::key_id_of(email)).collect()
        }
        None => key_ids,
    };
    let named = subject.map_or_else(|| format!("{} key(s)", key_ids.len()), str::to_owned);
    let live = store::personal::live_keys(&pool, &key_ids).await?;
    if live.is_empty() {
        println!("nothing to forget: no personal data of {named} is held, or it was forgotten before");
        return Ok(ExitCode::SUCCESS);
    }
    let keys = store::personal::erase(&pool, &live, &format!("operator:{by}")).await?;
    println!(
        "forgot {named}: {keys} key(s) destroyed; their data reads {} everywhere from now on, and the log records it",
        store::personal::ERASED
    );
    Ok(ExitCode::SUCCESS)
}
