"""demo.faults: faults are taken per path, in the order they were added, each its times."""

from __future__ import annotations

from demo.faults import FaultPlan


def test_faults_are_taken_in_order_per_path() -> None:
    plan = FaultPlan().fail("/a.img", times=2, status=502).truncate("a.img", after=10)
    plan.unsized("b.img")

    taken = [plan.take("/a.img") for _ in range(4)]

    assert [fault.status if fault else None for fault in taken] == [502, 502, None, None]
    assert taken[2] is not None and taken[2].cut_after == 10
    assert taken[3] is None
    fault = plan.take("/b.img")
    assert fault is not None and fault.unsized
    assert plan.take("/b.img") is None
