//! Every arrow points down: the pure flow and the vision library reach nothing above them.
//!
//! Reads the source files (not the compiled crate), so an import hidden behind a `cfg` or in a
//! test module counts too. `flow` may use only the standard library and itself (plus
//! dev-dependencies in its tests); `vision` may use its libraries (ort, OpenCV, ...) but none of
//! the kiosk's shell, drawing, storage, device or service modules.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// The modules of the crate the flow and vision must not reach, and the hal crate.
const ABOVE: [&str; 7] = ["ui", "app", "store", "diag", "sync", "wiring", "kiosk_hal"];

#[test]
fn flow_imports_nothing_of_ours_but_itself_and_no_library() {
    let deps = dependencies();
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src/flow")) {
        for use_ in uses(&file) {
            let forbidden = match &use_ {
                Reach::Module(m) => m != "flow",
                Reach::Other(c) => deps.contains(c),
            };
            if forbidden {
                wrong.push(format!("{}: {use_:?}", rel(&file)));
            }
        }
    }
    assert!(wrong.is_empty(), "src/flow must stay pure (std and itself only):\n{}", wrong.join("\n"));
}

#[test]
fn vision_imports_nothing_above_it() {
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src/vision")) {
        for use_ in uses(&file) {
            let name = match &use_ {
                Reach::Module(m) | Reach::Other(m) => m,
            };
            if ABOVE.contains(&name.as_str()) {
                wrong.push(format!("{}: {use_:?}", rel(&file)));
            }
        }
    }
    assert!(wrong.is_empty(), "src/vision must not reach the layers above it:\n{}", wrong.join("\n"));
}

/// Devices and settings are built in `wiring`, which both the shell and diag use: neither of
/// those two reaches the other, and `wiring` reaches neither.
#[test]
fn diag_and_wiring_do_not_reach_the_shell() {
    let mut wrong = Vec::new();
    for (dir, forbidden) in [("src/diag", &["app"][..]), ("src/wiring", &["app", "diag"][..])] {
        for file in rust_files(&root().join(dir)) {
            for use_ in uses(&file) {
                if matches!(&use_, Reach::Module(m) if forbidden.contains(&m.as_str())) {
                    wrong.push(format!("{}: {use_:?}", rel(&file)));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "an arrow points up:\n{}", wrong.join("\n"));
}

/// The names the two tests forbid are the crate's real modules: a rename must not make them pass.
#[test]
fn the_forbidden_modules_exist() {
    let lib = strip(&fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs"));
    let modules: BTreeSet<&str> =
        lib.split(';').filter_map(|item| item.trim().rsplit_once("mod ").map(|(_, name)| name.trim())).collect();
    for name in ABOVE.iter().filter(|n| !n.starts_with("kiosk_")).chain(["flow", "vision"].iter()) {
        assert!(modules.contains(name), "src/lib.rs has no module {name}: {modules:?}");
    }
    assert!(dependencies().contains("kiosk_hal") && dependencies().contains("opencv"), "{:?}", dependencies());
}

/// The parser finds imports however they are written, and ignores comments and strings.
#[test]
fn the_parser_sees_every_way_of_reaching_a_module() {
    let reach = |file: &str, src: &str| parse(file, src).into_iter().collect::<BTreeSet<_>>();
    let m = |s: &str| Reach::Module(s.into());
    let c = |s: &str| Reach::Other(s.into());
    assert_eq!(reach("src/flow/machine.rs", "use crate::ui::Screen;"), [m("ui")].into());
    assert_eq!(
        reach("src/flow/machine.rs", "use crate::{flow::X, store::{self, Y}, app};"),
        [m("flow"), m("store"), m("app")].into()
    );
    assert_eq!(reach("src/flow/machine.rs", "use super::super::diag::Z;"), [m("diag")].into());
    assert_eq!(reach("src/flow/mod.rs", "use super::{sync, flow};"), [m("sync"), m("flow")].into());
    assert_eq!(reach("src/flow/machine.rs", "use super::timing;"), [m("flow")].into());
    assert_eq!(reach("src/vision/a.rs", "fn f() { let x = crate :: ui :: render(); }"), [m("ui")].into());
    assert_eq!(reach("src/vision/a.rs", "fn f(r: &mut dyn kiosk_hal::Camera) {}"), [c("kiosk_hal")].into());
    assert_eq!(reach("src/vision/a.rs", "use opencv::{core, prelude::*};"), [c("opencv")].into());
    assert_eq!(reach("src/vision/mod.rs", "use std::{sync::Arc, path::Path}; use super::{ui::X, Y};"), [c("std"), m("ui"), m("Y")].into());
    assert_eq!(reach("src/vision/detect.rs", "use super::{ui::X, Y};"), [m("vision")].into());
    assert_eq!(
        reach("src/flow/a.rs", "// crate::ui\n/* crate::app /* nested */ store::x */ let s = \"crate::diag\"; let r = r#\"crate::sync\"#;"),
        BTreeSet::new()
    );
    assert_eq!(reach("src/flow/a.rs", "use std::time::Instant; use Phase as P; use Command::*;"), [c("std"), c("Command")].into());
}

/// What a path in a source file starts from: a module of this crate, or another name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    Module(String),
    /// Another crate, or a local item (`Phase::Welcome`): a name outside the module tree.
    Other(String),
}

fn uses(file: &Path) -> Vec<Reach> {
    let src = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    parse(&rel(file), &src)
}

/// Every path root in `src` (a file at `file`, relative to the package): `crate::m`, `super::`
/// chains climbing to the crate root, and other crates' names.
fn parse(file: &str, src: &str) -> Vec<Reach> {
    let code = strip(src);
    let tokens = tokenize(&code);
    let module = module_path(file);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let starts_path = is_ident(t) && tokens.get(i + 1).is_some_and(|n| n == "::") && (i == 0 || tokens[i - 1] != "::");
        if !starts_path {
            i += 1;
            continue;
        }
        // Resolve the root to a position in the module tree.
        let (at, j): (Option<Vec<String>>, usize) = match t {
            "crate" => (Some(Vec::new()), i + 2),
            "self" => (Some(module.clone()), i + 2),
            "super" => {
                let mut m = module.clone();
                let mut j = i;
                while tokens.get(j).is_some_and(|s| s == "super") && tokens.get(j + 1).is_some_and(|s| s == "::") {
                    m.pop();
                    j += 2;
                }
                (Some(m), j)
            }
            _ => {
                out.push(Reach::Other(t.to_string()));
                (None, i)
            }
        };
        if let Some(base) = at {
            if !base.is_empty() {
                out.push(Reach::Module(base[0].clone()));
            } else if tokens.get(j).is_some_and(|s| s == "{") {
                // A group at the crate root: every top-level name in it.
                let mut k = j + 1;
                let mut depth = 0;
                let mut expect_name = true;
                while let Some(s) = tokens.get(k) {
                    match s.as_str() {
                        "{" => depth += 1,
                        "}" if depth == 0 => break,
                        "}" => depth -= 1,
                        "," if depth == 0 => expect_name = true,
                        name if expect_name && depth == 0 && is_ident(name) => {
                            out.push(Reach::Module(name.to_string()));
                            expect_name = false;
                        }
                        _ => {}
                    }
                    k += 1;
                }
            } else if let Some(name) = tokens.get(j).filter(|s| is_ident(s)) {
                out.push(Reach::Module(name.clone()));
            }
        }
        // The rest of this path (a group's inner paths are not roots) is passed over.
        i = path_end(&tokens, j).max(i + 1);
    }
    out
}

/// Where the path whose segment starts at `j` ends: past `a::b::c`, `a::*` or `a::{...}`.
fn path_end(tokens: &[String], mut j: usize) -> usize {
    loop {
        match tokens.get(j).map(String::as_str) {
            Some("{") => {
                let mut depth = 0;
                while let Some(s) = tokens.get(j) {
                    j += 1;
                    match s.as_str() {
                        "{" => depth += 1,
                        "}" if depth == 1 => return j,
                        "}" => depth -= 1,
                        _ => {}
                    }
                }
                return j;
            }
            Some(s) if is_ident(s) && tokens.get(j + 1).is_some_and(|n| n == "::") => j += 2,
            Some(s) if is_ident(s) || s == "*" => return j + 1,
            _ => return j,
        }
    }
}

/// The module a file is, as path segments below the crate root (`src/flow/machine.rs` is
/// `flow::machine`, `src/flow/mod.rs` is `flow`).
fn module_path(file: &str) -> Vec<String> {
    let path = file.strip_prefix("src/").unwrap_or(file).trim_end_matches(".rs");
    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
    if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
        segments.pop();
    }
    segments
}

/// The source without comments, string and character literals (each replaced by a space).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !b.get(i.wrapping_sub(1)).is_some_and(|p| p.is_alphanumeric() || *p == '_') {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.push(' ');
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && (next == Some('\\') && b.get(i + 3).is_some() || b.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime ('a) is left alone.
            i += 1;
            while i < b.len() && b[i] != '\'' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Identifiers, `::` and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The crates the kiosk package depends on (not its dev-dependencies), as Rust names.
fn dependencies() -> BTreeSet<String> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let mut in_deps = false;
    let mut names = BTreeSet::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.starts_with('#') {
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim().trim_end_matches(".workspace");
                names.insert(key.replace('-', "_"));
            }
        }
    }
    names
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "no Rust files under {}", dir.display());
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel(file: &Path) -> String {
    file.strip_prefix(root()).unwrap_or(file).to_string_lossy().replace('\\', "/")
}
