"""The weekly report: Monday morning, the triage channel gets last week's numbers beside the
week before's, what changed, and the volume chart as a PNG, uploaded with Slack's upload flow
(files.getUploadURLExternal, the bytes, files.completeUploadExternal) through the outbox, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from tests.csat.test_csat_flow import sweep
from tests.support.server import wait_until
from tests.tickets.helpers import open_tickets, watch

PNG = b"\x89PNG\r\n\x1a\n"


def shared_reports(emulator) -> list[dict]:
    return [m for m in emulator.messages("CTRIAGE") if m.get("files")]


async def test_monday_brings_last_weeks_numbers_and_chart_once(running_app, emulator, clock):
    await watch(running_app, "CSUPPORT")
    await open_tickets(running_app, "Week one question")  # Monday Jan 5
    clock.set(datetime(2026, 1, 12, 8, 0, 30, tzinfo=UTC))  # the first report is due
    await sweep(running_app)
    await wait_until(lambda: shared_reports(emulator), message="the first report")

    clock.set(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    await open_tickets(running_app, "Alpha", "Beta", "Gamma")
    clock.set(datetime(2026, 1, 19, 8, 1, tzinfo=UTC))
    await sweep(running_app)
    await wait_until(lambda: len(shared_reports(emulator)) == 2, message="the second report")
    await sweep(running_app)  # nothing more is due: no third, no second share

    first, second = shared_reports(emulator)
    assert "Jan 5 to Jan 11" in first["text"] and "Opened: *1* (week before: 0)" in first["text"]
    assert "Jan 12 to Jan 18" in second["text"]
    assert "Opened: *3* (week before: 1, +200%)" in second["text"]
    assert "Tickets up 200%" in second["text"]  # what changed
    [file] = second["files"]
    assert emulator.uploaded_file(file["id"]).startswith(PNG)
    [upload_call] = [
        c
        for c in emulator.delivered("files.getUploadURLExternal")
        if c.response["file_id"] == file["id"]
    ]
    assert "Tickets opened" in upload_call.args["alt_txt"]  # the chart in words
    assert int(upload_call.args["length"]) == len(emulator.uploaded_file(file["id"]))
    assert len(emulator.delivered("files.completeUploadExternal")) == 2


async def test_a_share_whose_answer_was_lost_is_found_not_made_twice(running_app, emulator, clock):
    clock.set(datetime(2026, 1, 12, 8, 0, 30, tzinfo=UTC))
    await sweep(running_app)
    await wait_until(lambda: _share_recorded(running_app), message="the share recorded")
    # As if the process died after Slack shared the file but before the outcome was recorded.
    async with running_app.runtime.session_factory() as session, session.begin():
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.target == "files.completeUploadExternal")
        )
        assert row is not None
        row.status, row.result = OutboxStatus.PENDING, None
        row.maybe_sent_at = clock.now() - timedelta(seconds=5)
        row.next_attempt_at = clock.now()
        row_id = row.id

    await running_app.runtime.dispatcher.dispatch_once()

    async with running_app.runtime.session_factory() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None and row.status == OutboxStatus.DELIVERED
    assert len(shared_reports(emulator)) == 1
    assert len(emulator.delivered("files.completeUploadExternal")) == 1
    assert emulator.delivered("files.info")


async def test_an_upload_the_far_side_refused_is_tried_again_not_lost(running_app, emulator, clock):
    emulator.fail_next("files.getUploadURLExternal", status=503)
    clock.set(datetime(2026, 1, 12, 8, 0, 30, tzinfo=UTC))
    await sweep(running_app)
    clock.advance(minutes=5)
    await running_app.runtime.dispatcher.dispatch_once()
    await running_app.runtime.dispatcher.dispatch_once()

    await wait_until(lambda: shared_reports(emulator), message="the report after the 503")
    assert len(shared_reports(emulator)) == 1


async def _share_recorded(app) -> bool:
    async with app.runtime.session_factory() as session:
        status = await session.scalar(
            select(OutboxMessage.status).where(
                OutboxMessage.target == "files.completeUploadExternal"
            )
        )
    return status == OutboxStatus.DELIVERED
