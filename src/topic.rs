//! Topic names and filters: validation and matching, shared by clients, bench and broker.
//!
//! Rules from MQTT 5.0 §4.7 (identical in 3.1.1 §4.7) and shared subscriptions from
//! 5.0 §4.8.2.

/// The longest topic MQTT can carry: a UTF-8 string with a two-byte length (5.0 §1.5.4).
pub const MAX_TOPIC_LEN: usize = 65535;

/// The most '/' a topic name or filter may hold at the broker: mosquitto's
/// `TOPIC_HIERARCHY_LIMIT` (2.1.2 config.h), checked by `mosquitto_pub_topic_check` and
/// `mosquitto_sub_topic_check` (libcommon/topic_common.c), which count separators, so
/// 201 levels pass and 202 do not. Each level of a subscription costs a trie node
/// (~200 B), so without it one 64 KiB filter of '/' cost the broker several MB.
/// Only the broker applies it ([`check_hierarchy`]); MQTT itself sets no such limit.
pub const HIERARCHY_LIMIT: usize = 200;

/// Why a topic name or filter is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic is empty")]
    Empty,
    #[error("topic is longer than 65535 bytes")]
    TooLong,
    #[error("topic contains a null character (U+0000)")]
    NullChar,
    #[error("topic name contains a wildcard ('+' or '#')")]
    WildcardInName,
    #[error("'#' must be the last character of the filter and alone in its level")]
    BadMultiLevel,
    #[error("'+' must be alone in its level")]
    BadSingleLevel,
    #[error("invalid shared subscription: {0}")]
    BadShared(&'static str),
    #[error("topic has more than {HIERARCHY_LIMIT} '/' (more than {} levels)", HIERARCHY_LIMIT + 1)]
    TooManyLevels,
}

/// The wildcard hints of mosquitto's topic errors (client_shared.c).
pub const NAME_HINT: &str = "does it contain '+' or '#'?";
pub const FILTER_HINT: &str = "are all '+' and '#' wildcards correct?";

/// mosquitto's words for a refused topic, "Error: Invalid {what} '{topic}', {hint}",
/// except for a topic longer than MQTT can carry: that one says so and shows only its
/// start (mosquitto 2.1 reports it as "Malformed UTF-8", 2.0.11 with the wildcard
/// hint, both echoing the whole topic).
pub fn invalid_topic_message(what: &str, topic: &str, hint: &str) -> String {
    if topic.len() <= MAX_TOPIC_LEN {
        return format!("Error: Invalid {what} '{topic}', {hint}");
    }
    let mut end = SHOWN_BYTES;
    while !topic.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "Error: Invalid {what} '{}…': too long ({} bytes, at most {MAX_TOPIC_LEN}).",
        &topic[..end],
        topic.len()
    )
}

/// How much of an overlong topic an error message shows.
const SHOWN_BYTES: usize = 40;

/// mosquitto_pub's wording for a bad publish topic (client_shared.c).
pub fn invalid_publish_topic_message(topic: &str) -> String {
    invalid_topic_message("publish topic", topic, NAME_HINT)
}

/// mosquitto_sub's wording for a bad subscription filter (client_shared.c).
pub fn invalid_subscription_topic_message(filter: &str) -> String {
    invalid_topic_message("subscription topic", filter, FILTER_HINT)
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    // 5.0 §1.5.4: U+0000 must not appear in any UTF-8 string.
    if s.as_bytes().contains(&0) {
        return Err(TopicError::NullChar);
    }
    Ok(())
}

/// A topic name, as PUBLISH carries it: non-empty, no wildcards (5.0 §4.7.1, §4.7.3).
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// The broker's limit on levels, [`HIERARCHY_LIMIT`], for a name or a whole filter
/// (`$share/{group}/` included, as mosquitto counts it).
pub fn check_hierarchy(s: &str) -> Result<(), TopicError> {
    if s.bytes().filter(|&b| b == b'/').count() > HIERARCHY_LIMIT {
        return Err(TopicError::TooManyLevels);
    }
    Ok(())
}

/// A plain filter: wildcards only as whole levels, `#` only last (5.0 §4.7.1). `$share/`
/// gets no special treatment here (the broker's ACL topics are checked this way, as
/// mosquitto's `mosquitto_sub_topic_check`); subscriptions use [`validate_filter`].
pub fn validate_plain_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::BadMultiLevel);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::BadSingleLevel);
        }
    }
    Ok(())
}

/// A subscription filter, including `$share/{group}/{filter}` (5.0 §4.8.2).
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    if filter.starts_with("$share/") || filter == "$share" {
        return split_shared(filter).map(|_| ());
    }
    validate_plain_filter(filter)
}

fn split_shared(filter: &str) -> Result<(&str, &str), TopicError> {
    let rest = filter
        .strip_prefix("$share/")
        .ok_or(TopicError::BadShared("missing share name"))?;
    let (group, inner) = rest.split_once('/').ok_or(TopicError::BadShared(
        "missing topic filter after the share name",
    ))?;
    // 5.0 §4.8.2: the ShareName must not contain '/', '+' or '#', and is at least one character.
    if group.is_empty() {
        return Err(TopicError::BadShared("empty share name"));
    }
    if group.contains(['+', '#']) {
        return Err(TopicError::BadShared("share name contains a wildcard"));
    }
    if inner.is_empty() {
        return Err(TopicError::BadShared("empty topic filter"));
    }
    validate_plain_filter(inner)?;
    Ok((group, inner))
}

/// `Some((group, filter))` for a valid `$share/group/filter`, else `None`.
pub fn parse_shared(filter: &str) -> Option<(&str, &str)> {
    split_shared(filter).ok()
}

/// Whether `filter` matches topic name `name` (5.0 §4.7). Both are assumed valid.
///
/// - `#` matches the parent level and any number of children (`sport/#` matches `sport`).
/// - `+` matches exactly one level, which may be empty.
/// - Names starting with `$` are not matched by a filter starting with a wildcard (§4.7.2).
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("a/b"), Ok(()));
        assert_eq!(validate_name("/"), Ok(()));
        assert_eq!(validate_name("$SYS/x"), Ok(()));
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a\0b"), Err(TopicError::NullChar));
        assert_eq!(validate_name(&"x".repeat(65535)), Ok(()));
        assert_eq!(validate_name(&"x".repeat(65536)), Err(TopicError::TooLong));
    }

    #[test]
    fn the_hierarchy_limit_counts_separators_as_mosquitto() {
        // 200 '/' (201 levels) pass, 201 '/' do not; the '/' of `$share/g/` count too.
        assert_eq!(check_hierarchy(&"/".repeat(200)), Ok(()));
        assert_eq!(
            check_hierarchy(&"/".repeat(201)),
            Err(TopicError::TooManyLevels)
        );
        let filter = format!("$share/g/{}#", "+/".repeat(198));
        assert_eq!(check_hierarchy(&filter), Ok(()));
        assert_eq!(
            check_hierarchy(&format!("$share/g/+/{}#", "+/".repeat(198))),
            Err(TopicError::TooManyLevels)
        );
        assert_eq!(
            TopicError::TooManyLevels.to_string(),
            "topic has more than 200 '/' (more than 201 levels)"
        );
    }

    #[test]
    fn filters_from_the_spec() {
        // 5.0 §4.7.1.2 and §4.7.1.3 examples.
        for ok in [
            "sport/tennis/player1/#",
            "sport/#",
            "#",
            "+",
            "+/tennis/#",
            "sport/+/player1",
            "/+",
            "+/+",
            "a//b",
        ] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_filter("sport/tennis#"),
            Err(TopicError::BadMultiLevel)
        );
        assert_eq!(
            validate_filter("sport/tennis/#/ranking"),
            Err(TopicError::BadMultiLevel)
        );
        assert_eq!(validate_filter("sport+"), Err(TopicError::BadSingleLevel));
        assert_eq!(validate_filter("a/b+/c"), Err(TopicError::BadSingleLevel));
        assert_eq!(validate_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_filter("a\0"), Err(TopicError::NullChar));
    }

    #[test]
    fn shared() {
        assert_eq!(parse_shared("$share/g/a/+"), Some(("g", "a/+")));
        assert_eq!(parse_shared("$share/g/#"), Some(("g", "#")));
        assert_eq!(parse_shared("a/b"), None);
        assert_eq!(validate_filter("$share/g/a/b"), Ok(()));
        assert!(validate_filter("$share//a").is_err());
        assert!(validate_filter("$share/g").is_err());
        assert!(validate_filter("$share/g/").is_err());
        assert!(validate_filter("$share/g+/a").is_err());
        assert!(validate_filter("$share/g#/a").is_err());
        assert!(validate_filter("$share/g/a#").is_err());
        assert!(validate_filter("$share").is_err());
        // Only "$share/" is special; "$shared/x" is an ordinary filter.
        assert_eq!(validate_filter("$shared/x"), Ok(()));
    }

    #[test]
    fn matching_from_the_spec() {
        // 5.0 §4.7.1.2
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        // 5.0 §4.7.1.3
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+/b", "/b"));
        assert!(matches("a/+/c", "a//c"));
        // 5.0 §4.7.2
        assert!(!matches("#", "$SYS/broker"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        // Exact and mismatches.
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("a/b", "a/c"));
        assert!(!matches("A", "a"));
    }

    #[test]
    fn messages_in_mosquitto_words() {
        assert_eq!(
            invalid_publish_topic_message("a/+"),
            "Error: Invalid publish topic 'a/+', does it contain '+' or '#'?"
        );
        assert_eq!(
            invalid_subscription_topic_message("a/#/b"),
            "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?"
        );
    }

    #[test]
    fn an_overlong_topic_is_called_too_long_and_shown_short() {
        let at_most = "a".repeat(MAX_TOPIC_LEN);
        assert!(invalid_publish_topic_message(&at_most).ends_with("does it contain '+' or '#'?"));
        let long = format!("{}/x", "a".repeat(MAX_TOPIC_LEN));
        assert_eq!(
            invalid_publish_topic_message(&long),
            format!(
                "Error: Invalid publish topic '{}…': too long (65537 bytes, at most 65535).",
                "a".repeat(40)
            )
        );
        // The cut falls on a character boundary.
        let wide = "é".repeat(40_000);
        let m = invalid_subscription_topic_message(&wide);
        assert!(
            m.starts_with(&format!(
                "Error: Invalid subscription topic '{}…'",
                "é".repeat(20)
            )),
            "{m}"
        );
        assert!(m.ends_with("too long (80000 bytes, at most 65535)."), "{m}");
    }
}
