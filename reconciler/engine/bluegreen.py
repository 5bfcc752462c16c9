"""BlueGreen: a full preview next to the active version, then one atomic switch (Argo §3.2).

Script: the new RS comes up (at ``previewReplicaCount`` if set) behind the preview Service
while the active Service stays on the old RS; once the preview is fully available it pauses
(``BlueGreenPause``) if ``autoPromotionEnabled`` is false or ``autoPromotionSeconds`` is set;
promotion scales the new RS to ``replicas``, waits until all are available, switches the
active Service in one step and keeps the old RS for ``scaleDownDelaySeconds``. A newer template
before promotion replaces the preview at once. ``abort`` points the preview back at the active
RS and scales the preview RS to 0 after ``abortScaleDownDelaySeconds`` (0: at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.context import Context, Step, earliest, scale
from reconciler.engine.model import (
    EventRecord,
    PauseReason,
    Reason,
    ReplicaSetView,
    RolloutKey,
    TrafficGroup,
)
from reconciler.units import parse_duration


def bluegreen_spec(ctx: Context) -> Mapping[str, Any]:
    return ctx.spec.get("strategy", {}).get("blueGreen", {}) or {}


def _traffic(
    ctx: Context, *, active: ReplicaSetView, preview: ReplicaSetView
) -> dict[str, tuple[TrafficGroup, ...]]:
    spec = bluegreen_spec(ctx)
    traffic: dict[str, tuple[TrafficGroup, ...]] = {}
    if spec.get("activeService"):
        traffic[spec["activeService"]] = (TrafficGroup("active", 100, (active.name,)),)
    if spec.get("previewService"):
        traffic[spec["previewService"]] = (TrafficGroup("preview", 100, (preview.name,)),)
    return traffic


def _scale_down_old(
    ctx: Context, deadlines: dict[str, float], *, skip: set[str]
) -> tuple[Step, float | None]:
    """Old RSs go to 0 at their recorded deadline (after a switch), others at once."""
    step, requeue = Step(), None
    for rs in ctx.old_rss:
        if rs.name in skip or rs.replicas == 0:
            deadlines.pop(rs.name, None) if rs.replicas == 0 else None
            continue
        at = deadlines.get(rs.name)
        if at is None or ctx.now >= at:
            step = step.then(scale(ctx, rs, 0))
            deadlines.pop(rs.name, None)
        else:
            requeue = earliest(requeue, at - ctx.now)
    return step, requeue


def plan_bluegreen(ctx: Context, rollout: Mapping[str, Any], *, aborted: bool) -> Step:
    spec = bluegreen_spec(ctx)
    new = ctx.new_rs
    template = ctx.view.template_hash
    active_hash = str(rollout.get(RolloutKey.ACTIVE_SELECTOR, "") or "")
    active = ctx.rs_by_hash(active_hash) if active_hash else None
    deadlines: dict[str, float] = {
        str(k): float(v) for k, v in dict(rollout.get(RolloutKey.SCALE_DOWN_AT) or {}).items()
    }

    if active is None or active is new:
        # first rollout (nothing to protect: traffic goes to the new RS at once) or promoted
        step = scale(ctx, new, ctx.replicas)
        down, requeue = _scale_down_old(ctx, deadlines, skip=set())
        return step.then(down).then(
            Step(
                rollout={
                    RolloutKey.ACTIVE_SELECTOR: template,
                    RolloutKey.PREVIEW_SELECTOR: template,
                    RolloutKey.SCALE_DOWN_AT: deadlines,
                    RolloutKey.PAUSE_CONDITIONS: [],
                    RolloutKey.PROMOTE_FULL: False,
                },
                traffic=_traffic(ctx, active=new, preview=new),
                requeue_after=requeue,
            )
        )

    step = scale(ctx, active, ctx.replicas)
    down, requeue = _scale_down_old(ctx, deadlines, skip={active.name})
    step = step.then(down)
    updates: dict[str, Any] = {RolloutKey.ACTIVE_SELECTOR: active.hash}

    if aborted:
        aborted_at = float(rollout.get(RolloutKey.ABORTED_AT) or ctx.now)
        delay = parse_duration(spec.get("abortScaleDownDelaySeconds", 30))
        if ctx.now >= aborted_at + delay:
            step = step.then(scale(ctx, new, 0))
        else:
            requeue = earliest(requeue, aborted_at + delay - ctx.now)
        updates.update(
            {
                RolloutKey.PREVIEW_SELECTOR: active.hash,
                RolloutKey.SCALE_DOWN_AT: deadlines,
                RolloutKey.PAUSE_CONDITIONS: [],
            }
        )
        return step.then(
            Step(
                rollout=updates,
                traffic=_traffic(ctx, active=active, preview=active),
                requeue_after=requeue,
            )
        )

    # Going back to an RS that was active until a moment ago and is still up within its
    # scale-down delay (an undo right after a promotion) is fast-tracked, as in Argo Rollouts:
    # it was serving this traffic already, so it switches back without preview or pause.
    fast_track = new.name in deadlines
    promoting = bool(rollout.get(RolloutKey.PROMOTE_FULL)) or fast_track
    preview_count = spec.get("previewReplicaCount")
    wanted = (
        ctx.replicas
        if promoting or preview_count is None
        else min(int(preview_count), ctx.replicas)
    )
    step = step.then(scale(ctx, new, wanted))
    pauses = list(rollout.get(RolloutKey.PAUSE_CONDITIONS) or [])
    events: list[EventRecord] = []
    switched = False
    if new.replicas == wanted and ctx.available(new) >= wanted:
        auto = bool(spec.get("autoPromotionEnabled", True))
        seconds = spec.get("autoPromotionSeconds")
        go = promoting or (auto and seconds is None)
        if not go:
            if not pauses:
                pauses = [{"reason": str(PauseReason.BLUE_GREEN_PAUSE), "startTime": ctx.now}]
                events.append(
                    EventRecord(
                        "Normal", Reason.ROLLOUT_PAUSED, "Rollout is paused (BlueGreenPause)"
                    )
                )
            if auto and seconds is not None:
                end = float(pauses[0]["startTime"]) + parse_duration(seconds)
                if ctx.now >= end:
                    go = True
                else:
                    requeue = earliest(requeue, end - ctx.now)
        if go and wanted < ctx.replicas:
            promoting = True  # scale the preview up to full size first
            step = step.then(scale(ctx, new, ctx.replicas))
            pauses = []
        elif go:
            switched = True
            pauses = []
            delay = parse_duration(spec.get("scaleDownDelaySeconds", 30))
            deadlines[active.name] = ctx.now + delay
            deadlines.pop(new.name, None)
            events.append(
                EventRecord(
                    "Normal",
                    Reason.SWITCH_ACTIVE,
                    f"Switched selector for service '{spec.get('activeService', '')}' "
                    f"from '{active.hash}' to '{template}'",
                )
            )
            requeue = 0.0
    updates.update(
        {
            RolloutKey.PREVIEW_SELECTOR: template,
            RolloutKey.SCALE_DOWN_AT: deadlines,
            RolloutKey.PAUSE_CONDITIONS: pauses,
            RolloutKey.PROMOTE_FULL: promoting and not switched,
        }
    )
    if switched:
        updates[RolloutKey.ACTIVE_SELECTOR] = template
        updates[RolloutKey.STABLE_RS] = template
    return step.then(
        Step(
            events=tuple(events),
            rollout=updates,
            traffic=_traffic(ctx, active=new if switched else active, preview=new),
            requeue_after=requeue,
        )
    )
