"""Operators made responders in the admin UI: a select of the accounts that are not one, the error
next to its field with nothing stored, the file's responders read-only, removal refused (saying
where) while a schedule names them; the new responder is offered in schedule layers and overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from statuspage.oncall import service
from statuspage.settings import Settings
from statuspage.storage import accounts
from statuspage.storage import oncall as oncall_store
from tests.adminkit import Operator
from tests.statuspage.oncall.test_paging_links import ONCALL

NEW = "/admin/oncall/new-responder"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def test_an_operator_made_a_responder_and_removed_in_the_ui(
    operator: Operator, db: Any, settings: Settings, make_user: Callable[..., Any]
) -> None:
    make_user("dave")
    oncall = operator.client.get("/admin/oncall").text
    assert f'href="{NEW}"' in oncall and "Declared in upwatch.toml (read-only here)." in oncall
    form = operator.client.get(NEW).text
    # alice is signed in but already a responder (upwatch.toml): only dave is offered.
    assert '<option value="dave">dave</option>' in form and '<option value="alice"' not in form
    assert 'name="csrf_token"' in form and "Declared in upwatch.toml" in form
    made = operator.post(NEW, {"name": "dave", "display_name": "Dave D."})
    assert made.status_code == 303 and made.location.startswith("/admin/oncall/responders/dave")
    page = operator.client.get("/admin/oncall/responders/dave").text
    assert "Made a responder here in the admin" in page and "Stop Dave D. being a responder" in page
    assert "Dave D." in operator.client.get("/admin/oncall").text
    assert "Every operator account is a responder already" in operator.client.get(NEW).text

    # Offered in a new schedule's layer and in the overrides of the file's schedule.
    assert '<option value="dave">Dave D.</option>' in operator.client.get("/admin/oncall/new-schedule").text
    assert '<option value="dave" >Dave D.</option>' in operator.client.get("/admin/oncall/primary").text
    made = operator.post("/admin/oncall/new-schedule", {
        "id": "nights", "schedule_name": "Nights", "name": "base", "tz": "UTC", "responder": ["dave", ""],
        "shift_count": "1", "shift_unit": "d", "handoff": "09:00", "start": "2026-11-20"})  # fmt: skip
    assert made.status_code == 303, made.text
    page = operator.client.get("/admin/oncall/responders/dave").text
    assert "still in schedule nights, layer 1 (base)" in page and "being a responder</button>" not in page
    refused = operator.post("/admin/oncall/responders/dave/remove")
    assert refused.status_code == 409 and "schedule nights, layer 1 (base)" in refused.text
    assert service.find_responder(db, settings, "dave") is not None

    assert operator.post("/admin/oncall/nights/delete").status_code == 303
    assert operator.post("/admin/oncall/responders/dave/remove").status_code == 303
    assert oncall_store.stored_responders(db) == []
    assert "No longer a responder" in operator.client.get("/admin/oncall?notice=responder_removed").text


def test_bad_forms_show_the_error_next_to_the_field(
    operator: Operator, db: Any, settings: Settings, make_user: Callable[..., Any], clock: Any
) -> None:
    make_user("dave")
    accounts.set_disabled(db, make_user("eve").id, clock())
    for fields, text in [
        ({"name": "zoe"}, "no operator account"),
        ({"name": "alice"}, "declared in upwatch.toml already"),
        ({"name": "eve"}, "is disabled"),
        ({"name": ""}, "choose an operator account"),
        ({"name": "Bad Name!"}, "is not an account name"),
    ]:
        page = operator.post(NEW, fields)
        assert page.status_code == 422, fields
        assert 'href="#r-name"' in page.text and 'id="r-name-error"' in page.text and text in page.text, (
            fields
        )
        assert 'aria-invalid="true"' in page.text
    long_name = operator.post(NEW, {"name": "dave", "display_name": "x" * 101})
    assert long_name.status_code == 422 and 'id="r-display_name-error"' in long_name.text
    assert "Error: at most 100 characters" in long_name.text
    assert oncall_store.stored_responders(db) == []
    # The file's responders are shown, never removed here; CSRF on every form.
    page = operator.client.get("/admin/oncall/responders/alice").text
    assert "is declared in upwatch.toml" in page and "being a responder</button>" not in page
    assert operator.post("/admin/oncall/responders/alice/remove").status_code == 409
    assert operator.post("/admin/oncall/responders/ghost/remove").status_code == 404
    assert operator.client.post(NEW, data={"name": "dave"}).status_code in (400, 403)
    assert oncall_store.stored_responders(db) == []
