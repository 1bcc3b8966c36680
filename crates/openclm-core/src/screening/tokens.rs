//! Reading text as words and clause marks: lower case, apostrophes dropped inside words,
//! hyphens and punctuation splitting words.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Word,
    /// A comma: it ends a clause but may separate the items of one list.
    Comma,
    /// Any other punctuation that ends a clause.
    Stop,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    /// Byte range of the word in [`Tokenized::lower`].
    start: usize,
    end: usize,
}

pub(super) struct Tokenized {
    lower: String,
    pub(super) tokens: Vec<Token>,
    /// Two dotted single capitals in a row, as in `J.D.` or `J. D.`: a patient's initials.
    pub(super) initials: bool,
}

impl Tokenized {
    pub(super) fn word(&self, token: &Token) -> &str {
        &self.lower[token.start..token.end]
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02bc}')
}

/// Splits `input` into lower-case words and clause marks. Any string is valid input.
pub(super) fn tokenize(input: &str) -> Tokenized {
    let mut lower = String::with_capacity(input.len());
    let mut tokens = Vec::with_capacity(input.len() / 5 + 1);
    let mut word: Option<(usize, bool, usize)> = None; // (start, first is upper case, chars)
    let mut previous_initial = false;
    let mut initials = false;
    let mut previous = ' ';
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if c.is_ascii_alphanumeric() {
            let (_, _, count) = word.get_or_insert((lower.len(), c.is_ascii_uppercase(), 0));
            *count += 1;
            lower.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            let (_, _, count) = word.get_or_insert((lower.len(), c.is_uppercase(), 0));
            *count += 1;
            lower.extend(c.to_lowercase());
        } else if is_apostrophe(c) && word.is_some() && next.is_some_and(char::is_alphanumeric) {
            // "didn't" reads as "didnt", "husband's" as "husbands".
        } else {
            if let Some((start, upper, count)) = word.take() {
                let initial = count == 1 && upper && c == '.';
                initials |= initial && previous_initial;
                previous_initial = initial;
                tokens.push(Token {
                    kind: TokenKind::Word,
                    start,
                    end: lower.len(),
                });
            }
            let spaced = previous.is_whitespace() && next.is_none_or(char::is_whitespace);
            let kind = match c {
                ',' => Some(TokenKind::Comma),
                // "2.5" and "e.g" keep their clause.
                '.' if !next.is_some_and(char::is_alphanumeric) => Some(TokenKind::Stop),
                ';' | '!' | '?' | '\n' | '(' | ')' | '[' | ']' | '|' | '\u{2022}' | '\u{2013}'
                | '\u{2014}' => Some(TokenKind::Stop),
                '-' if spaced => Some(TokenKind::Stop),
                _ => None,
            };
            if let Some(kind) = kind {
                let end = lower.len();
                tokens.push(Token {
                    kind,
                    start: end,
                    end,
                });
            }
        }
        previous = c;
    }
    if let Some((start, _, _)) = word {
        tokens.push(Token {
            kind: TokenKind::Word,
            start,
            end: lower.len(),
        });
    }
    Tokenized {
        lower,
        tokens,
        initials,
    }
}
