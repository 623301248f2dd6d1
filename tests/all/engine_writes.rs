//! Write semantics: delete behaviours, uniqueness, optimistic concurrency, atomic multi-record writes.

use crate::on_all_drivers;
use crate::support::{alice, id_of};
use objectos_host::data::error::DataError;
use objectos_host::kernel::{DataOp, OpResult};
use serde_json::{Value, json};

on_all_drivers!(delete_cascades_and_sets_null, |k| {
    let cat = k.ok("t_category", json!({"name": "Parent"})).await;
    let child_cat = k
        .ok(
            "t_category",
            json!({"name": "Child", "parent": id_of(&cat)}),
        )
        .await;
    let item = k
        .ok("t_item", json!({"name": "casc", "category": id_of(&cat)}))
        .await;
    let part = k
        .ok("t_part", json!({"item": id_of(&item), "name": "p"}))
        .await;
    let sub = k
        .ok("t_subpart", json!({"part": id_of(&part), "name": "s"}))
        .await;
    let other_item = k.ok("t_item", json!({"name": "keep"})).await;
    let other_part = k
        .ok(
            "t_part",
            json!({"item": id_of(&other_item), "name": "kept"}),
        )
        .await;

    // set_null (the default): deleting the category clears the lookups that pointed at it.
    k.delete("t_category", &id_of(&cat)).await.unwrap();
    assert_eq!(
        k.get("t_item", &id_of(&item)).await.unwrap()["category"],
        Value::Null
    );
    assert_eq!(
        k.get("t_category", &id_of(&child_cat)).await.unwrap()["parent"],
        Value::Null
    );

    // cascade, two levels deep: item → part → subpart.
    k.delete("t_item", &id_of(&item)).await.unwrap();
    for (object, id) in [
        ("t_item", id_of(&item)),
        ("t_part", id_of(&part)),
        ("t_subpart", id_of(&sub)),
    ] {
        assert_eq!(
            k.get(object, &id).await.unwrap_err().code(),
            "RECORD_NOT_FOUND",
            "{object}"
        );
    }
    assert!(k.get("t_part", &id_of(&other_part)).await.is_ok());
    assert_eq!(
        k.delete("t_item", &id_of(&item)).await.unwrap_err().code(),
        "RECORD_NOT_FOUND"
    );
});

on_all_drivers!(delete_restricted, |k| {
    let item = k.ok("t_item", json!({"name": "locked"})).await;
    let part = k
        .ok(
            "t_part",
            json!({"item": id_of(&item), "name": "would cascade"}),
        )
        .await;
    let lock = k
        .ok("t_lock", json!({"item": id_of(&item), "reason": "audit"}))
        .await;
    let e = k.delete("t_item", &id_of(&item)).await.unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("DELETE_RESTRICTED", 409)
    );
    // As the real server words it: the labels for the user, the names and the count for the developer.
    assert!(
        e.to_string().contains("is still referenced by 1 ")
            && e.to_string().contains("record(s) through"),
        "{e}"
    );
    let wire = e.to_wire();
    assert_eq!(wire["dependentObject"], json!("t_lock"), "{wire}");
    assert_eq!(wire["dependentCount"], json!(1), "{wire}");
    assert!(
        wire["developerMessage"]
            .as_str()
            .is_some_and(|m| m.contains("1 dependent t_lock record(s) reference it via item")),
        "{wire}"
    );
    // The refused delete rolled back as a whole: the cascade it started did not happen.
    assert!(k.get("t_item", &id_of(&item)).await.is_ok());
    assert!(k.get("t_part", &id_of(&part)).await.is_ok());
    k.delete("t_lock", &id_of(&lock)).await.unwrap();
    k.delete("t_item", &id_of(&item)).await.unwrap();
});

on_all_drivers!(unique_violations, |k| {
    k.ok("t_item", json!({"name": "dup"})).await;
    let e = k
        .create("t_item", json!({"name": "dup"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("UNIQUE_VIOLATION", 409)
    );
    // The real server's answer: no field on the wire (the host still knows it), a message for the developer.
    assert!(
        matches!(&e, DataError::Unique { field: Some(f), .. } if f == "name"),
        "{e:?}"
    );
    let wire = e.to_wire();
    assert_eq!(wire["error"], "A record with this value already exists");
    assert!(wire.get("field").is_none(), "{wire}");
    assert_eq!(
        wire["developerMessage"],
        "Duplicate record refused on 't_item': a unique constraint already holds these values. No record was written."
    );
    assert_eq!(wire["object"], "t_item");
    let other = k.ok("t_item", json!({"name": "other"})).await;
    let e = k
        .update("t_item", &id_of(&other), json!({"name": "dup"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "UNIQUE_VIOLATION");
    // Per-organization uniqueness: the same code in another organization is fine.
    k.ok("t_org_unique", json!({"code": "X"})).await;
    assert_eq!(
        k.create("t_org_unique", json!({"code": "X"}))
            .await
            .unwrap_err()
            .code(),
        "UNIQUE_VIOLATION"
    );
    let bob = objectos_host::kernel::Principal::user("user_bob", Some("org_two"));
    let rec = json!({"code": "X"}).as_object().cloned().unwrap();
    k.0.execute(
        &bob,
        DataOp::Create {
            object: "t_org_unique".into(),
            record: rec,
        },
    )
    .await
    .unwrap();
});

on_all_drivers!(optimistic_concurrency, |k| {
    let r = k.ok("t_item", json!({"name": "occ", "qty": 1})).await;
    let id = id_of(&r);
    let v1 = r["updated_at"].as_str().unwrap().to_string();
    let r2 = k
        .update("t_item", &id, json!({"qty": 2}), Some(&v1))
        .await
        .unwrap();
    let v2 = r2["updated_at"].as_str().unwrap().to_string();
    assert_ne!(v1, v2, "every write moves the version");
    // A writer holding the old version is refused and changes nothing.
    let e = k
        .update("t_item", &id, json!({"qty": 3}), Some(&v1))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("CONCURRENT_UPDATE", 409)
    );
    assert_eq!(k.get("t_item", &id).await.unwrap()["qty"], json!(2));
    let e =
        k.0.execute(
            &alice(),
            DataOp::Delete {
                object: "t_item".into(),
                id: id.clone(),
                expected_version: Some(v1.clone()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "CONCURRENT_UPDATE");
    // The current version works for delete.
    k.0.execute(
        &alice(),
        DataOp::Delete {
            object: "t_item".into(),
            id: id.clone(),
            expected_version: Some(v2),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        k.get("t_item", &id).await.unwrap_err().code(),
        "RECORD_NOT_FOUND"
    );
});

on_all_drivers!(create_many_is_atomic, |k| {
    let records = |v: Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_object().cloned().unwrap())
            .collect::<Vec<_>>()
    };
    let ok =
        k.0.execute(
            &alice(),
            DataOp::CreateMany {
                object: "t_item".into(),
                records: records(json!([{"name": "m1"}, {"name": "m2", "qty": 3}])),
            },
        )
        .await
        .unwrap();
    let OpResult::Records(created) = ok else {
        panic!("expected records")
    };
    assert_eq!(created.len(), 2);
    // The third record is invalid: none of the batch is written, and its error is the answer, as for one create.
    let e =
        k.0.execute(
            &alice(),
            DataOp::CreateMany {
                object: "t_item".into(),
                records: records(
                    json!([{"name": "m3"}, {"name": "m4"}, {"name": "m5", "qty": -5}]),
                ),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION_FAILED");
    assert_eq!(e.to_wire()["fields"][0]["field"], "qty");
    // A unique violation late in the batch also rolls back the earlier inserts (and the autonumber counter).
    let e =
        k.0.execute(
            &alice(),
            DataOp::CreateMany {
                object: "t_item".into(),
                records: records(json!([{"name": "m6"}, {"name": "m1"}])),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "UNIQUE_VIOLATION");
    let names: Vec<Value> = k
        .find("t_item", json!({"orderBy": "name"}))
        .await
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [json!("m1"), json!("m2")]);
    let next = k.ok("t_item", json!({"name": "after"})).await;
    assert_eq!(next["code"], "IT-0003");
});

on_all_drivers!(reference_checks_on_write, |k| {
    // master_detail is required, and the master must exist.
    let e = k
        .create("t_part", json!({"name": "orphan"}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_wire()["fields"][0],
        json!({"field": "item", "code": "required", "message": "Item is required", "label": "Item"})
    );
    let e = k
        .create(
            "t_part",
            json!({"name": "orphan", "item": "no-such-report"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_wire()["fields"][0]["code"], "reference_not_found");
    // An expanded-record shape {id} is accepted as the id.
    let item = k.ok("t_item", json!({"name": "master"})).await;
    let part = k
        .ok(
            "t_part",
            json!({"name": "child", "item": {"id": id_of(&item)}}),
        )
        .await;
    assert_eq!(part["item"], item["id"]);
});

on_all_drivers!(unknown_object, |k| {
    let e = k.create("nope", json!({})).await.unwrap_err();
    assert_eq!(
        e.to_wire(),
        json!({"error": "Object 'nope' is not registered", "code": "OBJECT_NOT_FOUND", "object": "nope"})
    );
    assert_eq!(
        k.delete("nope", "x").await.unwrap_err().code(),
        "OBJECT_NOT_FOUND"
    );
    assert_eq!(
        k.query("nope", json!({})).await.unwrap_err().code(),
        "OBJECT_NOT_FOUND"
    );
});

on_all_drivers!(cross_object_batch_is_atomic, |k| {
    let rec = |v: Value| v.as_object().cloned().unwrap();
    let keep = k.ok("t_item", json!({"name": "to-delete"})).await;
    let ops = vec![
        DataOp::Create {
            object: "t_category".into(),
            record: rec(json!({"id": "cat_b", "name": "Batch"})),
        },
        DataOp::Create {
            object: "t_item".into(),
            record: rec(json!({"id": "item_b", "name": "batched", "category": "cat_b"})),
        },
        DataOp::Update {
            object: "t_item".into(),
            id: "item_b".into(),
            patch: rec(json!({"qty": 9})),
            expected_version: None,
        },
        DataOp::Delete {
            object: "t_item".into(),
            id: id_of(&keep),
            expected_version: None,
        },
    ];
    let OpResult::Batch(results) =
        k.0.execute(
            &alice(),
            DataOp::Batch {
                operations: ops,
                resolve_refs: false,
            },
        )
        .await
        .unwrap()
    else {
        panic!("batch")
    };
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[2], OpResult::Updated { record, .. } if record["qty"] == json!(9)));
    assert_eq!(
        k.get("t_item", "item_b").await.unwrap()["category"],
        "cat_b"
    );
    assert_eq!(
        k.get("t_item", &id_of(&keep)).await.unwrap_err().code(),
        "RECORD_NOT_FOUND"
    );

    // The last operation fails: the earlier ones are rolled back, and the error names the operation.
    let ops = vec![
        DataOp::Create {
            object: "t_category".into(),
            record: rec(json!({"name": "Ghost"})),
        },
        DataOp::Update {
            object: "t_item".into(),
            id: "item_b".into(),
            patch: rec(json!({"qty": 10})),
            expected_version: None,
        },
        DataOp::Create {
            object: "t_item".into(),
            record: rec(json!({"name": "bad", "status": "paid"})),
        },
    ];
    let e =
        k.0.execute(
            &alice(),
            DataOp::Batch {
                operations: ops,
                resolve_refs: false,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DataError::BatchAborted { index: 2, .. }),
        "{e:?}"
    );
    assert_eq!(e.to_wire()["fields"][0]["field"], "status");
    assert!(
        k.find("t_category", json!({"where": {"name": "Ghost"}}))
            .await
            .is_empty()
    );
    assert_eq!(k.get("t_item", "item_b").await.unwrap()["qty"], json!(9));
    // Reads do not belong in a batch.
    let e =
        k.0.execute(
            &alice(),
            DataOp::Batch {
                resolve_refs: false,
                operations: vec![DataOp::Get {
                    object: "t_item".into(),
                    id: "item_b".into(),
                    query: Default::default(),
                }],
            },
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("creates, updates and deletes only"),
        "{e}"
    );
});

// Aggregations are not offered on driver-plugin objects: SQL drivers only.
crate::on_both_drivers!(organizations_are_isolated, |k| {
    let bob = objectos_host::kernel::Principal::user("user_bob", Some("org_two"));
    let mine = k
        .ok("t_item", json!({"name": "alice-only", "qty": 1}))
        .await;
    let rec = |v: Value| v.as_object().cloned().unwrap();
    let theirs =
        k.0.execute(
            &bob,
            DataOp::Create {
                object: "t_item".into(),
                record: rec(json!({"name": "bob-only"})),
            },
        )
        .await
        .unwrap();
    let OpResult::Record(theirs) = theirs else {
        panic!()
    };
    // Alice sees her organization's rows (and the adopted seeds), never Bob's: not in lists, counts, gets,
    // updates, deletes or as a lookup target.
    let (rows, total, _) = k.query("t_item", json!({})).await.unwrap();
    assert_eq!((rows.len(), total), (1, Some(1)));
    assert_eq!(
        k.get("t_item", &id_of(&theirs)).await.unwrap_err().code(),
        "RECORD_NOT_FOUND"
    );
    assert_eq!(
        k.update("t_item", &id_of(&theirs), json!({"qty": 5}), None)
            .await
            .unwrap_err()
            .code(),
        "RECORD_NOT_FOUND"
    );
    assert_eq!(
        k.delete("t_item", &id_of(&theirs))
            .await
            .unwrap_err()
            .code(),
        "RECORD_NOT_FOUND"
    );
    let e = k
        .create("t_part", json!({"name": "x", "item": id_of(&theirs)}))
        .await
        .unwrap_err();
    assert_eq!(e.to_wire()["fields"][0]["code"], "reference_not_found");
    let rows = k
        .find(
            "t_item",
            json!({"aggregations": [{"function": "count", "alias": "n"}]}),
        )
        .await;
    assert_eq!(rows[0]["n"], json!(1));
    // Bob sees only his row; the seeds were adopted by Alice's organization, not his.
    let q = k.0.parse_query(&bob, "t_item", &json!({})).unwrap();
    let OpResult::List { records, .. } =
        k.0.execute(
            &bob,
            DataOp::Find {
                object: "t_item".into(),
                query: q,
            },
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        records
            .iter()
            .map(|r| r["name"].clone())
            .collect::<Vec<_>>(),
        [json!("bob-only")]
    );
    let q = k.0.parse_query(&bob, "t_category", &json!({})).unwrap();
    let OpResult::List { records, .. } =
        k.0.execute(
            &bob,
            DataOp::Find {
                object: "t_category".into(),
                query: q,
            },
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(records.is_empty());
    let _ = mine;
});

/// Concurrent writers on SQLite share transactions (group commit): each still gets its own answer, and a write
/// that fails rolls back alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_keeps_writes_independent() {
    let dir = std::env::temp_dir().join(format!("objectos-group-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let artifact =
        objectos_host::artifact::Artifact::from_value(crate::support::testapp()).unwrap();
    let (kernel, _) = objectos_host::kernel::Kernel::boot(artifact, &crate::support::config(url))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..80 {
        let k = kernel.clone();
        // Every eighth write repeats a name that another write also uses: one of each pair must fail.
        let name = if i % 8 == 7 {
            format!("g{}", i - 7)
        } else {
            format!("g{i}")
        };
        tasks.push(tokio::spawn(async move {
            let record = json!({"name": name, "qty": 1})
                .as_object()
                .cloned()
                .unwrap();
            k.execute(
                &alice(),
                DataOp::Create {
                    object: "t_item".into(),
                    record,
                },
            )
            .await
        }));
    }
    let (mut ok, mut unique) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(OpResult::Record(_)) => ok += 1,
            Err(e) if e.code() == "UNIQUE_VIOLATION" => unique += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, unique), (70, 10));
    let q = kernel
        .parse_query(&alice(), "t_item", &json!({"limit": 1000}))
        .unwrap();
    let OpResult::List { total, .. } = kernel
        .execute(
            &alice(),
            DataOp::Find {
                object: "t_item".into(),
                query: q,
            },
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(total, Some(70));
    let _ = std::fs::remove_dir_all(&dir);
}

on_all_drivers!(batches_cannot_reach_runtime_objects, |k| {
    // Every operation of a batch is checked like a single one: a caller cannot write sys_* rows through it.
    let rec = json!({"email": "x@example.com", "name": "mallory"})
        .as_object()
        .cloned()
        .unwrap();
    let op = DataOp::Batch {
        resolve_refs: false,
        operations: vec![DataOp::Create {
            object: "sys_user".into(),
            record: rec,
        }],
    };
    let e = k.0.execute(&alice(), op).await.unwrap_err();
    assert_eq!(e.code(), "OBJECT_NOT_FOUND");
    assert!(e.to_string().contains("sys_user"), "{e}");
});
