//! What the audit trail records of HCPs and their consent, shared by both backends. Identity
//! fields (name, email, external ids) are named when they change but never copied into the
//! trail: the trail is never rewritten, and an erased HCP must leave no identifier behind.

use openclm_core::Hcp;
use openclm_core::audit::NewAudit;
use openclm_core::privacy::hcp_record;
use serde_json::{Value, json};

/// The fields of an HCP the trail keeps values of.
fn view(h: &Hcp) -> Value {
    json!({
        "specialty": h.specialty,
        "country": h.country,
        "territory": h.territory,
        "segments": h.segments,
        "restricted_products": h.restricted_products,
    })
}

/// The entry for writing `new` over `old`; `None` when nothing changed.
pub(crate) fn hcp_change(actor: &str, old: Option<&Hcp>, new: &Hcp) -> Option<NewAudit> {
    let record = hcp_record(new.id.as_str());
    let Some(old) = old else {
        return Some(NewAudit::new(actor, "create", record).new_value(view(new)));
    };
    let mut identity = Vec::new();
    if old.name != new.name {
        identity.push("name");
    }
    if old.email != new.email {
        identity.push("email");
    }
    if old.external_ids != new.external_ids {
        identity.push("external_ids");
    }
    let (before, mut after) = (view(old), view(new));
    if before == after && identity.is_empty() {
        return None;
    }
    if !identity.is_empty() {
        after["identity_changed"] = json!(identity);
    }
    Some(
        NewAudit::new(actor, "update", record)
            .old(before)
            .new_value(after),
    )
}

/// The entry for writing a campaign's definition over `old`.
pub(crate) fn campaign_change(
    actor: &str,
    old: Option<&openclm_core::campaign::Campaign>,
    new: &openclm_core::campaign::Campaign,
) -> NewAudit {
    let record = format!("campaign/{}", new.id);
    match old {
        Some(old) => NewAudit::new(actor, "update", record).old(old),
        None => NewAudit::new(actor, "create", record),
    }
    .new_value(new)
}

/// The entry for a consent change carried by an event.
pub(crate) fn consent_change(
    hcp_id: &str,
    source: &str,
    event_id: &str,
    change: &crate::rows::ConsentChange,
) -> NewAudit {
    NewAudit::new(&format!("source:{source}"), "consent", hcp_record(hcp_id)).new_value(json!({
        "channel": openclm_core::Channel::from_code(change.channel).map(|c| c.as_str()),
        "purpose": change.purpose,
        "state": change.state.as_str(),
        "event_id": event_id,
        // The evidence itself stays with the consent record, which erasure removes; the trail,
        // which erasure never touches, only notes that there was some.
        "evidence_recorded": change.evidence.is_some(),
        "notice_version": change.notice_version,
    }))
}

/// The entry for a PV case opened by screening.
pub(crate) fn case_opened(source: &str, case_id: &str, event_id: &str) -> NewAudit {
    NewAudit::new(
        &format!("source:{source}"),
        "open",
        format!("ae_case/{case_id}"),
    )
    .new_value(json!({"event_id": event_id, "status": "open"}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclm_core::hcp::HcpInput;

    fn hcp(name: &str, territory: &str) -> Hcp {
        HcpInput {
            name: Some(name.into()),
            specialty: Some("cardiology".into()),
            country: Some("DE".into()),
            territory: Some(territory.into()),
            ..HcpInput::default()
        }
        .validate("hcp-1")
        .unwrap()
    }

    #[test]
    fn identity_changes_are_named_never_copied() {
        let e = hcp_change(
            "key:k",
            Some(&hcp("Dr. Ada", "T1")),
            &hcp("Dr. Ada Byron", "T2"),
        )
        .unwrap();
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("Ada"), "{text}");
        assert_eq!(e.old_value.unwrap()["territory"], "T1");
        let new = e.new_value.unwrap();
        assert_eq!(new["territory"], "T2");
        assert_eq!(new["identity_changed"], json!(["name"]));
        assert!(hcp_change("key:k", Some(&hcp("A", "T1")), &hcp("A", "T1")).is_none());
    }
}
