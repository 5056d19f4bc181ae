"""Messages for signed-in people stay on the server, whichever flash put them there."""

import flask

from groupvisits.permissions import signed_in


def cookie_session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_flasks_own_flash_for_a_signed_in_person_leaves_the_cookie(app, sign_in_as, coordinator):
    @signed_in
    def flashes_with_flask():
        flask.flash("Tove Halvorsen was moved.", "success")
        return flask.redirect("/")

    app.add_url_rule("/flask-flash", "flask_flash", flashes_with_flask)
    client = sign_in_as(coordinator)

    response = client.get("/flask-flash")

    assert response.status_code == 302
    assert "_flashes" not in cookie_session(app, client)
    assert "Halvorsen" not in repr(cookie_session(app, client))
    page = client.get("/").get_data(as_text=True)
    assert "Tove Halvorsen was moved." in page
    assert "Tove Halvorsen was moved." not in client.get("/").get_data(as_text=True)


def test_a_visitors_message_still_travels_in_the_cookie(app, client):
    response = client.get("/groups/")

    assert response.status_code == 302
    assert cookie_session(app, client)["_flashes"] == [("info", "Please sign in to see that page.")]
