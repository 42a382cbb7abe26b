use super::*;
use crate::order::as_number;

fn change(led: Option<&str>, action: Action) -> Order {
    Order::Change(Change {
        led: led.map(String::from),
        action,
        lease: None,
    })
}
use proptest::prelude::*;

fn parse(line: &str) -> Order {
    Order::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn kind(line: &str) -> ErrorKind {
    Order::parse(line).expect_err(line).kind
}

#[test]
fn seed_orders_mean_what_they_meant() {
    assert_eq!(
        parse("clignote 2"),
        change(
            None,
            Action::Blink {
                freq_hz: 2.0,
                duty_percent: 50.0
            }
        )
    );
    assert_eq!(parse("eteindre"), change(None, Action::Off));
    assert_eq!(parse("eteind"), change(None, Action::Off));
    assert_eq!(
        parse("allume"),
        change(None, Action::On { brightness: None })
    );
    assert_eq!(parse("CLIGNOTE 10").verb(), Verb::Blink);
}

#[test]
fn led_name_is_optional_and_recognised() {
    assert_eq!(
        parse("blink power 5 25"),
        change(
            Some("power"),
            Action::Blink {
                freq_hz: 5.0,
                duty_percent: 25.0
            }
        )
    );
    assert_eq!(parse("blink 5 25").led(), None);
    assert_eq!(
        parse("on status 3"),
        change(
            Some("status"),
            Action::On {
                brightness: Some(3)
            }
        )
    );
    assert_eq!(
        parse("trigger mmc0"),
        change(
            None,
            Action::Trigger {
                name: "mmc0".into()
            }
        )
    );
    assert_eq!(
        parse("trigger power mmc0"),
        change(
            Some("power"),
            Action::Trigger {
                name: "mmc0".into()
            }
        )
    );
    assert_eq!(parse("  status   power  ").led(), Some("power"));
}

#[test]
fn pattern_steps_and_repeat() {
    assert_eq!(
        parse("pattern 1:100 0:200 repeat=3"),
        change(
            None,
            Action::Pattern {
                steps: vec![
                    PatternStep {
                        brightness: 1,
                        duration_ms: 100
                    },
                    PatternStep {
                        brightness: 0,
                        duration_ms: 200
                    }
                ],
                repeat: 3
            }
        )
    );
    assert_eq!(kind("pattern 1:100"), ErrorKind::Usage);
    assert_eq!(kind("pattern 1:100 0:x"), ErrorKind::Usage);
    assert_eq!(kind("pattern 1:100 0:100 repeat=0"), ErrorKind::Range);
    assert_eq!(kind("pattern 1:100 repeat=2 0:100"), ErrorKind::Usage);
    let too_many = format!("pattern{}", " 1:1".repeat(MAX_PATTERN_STEPS + 1));
    assert_eq!(kind(&too_many), ErrorKind::Range);
}

#[test]
fn bad_numbers_are_refused_with_their_kind() {
    for line in [
        "blink 0",
        "blink -1",
        "blink 501",
        "blink 1e308",
        "blink 2 0",
        "blink 2 100",
        // Not finite: a number, but out of any range.
        "blink inf",
        "blink NaN",
        "blink -inf",
        "blink status infinity",
    ] {
        assert_eq!(kind(line), ErrorKind::Range, "{line}");
    }
    for line in [
        "blink abc def",
        "blink 2 3 4",
        "blink",
        "blink 2 3,5,1",
        "on -3",
        "on 1.5",
        "off 2",
        "list x",
    ] {
        assert_eq!(kind(line), ErrorKind::Usage, "{line}");
    }
    assert_eq!(kind("on 0"), ErrorKind::Range);
    assert_eq!(kind(""), ErrorKind::Usage);
    assert_eq!(kind("reboot now"), ErrorKind::Usage);
    assert_eq!(kind("trigger ../x"), ErrorKind::Usage);
}

#[test]
fn limits_are_inclusive() {
    assert!(Order::parse("blink 0.001").is_ok());
    assert!(Order::parse("blink 500 1").is_ok());
    assert!(Order::parse("blink 500 99").is_ok());
}

#[test]
fn any_non_numeric_first_word_is_an_led_name() {
    // The daemon refuses unknown names; the parser must not misread them.
    assert_eq!(parse("blink ../x 2").led(), Some("../x"));
    assert_eq!(parse("off /etc/passwd").led(), Some("/etc/passwd"));
    assert_eq!(kind("blink abc"), ErrorKind::Usage);
    assert_eq!(
        parse("clignote 2,5"),
        change(
            None,
            Action::Blink {
                freq_hz: 2.5,
                duty_percent: 50.0
            }
        )
    );
}

#[test]
fn hostile_names_parse_as_names_and_are_quoted_in_messages() {
    // Names are checked against the configuration by the daemon; here they
    // only must not be mistaken for something else or break the reply line.
    let error = Order::parse("fly\u{0}away").unwrap_err();
    assert!(error.message.contains("\\0"), "{}", error.message);
    let reply = Reply::Err(error).to_string();
    assert!(!reply.contains('\0') && !reply.contains('\n'));
}

#[test]
fn timing_arithmetic() {
    let t = BlinkTiming::from_freq(2.0, 50.0);
    assert_eq!((t.delay_on_ms, t.delay_off_ms), (250, 250));
    let t = BlinkTiming::from_freq(3.0, 50.0);
    assert_eq!((t.delay_on_ms, t.delay_off_ms), (167, 167));
    assert_eq!(format_number(t.freq_hz()), "2.994");
    let t = BlinkTiming::from_freq(500.0, 1.0);
    assert_eq!((t.delay_on_ms, t.delay_off_ms), (1, 2));
    let t = BlinkTiming::from_freq(0.001, 50.0);
    assert_eq!((t.delay_on_ms, t.delay_off_ms), (500_000, 500_000));
    let t = BlinkTiming::from_freq(2.0, 25.0);
    assert_eq!((t.delay_on_ms, t.delay_off_ms), (125, 375));
    assert_eq!(format_number(t.duty_percent()), "25");
}

#[test]
fn reply_round_trip() {
    let reply = Reply::ok(vec![
        ("led".into(), "status".into()),
        ("freq".into(), "2".into()),
    ]);
    assert_eq!(reply.to_string(), "ok led=status freq=2");
    assert_eq!(Reply::parse(&reply.to_string()).unwrap(), reply);
    let error = Reply::Err(OrderError::new(ErrorKind::UnknownLed, "no LED named 'x'"));
    assert_eq!(error.to_string(), "err unknown-led: no LED named 'x'");
    assert_eq!(Reply::parse(&error.to_string()).unwrap(), error);
    assert!(Reply::parse("hello").is_err());
    assert!(Reply::parse("err nonsense: x").is_err());
}

fn order_strategy() -> impl Strategy<Value = Order> {
    let led = proptest::option::of(
        "[a-z][a-z0-9_-]{0,10}".prop_filter("numeric word or keyword", |s| {
            as_number(s).is_none() && s != "hold" && s != "all"
        }),
    );
    let step = (0u32..=255, 0u32..=100_000).prop_map(|(brightness, duration_ms)| PatternStep {
        brightness,
        duration_ms,
    });
    prop_oneof![
        (led.clone(), MIN_FREQ_HZ..=MAX_FREQ_HZ, MIN_DUTY..=MAX_DUTY).prop_map(
            |(led, freq_hz, duty_percent)| Order::Change(Change {
                lease: None,
                led,
                action: Action::Blink {
                    freq_hz,
                    duty_percent
                }
            })
        ),
        (led.clone(), proptest::option::of(1u32..100_000)).prop_map(|(led, brightness)| {
            Order::Change(Change {
                lease: None,
                led,
                action: Action::On { brightness },
            })
        }),
        led.clone().prop_map(|led| Order::Change(Change {
            lease: None,
            led,
            action: Action::Off
        })),
        led.clone().prop_map(|led| Order::Change(Change {
            lease: None,
            led,
            action: Action::Heartbeat
        })),
        (
            led.clone(),
            proptest::collection::vec(step, MIN_PATTERN_STEPS..20),
            prop_oneof![Just(-1), 1i32..1000]
        )
            .prop_map(|(led, steps, repeat)| Order::Change(Change {
                lease: None,
                led,
                action: Action::Pattern { steps, repeat }
            })),
        (led.clone(), "[a-z][a-z0-9-]{0,12}").prop_map(|(led, name)| Order::Change(Change {
            lease: None,
            led,
            action: Action::Trigger { name }
        })),
        led.clone()
            .prop_map(|led| Order::Query(Query::Status { led })),
        led.clone()
            .prop_map(|led| Order::Query(Query::Claims { led })),
        (
            led,
            prop_oneof![
                Just(Which::Own),
                Just(Which::All),
                any::<u64>().prop_map(Which::Id)
            ]
        )
            .prop_map(|(led, which)| Order::Release(Release { led, which })),
        Just(Order::Query(Query::List)),
        Just(Order::Query(Query::Version)),
        proptest::collection::btree_set("[a-z][a-z0-9_-]{0,10}", 0..4).prop_map(|leds| {
            Order::Query(Query::Watch {
                leds: leds.into_iter().collect(),
            })
        }),
    ]
}

/// Orders, changes with or without a lease.
fn leased_order_strategy() -> impl Strategy<Value = Order> {
    let lease = (
        proptest::option::of(MIN_CLAIM_MS..=MAX_CLAIM_MS),
        any::<bool>(),
        0..=MAX_PRIORITY,
    )
        .prop_map(|(for_ms, hold, priority)| {
            (for_ms.is_some() || hold).then_some(Lease {
                for_ms,
                hold,
                priority,
            })
        });
    (order_strategy(), lease).prop_map(|(mut order, lease)| {
        if let Order::Change(change) = &mut order {
            change.lease = lease;
        }
        order
    })
}

#[test]
fn claims_take_trailing_modifiers_in_any_order() {
    let lease = |line: &str| match parse(line) {
        Order::Change(change) => change.lease,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(lease("blink 2"), None);
    assert_eq!(
        lease("blink status 8 priority=7 for=2s"),
        Some(Lease {
            for_ms: Some(2000),
            hold: false,
            priority: 7
        })
    );
    assert_eq!(
        lease("pattern 1:100 0:100 repeat=3 hold"),
        Some(Lease {
            for_ms: None,
            hold: true,
            priority: DEFAULT_PRIORITY
        })
    );
    assert_eq!(
        parse("clignote 2 for=500ms").to_string(),
        "blink 2 for=500ms"
    );
    // identify: a fast blink on top of everything, 30 s unless told.
    assert_eq!(
        parse("identify power").to_string(),
        "blink power 5 for=30s priority=9"
    );
    assert_eq!(
        parse("identify for=1m").to_string(),
        "blink 5 for=1m priority=9"
    );
    assert_eq!(kind("blink 2 for=10"), ErrorKind::Usage);
    assert_eq!(kind("blink 2 for=2x"), ErrorKind::Usage);
    assert_eq!(kind("blink 2 for=50ms"), ErrorKind::Range);
    assert_eq!(kind("blink 2 for=8d"), ErrorKind::Range);
    assert_eq!(kind("blink 2 for=99999999999999999999h"), ErrorKind::Usage);
    assert_eq!(kind("blink 2 hold priority=10"), ErrorKind::Range);
    assert_eq!(kind("blink 2 hold priority=-1"), ErrorKind::Usage);
    assert_eq!(kind("blink 2 priority=3"), ErrorKind::Usage);
    assert_eq!(kind("blink 2 hold hold"), ErrorKind::Usage);
    assert_eq!(kind("status hold"), ErrorKind::Usage);
    assert_eq!(kind("release for=2s"), ErrorKind::Usage);
}

#[test]
fn breathe_takes_a_period() {
    assert_eq!(parse("breathe").to_string(), "breathe");
    assert_eq!(
        parse("breathe power 2500ms").to_string(),
        "breathe power 2500ms"
    );
    assert_eq!(parse("breathe 6s hold").to_string(), "breathe 6s hold");
    assert_eq!(kind("breathe 100ms"), ErrorKind::Range);
    assert_eq!(kind("breathe 4"), ErrorKind::Range);
    assert_eq!(kind("breathe power 4s 5s"), ErrorKind::Usage);
}

#[test]
fn morse_and_sos() {
    assert_eq!(
        parse("morse power hello world wpm=12 repeat=2 for=1m").to_string(),
        "morse power HELLO WORLD wpm=12 repeat=2 for=1m"
    );
    assert_eq!(parse("morse sos").to_string(), "morse SOS");
    assert_eq!(parse("sos").to_string(), "morse SOS");
    assert_eq!(
        parse("sos power wpm=10").to_string(),
        "morse power SOS wpm=10"
    );
    assert_eq!(kind("morse"), ErrorKind::Usage);
    assert_eq!(kind("morse power a#b"), ErrorKind::Range);
    assert_eq!(kind("morse sos wpm=61"), ErrorKind::Range);
    assert_eq!(kind("sos repeat=2"), ErrorKind::Usage);
    assert_eq!(
        kind(&format!("morse {}", "0".repeat(60))),
        ErrorKind::TooLong
    );
}

#[test]
fn claims_and_release_name_leds_and_ids() {
    assert_eq!(parse("claims"), Order::Query(Query::Claims { led: None }));
    let release = |line: &str| match parse(line) {
        Order::Release(release) => (release.led, release.which),
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(release("release"), (None, Which::Own));
    assert_eq!(release("release 12"), (None, Which::Id(12)));
    assert_eq!(release("release all"), (None, Which::All));
    assert_eq!(release("release power"), (Some("power".into()), Which::Own));
    assert_eq!(
        release("release power all"),
        (Some("power".into()), Which::All)
    );
    assert_eq!(kind("release power x"), ErrorKind::Usage);
    assert_eq!(kind("release a b c"), ErrorKind::Usage);
}

proptest! {
    #[test]
    fn format_then_parse_gives_the_order_back(order in leased_order_strategy()) {
        let line = order.to_string();
        prop_assert_eq!(Order::parse(&line).unwrap(), order, "line: {}", line);
    }

    #[test]
    fn no_line_makes_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let line = String::from_utf8_lossy(&bytes);
        if let Err(error) = Order::parse(&line) {
            let reply = Reply::Err(error).to_string();
            prop_assert!(!reply.contains('\n'));
        }
    }

    #[test]
    fn reply_values_and_messages_stay_on_one_line_and_keep_every_other_character(
        value in "\\PC{0,20}[ \t\n\r\u{0}\u{85}]?\\PC{0,20}",
        message in "\\PC{0,20}[\t\n\r\u{0}\u{7f}]?\\PC{0,20}",
    ) {
        let ok = Reply::ok(vec![("led".into(), value.clone())]).to_string();
        let shown: String = value
            .chars()
            .map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c })
            .collect();
        prop_assert_eq!(ok, format!("ok led={shown}"));
        let err = Reply::Err(OrderError::new(ErrorKind::Range, message.clone())).to_string();
        let shown: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        prop_assert_eq!(err, format!("err range: {shown}"));
    }

    #[test]
    fn wordy_lines_never_panic(line in "(blink|on|off|pattern|trigger|status|clignote|identify|claims|release|morse|sos|breathe) ?[ a-z0-9:.=eE+-]{0,40}( hold| for=[0-9]{0,4}(ms|s|m|h|d|x)| priority=[0-9]{0,2})*") {
        let _ = Order::parse(&line);
    }
}

#[test]
fn watch_takes_led_names_only_each_once() {
    assert_eq!(
        parse("watch"),
        Order::Query(Query::Watch { leds: Vec::new() })
    );
    assert_eq!(
        parse("watch power status power"),
        Order::Query(Query::Watch {
            leds: vec!["power".into(), "status".into()]
        })
    );
    assert_eq!(
        parse("watch power status").to_string(),
        "watch power status"
    );
    assert_eq!(kind("watch 2"), ErrorKind::Usage);
    assert_eq!(kind("watch ../x"), ErrorKind::Usage);
    assert_eq!(kind("watch power for=10s"), ErrorKind::Usage);
    assert_eq!(field_type("watching"), FieldType::List);
}

#[test]
fn events_and_replies_share_their_fields() {
    let event = Event::parse("event led=power mode=blink freq=2").unwrap();
    assert_eq!(field_type("freq"), FieldType::Number);
    assert_eq!(event.field("mode"), Some("blink"));
    let spaced = Event::new(vec![("led".into(), "a b\nc".into())]);
    assert_eq!(spaced.to_string(), "event led=a_b_c");
    assert!(Event::parse("event led").is_err());
    assert!(!Event::is_event("ok led=power"));
}

#[test]
fn the_unknown_order_message_lists_every_order() {
    let error = Order::parse("reboot").unwrap_err();
    assert_eq!(
        error.message,
        "unknown order 'reboot'; orders: blink, on, off, heartbeat, pattern, trigger, identify, morse, sos, breathe, status, list, version, claims, release, watch"
    );
}
