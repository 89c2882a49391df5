//! The `text` example plugin: string and list functions in an interface
//! (`pub mod strings`: nodes `text/strings/...`), a record in and out, a
//! variant and an enum, written as plain functions (`#[warden_guest::plugin]`
//! makes the WIT from their signatures and docs).

/// Text utilities: the second example plugin.
#[warden_guest::plugin]
mod text {
    use warden_guest::Type;

    /// Counts describing a piece of text.
    #[derive(Type)]
    pub struct Stats {
        pub chars: u32,
        pub words: u32,
        pub lines: u32,
        pub longest_word: Option<String>,
    }

    /// Letter case.
    #[derive(Type, Clone, Copy)]
    pub enum LetterCase {
        Upper,
        Lower,
        Title,
    }

    /// How `apply` rewrites text.
    #[derive(Type)]
    pub struct Style {
        pub letter_case: LetterCase,
        pub prefix: Option<String>,
        pub repeat: u8,
    }

    /// One token of `tokenize`.
    #[derive(Type)]
    pub enum Token {
        Word(String),
        Number(i64),
        Punct(char),
        Space,
    }

    /// String and list functions (nodes `text/strings/...`).
    pub mod strings {
        /// Upper-cases `s`.
        pub fn upper(s: &str) -> String {
            s.to_uppercase()
        }

        /// Reverses `s` by Unicode scalar values.
        pub fn reverse(s: &str) -> String {
            s.chars().rev().collect()
        }

        /// Splits `s` on whitespace.
        pub fn words(s: &str) -> Vec<String> {
            s.split_whitespace().map(str::to_owned).collect()
        }

        /// Joins `parts` with `sep` between them.
        pub fn join(parts: Vec<String>, sep: &str) -> String {
            parts.join(sep)
        }
    }

    /// Counts characters, words and lines (a record out).
    pub fn stats(s: &str) -> Stats {
        let longest = s.split_whitespace().max_by_key(|w| w.chars().count());
        Stats {
            chars: s.chars().count() as u32,
            words: s.split_whitespace().count() as u32,
            lines: s.lines().count() as u32,
            longest_word: longest.map(str::to_owned),
        }
    }

    /// Rewrites `s` in `style` (a record in).
    pub fn apply(s: &str, style: Style) -> String {
        let cased = match style.letter_case {
            LetterCase::Upper => s.to_uppercase(),
            LetterCase::Lower => s.to_lowercase(),
            LetterCase::Title => title(s),
        };
        let body = cased.repeat(usize::from(style.repeat.max(1)));
        match style.prefix {
            Some(p) => format!("{p}{body}"),
            None => body,
        }
    }

    /// Splits `s` into words, numbers, punctuation and spaces (a variant).
    pub fn tokenize(s: &str) -> Vec<Token> {
        let mut tokens = Vec::new();
        let mut chars = s.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                tokens.push(Token::Space);
            } else if c.is_ascii_digit() {
                let mut digits = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                match digits.parse() {
                    Ok(n) => tokens.push(Token::Number(n)),
                    Err(_) => tokens.push(Token::Word(digits)),
                }
            } else if c.is_alphanumeric() {
                let mut word = String::new();
                while let Some(&w) = chars.peek().filter(|w| w.is_alphanumeric()) {
                    word.push(w);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            } else {
                tokens.push(Token::Punct(c));
                chars.next();
            }
        }
        tokens
    }

    /// Says which case `s` is in, if it is all one (an enum).
    pub fn case_of(s: &str) -> Option<LetterCase> {
        let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.is_empty() {
            None
        } else if letters.iter().all(|c| c.is_uppercase()) {
            Some(LetterCase::Upper)
        } else if letters.iter().all(|c| c.is_lowercase()) {
            Some(LetterCase::Lower)
        } else if s == title(s) {
            Some(LetterCase::Title)
        } else {
            None
        }
    }

    fn title(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut start = true;
        for c in s.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = c.is_whitespace();
        }
        out
    }
}
