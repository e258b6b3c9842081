//! The plan of the house, checked against the code: every table has one owner and only the
//! owner's SQL names it; no file of a crate imports one that imports it back; the crates depend
//! on each other as ARCHITECTURE.md's table says. Reads the sources; needs no services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every table, with the crate that owns it: the crate whose SQL alone names it.
const OWNERS: &[(&str, &str)] = &[
    ("events", "store"),
    ("log_head", "store"),
    ("idempotency_keys", "store"),
    ("snapshots", "store"),
    ("personal_data_keys", "store"),
    ("secret_keys", "store"),
    ("parked_events", "store"),
    ("relay_checkpoints", "store"),
    ("event_trace_context", "store"),
    ("projection_checkpoints", "projections"),
    ("rm_workspaces", "projections"),
    ("rm_workspace_members", "projections"),
    ("rm_workspace_invitations", "projections"),
    ("rm_agents", "projections"),
    ("rm_workflows", "projections"),
    ("rm_workflow_versions", "projections"),
    ("rm_billing_accounts", "projections"),
    ("rm_invoices", "projections"),
    ("rm_runs", "projections"),
    ("rm_run_steps", "projections"),
    ("rm_usage", "projections"),
    ("rm_artifacts", "projections"),
    ("saga_work", "sagas"),
    ("agent_tasks", "sagas"),
    ("projection_streams", "sagas"),
];

/// Tables whose earlier migrations are in another crate than their owner's: migrations once
/// applied are never edited or moved, so they stay where they were written.
const MIGRATED_BEFORE_THEIR_MOVE: &[(&str, &str)] = &[("projection_streams", "projections")];

/// The crates that look at the database from outside, as an operator with psql would: the
/// integration tests check what was written, and the benchmark loads and watches a log.
const OUTSIDE: &[&str] = &["tests", "bench"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The workspace's crates: one per top-level folder with a Cargo.toml.
fn crates() -> Vec<String> {
    let mut crates: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    crates
}

fn files_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path, extension));
        } else if path.extension().is_some_and(|found| found == extension) {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Rust source split into its code (comments and literals blanked out) and the text of its
/// string literals, raw strings included.
fn code_and_literals(source: &str) -> (String, Vec<String>) {
    let bytes = source.as_bytes();
    let (mut code, mut literals) = (String::with_capacity(source.len()), Vec::new());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(hashes) = raw_string_start(source, i) {
            let open = 2 + hashes;
            let close = format!("\"{}", "#".repeat(hashes));
            let end = rest[open..].find(&close).map_or(rest.len(), |end| open + end);
            literals.push(rest[open..end].to_owned());
            i += (end + close.len()).min(rest.len());
            code.push_str("\"\"");
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            literals.push(source[i + 1..j.min(bytes.len())].to_owned());
            code.push_str("\"\"");
            i = j + 1;
        } else if bytes[i] == b'\'' && char_literal_len(rest).is_some() {
            i += char_literal_len(rest).unwrap();
        } else {
            let c = rest.chars().next().unwrap();
            code.push(c);
            i += c.len_utf8();
        }
    }
    (code, literals)
}

/// How many `#` a raw string starting at `i` has (`r"…"`, `r#"…"#`, `br"…"`).
fn raw_string_start(source: &str, i: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    if bytes[i] != b'r' || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
        return None;
    }
    let hashes = source[i + 1..].bytes().take_while(|b| *b == b'#').count();
    (bytes.get(i + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

/// The length of a character literal at the start of `rest` (`'a'`, `'\n'`), or `None` for a
/// lifetime.
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1);
    match chars.next()? {
        (_, '\\') => rest[2..].find('\'').map(|end| end + 3),
        (_, c) => {
            let after = 1 + c.len_utf8();
            (rest[after..].starts_with('\'')).then_some(after + 1)
        }
    }
}

/// The tables a piece of SQL names after `from`, `into`, `update`, `join`, `table` or
/// `truncate` (a schema prefix dropped).
fn tables_named(sql: &str) -> BTreeSet<String> {
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    words
        .windows(2)
        .filter(|pair| matches!(pair[0].as_str(), "from" | "into" | "update" | "join" | "table" | "truncate"))
        .map(|pair| pair[1].rsplit('.').next().unwrap_or_default().to_owned())
        .collect()
}

fn owner_of(table: &str) -> Option<&'static str> {
    OWNERS.iter().find(|(name, _)| *name == table).map(|(_, owner)| *owner)
}

#[test]
fn every_table_has_one_owner_that_migrates_it() {
    let mut created = BTreeMap::new();
    for krate in crates() {
        for migration in files_under(&root().join(&krate).join("migrations"), "sql") {
            let sql = std::fs::read_to_string(&migration).unwrap().to_lowercase();
            let sql: String =
                sql.lines().map(|line| line.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            for statement in sql.split(';') {
                let words: Vec<&str> = statement.split_whitespace().filter(|word| *word != "unlogged").collect();
                let creates = words.starts_with(&["create", "table"]);
                if !creates && !words.starts_with(&["alter", "table"]) {
                    continue;
                }
                let name = words[2..].iter().find(|word| !matches!(**word, "if" | "not" | "exists" | "only")).unwrap();
                let table = name.split('(').next().unwrap_or_default();
                let owner =
                    owner_of(table).unwrap_or_else(|| panic!("{table} (in {migration:?}) has no owner in OWNERS"));
                let before_move = MIGRATED_BEFORE_THEIR_MOVE.contains(&(table, krate.as_str()));
                assert!(owner == krate || before_move, "{table} is owned by {owner} but migrated in {migration:?}");
                if creates {
                    created.insert(table.to_owned(), krate.clone());
                }
            }
        }
    }
    let owned: BTreeSet<&str> = OWNERS.iter().map(|(table, _)| *table).collect();
    let made: BTreeSet<&str> = created.keys().map(String::as_str).collect();
    assert_eq!(owned, made, "OWNERS names exactly the tables the migrations create");
}

#[test]
fn only_a_tables_owner_writes_sql_that_names_it() {
    let mut named_by_owners = 0;
    let mut trespasses = Vec::new();
    for krate in crates().into_iter().filter(|krate| !OUTSIDE.contains(&krate.as_str())) {
        for file in files_under(&root().join(&krate).join("src"), "rs") {
            let (_, literals) = code_and_literals(&std::fs::read_to_string(&file).unwrap());
            for table in literals.iter().flat_map(|sql| tables_named(sql)) {
                match owner_of(&table) {
                    Some(owner) if owner == krate => named_by_owners += 1,
                    Some(owner) => trespasses.push(format!("{}: {table} (owned by {owner})", file.display())),
                    None => {}
                }
            }
        }
    }
    assert!(named_by_owners > 50, "the scan finds the owners' own SQL ({named_by_owners} mentions)");
    assert!(trespasses.is_empty(), "SQL outside its table's owner:\n{}", trespasses.join("\n"));
}

/// The module a file of `src` is, as a path (`["append", "plan"]`; the crate root is `[]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        parts.pop();
    }
    parts
}

/// The modules of its crate a file's code refers to (`crate::…`, `super::…`), outside its
/// unit tests.
fn references(code: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let longest_module = |path: Vec<String>| -> Vec<String> {
        (0..=path.len()).rev().map(|k| path[..k].to_vec()).find(|prefix| modules.contains(prefix)).unwrap_or_default()
    };
    let mut found = BTreeSet::new();
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::B, c};`
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                found.insert(longest_module(words(item.split("::").next().unwrap_or_default())));
            }
            continue;
        }
        let path: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
        found.insert(longest_module(path.split("::").filter(|part| !part.is_empty()).map(str::to_owned).collect()));
    }
    for (at, _) in code.match_indices("super::") {
        let name: String =
            code[at + "super::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let mut sibling = module[..module.len().saturating_sub(1)].to_vec();
        sibling.push(name);
        found.insert(longest_module(sibling));
    }
    found.remove(module);
    found
}

#[test]
fn no_file_of_a_crate_imports_one_that_imports_it_back() {
    let mut circles = Vec::new();
    for krate in crates() {
        let src = root().join(&krate).join("src");
        // Test modules of their own file (`runs/tests.rs`) are tests, not the plan.
        let files: Vec<PathBuf> =
            files_under(&src, "rs").into_iter().filter(|file| !file.ends_with("tests.rs")).collect();
        let modules: BTreeSet<Vec<String>> = files.iter().map(|file| module_of(&src, file)).collect();
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for file in &files {
            let module = module_of(&src, file);
            let (code, _) = code_and_literals(&std::fs::read_to_string(file).unwrap());
            edges.insert(module.clone(), references(&code, &module, &modules));
        }
        for start in edges.keys() {
            // Depth-first from `start`: a path back to it is a circle.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, path)) = stack.pop() {
                for next in edges.get(&at).into_iter().flatten() {
                    if next == start {
                        let names: Vec<String> = path.iter().chain([start]).map(|m| m.join("::")).collect();
                        circles.push(format!("{krate}: {}", names.join(" -> ")));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

/// The workspace crates a crate's Cargo.toml lists under `[dependencies]`.
fn dependencies_of(krate: &str) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
    let members: BTreeSet<String> = crates().into_iter().collect();
    let section = manifest.split("[dependencies]").nth(1).unwrap_or_default();
    let section = section.split("\n[").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.split(['.', '=', ' ']).next())
        .filter(|name| members.contains(*name))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_crates_depend_on_each_other_as_architecture_md_says() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = architecture.split("## Dependencies").nth(1).expect("a Dependencies section");
    let table = section.split("\n## ").next().unwrap_or_default();
    let mut listed = BTreeMap::new();
    for row in table.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let uses: BTreeSet<String> = cells[2]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|word| crates().iter().any(|krate| krate == word))
            .map(str::to_owned)
            .collect();
        for krate in cells[1].split(',').map(|name| name.trim().trim_matches('`')) {
            listed.insert(krate.to_owned(), uses.clone());
        }
    }
    for krate in crates() {
        let uses = listed.get(&krate).unwrap_or_else(|| panic!("ARCHITECTURE.md's table has no row for {krate}"));
        assert_eq!(uses, &dependencies_of(&krate), "{krate}'s dependencies, as ARCHITECTURE.md lists them");
    }
    assert_eq!(dependencies_of("platform"), ["events".to_owned()].into(), "platform depends on events alone");
    for pure in ["events", "commands"] {
        let manifest = std::fs::read_to_string(root().join(pure).join("Cargo.toml")).unwrap();
        for io in ["sqlx", "rdkafka", "redis", "axum", "tokio"] {
            assert!(!manifest.contains(&format!("\n{io}")), "{pure} is pure, without {io}");
        }
    }
}

#[test]
fn the_scanner_sees_sql_in_literals_and_not_in_comments() {
    let source = r####"
        // from events: a comment
        let a = "select 1 from log_head";
        let b = r#"insert into saga_work (x) values ("y")"#;
        let c = 'x'; fn f<'a>(s: &'a str) {}
        /* update rm_runs */
    "####;
    let (code, literals) = code_and_literals(source);
    let named: BTreeSet<String> = literals.iter().flat_map(|sql| tables_named(sql)).collect();
    assert_eq!(named, ["log_head".to_owned(), "saga_work".to_owned()].into());
    assert!(!code.contains("events") && !code.contains("rm_runs"));
    assert!(code.contains("fn f<'a>"));
}
