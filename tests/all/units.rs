//! Pure functions of the data layer: rounding, macros, autonumber formats, identifiers.

use chrono::{TimeZone, Utc};
use objectos_host::artifact::fields::{
    FieldType, is_valid_identifier, is_valid_option_value, title_case,
};
use objectos_host::data::filter::{MacroContext, resolve_macros};
use objectos_host::data::values::{AutonumberFormat, number_value, round_to_scale};
use serde_json::{Map, Value, json};

#[test]
fn rounding_is_decimal_half_away_from_zero() {
    assert_eq!(round_to_scale(10627.289999999999, 2), 10627.29);
    assert_eq!(round_to_scale(10.005, 2), 10.01);
    assert_eq!(round_to_scale(-10.005, 2), -10.01);
    assert_eq!(round_to_scale(0.125, 2), 0.13);
    assert_eq!(round_to_scale(9.995, 2), 10.0);
    assert_eq!(round_to_scale(99.5, 0), 100.0);
    assert_eq!(round_to_scale(1.5, 3), 1.5);
    assert_eq!(number_value(186.0), json!(186));
    assert_eq!(number_value(412.3), json!(412.3));
}

#[test]
fn date_macros() {
    // Wednesday 2026-11-18, 15:04 UTC.
    let ctx = MacroContext {
        now: Utc.with_ymd_and_hms(2026, 11, 18, 15, 4, 5).unwrap(),
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
    };
    let m = |s: &str| resolve_macros(&Value::String(s.into()), &ctx);
    assert_eq!(m("{today}"), "2026-11-18");
    assert_eq!(m("{tomorrow}"), "2026-11-19");
    assert_eq!(m("{yesterday}"), "2026-11-17");
    assert_eq!(m("{now}"), "2026-11-18T15:04:05.000Z");
    assert_eq!(m("{current_week_start}"), "2026-11-16");
    assert_eq!(m("{current_week_end}"), "2026-11-22");
    assert_eq!(m("{last_week_start}"), "2026-11-09");
    assert_eq!(m("{next_week_end}"), "2026-11-29");
    assert_eq!(m("{current_month_start}"), "2026-11-01");
    assert_eq!(m("{current_month_end}"), "2026-11-30");
    assert_eq!(m("{last_month_start}"), "2026-10-01");
    assert_eq!(m("{next_month_end}"), "2026-12-31");
    assert_eq!(m("{current_quarter_start}"), "2026-10-01");
    assert_eq!(m("{current_quarter_end}"), "2026-12-31");
    assert_eq!(m("{next_quarter_start}"), "2027-01-01");
    assert_eq!(m("{last_quarter_end}"), "2026-09-30");
    assert_eq!(m("{current_year_start}"), "2026-01-01");
    assert_eq!(m("{last_year_end}"), "2025-12-31");
    assert_eq!(m("{next_year_start}"), "2027-01-01");
    assert_eq!(m("{3_days_ago}"), "2026-11-15");
    assert_eq!(m("{10_days_from_now}"), "2026-11-28");
    assert_eq!(m("{2_weeks_ago}"), "2026-11-04");
    assert_eq!(m("{1_months_ago}"), "2026-10-18");
    assert_eq!(m("{1_year_from_now}"), "2027-11-18");
    assert_eq!(m("{current_user_id}"), "u1");
    assert_eq!(m("{current_org_id}"), "o1");
    // Not a macro: left as written.
    assert_eq!(m("{unknown_thing}"), "{unknown_thing}");
    assert_eq!(m("today"), "today");
    assert_eq!(
        resolve_macros(&json!(["{today}", 3]), &ctx),
        json!(["2026-11-18", 3])
    );
}

#[test]
fn autonumber_formats() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap();
    let mut rec = Map::new();
    rec.insert("region".into(), json!("EU"));
    assert_eq!(
        AutonumberFormat::parse("{0000}")
            .unwrap()
            .render(7, now, &rec),
        "0007"
    );
    assert_eq!(
        AutonumberFormat::parse("AD{YYYYMMDD}{0000}")
            .unwrap()
            .render(12, now, &rec),
        "AD202603040012"
    );
    assert_eq!(
        AutonumberFormat::parse("INV-{region}-{000}")
            .unwrap()
            .render(1234, now, &rec),
        "INV-EU-1234"
    );
    for bad in ["{0000", "0000}", "{00}{00}", "NO-COUNTER", "{bad token}"] {
        assert!(AutonumberFormat::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn identifiers_and_names() {
    assert!(is_valid_identifier("exp_report") && is_valid_identifier("_x1"));
    for bad in ["Exp", "1x", "a-b", "a b", "", "a\"b", &"x".repeat(64)] {
        assert!(!is_valid_identifier(bad), "{bad}");
    }
    assert!(is_valid_option_value("pending_director") && is_valid_option_value("v1.2"));
    assert!(!is_valid_option_value("Open") && !is_valid_option_value("_x"));
    assert_eq!(title_case("spent_on"), "Spent On");
    assert_eq!(
        FieldType::parse("master_detail"),
        Some(FieldType::MasterDetail)
    );
    assert_eq!(FieldType::ALL.len(), 49);
    for t in FieldType::ALL {
        assert_eq!(FieldType::parse(t.as_str()), Some(*t));
    }
}

/// CEL text is bounded before the parser sees it (the parser recurses deeply per bracket and a stack overflow
/// cannot be caught); inputs that make the parser panic become errors.
#[test]
fn cel_nesting_is_bounded_and_parser_failures_are_errors() {
    let at_limit = format!(
        "{}1 + 1{} == 2",
        "(".repeat(objectos_host::expr::MAX_BRACKET_DEPTH),
        ")".repeat(objectos_host::expr::MAX_BRACKET_DEPTH)
    );
    let now = Utc::now();
    assert_eq!(
        objectos_host::expr::evaluate_constant(&at_limit, now),
        Ok(json!(true))
    );
    let too_deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
    let e = objectos_host::expr::compile(&too_deep).expect_err("refused");
    assert!(e.contains("nests 200 levels"), "{e}");
    let e = objectos_host::expr::compile(&format!("{}true", "!".repeat(100))).expect_err("refused");
    assert!(e.contains("nests"), "{e}");
    // Brackets inside strings do not count.
    assert!(objectos_host::expr::compile("'((((((((((((((((' == ''").is_ok());
    for broken in ["record.qty * ", "a ? b", "((", "has(", "[1, 2"] {
        assert!(objectos_host::expr::compile(broken).is_err(), "{broken}");
    }
}

/// Arithmetic over record values works whether a number happens to be whole (JSON has one number type);
/// strings, lists and timestamps are left alone; the stdlib functions answer as the protocol says.
#[test]
fn cel_arithmetic_and_stdlib() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let record: Map<String, Value> =
        json!({"amount": 100, "rate": 0.5, "title": "  Hi ", "tags": [], "due": "2026-12-01"})
            .as_object()
            .cloned()
            .unwrap();
    let eval = |src: &str| {
        objectos_host::expr::compile(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .evaluate_in(&record, &[], now)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    };
    assert_eq!(eval("record.amount * 0.1"), json!(10));
    assert_eq!(eval("record.amount * record.rate"), json!(50));
    assert_eq!(eval("7 / 2"), json!(3.5));
    assert_eq!(eval("'a' + 'b'"), json!("ab"));
    assert_eq!(eval("[1] + [2]"), json!([1, 2]));
    assert_eq!(
        eval("isBlank(record.tags) && isEmpty(record.tags) && !isBlank(record.title)"),
        json!(true)
    );
    assert_eq!(eval("trim(record.title) + '!'"), json!("Hi!"));
    assert_eq!(eval("coalesce(null, record.amount)"), json!(100));
    assert_eq!(eval("len(trim(record.title))"), json!(2));
    // The real engine's round takes one number and rounds halves up (JavaScript's Math.round).
    assert_eq!(eval("round(2.345) + round(-2.5)"), json!(0));
    assert_eq!(eval("abs(-3) + floor(1.7) + ceil(1.2)"), json!(6));
    assert_eq!(eval("min(3, 1) + max(2, 5)"), json!(6));
    assert_eq!(eval("daysBetween(today(), record.due)"), json!(9));
    assert_eq!(
        eval("addDays(date('2026-01-30'), 3)"),
        json!("2026-02-02T00:00:00.000Z")
    );
    assert_eq!(
        eval("addMonths(date('2026-01-31'), 1)"),
        json!("2026-02-28T00:00:00.000Z")
    );
    assert_eq!(eval("joinNonEmpty(['a', '', 'b'], ', ')"), json!("a, b"));
    assert_eq!(
        eval("contains(record.title, 'Hi') && startsWith('abc', 'a') && endsWith('abc', 'c')"),
        json!(true)
    );
}

/// The address ranges a plugin's granted host name may not resolve to (sandbox/outbound.rs).
#[test]
fn outbound_refused_ranges() {
    use objectos_host::sandbox::outbound::refused_range;
    use std::net::IpAddr;
    for refused in [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "::",
        "::1",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ] {
        let ip: IpAddr = refused.parse().unwrap();
        assert!(refused_range(ip).is_some(), "{refused} should be refused");
    }
    for allowed in [
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
    ] {
        let ip: IpAddr = allowed.parse().unwrap();
        assert_eq!(refused_range(ip), None, "{allowed}");
    }
}
