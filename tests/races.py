"""Requests at the same moment: each job runs in a thread of its own, with its own app context
and database session, as a request would, and commits or rolls back as a view does."""

import threading


def at_once(app, jobs, *, timeout: float = 60) -> list[object]:
    """Run each ``job(db, barrier)`` as its own request; their outcomes, in order.

    A job loads what it needs, then waits on ``barrier`` so that all of them act together.
    An outcome is what the job returned (then committed) or the exception it raised (then
    rolled back).
    """
    barrier = threading.Barrier(len(jobs))
    outcomes: list[object] = [None] * len(jobs)

    def run(index, job):
        from groupvisits.extensions import db

        with app.app_context():
            try:
                outcomes[index] = job(db, barrier)
                db.session.commit()
            except Exception as exc:  # the outcome is what the test checks
                db.session.rollback()
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=run, args=(i, job), daemon=True) for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        assert not thread.is_alive(), "a request never finished"
    return outcomes
