//! Topic and client-id templates: `%i` client index, `%c` client id, `%u` username,
//! `%rand_N` a random number in 0..N chosen once per client (emqtt-bench's
//! placeholders), and `%%` for a literal percent sign.

/// What a template's placeholders stand for, for one client.
pub struct Vars<'a> {
    pub index: u64,
    pub client_id: &'a str,
    pub username: &'a str,
}

/// Checks a template's placeholders (no I/O): an unknown `%x` or a `%rand_` without a
/// positive number is a usage error.
pub fn check(template: &str) -> Result<(), String> {
    expand_with(
        template,
        &Vars {
            index: 0,
            client_id: "",
            username: "",
        },
        |_| 0,
    )
    .map(|_| ())
}

/// Expands `template` for one client; `rand(n)` gives a number in 0..n.
pub fn expand_with(
    template: &str,
    vars: &Vars<'_>,
    mut rand: impl FnMut(u64) -> u64,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('i') {
            out.push_str(&vars.index.to_string());
            rest = r;
        } else if let Some(r) = after.strip_prefix('c') {
            out.push_str(vars.client_id);
            rest = r;
        } else if let Some(r) = after.strip_prefix('u') {
            out.push_str(vars.username);
            rest = r;
        } else if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix("rand_") {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = r[..digits].parse().unwrap_or(0);
            if n == 0 {
                return Err(format!(
                    "%rand_N in '{template}' needs a number N greater than 0"
                ));
            }
            out.push_str(&rand(n).to_string());
            rest = &r[digits..];
        } else {
            return Err(format!(
                "unknown placeholder '%{}' in '{template}' (use %i, %c, %u, %rand_N or %%)",
                after.chars().next().map(String::from).unwrap_or_default()
            ));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `expand_with` using the OS's random numbers.
pub fn expand(template: &str, vars: &Vars<'_>) -> Result<String, String> {
    expand_with(template, vars, |n| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b) % n
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            index: 7,
            client_id: "bench-7",
            username: "alice",
        }
    }

    #[test]
    fn placeholders_expand() {
        assert_eq!(
            expand_with("t/%i/%c/%u/%%/x", &vars(), |_| 0).unwrap(),
            "t/7/bench-7/alice/%/x"
        );
        assert_eq!(
            expand_with("r/%rand_10/%rand_5x", &vars(), |n| n - 1).unwrap(),
            "r/9/4x"
        );
        assert_eq!(expand_with("plain", &vars(), |_| 0).unwrap(), "plain");
    }

    #[test]
    fn random_numbers_stay_in_range() {
        for _ in 0..100 {
            let v: u64 = expand("%rand_3", &vars()).unwrap().parse().unwrap();
            assert!(v < 3);
        }
    }

    #[test]
    fn bad_placeholders_are_errors() {
        assert!(
            check("a/%z")
                .unwrap_err()
                .contains("unknown placeholder '%z'")
        );
        assert!(check("a/%rand_").unwrap_err().contains("greater than 0"));
        assert!(check("a/%rand_0").is_err());
        assert!(check("a/%").is_err());
        assert!(check("a/%i/%c/%u/%rand_4").is_ok());
    }
}
