//! The JAAS login configuration file, read as the JDK's `sun.security.provider.ConfigFile` reads
//! it (a `java.io.StreamTokenizer` with its settings), and the DIGEST-MD5 credentials ZooKeeper
//! takes from it.
//!
//! ```text
//! Server {                                   // a section ("application name")
//!     org.apache.zookeeper.server.auth.DigestLoginModule required   /* module and flag */
//!     user_super="super_secret"
//!     user_bob="bobs_secret";                // options, then ';' ends the module
//! };                                         // '};' ends the section
//! ```
//!
//! What the JDK's tokenizer makes of the text, and so this parser too:
//! - Comments: `// …` and `/* … */`; a lone `/` also starts a comment to the end of its line
//!   (so a path must be quoted).
//! - Words: letters, `$ _ - *`, characters from U+00A0 up, then also digits and `.`: a class
//!   name or `user_bob` may stand bare. A bare value starting with a digit, `.` or `-` is a
//!   number to the JDK and is refused; so is any other character (`@`, `:`, `#`, …) outside
//!   quotes: such values must be quoted.
//! - Quoted values: `"…"` only (a `'…'` value is refused), with `\n \t \b \f \r \a \v`,
//!   octal `\0`–`\377` and `\x` = `x` escapes; a quoted value ends, without error, at the end
//!   of its line if its closing quote is missing (as the JDK's).
//! - Control flags: `required`, `requisite`, `sufficient`, `optional`, in any case.
//! - Option values: `${name}` is replaced by a property ([`JaasConfig::parse_with_properties`];
//!   undefined: an error, as in the JDK), `${/}` by `/`, `${{…}}` left as it is; a value that
//!   expands to nothing is an error.
//! - A section name given twice is an error; a key given twice in one module: the last wins.
//!
//! Errors name the line (counted over every line, comments included, where the JDK counts only
//! lines between tokens) and the problem.

use std::collections::BTreeMap;
use std::fmt;

/// ZooKeeper's DIGEST-MD5 login module.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// The client-port server's section (`zookeeper.sasl.serverconfig`, default `Server`).
pub const SERVER_SECTION: &str = "Server";
/// A client's section (`zookeeper.sasl.clientconfig`, default `Client`).
pub const CLIENT_SECTION: &str = "Client";
/// The quorum server's section (`quorum.auth.server.saslLoginContext`, default `QuorumServer`).
pub const QUORUM_SERVER_SECTION: &str = "QuorumServer";
/// The quorum learner's section (`quorum.auth.learner.saslLoginContext`, default `QuorumLearner`).
pub const QUORUM_LEARNER_SECTION: &str = "QuorumLearner";

/// A login module's control flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlFlag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One login module of a section, with its options.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    pub flag: ControlFlag,
    /// Options by key (the last of a repeated key).
    pub options: BTreeMap<String, String>,
    /// The line its class name is on.
    pub line: usize,
}

impl fmt::Debug for LoginModule {
    /// Shows option keys but not the values of `password` and `user_*` options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Opts<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Opts<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut m = f.debug_map();
                for (k, v) in self.0 {
                    if k == "password" || k.starts_with("user_") {
                        m.entry(k, &"<redacted>");
                    } else {
                        m.entry(k, v);
                    }
                }
                m.finish()
            }
        }
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("options", &Opts(&self.options))
            .field("line", &self.line)
            .finish()
    }
}

/// One section (a JAAS "application name") and its login modules, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JaasSection {
    pub name: String,
    pub modules: Vec<LoginModule>,
    /// The line its name is on.
    pub line: usize,
}

/// The whole file: its sections in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JaasConfig {
    pub sections: Vec<JaasSection>,
}

/// A username and password for a DIGEST-MD5 client (`Client`, `QuorumLearner`).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    /// `None` when the module has `username` but no `password` (ZooKeeper then fails to log in).
    pub password: Option<String>,
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What is wrong, and on which line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("JAAS configuration line {line}: {kind}")]
pub struct JaasError {
    pub line: usize,
    pub kind: JaasErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JaasErrorKind {
    #[error("expected {expected}, read end of file")]
    UnexpectedEof { expected: &'static str },
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error("invalid control flag {0:?} (required, requisite, sufficient or optional)")]
    InvalidControlFlag(String),
    #[error("section {0:?} is given more than once")]
    DuplicateSection(String),
    #[error("cannot expand property ${{{0}}}: it is not defined")]
    UndefinedProperty(String),
    #[error("option value {0:?} expands to an empty value")]
    EmptyExpansion(String),
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: java.io.StreamTokenizer as ConfigFile sets it up
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    /// A `"…"` string.
    Quoted(String),
    /// A `'…'` string (a token to the tokenizer, refused by ConfigFile).
    SingleQuoted(String),
    /// Digits, `.` and a leading `-`: `TT_NUMBER`.
    Number(String),
    Char(char),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Quoted(q) => format!("quoted string {q:?}"),
            Tok::SingleQuoted(q) => {
                format!("single-quoted string '{q}' (only double quotes are accepted)")
            }
            Tok::Number(n) => format!("number {n} (quote values that start with a digit)"),
            Tok::Char(c) => format!("{c:?}"),
            Tok::Eof => "end of file".into(),
        }
    }
}

fn is_whitespace(c: char) -> bool {
    (c as u32) <= 32
}

fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || c == '.' || c == '-'
}

fn is_alpha(c: char) -> bool {
    let u = c as u32;
    c.is_ascii_alphabetic()
        || (160..=255).contains(&u)
        || u >= 256
        || matches!(c, '$' | '_' | '-' | '*')
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Lexer {
    fn new(text: &str) -> Self {
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Takes one character, counting lines (`\n`, `\r`, and `\r\n` once).
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' || (c == '\r' && self.peek() != Some('\n')) {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips to the end of the line, leaving the line break.
    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next token and the line it starts on.
    fn next(&mut self) -> (Tok, usize) {
        loop {
            while self.peek().is_some_and(is_whitespace) {
                self.bump();
            }
            let line = self.line;
            let Some(c) = self.peek() else {
                return (Tok::Eof, line);
            };

            if is_number_char(c) {
                self.bump();
                if c == '-' && !self.peek().is_some_and(|d| d == '.' || d.is_ascii_digit()) {
                    return (Tok::Char('-'), line);
                }
                let mut text = String::from(c);
                let mut seen_dot = c == '.';
                while let Some(d) = self.peek() {
                    if d.is_ascii_digit() || (d == '.' && !seen_dot) {
                        seen_dot |= d == '.';
                        text.push(d);
                        self.bump();
                    } else {
                        break;
                    }
                }
                return (Tok::Number(text), line);
            }

            if is_alpha(c) {
                let mut w = String::new();
                while let Some(d) = self.peek() {
                    if is_alpha(d) || is_number_char(d) {
                        w.push(d);
                        self.bump();
                    } else {
                        break;
                    }
                }
                return (Tok::Word(w), line);
            }

            if c == '"' || c == '\'' {
                self.bump();
                let s = self.quoted(c);
                return (
                    if c == '"' {
                        Tok::Quoted(s)
                    } else {
                        Tok::SingleQuoted(s)
                    },
                    line,
                );
            }

            if c == '/' {
                self.bump();
                match self.peek() {
                    Some('*') => {
                        self.bump();
                        // Up to the first "*/"; end of file inside ends the file.
                        let mut prev = '\0';
                        loop {
                            match self.bump() {
                                None => return (Tok::Eof, self.line),
                                Some('/') if prev == '*' => break,
                                Some(d) => prev = d,
                            }
                        }
                    }
                    Some('/') => self.skip_line(),
                    _ => {
                        // '/' is also a comment character: the character after it, whatever it
                        // is (even a line break), then the rest of the line, are skipped.
                        self.bump();
                        self.skip_line();
                    }
                }
                continue;
            }

            self.bump();
            return (Tok::Char(c), line);
        }
    }

    /// The rest of a quoted string whose opening `quote` was read.
    fn quoted(&mut self, quote: char) -> String {
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else { return s };
            if c == quote {
                self.bump();
                return s;
            }
            if c == '\n' || c == '\r' {
                return s; // unterminated: ends at the line break, which stays
            }
            self.bump();
            if c != '\\' {
                s.push(c);
                continue;
            }
            let Some(e) = self.bump() else {
                s.push('\u{FFFF}'); // the JDK appends (char) -1
                return s;
            };
            match e {
                '0'..='7' => {
                    let mut v = e as u32 - '0' as u32;
                    if let Some(d2 @ '0'..='7') = self.peek() {
                        self.bump();
                        v = v * 8 + (d2 as u32 - '0' as u32);
                        if let Some(d3 @ '0'..='7') = self.peek() {
                            if e <= '3' {
                                self.bump();
                                v = v * 8 + (d3 as u32 - '0' as u32);
                            }
                        }
                    }
                    s.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                }
                'a' => s.push('\u{7}'),
                'b' => s.push('\u{8}'),
                'f' => s.push('\u{C}'),
                'n' => s.push('\n'),
                'r' => s.push('\r'),
                't' => s.push('\t'),
                'v' => s.push('\u{B}'),
                other => s.push(other),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser: ConfigFile.readConfig / parseLoginEntry / match / peek / expand
// ---------------------------------------------------------------------------------------------

struct Parser<'p> {
    lex: Lexer,
    tok: Tok,
    line: usize,
    props: &'p dyn Fn(&str) -> Option<String>,
}

impl Parser<'_> {
    fn advance(&mut self) {
        let (t, l) = self.lex.next();
        self.tok = t;
        self.line = l;
    }

    fn err(&self, kind: JaasErrorKind) -> JaasError {
        JaasError {
            line: self.line,
            kind,
        }
    }

    fn unexpected(&self, expected: &'static str) -> JaasError {
        match &self.tok {
            Tok::Eof => self.err(JaasErrorKind::UnexpectedEof { expected }),
            t => self.err(JaasErrorKind::Expected {
                expected,
                found: t.describe(),
            }),
        }
    }

    /// A word or a double-quoted string.
    fn value(&mut self, expected: &'static str) -> Result<(String, usize), JaasError> {
        match &self.tok {
            Tok::Word(s) | Tok::Quoted(s) => {
                let r = (s.clone(), self.line);
                self.advance();
                Ok(r)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn punct(&mut self, c: char, expected: &'static str) -> Result<(), JaasError> {
        if self.tok == Tok::Char(c) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn at(&self, c: char) -> bool {
        self.tok == Tok::Char(c)
    }

    fn section(&mut self) -> Result<JaasSection, JaasError> {
        // The JDK takes the name from any token with a string (a '…' one too).
        let (name, line) = match &self.tok {
            Tok::SingleQuoted(s) => {
                let r = (s.clone(), self.line);
                self.advance();
                r
            }
            _ => self.value("a section name")?,
        };
        self.punct('{', "'{' after the section name")?;
        let mut modules = Vec::new();
        while !self.at('}') {
            let (class, mline) = self.value("a login module class name or '}'")?;
            let (flag, fline) = self.value("a control flag")?;
            let flag = match flag.to_uppercase().as_str() {
                "REQUIRED" => ControlFlag::Required,
                "REQUISITE" => ControlFlag::Requisite,
                "SUFFICIENT" => ControlFlag::Sufficient,
                "OPTIONAL" => ControlFlag::Optional,
                _ => {
                    return Err(JaasError {
                        line: fline,
                        kind: JaasErrorKind::InvalidControlFlag(flag),
                    })
                }
            };
            let mut options = BTreeMap::new();
            while !self.at(';') {
                let (key, _) = self.value("an option key or ';'")?;
                self.punct('=', "'=' after the option key")?;
                let (raw, vline) = self.value("an option value")?;
                let value =
                    expand(&raw, self.props).map_err(|kind| JaasError { line: vline, kind })?;
                options.insert(key, value);
            }
            self.advance();
            modules.push(LoginModule {
                class,
                flag,
                options,
                line: mline,
            });
        }
        self.advance();
        self.punct(';', "';' after '}'")?;
        Ok(JaasSection {
            name,
            modules,
            line,
        })
    }
}

/// `ConfigFile.expand` / `PropertyExpander.expand`.
fn expand(value: &str, props: &dyn Fn(&str) -> Option<String>) -> Result<String, JaasErrorKind> {
    if value.is_empty() || !value.contains("${") {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(p) = rest.find("${") {
        out.push_str(&rest[..p]);
        let after = &rest[p + 2..];
        if let Some(inner) = after.strip_prefix('{') {
            // ${{…}} is kept as it is (up to and including the first "}}").
            match inner.find("}}") {
                Some(e) if p + 3 + e + 2 < rest.len() => {
                    let end = p + 3 + e + 2;
                    out.push_str(&rest[p..end]);
                    rest = &rest[end..];
                }
                _ => {
                    out.push_str(&rest[p..]);
                    rest = "";
                }
            }
            continue;
        }
        let Some(close) = after.find('}') else {
            out.push_str(&rest[p..]);
            rest = "";
            break;
        };
        let name = &after[..close];
        if name == "/" {
            out.push('/');
        } else {
            out.push_str(
                &props(name).ok_or_else(|| JaasErrorKind::UndefinedProperty(name.into()))?,
            );
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(JaasErrorKind::EmptyExpansion(value.into()));
    }
    Ok(out)
}

impl JaasConfig {
    /// Parses the file's text with no properties defined (a `${name}` in a value is an error,
    /// as in the JDK when that system property is unset).
    pub fn parse(text: &str) -> Result<Self, JaasError> {
        Self::parse_with_properties(text, |_| None)
    }

    /// Parses the file's text, expanding `${name}` in option values with `props`.
    pub fn parse_with_properties(
        text: &str,
        props: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, JaasError> {
        let lex = Lexer::new(text);
        let mut p = Parser {
            lex,
            tok: Tok::Eof,
            line: 1,
            props: &props,
        };
        p.advance();
        let mut sections: Vec<JaasSection> = Vec::new();
        while p.tok != Tok::Eof {
            let s = p.section()?;
            if sections.iter().any(|t| t.name == s.name) {
                return Err(JaasError {
                    line: s.line,
                    kind: JaasErrorKind::DuplicateSection(s.name),
                });
            }
            sections.push(s);
        }
        Ok(JaasConfig { sections })
    }

    /// The section called `name` (names are case-sensitive).
    pub fn section(&self, name: &str) -> Option<&JaasSection> {
        self.sections.iter().find(|s| s.name == name)
    }
}

impl JaasSection {
    /// The DIGEST-MD5 users of a client-port server section, as ZooKeeper's
    /// `SaslServerCallbackHandler` reads them: every `user_<name>="<password>"` option of
    /// every module of the section (whatever the module), later ones winning.
    pub fn digest_users(&self) -> BTreeMap<String, String> {
        let mut users = BTreeMap::new();
        for m in &self.modules {
            for (k, v) in &m.options {
                if let Some(name) = k.strip_prefix("user_") {
                    users.insert(name.to_string(), v.clone());
                }
            }
        }
        users
    }

    /// The DIGEST-MD5 users of a quorum server section, as `SaslQuorumServerCallbackHandler`
    /// reads them: `user_*` options of [`DIGEST_LOGIN_MODULE`] modules only; `None` when the
    /// section has any other module (ZooKeeper then takes the section to be Kerberos and has no
    /// DIGEST users).
    pub fn quorum_digest_users(&self) -> Option<BTreeMap<String, String>> {
        if self.modules.iter().any(|m| m.class != DIGEST_LOGIN_MODULE) {
            return None;
        }
        Some(self.digest_users())
    }

    /// A client's DIGEST-MD5 credentials (`Client`, `QuorumLearner`): the `username` and
    /// `password` options of the first [`DIGEST_LOGIN_MODULE`] that has a `username`
    /// (`DigestLoginModule.initialize`).
    pub fn digest_credentials(&self) -> Option<DigestCredentials> {
        self.modules
            .iter()
            .filter(|m| m.class == DIGEST_LOGIN_MODULE)
            .find_map(|m| {
                Some(DigestCredentials {
                    username: m.options.get("username")?.clone(),
                    password: m.options.get("password").cloned(),
                })
            })
    }
}

/// [`JaasSection::digest_users`].
pub fn digest_users(section: &JaasSection) -> BTreeMap<String, String> {
    section.digest_users()
}

/// The password ZooKeeper's `SaslServerCallbackHandler` checks `user` against:
/// `zookeeper.SASLAuthenticationProvider.superPassword` (`super_password`) replaces the
/// password of user `super`, but only when the section has a `user_super` at all.
pub fn server_password(
    users: &BTreeMap<String, String>,
    super_password: Option<&str>,
    user: &str,
) -> Option<String> {
    let pw = users.get(user)?;
    match super_password {
        Some(sp) if user == "super" => Some(sp.to_string()),
        _ => Some(pw.clone()),
    }
}

#[cfg(test)]
mod tests;
