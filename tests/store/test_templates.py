"""Templates in the store, on both engines: one name whatever its case, even saved at once; audited."""

import threading


def test_a_name_is_taken_whatever_its_case_and_spacing_and_every_attempt_is_audited(store):
    assert store.save_template("Event reminder", "Hi ((first name))", "U1")
    assert not store.save_template("  event   REMINDER ", "Other", "U2")
    assert [t["text"] for t in store.list_templates()] == ["Hi ((first name))"]
    actions = [(a["action"], a["actor"]) for a in store.template_audit()]
    assert actions == [("save", "U1"), ("save (name taken)", "U2")]


def test_two_processes_saving_one_name_at_once_make_one_template(stores):
    a, b = stores(), stores()
    start = threading.Barrier(2)
    saved = []

    def save(store, text):
        start.wait()
        saved.append(store.save_template("Same", text, "U1"))

    threads = [threading.Thread(target=save, args=(a, "one")), threading.Thread(target=save, args=(b, "two"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(saved) == [False, True] and len(a.list_templates()) == 1


def test_a_template_is_deleted_once_with_who_deleted_it_recorded(store):
    store.save_template("Reminder", "Hi", "U1")
    template = store.template_named("reminder")
    assert store.delete_template(template["id"], "UADMIN")["name"] == "Reminder"
    assert store.delete_template(template["id"], "UADMIN") is None
    assert store.find_template(template["id"]) is None and store.list_templates() == []
    assert store.template_audit()[-1]["action"] == "delete" and store.template_audit()[-1]["actor"] == "UADMIN"
