//! `GET /api/v1/data/:object/export?format=csv`: text cells a spreadsheet would run as formulas are neutralised.

use crate::on_both_servers;
use serde_json::{Value, json};

fn app() -> Value {
    json!({
        "manifest": {"id": "com.objectos.csv", "namespace": "csv", "version": "1.0.0", "type": "app", "name": "csv"},
        "objects": [{"name": "csv_note", "label": "Note", "fields": {
            "title": {"type": "text"}, "amount": {"type": "number"}, "secret": {"type": "text"}
        }}],
        "permissions": [{
            "name": "csv_everyone", "isDefault": true,
            "objects": {"csv_note": {"allowCreate": true, "allowRead": true, "allowEdit": true, "allowDelete": true,
                                     "allowExport": true, "viewAllRecords": true}},
            "fields": {"csv_note.secret": {"readable": false, "editable": true}}
        }]
    })
}

on_both_servers!(csv_export_neutralises_formulas, app(), |s| {
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    let titles = [
        "=1+2",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\tHIDDEN",
        "\rCR",
        "plain, with a comma",
        "a=b",
    ];
    for (i, t) in titles.iter().enumerate() {
        let r = s
            .call(
                "POST",
                "/api/v1/data/csv_note",
                json!({"title": t, "amount": -(i as i64), "secret": "s3cret"}),
                Some(&admin),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    // An ordinary user: the default set lets it export, but not read `secret`.
    let (user, _) = s.create_user(&admin, "u@example.com", &[]).await;
    let r = s
        .call(
            "GET",
            "/api/v1/data/csv_note/export?format=csv",
            Value::Null,
            Some(&user),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let csv = r.body.as_str().expect("CSV text").to_string();
    let header = csv.lines().next().unwrap_or("");
    assert!(
        header.contains("title") && !header.contains("secret"),
        "{header}"
    );
    assert!(!csv.contains("s3cret"), "{csv}");
    for expected in [
        "'=1+2",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'\tHIDDEN",
        "\"'\rCR\"",
        "\"plain, with a comma\"",
    ] {
        assert!(csv.contains(expected), "{expected:?} in {csv:?}");
    }
    // Only a leading formula character counts; numbers stay numbers.
    assert!(csv.contains("a=b") && !csv.contains("'a=b"), "{csv:?}");
    assert!(csv.contains("-3") && !csv.contains("'-3"), "{csv:?}");
});
