//! The shape of the source: imports run only downward and never in a
//! circle. Every `crate::…` and `super::…` path in `src/` counts, in `use`
//! lines and in code alike (module-graph tools read only `use` lines, and
//! much of the code names what it calls inline).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each file of `src/` (as `src/…`) and the files it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (module_path(&rel), rel)
        })
        .collect();
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.get(&path[..n]).cloned())
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        // Unit tests may reach anywhere; comments name things freely.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = BTreeSet::new();
        for path in paths(&code, "crate::") {
            named.extend(resolve(&path));
        }
        // `super::` names the parent: `a` from `a/b.rs`, the root from `a/mod.rs`.
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        for path in paths(&code, "super::") {
            let mut full = parent.clone();
            full.extend(path);
            named.extend(resolve(&full).or_else(|| resolve(&parent)));
        }
        named.remove(file);
        graph.insert(file.clone(), named);
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_start_matches("src/")
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module paths after each `prefix` (`crate::a::b::{c, d}` gives
/// `a::b::c` and `a::b::d`).
fn paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let mut rest = &code[i + prefix.len()..];
        let mut head = Vec::new();
        loop {
            let name = ident(rest);
            if name.is_empty() {
                break;
            }
            rest = &rest[name.len()..];
            head.push(name);
            match rest.strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let mut full = head.clone();
                    full.extend(
                        item.trim()
                            .split("::")
                            .map(ident)
                            .take_while(|s| !s.is_empty() && s != "self"),
                    );
                    out.push(full);
                }
            }
            None => out.push(head),
        }
    }
    out
}

/// The files that take part in an import cycle, each cycle once.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for u in &w.graph[v] {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let l = w.low[u].min(w.low[v]);
                w.low.insert(v, l);
            } else if w.stack.contains(&u) {
                let l = w.index[u].min(w.low[v]);
                w.low.insert(v, l);
            }
        }
        if w.low[v] == w.index[v] {
            let mut part = Vec::new();
            while let Some(u) = w.stack.pop() {
                part.push(u.to_owned());
                if u == v {
                    break;
                }
            }
            if part.len() > 1 {
                part.sort();
                w.found.push(part);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn no_file_of_the_source_imports_itself_in_a_circle() {
    let graph = imports();
    assert!(graph.len() > 100, "the source was not found: {graph:?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn the_kernel_and_the_settings_import_nothing_above_them() {
    for (file, named) in imports() {
        let settings = file.starts_with("src/config/");
        if !(file.starts_with("src/kernel/") || settings) {
            continue;
        }
        for n in named {
            assert!(
                n.starts_with("src/kernel/") || (settings && n.starts_with("src/config/")),
                "{file} imports {n}, above it"
            );
        }
    }
}

#[test]
fn the_outbox_is_a_queue_that_knows_no_capability() {
    for (file, named) in imports() {
        if !file.starts_with("src/outbox/") || file == "src/outbox/routes.rs" {
            continue;
        }
        for n in named {
            assert!(
                ["src/kernel/", "src/config/", "src/wechat/", "src/outbox/"]
                    .iter()
                    .any(|a| n.starts_with(a)),
                "{file} imports {n}"
            );
        }
    }
}

/// Flows sit above the capabilities: only what is above them calls them.
/// The handlers and sweepers not yet in a `routes.rs` or `jobs.rs` are named
/// here one by one.
#[test]
fn only_handlers_jobs_and_flows_call_a_flow() {
    const ABOVE: &[&str] = &[
        "src/routes.rs",
        "src/jobs.rs",
        "src/startup.rs",
        "src/cli.rs",
        "src/demo.rs",
        // The WeChat Pay notification handler and its reconciliation sweep.
        "src/payment/wechat_pay/notify.rs",
        "src/payment/wechat_pay/reconcile.rs",
    ];
    for (file, named) in imports() {
        if file.starts_with("src/flows/")
            || file.ends_with("/routes.rs")
            || ABOVE.contains(&file.as_str())
        {
            continue;
        }
        for n in named {
            assert!(!n.starts_with("src/flows/"), "{file} calls the flow {n}");
        }
    }
}

/// An order's bare move and a dispute's skip the refunds their flows make:
/// only those flows (and the capability itself) may call them.
#[test]
fn only_the_flows_make_the_bare_moves() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (file, _) in imports() {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        for (bare, allowed) in [
            (
                "move_order(",
                ["src/orders/service/mod.rs", "src/flows/orders.rs"],
            ),
            (
                "move_dispute(",
                ["src/disputes/service/mod.rs", "src/flows/disputes.rs"],
            ),
        ] {
            assert!(
                allowed.contains(&file.as_str()) || !text.contains(bare),
                "{file} calls {bare}…)"
            );
        }
    }
}

/// The top-level folders (and files) of `src/` whose handlers sit in their
/// own `routes.rs`: `src/<capability>/…`.
fn folder(file: &str) -> &str {
    let rest = file.trim_start_matches("src/");
    rest.split_once('/').map_or(rest, |(f, _)| f)
}

fn source(file: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn is_routes(file: &str) -> bool {
    file.ends_with("/routes.rs") || file.contains("/routes/")
}

/// The files above the capabilities, or the web's own plumbing, which may
/// name actix and the application state.
const WEB: &[&str] = &[
    "src/routes.rs",
    "src/startup.rs",
    "src/jobs.rs",
    "src/cli.rs",
    "src/demo.rs",
    "src/main.rs",
    "src/state.rs",
    "src/health.rs",
    "src/openapi.rs",
    "src/telemetry.rs",
    "src/rate_limit.rs",
];

#[test]
fn every_handler_lives_in_a_routes_file() {
    for (file, _) in imports() {
        if WEB.contains(&file.as_str()) || is_routes(&file) {
            continue;
        }
        assert!(
            !source(&file).contains("#[utoipa::path"),
            "{file} holds a handler: handlers live in routes.rs"
        );
    }
}

#[test]
fn no_handler_imports_another_capabilitys_routes() {
    for (file, named) in imports() {
        if !is_routes(&file) || file == "src/routes.rs" {
            continue;
        }
        for n in named {
            assert!(
                !is_routes(&n) || folder(&n) == folder(&file),
                "{file} imports the handlers of {n}"
            );
        }
    }
}

/// Services hold the rules: they take settings, clients and connections,
/// never the web's types or the whole application state.
#[test]
fn services_know_nothing_of_the_web() {
    for (file, _) in imports() {
        if WEB.contains(&file.as_str())
            || is_routes(&file)
            || file.starts_with("src/kernel/http/")
            || file == "src/kernel/error.rs"
            || file == "src/auth/access.rs"
            || file == "src/auth/table.rs"
        {
            continue;
        }
        let code = source(&file);
        for web in ["actix_web", "AppState", "HttpRequest", "HttpResponse"] {
            assert!(!code.contains(web), "{file} names {web}");
        }
    }
}

#[test]
fn no_file_of_the_source_is_over_600_lines() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (file, _) in imports() {
        let lines = std::fs::read_to_string(root.join(&file))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= 600, "{file} has {lines} lines");
    }
}
