//! The rules that keep adding a loop a short, checked path, read off the source: loops talk to
//! each other only by the hand-off messages and the registry, and reach the stack only through
//! the bridge.

use std::path::{Path, PathBuf};

const LOOP_FOLDERS: [&str; 5] = ["grid", "command", "cameras", "blocks", "cases"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Lines of `file` outside its `#[cfg(test)]` module (tests may reach anywhere).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        if !line.trim_start().starts_with("//") {
            out.push((i + 1, line.to_string()));
        }
    }
    out
}

#[test]
fn no_loop_names_another_loops_items() {
    let agents = workspace().join("agents/src");
    let mut found = Vec::new();
    for folder in LOOP_FOLDERS {
        let mut files = Vec::new();
        rust_files(&agents.join(folder), &mut files);
        for file in files {
            for (n, line) in code_lines(&file) {
                for other in LOOP_FOLDERS.iter().filter(|o| **o != folder) {
                    if line.contains(&format!("crate::{other}::"))
                        || line.contains(&format!("crate::{other}}}"))
                        || line.contains(&format!("super::super::{other}"))
                    {
                        found.push(format!("{}:{n}: {}", file.display(), line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "loops talk by messages (crate::handoff) and the registry, not through each other's \
         items:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_bridge_calls_the_stack() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in [
        "agents/src",
        "twin/src",
        "reports/src",
        "planning/src",
        "src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    // The bridge is the door; the run hands it the stack it chose (and times it).
    let door = [root.join("twin/src/bridge.rs"), root.join("src/lib.rs")];
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !door.contains(f)) {
        for (n, line) in code_lines(file) {
            let l = line.replace(' ', "");
            if l.contains("stack.send(")
                || l.contains("stack.advance(")
                || l.contains("stack.restart(")
                || l.contains("dynStack")
                || l.contains("implStackfor")
            {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "calls to the stack go through the bridge (ToStack, or StackDoor::call before the first \
         tick and after the last), so each is journaled, counted and faulted:\n{}",
        found.join("\n")
    );
}
