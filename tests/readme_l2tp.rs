//! The README's L2TP snippets (the admission loop, its configuration, a tunnel plan, a close with
//! an RFC 3145 cause) are the blocks of `examples/l2tp_product.rs` between `// README: NAME {`
//! and `// README: }`, which `cargo test` compiles and tests/readme_l2tp.rs keeps equal to the
//! README's text (indentation removed).

/// The example's marked blocks, dedented: (name, text).
fn blocks(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, Vec<&str>)> = None;
    for line in src.lines() {
        let t = line.trim();
        if let Some(name) = t
            .strip_prefix("// README: ")
            .and_then(|r| r.strip_suffix(" {"))
        {
            cur = Some((name.to_owned(), Vec::new()));
        } else if t == "// README: }" {
            let (name, lines) = cur.take().expect("a README block closed before it opened");
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let text: Vec<&str> = lines
                .iter()
                .map(|l| l.get(indent..).unwrap_or(""))
                .collect();
            out.push((name, text.join("\n")));
        } else if let Some((_, lines)) = cur.as_mut() {
            lines.push(line);
        }
    }
    assert!(cur.is_none(), "a README block is not closed");
    out
}

#[test]
fn readme_l2tp_snippets_are_the_compiled_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{root}/examples/l2tp_product.rs")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let b = blocks(&example);
    let names: Vec<&str> = b.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["admission", "admission config", "plan", "close"]);
    for (name, text) in &b {
        assert!(
            readme.contains(text.as_str()),
            "README.md lacks the example's `{name}` block:\n{text}"
        );
    }
}
