//! The order words: the one table of verbs, their aliases and usage lines.

/// An order word. [`Verb::ALL`] is the one list of orders: the parser, its
/// error messages and ledctl's subcommands are all made from it.
///
/// ```
/// use ledd_protocol::Verb;
///
/// assert_eq!(Verb::from_word("CLIGNOTE"), Some(Verb::Blink));
/// assert_eq!(Verb::Off.aliases(), ["eteindre", "eteind"]);
/// assert_eq!(Verb::Blink.usage(), "blink [LED] FREQ_HZ [DUTY_PERCENT]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Blink,
    On,
    Off,
    Heartbeat,
    Pattern,
    Trigger,
    Identify,
    Morse,
    Sos,
    Breathe,
    Status,
    List,
    Version,
    Claims,
    Release,
    Watch,
}

/// Per verb: its word, its aliases (the seed's French words), its usage line.
struct Entry {
    verb: Verb,
    name: &'static str,
    aliases: &'static [&'static str],
    usage: &'static str,
}

const TABLE: [Entry; 16] = [
    Entry {
        verb: Verb::Blink,
        name: "blink",
        aliases: &["clignote"],
        usage: "blink [LED] FREQ_HZ [DUTY_PERCENT]",
    },
    Entry {
        verb: Verb::On,
        name: "on",
        aliases: &["allume"],
        usage: "on [LED] [BRIGHTNESS]",
    },
    Entry {
        verb: Verb::Off,
        name: "off",
        aliases: &["eteindre", "eteind"],
        usage: "off [LED]",
    },
    Entry {
        verb: Verb::Heartbeat,
        name: "heartbeat",
        aliases: &[],
        usage: "heartbeat [LED]",
    },
    Entry {
        verb: Verb::Pattern,
        name: "pattern",
        aliases: &[],
        usage: "pattern [LED] BRIGHTNESS:MS BRIGHTNESS:MS ... [repeat=N]",
    },
    Entry {
        verb: Verb::Trigger,
        name: "trigger",
        aliases: &[],
        usage: "trigger [LED] KERNEL_TRIGGER",
    },
    Entry {
        verb: Verb::Identify,
        name: "identify",
        aliases: &[],
        usage: "identify [LED] [for=DURATION]",
    },
    Entry {
        verb: Verb::Morse,
        name: "morse",
        aliases: &[],
        usage: "morse [LED] TEXT... [wpm=N] [repeat=N]",
    },
    Entry {
        verb: Verb::Sos,
        name: "sos",
        aliases: &[],
        usage: "sos [LED] [wpm=N]",
    },
    Entry {
        verb: Verb::Breathe,
        name: "breathe",
        aliases: &[],
        usage: "breathe [LED] [PERIOD]",
    },
    Entry {
        verb: Verb::Status,
        name: "status",
        aliases: &[],
        usage: "status [LED]",
    },
    Entry {
        verb: Verb::List,
        name: "list",
        aliases: &[],
        usage: "list",
    },
    Entry {
        verb: Verb::Version,
        name: "version",
        aliases: &[],
        usage: "version",
    },
    Entry {
        verb: Verb::Claims,
        name: "claims",
        aliases: &[],
        usage: "claims [LED]",
    },
    Entry {
        verb: Verb::Release,
        name: "release",
        aliases: &[],
        usage: "release [LED] [ID|all]",
    },
    Entry {
        verb: Verb::Watch,
        name: "watch",
        aliases: &[],
        usage: "watch [LED...]",
    },
];

impl Verb {
    /// Every order, in the order the documentation lists them.
    pub const ALL: [Verb; 16] = [
        Verb::Blink,
        Verb::On,
        Verb::Off,
        Verb::Heartbeat,
        Verb::Pattern,
        Verb::Trigger,
        Verb::Identify,
        Verb::Morse,
        Verb::Sos,
        Verb::Breathe,
        Verb::Status,
        Verb::List,
        Verb::Version,
        Verb::Claims,
        Verb::Release,
        Verb::Watch,
    ];

    fn entry(self) -> &'static Entry {
        // TABLE is in the order of the enum (checked by a test).
        &TABLE[self as usize]
    }

    /// The canonical word (`blink`).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Other words for the same order (`clignote`).
    pub fn aliases(self) -> &'static [&'static str] {
        self.entry().aliases
    }

    /// The usage line, as `usage` errors and ledctl show it.
    pub fn usage(self) -> &'static str {
        self.entry().usage
    }

    /// Whether the order may name an LED.
    pub fn takes_led(self) -> bool {
        !matches!(self, Verb::List | Verb::Version)
    }

    /// The verb for a word or alias, in any case.
    pub fn from_word(word: &str) -> Option<Verb> {
        TABLE
            .iter()
            .find(|entry| {
                entry.name.eq_ignore_ascii_case(word)
                    || entry.aliases.iter().any(|a| a.eq_ignore_ascii_case(word))
            })
            .map(|entry| entry.verb)
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The canonical order word for a word or alias (`clignote` → `blink`).
pub fn canonical_verb(word: &str) -> Option<&'static str> {
    Verb::from_word(word).map(Verb::name)
}

/// The usage line of an order word (canonical or alias).
pub fn usage_of(word: &str) -> &'static str {
    Verb::from_word(word).unwrap_or(Verb::Version).usage()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_enum() {
        for (index, verb) in Verb::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[index].verb, verb);
            assert_eq!(Verb::from_word(verb.name()), Some(verb));
            assert!(verb.usage().starts_with(verb.name()));
            for alias in verb.aliases() {
                assert_eq!(Verb::from_word(alias), Some(verb));
            }
        }
    }
}
