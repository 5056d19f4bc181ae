"""The app starts and the sign-in page answers."""


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Sign in" in response.get_data(as_text=True)


def test_coordinator_sees_their_dashboard(coordinator_client, site):
    page = coordinator_client.get("/").get_data(as_text=True)
    assert site.name in page
