//! How times and numbers read on the pages.

pub use crate::model::times::utc_time;

/// `just now`, `5 min ago`, `3 h ago`, `12 days ago`
pub fn ago(ts: i64, now: i64) -> String {
    let secs = (now - ts).max(0);
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// `in 5 h 12 min`, `in 3 min`, `now`
pub fn countdown(secs: i64) -> String {
    let mins = (secs.max(0) + 59) / 60;
    match mins {
        0 => "now".into(),
        1..60 => format!("in {mins} min"),
        2880.. => format!("in {} days", mins / 1440),
        _ => format!("in {} h {} min", mins / 60, mins % 60),
    }
}

/// When something last happened, as (`3 h ago`, the exact UTC time for a
/// tooltip), or (`never`, "") when it has not.
pub fn last_seen(at: Option<i64>, now: i64, never: &str) -> (String, String) {
    match at {
        Some(t) => (ago(t, now), utc_time(t)),
        None => (never.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(utc_time(1_772_409_600), "2026-03-02 00:00 UTC");
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(0, 7200), "2 h ago");
        assert_eq!(countdown(5 * 3600 + 12 * 60), "in 5 h 12 min");
        assert_eq!(countdown(125), "in 3 min");
        assert_eq!(countdown(30 * 86_400), "in 30 days");
        assert_eq!(countdown(0), "now");
    }
}

/// `12,345`
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Axis labels: `950`, `12k`, `1.5M`.
pub fn compact(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => trim_decimal(n as f64 / 1_000.0, "k"),
        _ => trim_decimal(n as f64 / 1_000_000.0, "M"),
    }
}

fn trim_decimal(v: f64, unit: &str) -> String {
    if v >= 10.0 || (v - v.round()).abs() < 0.05 {
        format!("{}{unit}", v.round() as u64)
    } else {
        format!("{v:.1}{unit}")
    }
}

/// `+12 %`, `−8 %`, `new` (nothing before), `no change`.
pub fn change(now: u64, before: u64) -> String {
    if before == 0 {
        return if now == 0 {
            "no change".into()
        } else {
            "new".into()
        };
    }
    let pct = (now as f64 - before as f64) / before as f64 * 100.0;
    if pct.abs() < 0.5 {
        "no change".into()
    } else if pct > 0.0 {
        format!("+{pct:.0} %")
    } else {
        format!("−{:.0} %", -pct)
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(compact(950), "950");
        assert_eq!(compact(1_500), "1.5k");
        assert_eq!(compact(12_345), "12k");
        assert_eq!(compact(2_000_000), "2M");
        assert_eq!(change(112, 100), "+12 %");
        assert_eq!(change(92, 100), "−8 %");
        assert_eq!(change(5, 0), "new");
        assert_eq!(change(100, 100), "no change");
    }
}
