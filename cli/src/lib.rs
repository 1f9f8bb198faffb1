//! zkCli.sh, as a library: the command line parsed the way `ZooKeeperMain` and commons-cli parse
//! it, each command run as a resumable sequence of requests, and the answers printed the way
//! zkCli.sh prints them — the same words, the same `Stat` layout, the same error messages.
//!
//! Nothing here does IO. A front end (the `zkcli` binary, the browser console, a tutorial step)
//! feeds lines to a [`Shell`], and when the shell hands back an [`Exec`] the front end sends each
//! [`Request`] the exec asks for, one at a time, and feeds the reply back:
//!
//! ```text
//!   Shell::line("ls -R /app") ─▶ Exec ─▶ Step::Send(req) ─▶ (front end) ─▶ Exec::resume(reply)
//!                                         ▲                                          │
//!                                         └──────────────────────────────────────────┘
//!                                   … until Step::Done; then Exec::finish() is the printed text
//! ```
//!
//! Multi-step commands (`ls -R`, `deleteall`, `setAcl -R`) walk the tree exactly as ZooKeeper's
//! `ZKUtil` does, so they send the same requests in the same order.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use zk_core::acl::{perms, Acl, Id};
use zk_core::error::ErrorCode;
use zk_core::path::{join, validate_path, validate_path_sequential};
use zk_core::request::{
    add_watch_mode, watcher_type, CreateMode, CreateRequest, KeeperState, OpResult, Request,
    Response, WatchedEvent,
};
use zk_core::stat::{EphemeralType, Stat};
use zk_core::txn::op;

/// The version string `version` prints.
pub const CLI_VERSION: &str = concat!(
    "3.8.0-zk-rs-",
    env!("CARGO_PKG_VERSION"),
    ", built on zk-core"
);

/// Where a piece of text goes: zkCli.sh writes results to stdout and problems to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    Out,
    Err,
}

/// A piece of printed text, newlines included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub stream: Stream,
    pub text: String,
}

/// Text in the order it was printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    pub chunks: Vec<Chunk>,
}

impl Printed {
    fn out(&mut self, s: impl Into<String>) {
        self.push(Stream::Out, s.into());
    }
    fn outln(&mut self, s: impl AsRef<str>) {
        self.push(Stream::Out, format!("{}\n", s.as_ref()));
    }
    fn errln(&mut self, s: impl AsRef<str>) {
        self.push(Stream::Err, format!("{}\n", s.as_ref()));
    }
    fn push(&mut self, stream: Stream, text: String) {
        match self.chunks.last_mut() {
            Some(last) if last.stream == stream => last.text.push_str(&text),
            _ => self.chunks.push(Chunk { stream, text }),
        }
    }
    /// Appends what another piece of the session printed (a finished exec).
    pub fn extend(&mut self, other: Printed) {
        for c in other.chunks {
            self.push(c.stream, c.text);
        }
    }
    /// Everything, as a terminal shows it.
    pub fn text(&self) -> String {
        self.chunks.iter().map(|c| c.text.as_str()).collect()
    }
    /// Only one stream.
    pub fn stream(&self, stream: Stream) -> String {
        self.chunks
            .iter()
            .filter(|c| c.stream == stream)
            .map(|c| c.text.as_str())
            .collect()
    }
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Splitting a line into words (ZooKeeperMain.MyCommandOptions.parseCommand)
// ---------------------------------------------------------------------------------------------

/// Splits a line as zkCli.sh does: words separated by whitespace, `"..."` and `'...'` keep
/// their spaces and lose their quotes. (It is the regex `\s*([^"']\S*|"[^"]*"|'[^']*')\s*`
/// applied with `find`, including what it does with a quote that is never closed.)
pub fn split_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let mut ws_end = pos;
        while ws_end < chars.len() && chars[ws_end].is_whitespace() {
            ws_end += 1;
        }
        let matched = match_word(&chars, ws_end).or_else(|| {
            // The regex backtracks `\s*` by one: the last blank itself starts a word.
            (ws_end > pos).then(|| {
                let mut end = ws_end;
                while end < chars.len() && !chars[end].is_whitespace() {
                    end += 1;
                }
                (ws_end - 1, end)
            })
        });
        match matched {
            Some((start, end)) => {
                let word: String = chars[start..end].iter().collect();
                words.push(unquote(word));
                pos = end;
                while pos < chars.len() && chars[pos].is_whitespace() {
                    pos += 1;
                }
            }
            None => pos = ws_end.max(pos) + 1,
        }
    }
    words
}

/// One word starting exactly at `start`: `[^"']\S*` or a closed quote.
fn match_word(chars: &[char], start: usize) -> Option<(usize, usize)> {
    let c = *chars.get(start)?;
    if c == '"' || c == '\'' {
        let close = chars[start + 1..].iter().position(|&d| d == c)?;
        Some((start, start + 1 + close + 1))
    } else {
        let mut end = start + 1;
        while end < chars.len() && !chars[end].is_whitespace() {
            end += 1;
        }
        Some((start, end))
    }
}

fn unquote(word: String) -> String {
    let mut it = word.chars();
    let first = it.next();
    let last = it.next_back();
    match (first, last) {
        (Some(f), Some(l)) if (f == '"' || f == '\'') && f == l && !word.contains('\n') => {
            word[1..word.len() - 1].to_string()
        }
        _ => word,
    }
}

// ---------------------------------------------------------------------------------------------
// Options (commons-cli DefaultParser, as the CliCommands configure it)
// ---------------------------------------------------------------------------------------------

struct OptSpec {
    name: &'static str,
    takes_value: bool,
}

const fn flag(name: &'static str) -> OptSpec {
    OptSpec {
        name,
        takes_value: false,
    }
}
const fn valued(name: &'static str) -> OptSpec {
    OptSpec {
        name,
        takes_value: true,
    }
}

#[derive(Default)]
struct Parsed {
    /// Non-option words, the command name first.
    args: Vec<String>,
    opts: BTreeMap<&'static str, Option<String>>,
}

impl Parsed {
    fn has(&self, name: &str) -> bool {
        self.opts.contains_key(name)
    }
    fn value(&self, name: &str) -> Option<&str> {
        self.opts.get(name).and_then(|v| v.as_deref())
    }
}

/// A command line that zkCli.sh refuses: the message it prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError(pub String);

fn parse_opts(words: &[String], specs: &[OptSpec]) -> Result<Parsed, CliError> {
    let find = |name: &str| specs.iter().find(|s| s.name == name);
    let mut parsed = Parsed::default();
    let mut waiting: Option<&'static str> = None;
    let mut rest_are_args = false;
    for word in words {
        if rest_are_args {
            parsed.args.push(word.clone());
            continue;
        }
        if let Some(name) = waiting {
            if !is_option(word, specs) || is_negative_number(word) {
                parsed.opts.insert(name, Some(word.clone()));
                waiting = None;
                continue;
            }
        }
        if word == "--" {
            rest_are_args = true;
        } else if word == "-" || !word.starts_with('-') {
            parsed.args.push(word.clone());
        } else {
            if let Some(name) = waiting {
                return Err(missing_argument(name));
            }
            let stripped = word.trim_start_matches('-');
            if let Some(spec) = find(stripped).filter(|_| !word.starts_with("--")) {
                parsed.opts.insert(spec.name, None);
                waiting = spec.takes_value.then_some(spec.name);
            } else if word.starts_with("--") || stripped.is_empty() {
                return Err(unrecognized(word));
            } else {
                // Concatenated short options: `-es`, or `-t100` (an option and its value).
                for (i, ch) in stripped.char_indices() {
                    let Some(spec) = find(&stripped[i..i + ch.len_utf8()]) else {
                        return Err(unrecognized(word));
                    };
                    parsed.opts.insert(spec.name, None);
                    if spec.takes_value {
                        let rest = &stripped[i + ch.len_utf8()..];
                        if rest.is_empty() {
                            waiting = Some(spec.name);
                        } else {
                            parsed.opts.insert(spec.name, Some(rest.to_string()));
                        }
                        break;
                    }
                }
            }
        }
    }
    if let Some(name) = waiting {
        return Err(missing_argument(name));
    }
    Ok(parsed)
}

fn is_option(word: &str, specs: &[OptSpec]) -> bool {
    if !word.starts_with('-') || word.len() == 1 {
        return false;
    }
    let stripped = word.trim_start_matches('-');
    specs.iter().any(|s| {
        s.name == stripped
            || stripped
                .chars()
                .next()
                .is_some_and(|c| s.name.len() == c.len_utf8() && s.name.starts_with(c))
    })
}

fn is_negative_number(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && word[1..].parse::<f64>().is_ok()
}

fn unrecognized(word: &str) -> CliError {
    CliError(format!(
        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {word}"
    ))
}

fn missing_argument(name: &str) -> CliError {
    CliError(format!(
        "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {name}"
    ))
}

fn number_error(s: &str) -> CliError {
    CliError(format!(
        "java.lang.NumberFormatException: For input string: \"{s}\""
    ))
}

fn parse_version(p: &Parsed) -> Result<i32, CliError> {
    match p.value("v") {
        Some(v) => v.parse().map_err(|_| number_error(v)),
        None => Ok(-1),
    }
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// Every command zkCli.sh knows, with the option string its usage shows (ZooKeeper 3.8).
pub const COMMANDS: &[(&str, &str)] = &[
    ("addWatch", "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    ("reconfig", "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]"),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

fn usage_str(cmd: &str) -> String {
    let opts = COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map(|(_, o)| *o)
        .unwrap_or("");
    format!("{cmd} {opts}")
}

/// `ZooKeeperMain.usage()`, printed to stderr when a command is unknown.
pub fn usage() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (cmd, opts) in COMMANDS {
        s.push_str(&format!("\t{cmd} {opts}\n"));
    }
    s
}

/// A zkCli command that talks to the server, with its options decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Ls {
        path: String,
        watch: bool,
        stat: bool,
        recursive: bool,
    },
    Create {
        path: String,
        data: Option<Vec<u8>>,
        mode: CreateMode,
        ttl: i64,
        acl: Vec<Acl>,
    },
    Get {
        path: String,
        watch: bool,
        stat: bool,
    },
    Set {
        path: String,
        data: Vec<u8>,
        version: i32,
        stat: bool,
    },
    Stat {
        path: String,
        watch: bool,
    },
    Delete {
        path: String,
        version: i32,
    },
    DeleteAll {
        path: String,
        batch: usize,
    },
    GetAcl {
        path: String,
        stat: bool,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
        stat: bool,
        recursive: bool,
    },
    Sync {
        path: String,
    },
    AddAuth {
        scheme: String,
        auth: Vec<u8>,
    },
    WhoAmI,
    AddWatch {
        path: String,
        mode: i32,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
    },
    GetEphemerals {
        path: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    Config {
        watch: bool,
        stat: bool,
        client: bool,
    },
    Reconfig {
        joining: Option<String>,
        leaving: Option<String>,
        members: Option<String>,
        version: i64,
        stat: bool,
    },
    Version,
}

/// Parses the words of one command (the command name first) into a [`Command`]. What the
/// parse itself prints (deprecation notes, bad ACL entries) goes to `printed`.
fn parse_command(words: &[String], printed: &mut Printed) -> Result<Command, CliError> {
    let cmd = words[0].as_str();
    let usage = || CliError(usage_str(cmd));
    Ok(match cmd {
        "ls" => {
            let p = compat_watch(
                words,
                &[flag("?"), flag("s"), flag("w"), flag("R")],
                "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.",
                printed,
            )?;
            if p.has("?") {
                // commons-cli's HelpFormatter, options sorted, descriptions three spaces on.
                printed.out(
                    "usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch\n",
                );
            }
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::Ls {
                path,
                watch: p.has("w"),
                stat: p.has("s"),
                recursive: p.has("R"),
            }
        }
        "create" => {
            let p = parse_opts(words, &[flag("e"), flag("s"), flag("c"), valued("t")])?;
            if p.args.len() < 2 {
                return Err(usage());
            }
            let (e, s, c, t) = (p.has("e"), p.has("s"), p.has("c"), p.has("t"));
            if c && (e || s) {
                return Err(CliError(
                    "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                        .into(),
                ));
            }
            let ttl = match p.value("t") {
                Some(v) if t => v
                    .parse::<i64>()
                    .map_err(|_| CliError("-t argument must be a long value".into()))?,
                _ => 0,
            };
            if t && e {
                return Err(CliError("TTLs cannot be used with Ephemeral znodes".into()));
            }
            if t && c {
                return Err(CliError("TTLs cannot be used with Container znodes".into()));
            }
            let mode = match (e, s, c, t) {
                (true, true, _, _) => CreateMode::EphemeralSequential,
                (true, false, _, _) => CreateMode::Ephemeral,
                (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
                (false, true, _, false) => CreateMode::PersistentSequential,
                (false, false, true, _) => CreateMode::Container,
                (false, false, false, true) => CreateMode::PersistentWithTtl,
                (false, false, false, false) => CreateMode::Persistent,
            };
            if t && EphemeralType::ttl_owner(ttl).is_none() {
                return Err(CliError(format!(
                    "ttl must be positive and cannot be larger than: {}",
                    zk_core::stat::MAX_TTL
                )));
            }
            Command::Create {
                path: p.args[1].clone(),
                data: p.args.get(2).map(|d| d.as_bytes().to_vec()),
                mode,
                ttl,
                acl: match p.args.get(3) {
                    Some(a) => parse_acl(a, printed),
                    None => Acl::open_unsafe(),
                },
            }
        }
        "get" => {
            let p = compat_watch(
                words,
                &[flag("s"), flag("w")],
                "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.",
                printed,
            )?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::Get {
                path,
                watch: p.has("w"),
                stat: p.has("s"),
            }
        }
        "set" => {
            let p = parse_opts(words, &[flag("s"), valued("v")])?;
            if p.args.len() < 3 {
                return Err(usage());
            }
            Command::Set {
                path: p.args[1].clone(),
                data: p.args[2].as_bytes().to_vec(),
                version: parse_version(&p)?,
                stat: p.has("s"),
            }
        }
        "stat" => {
            let p = compat_watch(
                words,
                &[flag("w")],
                "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.",
                printed,
            )?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::Stat {
                path,
                watch: p.has("w"),
            }
        }
        "delete" => {
            let p = parse_opts(words, &[valued("v")])?;
            if p.args.len() < 2 {
                return Err(usage());
            }
            if p.args.len() > 2 {
                printed.errln(
                    "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.",
                );
            }
            Command::Delete {
                path: p.args[1].clone(),
                version: parse_version(&p)?,
            }
        }
        "deleteall" | "rmr" => {
            let p = parse_opts(words, &[valued("b")])?;
            if p.args.len() < 2 {
                return Err(usage());
            }
            let batch = match p.value("b") {
                Some(b) => b
                    .parse::<i32>()
                    .map_err(|_| CliError("-b argument must be an int value".into()))?,
                None => 1000,
            };
            Command::DeleteAll {
                path: p.args[1].clone(),
                batch: batch.max(1) as usize,
            }
        }
        "getAcl" => {
            let p = parse_opts(words, &[flag("s")])?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::GetAcl {
                path,
                stat: p.has("s"),
            }
        }
        "setAcl" => {
            let p = parse_opts(words, &[flag("s"), valued("v"), flag("R")])?;
            if p.args.len() < 3 {
                return Err(usage());
            }
            let acl = parse_acl(&p.args[2], printed);
            Command::SetAcl {
                path: p.args[1].clone(),
                acl,
                version: parse_version(&p)?,
                stat: p.has("s"),
                recursive: p.has("R"),
            }
        }
        "sync" => {
            let p = parse_opts(words, &[])?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::Sync { path }
        }
        "addauth" => {
            let p = parse_opts(words, &[])?;
            let scheme = p.args.get(1).ok_or_else(usage)?.clone();
            Command::AddAuth {
                scheme,
                auth: p
                    .args
                    .get(2)
                    .map(|a| a.as_bytes().to_vec())
                    .unwrap_or_default(),
            }
        }
        "whoami" => Command::WhoAmI,
        "addWatch" => {
            let p = parse_opts(words, &[valued("m")])?;
            if p.args.len() != 2 {
                return Err(usage());
            }
            let mode = match p.value("m").map(|m| m.to_uppercase()) {
                None => add_watch_mode::PERSISTENT_RECURSIVE,
                Some(m) if m == "PERSISTENT" => add_watch_mode::PERSISTENT,
                Some(m) if m == "PERSISTENT_RECURSIVE" => add_watch_mode::PERSISTENT_RECURSIVE,
                Some(_) => return Err(usage()),
            };
            Command::AddWatch {
                path: p.args[1].clone(),
                mode,
            }
        }
        "removewatches" => {
            let p = parse_opts(words, &[flag("c"), flag("d"), flag("a"), flag("l")])?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            let watcher_type = if p.has("c") {
                watcher_type::CHILDREN
            } else if p.has("d") {
                watcher_type::DATA
            } else {
                watcher_type::ANY
            };
            Command::RemoveWatches { path, watcher_type }
        }
        "getEphemerals" => {
            let p = parse_opts(words, &[])?;
            Command::GetEphemerals {
                path: p.args.get(1).cloned().unwrap_or_else(|| "/".into()),
            }
        }
        "getAllChildrenNumber" => {
            let p = parse_opts(words, &[])?;
            let path = p.args.get(1).ok_or_else(usage)?.clone();
            Command::GetAllChildrenNumber { path }
        }
        "config" => {
            let p = parse_opts(words, &[flag("s"), flag("w"), flag("c")])?;
            Command::Config {
                watch: p.has("w"),
                stat: p.has("s"),
                client: p.has("c"),
            }
        }
        "reconfig" => {
            let p = parse_opts(
                words,
                &[
                    flag("s"),
                    valued("v"),
                    valued("file"),
                    valued("members"),
                    valued("add"),
                    valued("remove"),
                ],
            )?;
            let (file, members, add, remove) = (
                p.has("file"),
                p.has("members"),
                p.has("add"),
                p.has("remove"),
            );
            if !(file || members || add || remove) {
                return Err(usage());
            }
            let version = match p.value("v") {
                Some(v) => i64::from_str_radix(v, 16).map_err(|_| {
                    CliError("-v must be followed by a long (configuration version)".into())
                })?,
                None => -1,
            };
            if (file || members) && (add || remove) {
                return Err(CliError("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)".into()));
            }
            if file && members {
                return Err(CliError(
                    "Can't use -file and -members together (conflicting non-incremental modes)"
                        .into(),
                ));
            }
            if file {
                return Err(CliError(format!(
                    "Error processing {}: -file is not supported by this shell; use -members",
                    p.value("file").unwrap_or_default()
                )));
            }
            let lower = |n: &str| p.value(n).map(|v| v.to_lowercase());
            Command::Reconfig {
                joining: lower("add"),
                leaving: lower("remove"),
                members: lower("members"),
                version,
                stat: p.has("s"),
            }
        }
        "version" => {
            let p = parse_opts(words, &[])?;
            if p.args.len() > 1 {
                return Err(usage());
            }
            Command::Version
        }
        "setquota" | "listquota" | "delquota" => {
            return Err(CliError(format!(
                "{cmd}: quotas are not supported by this server"
            )))
        }
        other => return Err(CliError(format!("Command not found: {other}"))),
    })
}

/// `get path watch`, `ls path watch`, `stat path watch`: the third word becomes `-w`, with a
/// note on stderr, as zkCli.sh does.
fn compat_watch(
    words: &[String],
    specs: &[OptSpec],
    note: &str,
    printed: &mut Printed,
) -> Result<Parsed, CliError> {
    let p = parse_opts(words, specs)?;
    if p.args.len() > 2 {
        let mut rewritten = words.to_vec();
        rewritten[2] = "-w".into();
        printed.errln(note);
        return parse_opts(&rewritten, specs);
    }
    Ok(p)
}

/// `AclParser.parse`: `scheme:id:perms[,scheme:id:perms...]`; malformed entries are reported
/// on stderr and skipped, unknown permission letters are reported and ignored.
pub fn parse_acl(s: &str, printed: &mut Printed) -> Vec<Acl> {
    let mut acl = Vec::new();
    for a in s.split(',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            printed.errln(format!("{a} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            printed.errln(format!("{a} does not have the form scheme:id:perm"));
            continue;
        }
        let mut p = 0;
        for c in a[last + 1..].chars() {
            match perms::parse_letters(&c.to_string()) {
                Some(bit) => p |= bit,
                None => printed.errln(format!("Unknown perm type: {c}")),
            }
        }
        acl.push(Acl::new(p, Id::new(&a[..first], &a[first + 1..last])));
    }
    acl
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// `StatPrinter`: the eleven fields, times as `java.util.Date.toString()` in UTC.
pub fn format_stat(stat: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\ncversion = {}\n\
         dataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\ndataLength = {}\nnumChildren = {}\n",
        stat.czxid.0,
        java_date(stat.ctime),
        stat.mzxid.0,
        java_date(stat.mtime),
        stat.pzxid.0,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner as u64,
        stat.data_length,
        stat.num_children
    )
}

/// `new Date(ms).toString()` in UTC: `Thu Jan 01 00:00:00 UTC 1970`.
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// `KeeperException.getMessage()` as `CliWrapperException` rewords it.
pub fn error_message(err: ErrorCode, path: Option<&str>) -> String {
    let p = path.unwrap_or("null");
    match err {
        ErrorCode::NoNode => format!("Node does not exist: {p}"),
        ErrorCode::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        ErrorCode::NodeExists => format!("Node already exists: {p}"),
        ErrorCode::NotEmpty => format!("Node not empty: {p}"),
        ErrorCode::NotReadOnly => format!("Not a read-only call: {p}"),
        ErrorCode::InvalidAcl => format!("Acl is not valid : {p}"),
        ErrorCode::NoAuth => format!("Insufficient permission : {p}"),
        ErrorCode::BadArguments => format!("Arguments are not valid : {p}"),
        ErrorCode::BadVersion => format!("version No is not valid : {p}"),
        ErrorCode::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .into()
        }
        ErrorCode::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced".into(),
        ErrorCode::QuotaExceeded => format!("Quota has exceeded : {p}"),
        other => keeper_message(other, path),
    }
}

/// `KeeperException.getMessage()`: `KeeperErrorCode = NoNode for /a`.
pub fn keeper_message(err: ErrorCode, path: Option<&str>) -> String {
    match path {
        Some(p) => format!("KeeperErrorCode = {} for {p}", err.message()),
        None => format!("KeeperErrorCode = {}", err.message()),
    }
}

/// How zkCli.sh prints a watch notification or a connection state change
/// (`WATCHER::` and `WatchedEvent.toString()`).
pub fn format_event(event: &WatchedEvent) -> String {
    let path = if event.path.is_empty() {
        "null"
    } else {
        event.path.as_str()
    };
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{:?} type:{:?} path:{}\n",
        event.state, event.event_type, path
    )
}

/// A connection state change, as the default watcher sees it (`type:None path:null`).
pub fn state_event(state: KeeperState) -> WatchedEvent {
    WatchedEvent {
        event_type: zk_core::request::EventType::None,
        state,
        path: String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a command
// ---------------------------------------------------------------------------------------------

/// What an [`Exec`] wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this request and call [`Exec::resume`] with its outcome.
    Send(Request),
    /// The command has finished; [`Exec::finish`] has its output.
    Done,
}

/// The outcome of one request, as a front end hands it back: the reply body, or the error the
/// reply header carried (or ConnectionLoss / SessionExpired when the connection failed first).
pub type Outcome = Result<Response, ErrorCode>;

#[derive(Clone, Debug)]
enum Task {
    /// getChildren of a path during a depth-first walk.
    Children(String),
    /// setACL of one path during `setAcl -R`.
    SetAcl(String),
}

#[derive(Clone, Debug)]
enum State {
    /// One request, its result printed by `finish_single`.
    Single {
        req: Request,
    },
    /// `ls -R` / `setAcl -R`: `ZKUtil.visitSubTreeDFS`, the tasks still to do on a stack.
    Walk {
        todo: Vec<Task>,
    },
    /// `deleteall`: `ZKUtil.listSubTreeBFS`, then batches of deletes, leaves first.
    DeleteAll {
        queue: VecDeque<String>,
        tree: Vec<String>,
        listing: bool,
        batches: Vec<Vec<String>>,
        failed: bool,
    },
    Done,
}

/// One command being run. See the module docs for the loop that drives it.
#[derive(Clone, Debug)]
pub struct Exec {
    cmd: Command,
    state: State,
    /// The request in flight and the path errors name.
    in_flight: Option<(Request, Option<String>)>,
    printed: Printed,
    /// zkCli.sh's "watch" result: a one-shot `zkCli.sh cmd` stays connected when true.
    pub watch: bool,
    /// 0 when the command succeeded, 1 when it printed an error (zkCli.sh's exit code).
    pub exit_code: i32,
}

impl Exec {
    pub fn new(cmd: Command) -> Exec {
        let mut exec = Exec {
            state: State::Done,
            in_flight: None,
            printed: Printed::default(),
            watch: false,
            exit_code: 0,
            cmd: cmd.clone(),
        };
        exec.state = match exec.plan() {
            Ok(state) => state,
            Err(msg) => {
                exec.fail(msg);
                State::Done
            }
        };
        exec
    }

    pub fn command(&self) -> &Command {
        &self.cmd
    }

    /// The first request, or `Done` when the command fails before sending anything.
    pub fn start(&mut self) -> Step {
        self.advance(None)
    }

    /// Hands back the outcome of the request the last [`Step::Send`] asked for.
    pub fn resume(&mut self, outcome: Outcome) -> Step {
        self.advance(Some(outcome))
    }

    /// What the command printed.
    pub fn finish(self) -> Printed {
        self.printed
    }

    pub fn printed(&self) -> &Printed {
        &self.printed
    }

    fn fail(&mut self, msg: String) {
        self.printed.errln(msg);
        self.exit_code = 1;
        self.state = State::Done;
    }

    /// Client-side checks (the Java client's path and ACL validation) and the first state.
    fn plan(&mut self) -> Result<State, String> {
        let single = |req: Request| Ok(State::Single { req });
        match &self.cmd {
            Command::Ls {
                path,
                watch,
                recursive,
                stat,
            } => {
                check_path(path)?;
                if *recursive {
                    Ok(State::Walk { todo: Vec::new() })
                } else if *stat {
                    single(Request::GetChildren2 {
                        path: path.clone(),
                        watch: *watch,
                    })
                } else {
                    single(Request::GetChildren {
                        path: path.clone(),
                        watch: *watch,
                    })
                }
            }
            Command::Create {
                path,
                data,
                mode,
                ttl,
                acl,
            } => {
                if mode.is_sequential() {
                    validate_path_sequential(path).map_err(|e| e.to_string())?;
                } else {
                    check_path(path)?;
                }
                if acl.is_empty() {
                    self.printed
                        .errln(keeper_message(ErrorCode::InvalidAcl, None));
                    return Err(error_message(ErrorCode::InvalidAcl, None));
                }
                let op = if mode.is_ttl() {
                    op::CREATE_TTL
                } else if mode.is_container() {
                    op::CREATE_CONTAINER
                } else {
                    op::CREATE
                };
                single(Request::Create {
                    op,
                    req: CreateRequest {
                        path: path.clone(),
                        data: data.clone(),
                        acl: acl.clone(),
                        flags: mode.flags(),
                        ttl: if mode.is_ttl() { *ttl } else { -1 },
                    },
                })
            }
            Command::Get { path, watch, .. } => {
                check_path(path)?;
                single(Request::GetData {
                    path: path.clone(),
                    watch: *watch,
                })
            }
            Command::Set {
                path,
                data,
                version,
                ..
            } => {
                check_path(path)?;
                single(Request::SetData {
                    path: path.clone(),
                    data: Some(data.clone()),
                    version: *version,
                })
            }
            Command::Stat { path, watch } => {
                check_path(path)?;
                single(Request::Exists {
                    path: path.clone(),
                    watch: *watch,
                })
            }
            Command::Delete { path, version } => {
                check_path(path)?;
                single(Request::Delete {
                    path: path.clone(),
                    version: *version,
                })
            }
            Command::DeleteAll { path, .. } => {
                check_path(path)?;
                Ok(State::DeleteAll {
                    queue: VecDeque::from([path.clone()]),
                    tree: vec![path.clone()],
                    listing: true,
                    batches: Vec::new(),
                    failed: false,
                })
            }
            Command::GetAcl { path, .. } => {
                check_path(path)?;
                single(Request::GetAcl { path: path.clone() })
            }
            Command::SetAcl {
                path,
                acl,
                version,
                recursive,
                ..
            } => {
                check_path(path)?;
                if acl.is_empty() {
                    return Err(error_message(ErrorCode::InvalidAcl, None));
                }
                if *recursive {
                    Ok(State::Walk { todo: Vec::new() })
                } else {
                    single(Request::SetAcl {
                        path: path.clone(),
                        acl: acl.clone(),
                        version: *version,
                    })
                }
            }
            Command::Sync { path } => {
                check_path(path)?;
                single(Request::Sync { path: path.clone() })
            }
            Command::AddAuth { scheme, auth } => single(Request::Auth {
                auth_type: 0,
                scheme: scheme.clone(),
                auth: auth.clone(),
            }),
            Command::WhoAmI => single(Request::WhoAmI),
            Command::AddWatch { path, mode } => {
                check_path(path)?;
                single(Request::AddWatch {
                    path: path.clone(),
                    mode: *mode,
                })
            }
            Command::RemoveWatches { path, watcher_type } => {
                check_path(path)?;
                single(Request::RemoveWatches {
                    path: path.clone(),
                    watcher_type: *watcher_type,
                })
            }
            Command::GetEphemerals { path } => {
                check_path(path)?;
                single(Request::GetEphemerals {
                    prefix: path.clone(),
                })
            }
            Command::GetAllChildrenNumber { path } => {
                check_path(path)?;
                single(Request::GetAllChildrenNumber { path: path.clone() })
            }
            Command::Config { watch, .. } => single(Request::GetData {
                path: zk_core::path::CONFIG.into(),
                watch: *watch,
            }),
            Command::Reconfig {
                joining,
                leaving,
                members,
                version,
                ..
            } => single(Request::Reconfig {
                joining: joining.clone(),
                leaving: leaving.clone(),
                new_members: members.clone(),
                cur_config_id: *version,
            }),
            Command::Version => {
                self.printed
                    .outln(format!("ZooKeeper CLI version: {CLI_VERSION}"));
                Ok(State::Done)
            }
        }
    }

    fn send(&mut self, req: Request) -> Step {
        let path = req.path().map(str::to_string);
        self.in_flight = Some((req.clone(), path));
        Step::Send(req)
    }

    fn advance(&mut self, outcome: Option<Outcome>) -> Step {
        let state = std::mem::replace(&mut self.state, State::Done);
        let in_flight = self.in_flight.take();
        match (state, outcome) {
            (State::Done, _) => Step::Done,
            (State::Single { req }, None) => {
                self.state = State::Single { req: req.clone() };
                self.send(req)
            }
            (State::Single { .. }, Some(outcome)) => {
                let path = in_flight.and_then(|(_, p)| p);
                self.finish_single(outcome, path);
                Step::Done
            }
            (State::Walk { todo }, outcome) => self.walk(todo, outcome, in_flight),
            (
                State::DeleteAll {
                    queue,
                    tree,
                    listing,
                    batches,
                    failed,
                },
                outcome,
            ) => self.delete_all(queue, tree, listing, batches, failed, outcome, in_flight),
        }
    }

    fn error(&mut self, err: ErrorCode, path: Option<&str>) {
        let msg = match &self.cmd {
            // whoami wraps any exception; the client's message has no path.
            Command::WhoAmI => keeper_message(err, None),
            _ => error_message(err, path),
        };
        self.fail(msg);
    }

    fn finish_single(&mut self, outcome: Outcome, path: Option<String>) {
        let cmd = self.cmd.clone();
        if let Command::Sync { .. } = cmd {
            match outcome {
                Ok(_) => self.printed.outln("Sync is OK"),
                Err(e) => self
                    .printed
                    .outln(format!("Sync has failed. rc={}", e.code())),
            }
            return;
        }
        if let Command::AddAuth { .. } = cmd {
            // addAuthInfo answers nothing; a failure closes the session (state AuthFailed).
            return;
        }
        let resp = match outcome {
            Ok(resp) => resp,
            Err(e) => {
                if let Command::Create { .. } = cmd {
                    if e == ErrorCode::EphemeralOnLocalSession {
                        self.printed
                            .errln("Unable to create ephemeral node on a local session");
                    } else if e == ErrorCode::InvalidAcl {
                        self.printed.errln(keeper_message(e, path.as_deref()));
                    }
                }
                self.error(e, path.as_deref());
                return;
            }
        };
        let p = &mut self.printed;
        match (&cmd, resp) {
            (Command::Ls { watch, stat, .. }, Response::GetChildren2 { children, stat: st }) => {
                self.watch = *watch;
                let mut children = children;
                children.sort();
                p.outln(format!("[{}]", children.join(", ")));
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::Ls { watch, .. }, Response::GetChildren { children }) => {
                self.watch = *watch;
                let mut children = children;
                children.sort();
                p.outln(format!("[{}]", children.join(", ")));
            }
            (
                Command::Create { .. },
                Response::Create { path } | Response::Create2 { path, .. },
            ) => {
                self.watch = true;
                p.errln(format!("Created {path}"));
            }
            (Command::Get { watch, stat, .. }, Response::GetData { data, stat: st }) => {
                self.watch = *watch;
                p.outln(data_text(data.as_deref()));
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::Set { stat, .. }, Response::Stat(st)) => {
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::Stat { watch, .. }, Response::Stat(st)) => {
                self.watch = *watch;
                p.out(format_stat(&st));
            }
            (Command::Stat { path, .. }, Response::Empty) => {
                // exists on a missing node: a null Stat, reported as NoNode.
                let path = path.clone();
                self.error(ErrorCode::NoNode, Some(&path));
            }
            (Command::Delete { .. }, _) => {}
            (Command::GetAcl { stat, .. }, Response::GetAcl { acl, stat: st }) => {
                for a in &acl {
                    p.outln(format!(
                        "'{},'{}\n: {}",
                        a.id.scheme,
                        a.id.id,
                        perms::letters(a.perms)
                    ));
                }
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::SetAcl { stat, .. }, Response::Stat(st)) => {
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::WhoAmI, Response::WhoAmI(infos)) => {
                p.outln("Auth scheme: User");
                for i in infos {
                    p.outln(format!("{}: {}", i.auth_scheme, i.user));
                }
            }
            (Command::AddWatch { .. }, _) => {}
            (Command::RemoveWatches { .. }, _) => self.watch = true,
            (Command::GetEphemerals { .. }, Response::Ephemerals(list)) => {
                p.outln(format!("[{}]", list.join(", ")));
            }
            (Command::GetAllChildrenNumber { .. }, Response::AllChildrenNumber(n)) => {
                p.outln(n.to_string());
            }
            (
                Command::Config {
                    watch,
                    stat,
                    client,
                },
                Response::GetData { data, stat: st },
            ) => {
                self.watch = *watch;
                let text = data_text(data.as_deref());
                if *client {
                    p.outln(client_config(&text));
                } else {
                    p.outln(text);
                }
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (Command::Reconfig { stat, .. }, Response::Reconfig { data, stat: st }) => {
                p.outln(format!(
                    "Committed new configuration:\n{}",
                    String::from_utf8_lossy(&data)
                ));
                if *stat {
                    p.out(format_stat(&st));
                }
            }
            (_, other) => {
                let msg = format!("unexpected reply to {}: {other:?}", self.cmd_name());
                self.fail(msg);
            }
        }
    }

    fn cmd_name(&self) -> &'static str {
        self.in_flight
            .as_ref()
            .map(|(r, _)| r.name())
            .unwrap_or("command")
    }

    /// `ZKUtil.visitSubTreeDFS`: getData of the root (which must exist), the root visited, then
    /// for each node its sorted children visited before any of them is descended into.
    fn walk(
        &mut self,
        mut todo: Vec<Task>,
        outcome: Option<Outcome>,
        in_flight: Option<(Request, Option<String>)>,
    ) -> Step {
        let (root, watch, set_acl) = match &self.cmd {
            Command::Ls { path, watch, .. } => (path.clone(), *watch, None),
            Command::SetAcl {
                path, acl, version, ..
            } => (path.clone(), false, Some((acl.clone(), *version))),
            _ => unreachable!("walk is only planned for ls -R and setAcl -R"),
        };
        let Some(outcome) = outcome else {
            self.state = State::Walk { todo };
            return self.send(Request::GetData { path: root, watch });
        };
        let (req, path) = in_flight.expect("a walk resumes after a request");
        match (req, outcome) {
            (Request::GetData { .. }, Ok(_)) => {
                todo.push(Task::Children(root.clone()));
                match set_acl {
                    Some(_) => todo.push(Task::SetAcl(root)),
                    None => self.printed.outln(&root),
                }
            }
            (Request::GetChildren { .. }, Ok(Response::GetChildren { mut children })) => {
                children.sort();
                let parent = path.unwrap_or_default();
                let paths: Vec<String> = children.iter().map(|c| join(&parent, c)).collect();
                for p in paths.iter().rev() {
                    todo.push(Task::Children(p.clone()));
                }
                if set_acl.is_some() {
                    for p in paths.iter().rev() {
                        todo.push(Task::SetAcl(p.clone()));
                    }
                } else {
                    for p in &paths {
                        self.printed.outln(p);
                    }
                }
            }
            // A node listed but deleted before it could be read is skipped.
            (Request::GetChildren { .. }, Err(ErrorCode::NoNode)) => {}
            (Request::SetAcl { .. }, Ok(_)) => {}
            // setAcl -R prints each failure (with no newline) and goes on.
            (Request::SetAcl { .. }, Err(e)) => {
                self.printed.out(keeper_message(e, path.as_deref()));
            }
            (_, Err(e)) => {
                self.error(e, path.as_deref());
                return Step::Done;
            }
            (req, Ok(other)) => {
                self.fail(format!("unexpected reply to {}: {other:?}", req.name()));
                return Step::Done;
            }
        }
        match todo.pop() {
            None => Step::Done,
            Some(Task::Children(p)) => {
                self.state = State::Walk { todo };
                self.send(Request::GetChildren { path: p, watch })
            }
            Some(Task::SetAcl(p)) => {
                self.state = State::Walk { todo };
                let (acl, version) = set_acl.expect("setAcl task only in setAcl -R");
                self.send(Request::SetAcl {
                    path: p,
                    acl,
                    version,
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn delete_all(
        &mut self,
        mut queue: VecDeque<String>,
        mut tree: Vec<String>,
        mut listing: bool,
        mut batches: Vec<Vec<String>>,
        mut failed: bool,
        outcome: Option<Outcome>,
        in_flight: Option<(Request, Option<String>)>,
    ) -> Step {
        let batch_size = match &self.cmd {
            Command::DeleteAll { batch, .. } => *batch,
            _ => unreachable!("delete_all is only planned for deleteall"),
        };
        if let Some(outcome) = outcome {
            let (_, path) = in_flight.expect("deleteall resumes after a request");
            if listing {
                match outcome {
                    Ok(Response::GetChildren { children }) => {
                        let node = path.unwrap_or_default();
                        for c in children {
                            let child = join(&node, &c);
                            queue.push_back(child.clone());
                            tree.push(child);
                        }
                    }
                    Err(e) => {
                        self.error(e, path.as_deref());
                        return Step::Done;
                    }
                    Ok(other) => {
                        self.fail(format!("unexpected reply to getChildren: {other:?}"));
                        return Step::Done;
                    }
                }
            } else {
                let ok = match outcome {
                    Ok(Response::Multi(results)) => !results
                        .iter()
                        .any(|r| matches!(r, OpResult::Error { err } if *err != ErrorCode::Ok)),
                    _ => false,
                };
                failed |= !ok;
            }
        }
        if listing {
            if let Some(node) = queue.pop_front() {
                self.state = State::DeleteAll {
                    queue,
                    tree,
                    listing,
                    batches,
                    failed,
                };
                return self.send(Request::GetChildren {
                    path: node,
                    watch: false,
                });
            }
            // Leaves first, the root last.
            listing = false;
            tree.reverse();
            batches = tree.chunks(batch_size).map(<[String]>::to_vec).collect();
            batches.reverse();
            tree = Vec::new();
        }
        if failed || batches.is_empty() {
            if failed {
                self.printed
                    .errln("Failed to delete some node(s) in the subtree!");
            }
            return Step::Done;
        }
        let batch = batches.pop().expect("checked non-empty");
        self.state = State::DeleteAll {
            queue,
            tree,
            listing,
            batches,
            failed,
        };
        self.send(Request::Multi(
            batch
                .into_iter()
                .map(|path| Request::Delete { path, version: -1 })
                .collect(),
        ))
    }
}

fn check_path(path: &str) -> Result<(), String> {
    validate_path(path).map_err(|e| e.to_string())
}

/// Data as zkCli prints it: UTF-8 (invalid bytes replaced, as Java's decoder does), `null`
/// for a null buffer.
fn data_text(data: Option<&[u8]>) -> String {
    match data {
        Some(d) => String::from_utf8_lossy(d).into_owned(),
        None => "null".into(),
    }
}

/// `ConfigUtils.getClientConfigStr`: the version, then every server's client address.
fn client_config(config: &str) -> String {
    let mut version = String::new();
    let mut clients = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value.to_string();
        } else if key.starts_with("server.") {
            if let Some((_, client)) = value.split_once(';') {
                let client = client.trim();
                let addr = if client.contains(':') {
                    client.to_string()
                } else {
                    let host = value.split(':').next().unwrap_or("0.0.0.0");
                    format!("{host}:{client}")
                };
                clients.push(addr);
            }
        }
    }
    format!("{version} {}", clients.join(","))
}

// ---------------------------------------------------------------------------------------------
// The shell: history, redo, printwatches, and the commands that act on the connection itself
// ---------------------------------------------------------------------------------------------

/// What the front end must do after a line.
#[derive(Debug)]
pub enum Action {
    /// Nothing more: print [`LineResult::printed`].
    None,
    /// Run this command against the session (print `printed` first).
    Run(Box<Exec>),
    /// `connect [host:port]`: close the session and open a new one (to the same servers when
    /// `None`).
    Connect(Option<String>),
    /// `close`: close the session; later commands print "Not connected".
    Close,
    /// `quit`: close the session and leave.
    Quit,
}

#[derive(Debug)]
pub struct LineResult {
    pub printed: Printed,
    pub action: Action,
    /// zkCli's exit code for what the shell did itself: 127 for an unknown command, 1 for a
    /// refused one, 0 otherwise (a command run by an [`Exec`] has its own).
    pub exit_code: i32,
}

/// zkCli.sh's interactive state: the numbered history and whether watch events are printed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Shell {
    history: BTreeMap<i32, String>,
    count: i32,
    pub print_watches: bool,
}

impl Default for Shell {
    fn default() -> Self {
        Shell::new()
    }
}

impl Shell {
    pub fn new() -> Shell {
        Shell {
            history: BTreeMap::new(),
            count: 0,
            print_watches: true,
        }
    }

    /// The prompt: `[zk: host(STATE) N] `.
    pub fn prompt(&self, host: &str, state: &str) -> String {
        format!("[zk: {host}({state}) {}] ", self.count)
    }

    /// The number the next line gets in `history`.
    pub fn command_count(&self) -> i32 {
        self.count
    }

    /// One line typed at the prompt. `alive`: the session is neither closed nor expired (a
    /// session still connecting counts as alive, as in zkCli.sh).
    pub fn line(&mut self, line: &str, alive: bool) -> LineResult {
        if line.is_empty() {
            return LineResult {
                printed: Printed::default(),
                action: Action::None,
                exit_code: 0,
            };
        }
        self.history.insert(self.count, line.to_string());
        let result = self.run(line, alive);
        self.count += 1;
        result
    }

    /// One command given on zkCli's command line (`zkCli.sh -server h:p ls /`): run without
    /// entering the history, as ZooKeeperMain's one-shot mode does.
    pub fn one_shot(&mut self, line: &str, alive: bool) -> LineResult {
        self.run(line, alive)
    }

    fn run(&mut self, line: &str, alive: bool) -> LineResult {
        let mut printed = Printed::default();
        let words = split_words(line);
        let mut exit_code = 0;
        let action = self.process(&words, alive, &mut printed, &mut exit_code);
        LineResult {
            printed,
            action,
            exit_code,
        }
    }

    /// A watch notification or state change, as zkCli.sh prints it (nothing when
    /// `printwatches off`).
    pub fn event(&self, event: &WatchedEvent) -> Option<String> {
        self.print_watches.then(|| format_event(event))
    }

    fn process(
        &mut self,
        words: &[String],
        alive: bool,
        printed: &mut Printed,
        exit_code: &mut i32,
    ) -> Action {
        let Some(cmd) = words.first() else {
            printed.push(Stream::Err, usage());
            printed.errln("No command entered");
            *exit_code = 1;
            return Action::None;
        };
        if !COMMANDS.iter().any(|(c, _)| c == cmd) {
            printed.push(Stream::Err, usage());
            printed.errln(format!("Command not found: Command not found {cmd}"));
            *exit_code = 127;
            return Action::None;
        }
        match cmd.as_str() {
            "quit" => return Action::Quit,
            "redo" if words.len() >= 2 => {
                let i = match parse_java_int(&words[1]) {
                    Some(i) => i,
                    None => {
                        printed.errln(number_error(&words[1]).0);
                        *exit_code = 1;
                        return Action::None;
                    }
                };
                if self.count <= i || i < 0 {
                    printed.errln("Command index out of range");
                    *exit_code = 1;
                    return Action::None;
                }
                let line = self.history.get(&i).cloned().unwrap_or_default();
                let again = split_words(&line);
                if again.first().map(String::as_str) == Some("redo") {
                    printed.errln("No redoing redos");
                    *exit_code = 1;
                    return Action::None;
                }
                self.history.insert(self.count, line);
                let action = self.process(&again, alive, printed, exit_code);
                if !matches!(action, Action::None) {
                    return action;
                }
            }
            "history" => {
                for i in (self.count - 10).max(0)..=self.count {
                    // A one-shot `history` finds nothing recorded: Java prints the null.
                    let l = self.history.get(&i).map_or("null", String::as_str);
                    printed.outln(format!("{i} - {l}"));
                }
            }
            "printwatches" => {
                if words.len() == 1 {
                    printed.outln(format!(
                        "printwatches is {}",
                        if self.print_watches { "on" } else { "off" }
                    ));
                } else {
                    self.print_watches = words[1] == "on";
                }
            }
            "connect" => return Action::Connect(words.get(1).cloned()),
            _ => {}
        }
        if !alive {
            printed.outln("Not connected");
            return Action::None;
        }
        match cmd.as_str() {
            "redo" | "history" | "printwatches" => Action::None,
            "close" => Action::Close,
            _ => match parse_command(words, printed) {
                Ok(command) => {
                    let exec = Box::new(Exec::new(command));
                    Action::Run(exec)
                }
                Err(CliError(msg)) => {
                    printed.errln(msg);
                    *exit_code = 1;
                    Action::None
                }
            },
        }
    }
}

/// `Integer.decode`: decimal, `0x`/`#` hex, leading-zero octal, optional sign.
fn parse_java_int(s: &str) -> Option<i32> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if rest.len() > 1 && rest.starts_with('0') {
        i64::from_str_radix(&rest[1..], 8).ok()?
    } else {
        rest.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

/// Parses one command line without a shell (a one-shot `zkcli -server h:p cmd args`, a
/// tutorial step): the command, or the text zkCli.sh would print instead.
pub fn parse_line(line: &str) -> Result<(Command, Printed), Printed> {
    let words = split_words(line);
    let mut printed = Printed::default();
    match words.first() {
        None => {
            printed.errln("No command entered");
            Err(printed)
        }
        Some(cmd) if !COMMANDS.iter().any(|(c, _)| c == cmd) => {
            printed.push(Stream::Err, usage());
            printed.errln(format!("Command not found: Command not found {cmd}"));
            Err(printed)
        }
        Some(_) => match parse_command(&words, &mut printed) {
            Ok(c) => Ok((c, printed)),
            Err(CliError(msg)) => {
                printed.errln(msg);
                Err(printed)
            }
        },
    }
}

/// Runs a parsed command against anything that answers requests synchronously — a
/// [`zk_core::server`] in a test, a simulated session in a tutorial.
pub fn run_sync(cmd: Command, mut send: impl FnMut(Request) -> Outcome) -> Exec {
    let mut exec = Exec::new(cmd);
    let mut step = exec.start();
    while let Step::Send(req) = step {
        let outcome = send(req);
        step = exec.resume(outcome);
    }
    exec
}
