//! The fast reader against the full parser: hand-picked texts, the repository's manifests, and
//! seeded random edits of them.

use super::{fast, full_documents};

/// The fast reader either gives up or reads exactly what the full parser reads.
fn same_as_full(text: &str) -> bool {
    let fast = fast::parse_documents(text);
    if let Some(fast) = &fast {
        assert_eq!(
            Ok(fast.clone()),
            full_documents(text),
            "the fast reader differs on:\n{text}"
        );
    }
    fast.is_some()
}

#[test]
fn the_fast_reader_reads_manifests_as_the_full_parser_does() {
    let read = [
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels: {app: web, tier: \"1\"}\ndata:\n  a: \"x\"\n  b: 'it''s'\n  c: 8080\n  d: 0\n  e: ''\n",
        "a: 1\n---\n# only a comment\n---\nb: [x, \"y\", 'z', 3, {c: d}]\n",
        "---\nlist:\n- a\n- b: 1\n  c: 2\n-\n  d: 3\n",
        "spec:\n  containers:\n    - name: app\n      args: [\"--port=8080\", -v, --x]\n      command:\n      - sh\n      - -c\n      - cp /a/* /b/ # copy\n",
        "k: value # comment\nurl: http://x:80/y\nimage: nginx:1.25\ntag: 1.3.0\nf: 1.5\nneg: -3\nbig: 123456789012345678901234\noct: 0o17\nhex: 0x1F\nlead: 007\nexp: 1e3\n",
        "t: true\nf: false\nT: True\nn: null\nN: ~\ne:\ny: yes\no: on\nno: no\nword: inf\nw2: nan\nw3: Infinity\n",
        "patch: |-\n  - op: add\n    path: /x\n\n    value: 1\nkeep: |+\n  a\n\n\nclip: |\n  b\n\n\nstrip: |-\n  c\n  # not a comment\nafter: 1\n",
        "empty: |\nnext: |-\n\nlast: 1\n",
        "a: {}\nb: []\nc: [ ]\nd: { }\ne: [[1, 2], [3]]\nf: {x: [1, {y: z}]}\n",
        "\"quoted key\": 1\n'single': 2\nkey with spaces: 3\nkey : 4\n",
        "a: \"esc \\\" \\n \\t \\u00e9\"\nb: \"no esc\"\n",
        "dup: 1\ndup: 2\n",
        "a:\n  b:\n    c: deep\n  d: e\nf: g\n",
        "# leading comment\n\n\napiVersion: v1 # trailing\n\n\nkind: List\nitems: []\n",
        "a: ${VAR}\nb: $HOME\nc: \"${X}\"\nd: <html>\ne: =\nf: /path\ng: _under\n",
        "- top\n- level\n",
        "a: x#y\nb: x #y\nc: 'x' # y\nd: [a, b] # c\n",
        "unicode: héllo wörld ✓\n\"ключ\": значение\n",
        "a: |\n    deeper\n      more\n\n    last\nb:\n- x\n",
    ];
    for text in read {
        assert!(same_as_full(text), "the fast reader gave up on:\n{text}");
    }
}

#[test]
fn the_fast_reader_leaves_the_rest_to_the_full_parser() {
    let left = [
        "a: &x 1\nb: *x\n",
        "<<: {a: 1}\nb: 2\n",
        "a: !!str 1\n",
        "a: multi\n  line\n",
        "a: >\n  folded\n  text\n",
        "a: |2\n   indented\n",
        "a:\n\tb: 1\n",
        "a: 1\r\nb: 2\r\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n...\n",
        "--- a\n",
        "? complex\n: key\n",
        "a: [1,\n  2]\n",
        "a: \"unclosed\n  string\"\n",
        "1: one\n",
        "true: yes\n",
        "a: b: c\n",
        "just a scalar\n",
        "a: 1\n b: 2\n",
        "- a\n  - b\n",
        "a: [x, ]\n",
        "a: ---\nb: ...\n",
        "b: 1\n- x\n",
        "inf: .inf\n",
        "a: |\n    deeper\n  # comment\nb: 1\n",
        "- - nested\n",
        "a: [x:y]\n",
        "\u{feff}a: 1\n",
    ];
    for text in left {
        assert!(!same_as_full(text), "the fast reader read:\n{text}");
    }
}

/// The repository's own YAML files (demo repo, render cases, examples).
fn repository_yaml() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "target" | ".git" | ".gitops" | "node_modules"
                ) {
                    walk(&path, out);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.extend(std::fs::read_to_string(&path).ok());
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        &mut out,
    );
    out
}

#[test]
fn the_fast_reader_reads_the_repository_manifests_as_the_full_parser_does() {
    let files = repository_yaml();
    let fast = files.iter().filter(|text| same_as_full(text)).count();
    assert!(
        files.len() > 50 && fast * 10 >= files.len() * 8,
        "{fast} of {} files read by the fast reader",
        files.len()
    );
}

/// Small random edits of real manifests (seeded, so a failure repeats): whatever the
/// fast reader accepts, the full parser reads the same, and the full parser's errors stay
/// its own.
#[test]
fn the_fast_reader_agrees_with_the_full_parser_on_edited_manifests() {
    const PIECES: &[&str] = &[
        " ",
        "  ",
        "\n",
        ": ",
        ":",
        "- ",
        "-",
        "#",
        " #",
        "'",
        "\"",
        "|",
        "|-",
        "|+",
        ">",
        "[",
        "]",
        "{",
        "}",
        ",",
        "---\n",
        "\\",
        "&a ",
        "*a",
        "!",
        "?",
        "~",
        "null",
        "true",
        "1",
        "0x1",
        "1.5",
        "\n  ",
        "\n    ",
        "\n- ",
        "'a''b'",
        "\"a\\nb\"",
        "é",
        "%",
        "...",
        "\t",
        "---",
        "- - ",
        ": |",
        ": [a, b]",
        ": {a: b}",
        "[a: b]",
        ": \"a\"",
        "<<: ",
        "0",
        "-1",
        "+1",
        ".5",
        "0o7",
        "yes",
        "=",
        "$x",
        "!!str ",
    ];
    let mut seed: u64 = 0x5eed;
    let mut random = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let (mut tried, mut fast) = (0, 0);
    for text in repository_yaml() {
        for _ in 0..40 {
            let mut edited = text.clone();
            for _ in 0..=random(3) {
                let mut at = random(edited.len() + 1);
                while !edited.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + 1 + random(3)).min(edited.len());
                while !edited.is_char_boundary(end) {
                    end += 1;
                }
                match random(3) {
                    0 => edited.insert_str(at, PIECES[random(PIECES.len())]),
                    1 => edited.replace_range(at..end, ""),
                    _ => edited.replace_range(at..end, PIECES[random(PIECES.len())]),
                }
            }
            tried += 1;
            if same_as_full(&edited) {
                fast += 1;
            }
        }
    }
    // Most edits leave valid YAML the fast reader reads: the comparison is exercised.
    assert!(tried > 2_000 && fast * 4 > tried, "{fast} of {tried}");
}
