//! Who else is on a radio: the other browser sessions attached to its link (by user name when
//! the installation has logins) and whether the server keeps it.

use crate::ids::SessionId;
use crate::radio::registry::Holder;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Company {
    /// Other browser sessions on the radio.
    pub sessions: usize,
    /// Their users' names, where they have one (sorted, each once).
    pub users: Vec<String>,
    /// Names of kept radios on the same link.
    pub kept: Vec<String>,
}

impl Company {
    /// The company of session `me` among a link's holders.
    pub fn of(holders: &[Holder], me: &SessionId) -> Company {
        let mut c = Company::default();
        for h in holders {
            match h {
                Holder::Session { id, .. } if id == me => {}
                Holder::Session { user, .. } => {
                    c.sessions += 1;
                    if let Some(u) = user {
                        c.users.push(u.clone());
                    }
                }
                Holder::Kept(name) => c.kept.push(name.clone()),
            }
        }
        c.users.sort();
        c.users.dedup();
        c.kept.sort();
        c
    }

    /// "only you", "1 other session (alice)", "3 other sessions · kept as Home".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.sessions {
            0 => {}
            1 => parts.push("1 other session".to_string()),
            n => parts.push(format!("{n} other sessions")),
        }
        if !self.users.is_empty() && self.sessions > 0 {
            let last = parts.len() - 1;
            parts[last] = format!("{} ({})", parts[last], self.users.join(", "));
        }
        if !self.kept.is_empty() {
            parts.push(format!("kept as {}", self.kept.join(", ")));
        }
        if parts.is_empty() {
            "only you".into()
        } else {
            parts.join(" · ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_company_leaves_me_out_and_names_users_once() {
        let me = SessionId::random();
        let other = |user: Option<&str>| Holder::Session {
            id: SessionId::random(),
            user: user.map(String::from),
        };
        let holders = vec![
            Holder::Session {
                id: me.clone(),
                user: Some("me".into()),
            },
            other(Some("bob")),
            other(Some("alice")),
            other(Some("bob")),
            other(None),
            Holder::Kept("Home".into()),
        ];
        let c = Company::of(&holders, &me);
        assert_eq!(
            (c.sessions, c.users.clone()),
            (4, vec!["alice".into(), "bob".into()])
        );
        assert_eq!(c.describe(), "4 other sessions (alice, bob) · kept as Home");
        assert_eq!(Company::of(&holders[..1], &me).describe(), "only you");
    }
}
