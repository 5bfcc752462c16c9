"""BlueGreen: a full preview next to the active version, then one atomic switch (Argo §3.2).

Script: the new RS comes up (at ``previewReplicaCount`` if set) behind the preview Service
while the active Service stays on the old RS; once the preview is fully available it pauses
(``BlueGreenPause``) if ``autoPromotionEnabled`` is false or ``autoPromotionSeconds`` is set;
promotion scales the new RS to ``replicas``, waits until all are available, switches the
active Service in one step and keeps the old RS for ``scaleDownDelaySeconds``. A newer template
before promotion replaces the preview at once. ``abort`` points the preview back at the active
RS and scales the preview RS to 0 after ``abortScaleDownDelaySeconds`` (0: at once).

The script (``plan_bluegreen``), one pass at a time:

1. nothing to protect (the first rollout) or promoted: serve the new RS, scale old RSs down
   at their recorded deadlines;
2. else hold the active RS at ``replicas`` (other old RSs down at their deadlines), then
3. aborted: point the preview back at the active RS, shrink the preview RS after the delay; or
4. bring the preview up; once it is available, the promotion gate (``pause.wait``); past the
   gate, a preview smaller than ``replicas`` first grows to full size, then the switch.

Worked example, 3 replicas, ``autoPromotionEnabled: false``, ``previewReplicaCount: 1``,
``scaleDownDelaySeconds: 30``, active ``old`` at 3: the new RS goes to 1 behind the preview
Service; once available, ``BlueGreenPause``; ``rollout promote`` scales the new RS to 3; once
all 3 are available the active Service switches to it at t, and ``old`` goes to 0 at t + 30.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.context import Context, Step, scale
from reconciler.engine.model import EventRecord, Reason, ReplicaSetView, TrafficGroup
from reconciler.engine.pause import wait
from reconciler.engine.state import PauseReason, RolloutState
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
    ctx: Context, deadlines: Mapping[str, float], *, skip: str = ""
) -> tuple[Step, dict[str, float]]:
    """Old RSs (but ``skip``) go to 0 at their recorded deadline, others at once; returns the
    step and the deadlines still pending."""
    step, pending = Step(), dict(deadlines)
    for rs in ctx.old_rss:
        if rs.replicas == 0:
            pending.pop(rs.name, None)
        elif rs.name == skip:
            continue
        elif rs.name not in pending or ctx.now >= pending[rs.name]:
            step = step.then(scale(ctx, rs, 0))
            pending.pop(rs.name, None)
        else:
            step = step.then(Step(requeue_after=pending[rs.name] - ctx.now))
    return step, pending


def plan_bluegreen(ctx: Context, rollout: RolloutState, *, aborted: bool) -> Step:
    active = ctx.rs_by_hash(rollout.active_selector) if rollout.active_selector else None
    if active is None or active is ctx.new_rs:
        return _serve_new(ctx, rollout)
    hold = _hold_active(ctx, rollout, active)
    held = hold.rollout or rollout
    if aborted:
        return hold.then(_abort(ctx, held, active))
    return hold.then(_preview(ctx, held, active))


def _serve_new(ctx: Context, rollout: RolloutState) -> Step:
    """First rollout (nothing to protect: traffic goes to the new RS at once) or promoted."""
    new, template = ctx.new_rs, ctx.view.template_hash
    down, pending = _scale_down_old(ctx, rollout.scale_down_at)
    return (
        scale(ctx, new, ctx.replicas)
        .then(down)
        .then(
            Step(
                rollout=rollout.evolve(
                    active_selector=template,
                    preview_selector=template,
                    scale_down_at=pending,
                    pause_conditions=(),
                    promote_full=False,
                ),
                traffic=_traffic(ctx, active=new, preview=new),
            )
        )
    )


def _hold_active(ctx: Context, rollout: RolloutState, active: ReplicaSetView) -> Step:
    """The active RS keeps serving at full size while anything else happens."""
    down, pending = _scale_down_old(ctx, rollout.scale_down_at, skip=active.name)
    return (
        scale(ctx, active, ctx.replicas)
        .then(down)
        .then(Step(rollout=rollout.evolve(active_selector=active.hash, scale_down_at=pending)))
    )


def _abort(ctx: Context, rollout: RolloutState, active: ReplicaSetView) -> Step:
    """The preview goes back to the active RS; the preview RS goes to 0 after the delay."""
    aborted_at = rollout.aborted_at or ctx.now
    end = aborted_at + parse_duration(bluegreen_spec(ctx).get("abortScaleDownDelaySeconds", 30))
    shrink = scale(ctx, ctx.new_rs, 0) if ctx.now >= end else Step(requeue_after=end - ctx.now)
    return shrink.then(
        Step(
            rollout=rollout.evolve(preview_selector=active.hash, pause_conditions=()),
            traffic=_traffic(ctx, active=active, preview=active),
        )
    )


def _preview(ctx: Context, rollout: RolloutState, active: ReplicaSetView) -> Step:
    """Bring the preview up; once it is available, through the gate, grow, then switch."""
    new = ctx.new_rs
    # Going back to an RS that was active until a moment ago and is still up within its
    # scale-down delay (an undo right after a promotion) is fast-tracked, as in Argo Rollouts:
    # it was serving this traffic already, so it switches back without preview or pause.
    promoting = rollout.promote_full or new.name in rollout.scale_down_at
    preview_count = bluegreen_spec(ctx).get("previewReplicaCount")
    wanted = (
        ctx.replicas
        if promoting or preview_count is None
        else min(int(preview_count), ctx.replicas)
    )
    up = scale(ctx, new, wanted).then(
        Step(
            rollout=rollout.evolve(preview_selector=ctx.view.template_hash, promote_full=promoting),
            traffic=_traffic(ctx, active=active, preview=new),
        )
    )
    if new.replicas != wanted or ctx.available(new) < wanted:
        return up  # the preview is still coming up
    go, gate = _promotion_gate(ctx, up.rollout or rollout, promoting=promoting)
    step = up.then(gate)
    if not go:
        return step
    state = (step.rollout or rollout).evolve(pause_conditions=())
    if wanted < ctx.replicas:  # promoted with a smaller preview: full size first
        return step.then(scale(ctx, new, ctx.replicas)).then(
            Step(rollout=state.evolve(promote_full=True))
        )
    return step.then(_switch(ctx, state, active))


def _promotion_gate(ctx: Context, rollout: RolloutState, *, promoting: bool) -> tuple[bool, Step]:
    """(go, step): promoted, auto-promoted at once, or a ``BlueGreenPause`` (timed when
    ``autoPromotionSeconds`` is set, else until ``rollout promote``)."""
    spec = bluegreen_spec(ctx)
    auto = bool(spec.get("autoPromotionEnabled", True))
    seconds = spec.get("autoPromotionSeconds")
    if promoting or (auto and seconds is None):
        return True, Step()
    paused = wait(
        rollout.pause_conditions,
        reason=PauseReason.BLUE_GREEN_PAUSE,
        duration=parse_duration(seconds) if auto and seconds is not None else None,
        now=ctx.now,
    )
    return paused.over, Step(
        rollout=rollout.evolve(pause_conditions=paused.pauses),
        events=paused.events,
        requeue_after=paused.requeue_after,
    )


def _switch(ctx: Context, rollout: RolloutState, active: ReplicaSetView) -> Step:
    """The active Service moves to the new RS in one step; the old one stays up for
    ``scaleDownDelaySeconds``."""
    spec, new, template = bluegreen_spec(ctx), ctx.new_rs, ctx.view.template_hash
    delay = parse_duration(spec.get("scaleDownDelaySeconds", 30))
    pending = {k: v for k, v in rollout.scale_down_at.items() if k != new.name}
    pending[active.name] = ctx.now + delay
    return Step(
        rollout=rollout.evolve(
            active_selector=template,
            stable_rs=template,
            scale_down_at=pending,
            pause_conditions=(),
            promote_full=False,
        ),
        events=(
            EventRecord(
                "Normal",
                Reason.SWITCH_ACTIVE,
                f"Switched selector for service '{spec.get('activeService', '')}' "
                f"from '{active.hash}' to '{template}'",
            ),
        ),
        traffic=_traffic(ctx, active=new, preview=new),
        requeue_after=0.0,
    )
