"""/api/v1/privacy/subjects: the data subjects, and how many records hold each one's data."""

from custos.testing import api_client

JSON = "application/json"


def _contact(client, **data):
    response = client.post("/api/v1/contacts", data, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def test_each_new_person_gets_a_subject(cast):
    client = api_client(cast, cast.alice)
    greta = _contact(client, first_name="Greta", email="greta@example.org")
    hans = _contact(client, first_name="Hans", email="hans@example.org")

    body = client.get("/api/v1/privacy/subjects").json()

    assert [s["id"] for s in body["items"]] == sorted([greta["subject"], hans["subject"]])
    assert body["next"] is None
    for subject in body["items"]:
        assert set(subject) == {"id", "reference", "state", "created_at", "records"}
        assert subject["state"] == "active"
        assert subject["records"] is None
        assert subject["reference"].startswith("S-")
        assert len(subject["reference"]) == 12


def test_a_subject_holds_no_personal_values(cast):
    client = api_client(cast, cast.alice)
    greta = _contact(client, first_name="Greta", last_name="Lind", email="greta@example.org")

    text = client.get(f"/api/v1/privacy/subjects/{greta['subject']}").content.decode().lower()

    for value in ("greta", "lind", "example.org"):
        assert value not in text


def test_the_detail_counts_the_records_of_the_subject(cast):
    client = api_client(cast, cast.alice)
    first = _contact(client, first_name="Greta", email="greta@example.org")
    _contact(client, first_name="Greta L.", email="GRETA@example.org")
    _contact(client, first_name="Hans", email="hans@example.org")

    response = client.get(f"/api/v1/privacy/subjects/{first['subject']}")

    assert response.status_code == 200
    assert response.json()["id"] == first["subject"]
    # The search index holds copies of the names, emails and phones: they count too.
    assert response.json()["records"] == {"crm.Contact": 2, "search.SearchEntry": 4}


def test_subjects_page_with_a_cursor(cast):
    client = api_client(cast, cast.alice)
    subjects = sorted(_contact(client, email=f"p{n}@example.org")["subject"] for n in range(5))

    first = client.get("/api/v1/privacy/subjects", {"limit": 3}).json()
    second = client.get("/api/v1/privacy/subjects", {"limit": 3, "cursor": first["next"]}).json()

    assert [s["id"] for s in first["items"] + second["items"]] == subjects
    assert second["next"] is None


def test_subjects_need_the_permission_and_stay_in_their_organisation(cast):
    greta = _contact(api_client(cast, cast.alice), first_name="Greta")
    path = f"/api/v1/privacy/subjects/{greta['subject']}"

    assert api_client(cast, cast.sam, "read").get("/api/v1/privacy/subjects").status_code == 403
    assert api_client(cast, cast.bob, "read").get(path).status_code == 403
    assert api_client(cast, cast.mallory).get(path).status_code == 404
    assert api_client(cast, cast.mallory).get("/api/v1/privacy/subjects").json() == {"items": [], "next": None}
