//! `oxbow projections`: the read models' status, their dead letters, rebuilds and diffs.

use std::process::ExitCode;

use anyhow::Context;

use super::database;
use super::progress::Progress;

pub async fn status(json: bool) -> anyhow::Result<ExitCode> {
    let (_, pool) = database::connect(2).await?;
    let projections = projections::status::all(&pool).await?;
    let parked = store::parked::list(&pool, None).await?;
    let sagas = sagas::queue::waiting(&pool).await?;
    let set_aside = sagas::queue::set_aside_work(&pool).await?;
    let parked_of = |name: &str| parked.iter().filter(|p| p.consumer == name).count();
    let state = |p: &projections::status::ProjectionStatus| match (&p.last_error, p.lag, parked_of(&p.name)) {
        (Some(_), _, _) => "failing",
        (None, _, 1..) => "parked",
        (None, 0, _) => "caught up",
        (None, _, _) => "behind",
    };
    if json {
        let projections: Vec<serde_json::Value> = projections
            .iter()
            .map(|p| {
                serde_json::json!({"name": p.name, "position": p.position, "lag": p.lag, "state": state(p),
                    "last_error": p.last_error, "updated_at": p.updated_at, "parked": parked_of(&p.name)})
            })
            .collect();
        let sagas = serde_json::json!({"waiting": sagas.waiting, "due": sagas.due, "retrying": sagas.retrying,
            "oldest_due_at": sagas.oldest_due_at, "set_aside": set_aside});
        println!("{}", serde_json::json!({"projections": projections, "parked": parked, "sagas": sagas}));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<16} {:>12} {:>10}  {:<10} {:<26} last error", "projection", "position", "lag", "state", "updated");
    for p in &projections {
        let updated = p.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let error = p.last_error.as_deref().unwrap_or("-");
        println!("{:<16} {:>12} {:>10}  {:<10} {:<26} {error}", p.name, p.position, p.lag, state(p), updated);
    }
    if !parked.is_empty() {
        println!("parked events (`oxbow projections retry|skip POSITION`):");
        for p in &parked {
            let why = match (&p.error, p.tries) {
                (None, _) => "waits behind its stream's failed event".to_owned(),
                (Some(error), 1) => format!("failed: {error}"),
                (Some(error), tries) => format!("failed, and again on {} retries: {error}", tries - 1),
            };
            println!("  {:<10} {:>12} {} {} {why}", p.consumer, p.position, p.stream_id, p.event_type);
        }
    }
    println!(
        "sagas: {} pieces of work waiting, {} due now, {} being retried, {} set aside",
        sagas.waiting, sagas.due, sagas.retrying, sagas.set_aside
    );
    for work in &set_aside {
        let error = work.last_error.as_deref().unwrap_or("-");
        println!(
            "  set aside (`oxbow projections retry --consumer sagas {}`): {} {}: {error}",
            work.id, work.saga, work.key
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn retry(consumer: &str, position: i64, wait: u64) -> anyhow::Result<ExitCode> {
    let (_, pool) = database::connect(2).await?;
    if consumer == "sagas" {
        // The sagas' dead letter is their work: `position` is the work's id.
        if !sagas::queue::retry_set_aside(&pool, position).await? {
            anyhow::bail!("no saga work with id {position} is set aside (see `oxbow projections status`)");
        }
        println!("saga work {position} is due again");
        return Ok(ExitCode::SUCCESS);
    }
    let stream = projections::dead_letter::retry(&pool, consumer, position).await?;
    report_settled(&pool, consumer, &stream, wait).await
}

pub async fn skip(
    consumer: &str,
    position: i64,
    reason: &str,
    by: Option<String>,
    wait: u64,
) -> anyhow::Result<ExitCode> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must say why the event is given up");
    }
    let by = by.or_else(|| std::env::var("USER").ok()).filter(|by| !by.trim().is_empty());
    let Some(by) = by else { anyhow::bail!("--by must name the operator (no $USER to default to)") };
    let (_, pool) = database::connect(2).await?;
    let actor = format!("operator:{by}");
    let stream = projections::dead_letter::skip(&pool, consumer, position, reason.trim(), &actor).await?;
    println!("skipped position {position} for {consumer}; the decision is in the log");
    report_settled(&pool, consumer, &stream, wait).await
}

async fn report_settled(pool: &sqlx::PgPool, consumer: &str, stream: &str, wait: u64) -> anyhow::Result<ExitCode> {
    use projections::dead_letter::Settled;
    match projections::dead_letter::settled(pool, consumer, stream, std::time::Duration::from_secs(wait)).await? {
        Settled::Applied => {
            println!("{stream} is applied and flows again");
            Ok(ExitCode::SUCCESS)
        }
        Settled::FailedAgain(error) => anyhow::bail!("{stream} failed again and stays parked: {error}"),
        Settled::Pending => {
            anyhow::bail!("no {consumer} took up {stream} within {wait} s; a running one will at its next batch")
        }
    }
}

pub async fn rebuild(names: Vec<&'static str>, fresh: bool) -> anyhow::Result<ExitCode> {
    let (config, pool) = database::connect(4).await?;
    // Filling a whole Redis in takes longer than a query is let wait.
    let redis = platform::redis::connect_patient(&config.redis_url, std::time::Duration::from_secs(300)).await?;
    for name in names {
        let started = std::time::Instant::now();
        let mut rebuild = projections::rebuild::Rebuild::open(&pool, fresh).await?;
        if let Some(batch) = rebuild_batch()? {
            rebuild = rebuild.with_batch(batch);
        }
        if rebuild.resumed() {
            eprintln!("resuming the rebuild of {name} at position {}", rebuild.position());
        }
        let from = rebuild.position();
        catch_up(&mut rebuild, name, "rebuilding").await?;
        let position = rebuild.switch_over().await?;
        let mut live = projections::live::Live::new(redis.clone(), platform::redis::Keys::new(&config.redis_prefix));
        let replaced = live.replace_all(&pool).await.context("replacing what Redis serves")?;
        let seconds = started.elapsed().as_secs_f64();
        let events = position - from;
        println!(
            "rebuilt {name}: {events} events in {seconds:.2} s ({:.0} events/s); switched over at position {position}",
            events as f64 / seconds.max(1e-9)
        );
        println!(
            "Redis: {} keys replaced in {} steps of at most {}; readers waited {:.1} ms at most",
            replaced.keys,
            replaced.steps,
            projections::live::SWAP_STEP,
            replaced.longest_step.as_secs_f64() * 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn diff(names: Vec<&'static str>) -> anyhow::Result<ExitCode> {
    let (_, pool) = database::connect(4).await?;
    let mut differs = false;
    for name in names {
        let mut rebuild = projections::rebuild::Rebuild::open(&pool, true).await?;
        if let Some(batch) = rebuild_batch()? {
            rebuild = rebuild.with_batch(batch);
        }
        catch_up(&mut rebuild, name, "rebuilding to compare").await?;
        let diffs = rebuild.compare().await?;
        if diffs.is_empty() {
            println!("{name}: no differences");
        }
        for diff in diffs {
            differs = true;
            println!(
                "{name}.{}: {} rows only in the live projection, {} only in the rebuild",
                diff.table, diff.only_live, diff.only_rebuilt
            );
            for (side, row) in diff.examples {
                let mark = if side == projections::rebuild::Side::Live { '-' } else { '+' };
                println!("  {mark} {row}");
            }
        }
    }
    Ok(if differs { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `OXBOW_REBUILD_BATCH`: events per transaction of a rebuild (memory against speed).
fn rebuild_batch() -> anyhow::Result<Option<i64>> {
    match std::env::var("OXBOW_REBUILD_BATCH") {
        Err(_) => Ok(None),
        Ok(text) => match text.parse::<i64>() {
            Ok(batch) if batch > 0 => Ok(Some(batch)),
            _ => anyhow::bail!("OXBOW_REBUILD_BATCH must be a positive number of events, not {text:?}"),
        },
    }
}

/// Brings a rebuild close to the live projection, which keeps moving, with a progress line.
async fn catch_up(rebuild: &mut projections::rebuild::Rebuild, name: &str, doing: &str) -> anyhow::Result<()> {
    let mut target = rebuild.live_position().await?;
    let mut progress = Progress::new(format!("{doing} {name}"), rebuild.position() + 1, target);
    // Each pass is shorter than the last; what remains is applied under the projection's lock.
    for _ in 0..3 {
        rebuild.catch_up(target, |position| progress.show(position)).await?;
        target = rebuild.live_position().await?;
        progress.extend_to(target);
        if target - rebuild.position() < 1_000 {
            break;
        }
    }
    progress.clear();
    Ok(())
}
