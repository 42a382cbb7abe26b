//! Morse code (ITU-R M.1677-1), compiled into steps of the kernel's pattern
//! trigger, so the kernel plays it and ledd sleeps.

use crate::{ErrorKind, MAX_PATTERN_STEPS, OrderError, PatternStep, quote};

/// Words per minute: bounds and default. A dot lasts 1200 / wpm ms.
pub const MIN_WPM: u32 = 5;
pub const MAX_WPM: u32 = 60;
pub const DEFAULT_WPM: u32 = 20;

/// The ITU's letters, figures and punctuation, as dots and dashes.
const CODE: [(char, &str); 50] = [
    ('A', ".-"),
    ('B', "-..."),
    ('C', "-.-."),
    ('D', "-.."),
    ('E', "."),
    ('F', "..-."),
    ('G', "--."),
    ('H', "...."),
    ('I', ".."),
    ('J', ".---"),
    ('K', "-.-"),
    ('L', ".-.."),
    ('M', "--"),
    ('N', "-."),
    ('O', "---"),
    ('P', ".--."),
    ('Q', "--.-"),
    ('R', ".-."),
    ('S', "..."),
    ('T', "-"),
    ('U', "..-"),
    ('V', "...-"),
    ('W', ".--"),
    ('X', "-..-"),
    ('Y', "-.--"),
    ('Z', "--.."),
    ('1', ".----"),
    ('2', "..---"),
    ('3', "...--"),
    ('4', "....-"),
    ('5', "....."),
    ('6', "-...."),
    ('7', "--..."),
    ('8', "---.."),
    ('9', "----."),
    ('0', "-----"),
    ('.', ".-.-.-"),
    (',', "--..--"),
    (':', "---..."),
    ('?', "..--.."),
    ('\'', ".----."),
    ('-', "-....-"),
    ('/', "-..-."),
    ('(', "-.--."),
    (')', "-.--.-"),
    ('"', ".-..-."),
    ('=', "-...-"),
    ('+', ".-.-."),
    ('@', ".--.-."),
    ('&', ".-..."),
];

fn code_of(c: char) -> Option<&'static str> {
    let upper = c.to_ascii_uppercase();
    CODE.iter()
        .find(|(letter, _)| *letter == upper)
        .map(|(_, code)| *code)
}

/// Checks a message: every character has a code, and the whole fits in the
/// kernel's pattern (1024 entries, [`MAX_PATTERN_STEPS`] held steps).
pub fn check_morse(words: &[&str]) -> Result<(), OrderError> {
    if let Some(bad) = words
        .iter()
        .flat_map(|w| w.chars())
        .find(|c| code_of(*c).is_none())
    {
        return Err(OrderError::range(format!(
            "'{}' has no Morse code (letters, digits and . , : ? ' - / ( ) \" = + @ &)",
            quote(&bad.to_string())
        )));
    }
    // Each dot or dash is two held steps (lit, then dark), each step two
    // kernel entries.
    let symbols = morse_steps(words, DEFAULT_WPM, 1).len() / 2;
    if symbols * 2 > MAX_PATTERN_STEPS {
        return Err(OrderError::new(
            ErrorKind::TooLong,
            format!(
                "this text has {symbols} dots and dashes; the kernel's pattern trigger takes at most {} entries, which hold at most {}",
                MAX_PATTERN_STEPS * 2,
                MAX_PATTERN_STEPS / 2
            ),
        ));
    }
    Ok(())
}

/// The message as held steps: each dot or dash lit at `level`, then dark
/// for the gap after it (1 dot inside a letter, 3 between letters, 7
/// between words and before the message starts again). Characters without
/// a code are skipped ([`check_morse`] refuses them first).
///
/// ```
/// use ledd_protocol::morse_steps;
///
/// // E T at 20 wpm: a 60 ms dot, a letter gap, a 180 ms dash, a word gap.
/// let steps: Vec<(u32, u32)> = morse_steps(&["ET"], 20, 1)
///     .iter()
///     .map(|s| (s.brightness, s.duration_ms))
///     .collect();
/// assert_eq!(steps, [(1, 60), (0, 180), (1, 180), (0, 420)]);
/// ```
pub fn morse_steps(words: &[&str], wpm: u32, level: u32) -> Vec<PatternStep> {
    let dot = 1200 / wpm.max(1);
    let mut steps = Vec::new();
    for word in words {
        for c in word.chars() {
            for symbol in code_of(c).unwrap_or("").chars() {
                let length = if symbol == '-' { 3 } else { 1 };
                steps.push(PatternStep {
                    brightness: level,
                    duration_ms: length * dot,
                });
                steps.push(PatternStep {
                    brightness: 0,
                    duration_ms: dot,
                });
            }
            // The last gap of a letter is a letter gap.
            if let Some(gap) = steps.last_mut() {
                gap.duration_ms = 3 * dot;
            }
        }
        if let Some(gap) = steps.last_mut() {
            gap.duration_ms = 7 * dot;
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sos_at_20_wpm_has_itu_timing() {
        let steps = morse_steps(&["SOS"], 20, 255);
        let on: Vec<u32> = steps.iter().step_by(2).map(|s| s.duration_ms).collect();
        let off: Vec<u32> = steps
            .iter()
            .skip(1)
            .step_by(2)
            .map(|s| s.duration_ms)
            .collect();
        assert_eq!(on, [60, 60, 60, 180, 180, 180, 60, 60, 60]);
        assert_eq!(off, [60, 60, 180, 60, 60, 180, 60, 60, 420]);
        assert!(steps.iter().step_by(2).all(|s| s.brightness == 255));
    }

    #[test]
    fn bad_characters_and_long_texts_are_refused() {
        assert!(check_morse(&["Hello,", "world?"]).is_ok());
        let error = check_morse(&["AB#"]).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Range);
        assert!(
            error.message.starts_with("'#' has no Morse code"),
            "{}",
            error.message
        );
        let long = "0".repeat(60);
        let error = check_morse(&[&long]).unwrap_err();
        assert_eq!(error.kind, ErrorKind::TooLong);
        assert!(
            error.message.contains("at most 1024 entries"),
            "{}",
            error.message
        );
    }
}
