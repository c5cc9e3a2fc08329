//! The conformance tables (issue 12): every `conformance/*.toml` is read, checked against the rules
//! in `conformance/README.md`, and rendered to `CONFORMANCE.md`, which must equal the committed
//! file (`TELCP_BLESS=1 cargo test --test conformance_tables` rewrites it).
//!
//! Rules checked, all at once so one run lists every problem:
//! - ids unique across all files, of the form `<proto>-<section>-<slug>` (`[a-z0-9]+-[a-z0-9.]+-[a-z0-9-]+`);
//! - `level`, `status` and every `role` from their lists; `reason` present unless status is pass;
//!   `test` present when status is pass or fail;
//! - the named test exists in `tests/<stem>.rs` as a `#[test]` fn whose doc comment names the id;
//!   a pass row's test carries no `#[ignore`, a fail row's test does;
//! - per file, pass rows are at least 90% of the rows that are not `not-applicable`.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const LEVELS: &[&str] = &[
    "MUST",
    "MUST NOT",
    "SHALL",
    "SHALL NOT",
    "SHOULD",
    "SHOULD NOT",
    "MAY",
];
const STATUSES: &[&str] = &["pass", "fail", "not-implemented", "not-applicable"];
const ROLES: &[&str] = &["lac", "lns", "ha", "fa", "mn", "gateway", "any"];
/// Minimum share of pass rows among the rows that are not `not-applicable`, in percent.
const MIN_PASS_PERCENT: usize = 90;

/// One `conformance/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    protocol: String,
    spec: String,
    #[serde(default)]
    statement: Vec<Row>,
}

/// One `[[statement]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    spec: Option<String>,
    section: String,
    level: String,
    role: Vec<String>,
    statement: String,
    test: Option<String>,
    status: String,
    reason: Option<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `conformance/*.toml`, sorted by file name; none when the directory does not exist.
fn load_tables(dir: &Path) -> Result<Vec<(String, Table)>, Vec<String>> {
    let mut names: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).expect("readable table");
        match toml::from_str::<Table>(&text) {
            Ok(t) => out.push((name, t)),
            Err(e) => errs.push(format!("{name}: not a valid table: {e}")),
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// `^[a-z0-9]+-[a-z0-9.]+-[a-z0-9-]+$`
fn id_ok(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    let (Some(a), Some(b), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let set = |s: &str, extra: Option<char>| {
        !s.is_empty()
            && s.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || Some(ch) == extra)
    };
    set(a, None) && set(b, Some('.')) && set(c, Some('-'))
}

/// The test fn name an id maps to: every '-' and '.' becomes '_'.
fn fn_name_of(id: &str) -> String {
    id.replace(['-', '.'], "_")
}

/// The attribute and doc lines just above `fn <name>(` in `src`, if such a fn exists.
fn test_preamble<'a>(src: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let lines: Vec<&str> = src.lines().collect();
    let needle = format!("fn {name}(");
    let at = lines.iter().position(|l| {
        let t = l.trim_start();
        t.starts_with(&needle) || t.starts_with(&format!("pub {needle}"))
    })?;
    let mut pre = Vec::new();
    for l in lines[..at].iter().rev() {
        let t = l.trim();
        if t.starts_with("#[") || t.starts_with("///") || t.starts_with("//") || t.is_empty() {
            if t.is_empty() {
                break;
            }
            pre.push(t);
        } else {
            break;
        }
    }
    pre.reverse();
    Some(pre)
}

/// Checks every rule; `source(stem)` gives the text of `tests/<stem>.rs`.
fn check(tables: &[(String, Table)], source: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut errs = Vec::new();
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut cache: HashMap<String, Option<String>> = HashMap::new();
    for (file, t) in tables {
        if t.protocol.trim().is_empty() || t.spec.trim().is_empty() {
            errs.push(format!("{file}: protocol and spec must not be empty"));
        }
        let (mut pass, mut counted) = (0usize, 0usize);
        for r in &t.statement {
            let at = format!("{file}: {}", r.id);
            if !id_ok(&r.id) {
                errs.push(format!(
                    "{at}: id must match <proto>-<section>-<slug> in [a-z0-9.-]"
                ));
            }
            if let Some(prev) = seen.insert(&r.id, file) {
                errs.push(format!("{at}: duplicate id (also in {prev})"));
            }
            if !LEVELS.contains(&r.level.as_str()) {
                errs.push(format!("{at}: level {:?} not one of {LEVELS:?}", r.level));
            }
            if !STATUSES.contains(&r.status.as_str()) {
                errs.push(format!(
                    "{at}: status {:?} not one of {STATUSES:?}",
                    r.status
                ));
            }
            if r.role.is_empty() {
                errs.push(format!("{at}: no role"));
            }
            for role in &r.role {
                if !ROLES.contains(&role.as_str()) {
                    errs.push(format!("{at}: role {role:?} not one of {ROLES:?}"));
                }
            }
            if r.section.trim().is_empty() || r.statement.trim().is_empty() {
                errs.push(format!("{at}: section and statement must not be empty"));
            }
            if r.status != "pass" && r.reason.as_deref().is_none_or(|s| s.trim().is_empty()) {
                errs.push(format!("{at}: status {} needs a reason", r.status));
            }
            if r.status != "not-applicable" {
                counted += 1;
                pass += usize::from(r.status == "pass");
            }
            let needs_test = r.status == "pass" || r.status == "fail";
            let Some(test) = &r.test else {
                if needs_test {
                    errs.push(format!("{at}: status {} needs a test", r.status));
                }
                continue;
            };
            let Some((stem, name)) = test.split_once("::") else {
                errs.push(format!("{at}: test {test:?} is not <file stem>::<fn name>"));
                continue;
            };
            let src = cache
                .entry(stem.to_string())
                .or_insert_with(|| source(stem));
            let Some(src) = src else {
                errs.push(format!("{at}: tests/{stem}.rs does not exist"));
                continue;
            };
            let Some(pre) = test_preamble(src, name) else {
                errs.push(format!("{at}: tests/{stem}.rs has no fn {name}("));
                continue;
            };
            if !pre.contains(&"#[test]") {
                errs.push(format!(
                    "{at}: fn {name} in tests/{stem}.rs is not a #[test]"
                ));
            }
            let ignored = pre.iter().any(|l| l.starts_with("#[ignore"));
            if r.status == "pass" && ignored {
                errs.push(format!("{at}: status pass but {name} is #[ignore]d"));
            }
            if r.status == "fail" && !ignored {
                errs.push(format!(
                    "{at}: status fail but {name} is not #[ignore]d (flip the row to pass?)"
                ));
            }
            let doc_names_id = pre.iter().any(|l| {
                l.starts_with("///")
                    && l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                        .any(|w| w.trim_end_matches('.') == r.id)
            });
            if !doc_names_id {
                errs.push(format!(
                    "{at}: the doc comment of {name} in tests/{stem}.rs does not name the id"
                ));
            }
            // A test shared by several ids is named after one of them and its doc names them all.
            if name != fn_name_of(&r.id) && !doc_names_id {
                errs.push(format!("{at}: test fn should be {}", fn_name_of(&r.id)));
            }
        }
        if counted > 0 && pass * 100 < counted * MIN_PASS_PERCENT {
            errs.push(format!(
                "{file}: {pass} of {counted} applicable rows pass, below {MIN_PASS_PERCENT}%"
            ));
        }
    }
    errs
}

/// A section number that sorts "5.8" before "5.10"; non-numeric parts compare as text.
type SectionKey = Vec<(u32, String)>;

/// Sorts "5.8", "5.10", "4.4.1" as version numbers; non-numeric parts compare as text.
fn section_key(s: &str) -> SectionKey {
    s.split('.')
        .map(|p| (p.parse().unwrap_or(u32::MAX), p.to_string()))
        .collect()
}

fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// CONFORMANCE.md from the tables.
fn render(tables: &[(String, Table)]) -> String {
    let mut o = String::new();
    o.push_str("# Conformance\n\n");
    o.push_str(
        "Generated from `conformance/*.toml` by `tests/conformance_tables.rs` \
         (`TELCP_BLESS=1 cargo test --test conformance_tables`); do not edit by hand. \
         How to add a row: `conformance/README.md`.\n\n",
    );
    o.push_str(
        "Each row is one normative statement, in our words, with the test that checks it \
         (`tests/<file>.rs`, fn named after the id) or the reason it is not checked.\n\n",
    );
    o.push_str(
        "| protocol | table | statements | pass | fail | not implemented | not applicable |\n",
    );
    o.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    let count = |t: &Table, s: &str| t.statement.iter().filter(|r| r.status == s).count();
    for (file, t) in tables {
        let _ = writeln!(
            o,
            "| {} | `conformance/{file}` | {} | {} | {} | {} | {} |",
            cell(&t.protocol),
            t.statement.len(),
            count(t, "pass"),
            count(t, "fail"),
            count(t, "not-implemented"),
            count(t, "not-applicable"),
        );
    }
    for (file, t) in tables {
        let _ = write!(o, "\n## {} ({})\n\n", cell(&t.protocol), cell(&t.spec));
        let _ = writeln!(
            o,
            "{} statements: {} pass, {} fail, {} not implemented, {} not applicable \
             (`conformance/{file}`).",
            t.statement.len(),
            count(t, "pass"),
            count(t, "fail"),
            count(t, "not-implemented"),
            count(t, "not-applicable"),
        );
        let mut groups: BTreeMap<(String, SectionKey), (String, Vec<&Row>)> = BTreeMap::new();
        for r in &t.statement {
            let spec = r.spec.clone().unwrap_or_else(|| t.spec.clone());
            groups
                .entry((spec, section_key(&r.section)))
                .or_insert_with(|| (r.section.clone(), Vec::new()))
                .1
                .push(r);
        }
        for ((spec, _), (section, rows)) in &groups {
            let _ = write!(o, "\n### {} section {}\n\n", cell(spec), cell(section));
            o.push_str("| id | level | role | statement | status | test or reason |\n");
            o.push_str("| --- | --- | --- | --- | --- | --- |\n");
            for r in rows {
                let why = match (&r.test, &r.reason) {
                    (Some(t), Some(why)) => format!("`{}`: {}", cell(t), cell(why)),
                    (Some(t), None) => format!("`{}`", cell(t)),
                    (None, Some(why)) => cell(why),
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    o,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    cell(&r.id),
                    cell(&r.level),
                    r.role.join(", "),
                    cell(&r.statement),
                    cell(&r.status),
                    why,
                );
            }
        }
    }
    o
}

#[test]
fn tables_follow_the_rules_and_conformance_md_is_current() {
    let root = root();
    let tables = match load_tables(&root.join("conformance")) {
        Ok(t) => t,
        Err(errs) => panic!("conformance tables unreadable:\n{}", errs.join("\n")),
    };
    let tests_dir = root.join("tests");
    let errs = check(&tables, &|stem| {
        if stem.is_empty() || stem.contains(['/', '\\', '.']) {
            return None;
        }
        std::fs::read_to_string(tests_dir.join(format!("{stem}.rs"))).ok()
    });
    assert!(
        errs.is_empty(),
        "{} conformance table problem(s):\n{}",
        errs.len(),
        errs.join("\n")
    );
    let want = render(&tables);
    let path = root.join("CONFORMANCE.md");
    if std::env::var_os("TELCP_BLESS").is_some() {
        std::fs::write(&path, &want).expect("CONFORMANCE.md written");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "CONFORMANCE.md is not what the tables generate: run \
         `TELCP_BLESS=1 cargo test --test conformance_tables` and commit it"
    );
}

// The checker's own rules, on made-up tables and test sources: each broken rule is reported.

fn table(rows: &str) -> Vec<(String, Table)> {
    let text = format!("protocol = \"P\"\nspec = \"RFC 1\"\n{rows}");
    vec![("x.toml".into(), toml::from_str(&text).unwrap())]
}

const SRC: &str = "\
/// p-1.1-ok: checked here.\n#[test]\nfn p_1_1_ok() {}\n\n\
/// p-1.2-ign: failing.\n#[test]\n#[ignore = \"issue 12 fault 1\"]\nfn p_1_2_ign() {}\n\n\
/// no id named here.\n#[test]\nfn p_1_3_nodoc() {}\n\n\
/// p-1.4-helper\nfn p_1_4_helper() {}\n";

fn errors_for(rows: &str) -> Vec<String> {
    check(&table(rows), &|stem| (stem == "t").then(|| SRC.to_string()))
}

fn row(id: &str, status: &str, extra: &str) -> String {
    let section = id.split('-').nth(1).unwrap_or("1");
    format!(
        "[[statement]]\nid = \"{id}\"\nsection = \"{section}\"\nlevel = \"MUST\"\nrole = [\"any\"]\n\
         statement = \"s\"\nstatus = \"{status}\"\n{extra}\n"
    )
}

#[test]
fn checker_accepts_a_good_table() {
    let rows = row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\"")
        + &row(
            "p-1.2-ign",
            "fail",
            "test = \"t::p_1_2_ign\"\nreason = \"fault 1\"",
        )
        + &(0..20)
            .map(|i| {
                row(
                    &format!("p-2.{i}-x"),
                    "not-applicable",
                    "reason = \"LAC PPP\"",
                )
            })
            .collect::<String>();
    // 1 pass of 2 applicable is below 90%: only that is reported.
    let errs = errors_for(&rows);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("below 90%"), "{errs:?}");
    let errs = errors_for(&row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\""));
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn checker_reports_each_broken_rule() {
    let cases: &[(String, &str)] = &[
        (
            row("P-1-x", "pass", "test = \"t::p_1_1_ok\""),
            "id must match",
        ),
        (
            row("p-1.1-ok", "passed", "test = \"t::p_1_1_ok\""),
            "status \"passed\"",
        ),
        (row("p-1.9-x", "not-implemented", ""), "needs a reason"),
        (row("p-1.9-x", "pass", ""), "needs a test"),
        (
            row("p-1.9-x", "pass", "test = \"u::p_1_9_x\""),
            "does not exist",
        ),
        (row("p-1.9-x", "pass", "test = \"t::p_1_9_x\""), "has no fn"),
        (
            row("p-1.4-helper", "pass", "test = \"t::p_1_4_helper\""),
            "is not a #[test]",
        ),
        (
            row("p-1.2-ign", "pass", "test = \"t::p_1_2_ign\""),
            "#[ignore]d",
        ),
        (
            row("p-1.1-ok", "fail", "test = \"t::p_1_1_ok\"\nreason = \"r\""),
            "not #[ignore]d",
        ),
        (
            row("p-1.3-nodoc", "pass", "test = \"t::p_1_3_nodoc\""),
            "does not name the id",
        ),
        (
            row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\"")
                + &row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\""),
            "duplicate id",
        ),
        (
            row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\"").replace("MUST", "MOST"),
            "level \"MOST\"",
        ),
        (
            row("p-1.1-ok", "pass", "test = \"t::p_1_1_ok\"").replace("any", "sgsn"),
            "role \"sgsn\"",
        ),
    ];
    for (rows, want) in cases {
        let errs = errors_for(rows);
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "expected {want:?} for\n{rows}\ngot {errs:?}"
        );
    }
}

#[test]
fn checker_handles_a_missing_directory_and_sorts_sections() {
    let tables = load_tables(&root().join("no-such-directory")).unwrap();
    assert!(tables.is_empty());
    let t = table(
        &(row("p-5.10-b", "not-implemented", "reason = \"r\"")
            + &row("p-5.8-a", "not-implemented", "reason = \"r\"")),
    );
    let md = render(&t);
    let (a, b) = (
        md.find("section 5.8\n").unwrap(),
        md.find("section 5.10\n").unwrap(),
    );
    assert!(a < b, "5.8 before 5.10:\n{md}");
    assert!(
        md.contains("| P | `conformance/x.toml` | 2 | 0 | 0 | 2 | 0 |"),
        "{md}"
    );
}
