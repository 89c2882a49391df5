//! The `text` example plugin: string and list functions, a record in and out,
//! a variant and an enum.

warden_guest::define_plugin!({ world: "text", path: "wit" });

use exports::example::text::strings;

struct Text;

impl strings::Guest for Text {
    fn upper(s: String) -> String {
        s.to_uppercase()
    }

    fn reverse(s: String) -> String {
        s.chars().rev().collect()
    }

    fn words(s: String) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn join(parts: Vec<String>, sep: String) -> String {
        parts.join(&sep)
    }
}

impl Guest for Text {
    fn stats(s: String) -> Stats {
        let longest = s.split_whitespace().max_by_key(|w| w.chars().count());
        Stats {
            chars: s.chars().count() as u32,
            words: s.split_whitespace().count() as u32,
            lines: s.lines().count() as u32,
            longest_word: longest.map(str::to_owned),
        }
    }

    fn apply(s: String, style: Style) -> String {
        let cased = match style.letter_case {
            LetterCase::Upper => s.to_uppercase(),
            LetterCase::Lower => s.to_lowercase(),
            LetterCase::Title => title(&s),
        };
        let body = cased.repeat(usize::from(style.repeat.max(1)));
        match style.prefix {
            Some(p) => format!("{p}{body}"),
            None => body,
        }
    }

    fn tokenize(s: String) -> Vec<Token> {
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

    fn case_of(s: String) -> Option<LetterCase> {
        let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.is_empty() {
            None
        } else if letters.iter().all(|c| c.is_uppercase()) {
            Some(LetterCase::Upper)
        } else if letters.iter().all(|c| c.is_lowercase()) {
            Some(LetterCase::Lower)
        } else if s == title(&s) {
            Some(LetterCase::Title)
        } else {
            None
        }
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

export!(Text);
