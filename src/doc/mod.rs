//! Man pages and shell completions rendered from the clap definitions (clap_mangen,
//! clap_complete) plus the prose in `text`: a pure module, files in memory out.
//! `cmd::generate` writes them; the drift test compares them with the committed
//! `man/` and `completions/`. Output holds no dates, so it is the same on every run.

mod text;

use std::io::Write;

use clap::Command;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// The binary's name, which the completion scripts register for.
const BIN: &str = "mqtk";

/// One generated file: a path relative to the output directory, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub contents: Vec<u8>,
}

/// Every man page and completion script for `root` (the `mqtk` clap command).
pub fn render_all(root: Command) -> Vec<File> {
    let mut files = man_pages(root.clone());
    files.extend(completions(root));
    files
}

/// The visible subcommands of a built command, without clap's `help`.
fn visible_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// `man/mqtk.1` and `man/mqtk-SUB.1` for each visible subcommand: whatever the CLI
/// has, so new subcommands get pages without a change here.
fn man_pages(root: Command) -> Vec<File> {
    let mut root = root.disable_help_subcommand(true);
    // Building names the subcommands "mqtk-pub" (display) and "mqtk pub" (bin).
    root.build();
    let version = root.get_version().unwrap_or_default().to_string();
    let mut files = vec![File {
        path: format!("man/{}.1", root.get_name()),
        contents: man_page(&root, "", &version),
    }];
    for sub in visible_subcommands(&root) {
        sub_pages(sub, sub.get_name(), &version, &mut files);
    }
    files
}

/// The page of `cmd` and, recursively, of its visible subcommands (`mqtk bench merge`
/// → `mqtk-bench-merge.1`), so that every page a SUBCOMMANDS section names exists.
fn sub_pages(cmd: &Command, key: &str, version: &str, files: &mut Vec<File>) {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    files.push(File {
        path: format!("man/{name}.1"),
        contents: man_page(cmd, key, version),
    });
    for sub in visible_subcommands(cmd) {
        sub_pages(sub, &format!("{key} {}", sub.get_name()), version, files);
    }
}

/// Bash, zsh and fish completions, named where each shell looks for them.
fn completions(root: Command) -> Vec<File> {
    // clap_complete offers hidden subcommands too (`generate` is for developers), so
    // the scripts come from a copy of the root without them. (clap's `Command::new`
    // wants a 'static name: the binary's.)
    assert_eq!(root.get_name(), BIN, "completions are for the mqtk binary");
    let name = BIN.to_string();
    let root = Command::new(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .about(root.get_about().cloned().unwrap_or_default())
        .subcommands(root.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    [
        (Shell::Bash, format!("completions/{name}.bash")),
        (Shell::Zsh, format!("completions/_{name}")),
        (Shell::Fish, format!("completions/{name}.fish")),
    ]
    .into_iter()
    .map(|(shell, path)| {
        let mut cmd = root.clone();
        let mut contents = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut contents);
        File { path, contents }
    })
    .collect()
}

/// A man page: clap_mangen's sections, then ours. `key` is the subcommand name ("" for
/// the root), which picks the prose in `text`.
fn man_page(cmd: &Command, key: &str, version: &str) -> Vec<u8> {
    let extra = text::extra(key);
    let man = Man::new(cmd.clone())
        .source(format!("mqtk {version}"))
        .manual("mqtk manual");
    let mut out = Sections::default();
    out.push(|w| man.render_title(w));
    out.push(|w| man.render_name_section(w));
    out.push(|w| man.render_synopsis_section(w));
    out.push(|w| man.render_description_section(w));
    let mut r = Roff::new();
    prose(&mut r, extra.description);
    if key.is_empty() {
        multicall_list(&mut r);
    }
    out.roff(&r);
    if let Some(usage) = &extra.usage {
        let mut r = Roff::new();
        r.control("SH", ["USAGE"]);
        verbatim(&mut r, usage.trim_end().lines());
        out.roff(&r);
    }
    // A command with its own grammar (passwd) has its options in USAGE instead.
    if extra.usage.is_none() && cmd.get_arguments().any(|a| !a.is_hide_set()) {
        out.push(|w| man.render_options_section(w));
    }
    if cmd.has_subcommands() {
        out.push(|w| man.render_subcommands_section(w));
    }
    if key == "check" {
        out.roff(&probes());
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        let mut r = Roff::new();
        r.control("SH", ["NOTES"]);
        prose(&mut r, &after.to_string());
        out.roff(&r);
    }
    if extra.format {
        let mut r = Roff::new();
        r.control("SH", ["OUTPUT FORMAT"]);
        prose(&mut r, text::FORMAT);
        out.roff(&r);
    }
    if let Some(payloads) = extra.payloads {
        let mut r = Roff::new();
        r.control("SH", ["PAYLOAD FORMATS"]);
        prose(&mut r, payloads);
        out.roff(&r);
    }
    for (title, text) in text::sections(key) {
        let mut r = Roff::new();
        r.control("SH", [*title]);
        prose(&mut r, text);
        out.roff(&r);
    }
    if let Some(tool) = extra.options_file {
        let mut r = Roff::new();
        r.control("SH", ["FILES"]);
        prose(&mut r, &text::OPTIONS_FILE.replace("{tool}", tool));
        r.control("SH", ["ENVIRONMENT"]);
        prose(&mut r, text::ENVIRONMENT);
        out.roff(&r);
    }
    out.roff(&exit_status(key));
    if !extra.examples.is_empty() {
        let mut r = Roff::new();
        r.control("SH", ["EXAMPLES"]);
        prose(&mut r, extra.examples);
        out.roff(&r);
    }
    out.roff(&see_also(key));
    out.0
}

/// Concatenated roff sections. clap_mangen's `render_*` and `Roff::render` each start
/// with the same apostrophe preamble; only the first copy is kept.
#[derive(Default)]
struct Sections(Vec<u8>);

impl Sections {
    fn push(&mut self, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        let mut buf = Vec::new();
        f(&mut buf).expect("writing to a Vec cannot fail");
        let preamble = Roff::new().render();
        let body = match buf.strip_prefix(preamble.as_bytes()) {
            Some(rest) if !self.0.is_empty() => rest,
            _ => &buf[..],
        };
        self.0.extend_from_slice(body);
    }

    fn roff(&mut self, r: &Roff) {
        self.push(|w| w.write_all(r.render().as_bytes()));
    }
}

/// EXIT STATUS: `key`'s rows of `crate::exit`'s table, and for the clients the
/// CONNACK codes with the codec's texts.
fn exit_status(key: &str) -> Roff {
    use crate::codec::ReasonCode;
    use crate::codec::reason::connack_v3_description;
    let command = if key.is_empty() { "mqtk" } else { key };
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    let clients = crate::exit::exits_with_connack_codes(command);
    prose(
        &mut r,
        match command {
            _ if clients => text::EXIT_STATUS_CLIENTS,
            "mqtk" => text::EXIT_STATUS_ROOT,
            _ => text::EXIT_STATUS_INTRO,
        },
    );
    for (code, meaning) in crate::exit::statuses(command) {
        r.control("TP", []);
        r.text([bold(code.to_string())]);
        r.text([roman(meaning)]);
    }
    if !clients {
        return r;
    }
    r.control("PP", []);
    r.text([roman("MQTT 3.1 and 3.1.1 CONNACK codes:")]);
    for &code in crate::exit::CONNACK_V3 {
        r.control("TP", []);
        r.text([bold(code.to_string())]);
        r.text([roman(connack_v3_description(code))]);
    }
    r.control("PP", []);
    r.text([roman("MQTT 5 CONNACK reason codes:")]);
    for &code in crate::exit::CONNACK_V5 {
        r.control("TP", []);
        r.text([bold(code.to_string())]);
        r.text([roman(ReasonCode(code).description())]);
    }
    r
}

/// PROBES of `mqtk check`, from the catalogue `--list` prints too.
fn probes() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["PROBES"]);
    for p in crate::cli::check::PROBES {
        r.control("TP", []);
        r.text([bold(p.name), roman(format!(" ({})", p.group))]);
        r.text([roman(p.about)]);
    }
    r
}

/// The symlink names mqtk answers to (`crate::cli::MULTICALL`).
fn multicall_list(r: &mut Roff) {
    for (tool, sub) in crate::cli::MULTICALL {
        r.control("TP", []);
        r.text([bold(*tool)]);
        r.text([roman("runs "), bold(format!("mqtk {sub}"))]);
    }
}

fn see_also(key: &str) -> Roff {
    let mut refs: Vec<String> = Vec::new();
    if !key.is_empty() {
        refs.push("mqtk(1)".into());
    }
    let mosquitto = match key {
        "pub" | "sub" | "rr" | "passwd" => vec![format!("mosquitto_{key}(1)")],
        "broker" => vec!["mosquitto(8)".into(), "mosquitto.conf(5)".into()],
        _ => vec![],
    };
    refs.extend(mosquitto);
    let mut r = Roff::new();
    if refs.is_empty() {
        return r;
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(refs.join(", "))]);
    r
}

/// Renders `text`'s markup: blank-line-separated blocks; a block whose lines all start
/// with two spaces is verbatim; lines `TERM :: text` are tagged paragraphs.
fn prose(r: &mut Roff, src: &str) {
    for block in src
        .split("\n\n")
        .map(str::trim_end)
        .filter(|b| !b.is_empty())
    {
        if block.lines().all(|l| l.starts_with("  ")) {
            verbatim(r, block.lines().map(|l| &l[2..]));
            continue;
        }
        if block.lines().all(|l| l.contains(" :: ")) {
            for line in block.lines() {
                let (term, def) = line.split_once(" :: ").expect("checked above");
                r.control("TP", []);
                r.text(term_inlines(term));
                r.text([roman(def)]);
            }
            continue;
        }
        r.control("PP", []);
        r.text([roman(block.replace('\n', " "))]);
    }
}

/// A `.TP` tag: options and sequences in bold, metavariables (all caps) in italics.
fn term_inlines(term: &str) -> Vec<clap_mangen::roff::Inline> {
    let mut out = Vec::new();
    for (i, word) in term.split(' ').enumerate() {
        if i > 0 {
            out.push(roman(" "));
        }
        let upper = word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            && word.len() > 1
            && !word.starts_with('$');
        out.push(if upper { italic(word) } else { bold(word) });
    }
    out
}

/// Lines shown as they are, indented (`.nf`/`.fi` inside `.RS`/`.RE`).
fn verbatim<'a>(r: &mut Roff, lines: impl Iterator<Item = &'a str>) {
    r.control("PP", []);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for line in lines {
        r.text([roman(line)]);
    }
    r.control("fi", []);
    r.control("RE", []);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn page(files: &[File], path: &str) -> String {
        let f = files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no {path}"));
        String::from_utf8(f.contents.clone()).unwrap()
    }

    #[test]
    fn a_page_for_each_visible_subcommand_and_none_for_hidden_ones() {
        let files = render_all(crate::cli::Cli::command());
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for p in [
            "man/mqtk.1",
            "man/mqtk-pub.1",
            "man/mqtk-passwd.1",
            "man/mqtk-broker.1",
            "completions/mqtk.bash",
            "completions/_mqtk",
            "completions/mqtk.fish",
        ] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.contains("generate")), "{paths:?}");
        assert!(!paths.iter().any(|p| p.contains("help")), "{paths:?}");
    }

    #[test]
    fn pages_carry_the_exit_table_and_the_options_file() {
        let files = man_pages(crate::cli::Cli::command());
        let p = page(&files, "man/mqtk-pub.1");
        assert!(p.contains(".SH \"EXIT STATUS\""), "{p}");
        assert!(p.contains("\\fB7\\fR"), "{p}");
        assert!(p.contains("Bad User Name or Password"), "{p}");
        assert!(p.contains("not authorised"), "{p}");
        assert!(p.contains("~/.config/mosquitto_pub"), "{p}");
        assert!(p.contains(".SH EXAMPLES"), "{p}");
        assert!(p.contains(".TH mqtk-pub 1"), "{p}");
        // Only one apostrophe preamble, at the top.
        let pre = Roff::new().render();
        assert!(p.starts_with(&pre));
        assert_eq!(p.matches(&pre).count(), 1);
        let passwd = page(&files, "man/mqtk-passwd.1");
        assert!(passwd.contains(".SH USAGE"), "{passwd}");
        assert!(!passwd.contains("OUTPUT FORMAT"));
    }

    /// The EXIT STATUS section of `page`, up to the next section.
    fn exit_section(page: &str) -> &str {
        let start = page
            .find(".SH \"EXIT STATUS\"")
            .expect("an EXIT STATUS section");
        let rest = &page[start + 1..];
        &page[start..start + 1 + rest.find("\n.SH").unwrap_or(rest.len())]
    }

    #[test]
    fn each_page_lists_its_own_commands_statuses() {
        let files = man_pages(crate::cli::Cli::command());
        for (path, has, lacks) in [
            (
                "man/mqtk-pub.1",
                &["\\fB7\\fR", "\\fB8\\fR", "\\fB22\\fR", "Not authorized"][..],
                &["\\fB27\\fR", "passwords typed"][..],
            ),
            (
                "man/mqtk-sub.1",
                &["\\fB7\\fR", "\\fB27\\fR", "Not authorized"],
                &["\\fB22\\fR"],
            ),
            (
                "man/mqtk-rr.1",
                &["\\fB7\\fR", "\\fB27\\fR"],
                &["\\fB22\\fR"],
            ),
            (
                "man/mqtk-passwd.1",
                &["\\fB2\\fR", "passwords typed differ"],
                &["\\fB27\\fR", "CONNACK"],
            ),
            (
                "man/mqtk-broker.1",
                &["SIGTERM", "unreadable password"],
                &["\\fB27\\fR", "CONNACK", "\\fB7\\fR"],
            ),
            (
                "man/mqtk-bench.1",
                &["no client could connect"],
                &["\\fB27\\fR", "CONNACK"],
            ),
            (
                "man/mqtk-bench-sub.1",
                &["no client could connect"],
                &["\\fB27\\fR", "CONNACK"],
            ),
            (
                "man/mqtk-bench-merge.1",
                &["merged"],
                &["\\fB27\\fR", "CONNACK"],
            ),
            (
                "man/mqtk.1",
                &["unknown command"],
                &["\\fB27\\fR", "CONNACK"],
            ),
            (
                "man/mqtk-check.1",
                &["\\fB0\\fR", "\\fB1\\fR", "unsupported"],
                &["\\fB27\\fR", "CONNACK"],
            ),
        ] {
            let p = page(&files, path);
            let section = exit_section(&p);
            for h in has {
                assert!(section.contains(h), "{path}: {h:?} missing in\n{section}");
            }
            for l in lacks {
                assert!(
                    !section.contains(l),
                    "{path}: {l:?} should not be in\n{section}"
                );
            }
        }
    }

    #[test]
    fn the_format_language_is_attached_where_a_sub_command_exists() {
        // `mqtk sub` exists now; the page of the real one carries it.
        let files = man_pages(crate::cli::Cli::command());
        let p = page(&files, "man/mqtk-sub.1");
        assert!(p.contains(".SH \"OUTPUT FORMAT\""), "{p}");
        assert!(p.contains("~/.config/mosquitto_sub"), "{p}");
    }

    #[test]
    fn nested_subcommands_get_their_own_pages() {
        // `mqtk bench merge` is a real nested subcommand now.
        let files = man_pages(crate::cli::Cli::command());
        let p = page(&files, "man/mqtk-bench-merge.1");
        assert!(p.contains(".TH mqtk-bench-merge 1"), "{p}");
        assert!(p.contains("\\fBmqtk bench merge\\fR"), "{p}");
        let bench = page(&files, "man/mqtk-bench.1");
        assert!(bench.contains("mqtk\\-bench\\-merge(1)"), "{bench}");
    }

    #[test]
    fn the_check_page_documents_every_probe() {
        let files = man_pages(crate::cli::Cli::command());
        let p = page(&files, "man/mqtk-check.1");
        assert!(p.contains(".SH PROBES"), "{p}");
        for probe in crate::cli::check::PROBES {
            let name = probe.name.replace('-', "\\-");
            assert!(
                p.contains(&format!(".TP\n\\fB{name}\\fR")),
                "{name} missing:\n{p}"
            );
        }
        assert!(!page(&files, "man/mqtk-bench.1").contains("PROBES"));
    }

    #[test]
    fn rendering_is_deterministic() {
        let a = render_all(crate::cli::Cli::command());
        let b = render_all(crate::cli::Cli::command());
        assert_eq!(a, b);
    }

    #[test]
    fn markup() {
        let mut r = Roff::new();
        prose(
            &mut r,
            "one\ntwo\n\n  code $x\n  .dot\n\n-o FILE :: read FILE",
        );
        let s = r.to_roff();
        assert!(s.contains(".PP\none two\n"), "{s}");
        assert!(s.contains(".nf\ncode $x\n\\&.dot\n.fi"), "{s}");
        assert!(
            s.contains(".TP\n\\fB\\-o\\fR \\fIFILE\\fR\nread FILE"),
            "{s}"
        );
    }
}
