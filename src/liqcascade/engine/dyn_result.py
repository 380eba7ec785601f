"""Result of a dynamic run: timeline, per-venue losses, per-event ledger and the summary."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from liqcascade.engine.dyn_config import DynamicConfig, encode_inf
from liqcascade.errors import InputError
from liqcascade.funds import LOSS_FIELDS
from liqcascade.jsonutil import to_jsonable

if TYPE_CHECKING:
    from liqcascade.engine.dyn_state import Timeline, VenueState

__all__ = ["DynamicResult", "losses_frame", "summary_dict", "timeline_frame"]


@dataclass
class DynamicResult:
    """Outcome of a dynamic run: timeline, per-venue losses, per-event ledger, summary.

    timeline: one row per (step, venue): price, fundamental price, liquidated notional per side
    (quote, at the price each position left the venue), counts, forced and arbitrage volume
    (base), ADL notional, depth scale, insurance-fund balance, vault capacity.
    losses: one row per venue (sign convention in :mod:`liqcascade.funds`).
    ledger: one row per event.
    """

    timeline: pl.DataFrame
    losses: pl.DataFrame
    ledger: pl.DataFrame
    config: DynamicConfig
    seed: int
    _summary: dict[str, Any]
    funding_quote: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    account_id: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    def summary(self) -> dict[str, Any]:
        """Headline figures: the static keys (shock, initial_price, shocked_price, final_price,
        liquidated_count, liquidated_base, liquidated_notional, cascade_multiplier, book_exhausted)
        plus loss totals, the seed and per-venue figures."""
        return dict(self._summary)

    as_dict = summary

    @property
    def accounts(self) -> pl.DataFrame:
        """Per-account totals from the ledger (plus funding paid, quote)."""
        lg = self.ledger
        agg = lg.group_by("account_id").agg(
            pl.col("trader_pnl").sum(),
            pl.col("fee").sum(),
            pl.col("returned_quote").sum(),
            pl.col("adl_haircut").sum(),
            pl.len().alias("events"),
        )
        fund = pl.DataFrame({"account_id": self.account_id, "funding_quote": -self.funding_quote})
        fund = fund.group_by("account_id").agg(pl.col("funding_quote").sum())
        return (
            fund.join(agg, on="account_id", how="full", coalesce=True)
            .fill_null(0)
            .sort("account_id")
        )

    def to_polars(self) -> pl.DataFrame:
        """The timeline: one row per (step, venue), columns as :func:`timeline_frame`
        (``step``, ``time_s``, ``venue``, ``price``, ``liquidated_notional_long`` ...)."""
        return self.timeline

    def plot(self, kind: str = "path") -> Any:
        """``kind="path"``: price path of each venue (top) and liquidated notional per step,
        longs and shorts stacked (bottom, quote); ``kind="losses"``: each term of the loss
        identity by venue (grouped bars, quote; :data:`liqcascade.funds.LOSS_FIELDS`)."""
        from liqcascade import plotting

        go = plotting.graph_objects("DynamicResult.plot")
        if kind == "losses":
            venues = self.losses["venue"].to_list()
            fig = go.Figure(
                [
                    go.Bar(x=venues, y=self.losses[c].to_list(), name=c)
                    for c in LOSS_FIELDS
                    if c in self.losses.columns
                ]
            )
            return plotting.styled(
                fig, "Losses by venue (quote)", barmode="group", yaxis={"title": {"text": "quote"}}
            )
        if kind != "path":
            raise InputError(f"kind {kind!r}: expected 'path' or 'losses'")
        titles = ("price (quote)", "liquidated notional per step (quote)")
        fig = plotting.stacked("DynamicResult.plot", titles, heights=(0.6, 0.4), spacing=0.08)
        tl = self.timeline
        for venue in tl["venue"].unique(maintain_order=True).to_list():
            v = tl.filter(pl.col("venue") == venue)
            t = v["time_s"].to_list()
            fig.add_trace(go.Scatter(x=t, y=v["price"].to_list(), name=venue, mode="lines"), 1, 1)
            for side in ("long", "short"):
                y = v[f"liquidated_notional_{side}"].to_list()
                fig.add_trace(go.Bar(x=t, y=y, name=f"{venue} {side}s liquidated"), 2, 1)
        s = self._summary
        fig.update_xaxes(title_text="time (s)", row=2, col=1)
        return plotting.styled(
            fig,
            f"Dynamic cascade (seed {self.seed}, multiplier "
            f"{s.get('cascade_multiplier', float('nan')):.3g})",
            barmode="stack",
        )

    def to_json(self, *, timeline: bool = True) -> str:
        """Summary, losses and (optionally) timeline as a JSON object."""
        out: dict[str, Any] = {"summary": self.summary(), "losses": self.losses.to_dicts()}
        if timeline:
            out["timeline"] = self.timeline.to_dict(as_series=False)
        out = to_jsonable(out)
        out["config"] = encode_inf(self.config.to_dict())
        return json.dumps(out)


_LIQUIDATION_KINDS = ["liquidation", "partial_liquidation", "vault_takeover", "adl_loser"]


def timeline_frame(venues: tuple[str, ...], dt: float, T: int, tl: Timeline) -> pl.DataFrame:
    """The first ``T`` steps of the timeline buffers, one row per (step, venue)."""
    nv = len(venues)
    steps = np.repeat(np.arange(T), nv)
    return pl.DataFrame(
        {
            "step": steps,
            "time_s": steps.astype(np.float64) * dt,
            "venue": np.tile(np.array(venues, dtype=object), T).tolist(),
            "price": tl.price[:T].ravel(),
            "fundamental_price": tl.fundamental_price[:T].ravel(),
            "liquidated_notional_long": tl.liquidated_notional_long[:T].ravel(),
            "liquidated_notional_short": tl.liquidated_notional_short[:T].ravel(),
            "liquidated_count": tl.liquidated_count[:T].ravel(),
            "forced_volume_base": tl.forced_volume_base[:T].ravel(),
            "arb_volume_base": tl.arb_volume_base[:T].ravel(),
            "adl_notional": tl.adl_notional[:T].ravel(),
            "depth_scale": tl.depth_scale[:T].ravel(),
            "insurance_fund_quote": tl.insurance_fund_quote[:T].ravel(),
            "vault_capacity_quote": tl.vault_capacity_quote[:T].ravel(),
        }
    )


def losses_frame(lg: pl.DataFrame, venues: list[VenueState]) -> pl.DataFrame:
    """One row per venue: ledger totals per party, ADL figures, funds, final price."""
    rows = []
    for vs in venues:
        sub = lg.filter(pl.col("venue") == vs.name)
        tot = {c: float(sub[c].sum()) for c in LOSS_FIELDS}
        liq_ev = sub.filter(pl.col("kind").is_in(_LIQUIDATION_KINDS))
        st = vs.adl_stats
        rows.append(
            {
                "venue": vs.name,
                **tot,
                "identity_residual": sum(tot.values()),
                "liquidated_count": int(liq_ev["position"].n_unique()),
                "liquidated_base": float(liq_ev["qty_base"].sum()),
                "liquidated_notional_fill": float((liq_ev["qty_base"] * liq_ev["ref_price"]).sum()),
                "adl_notional": float(st[0]),
                "adl_haircut": float(st[1]),
                "adl_needed": float(st[2]),
                "adl_overshoot": float(st[1] - st[2]),
                "adl_losers": int(st[3]),
                "insurance_fund_start": vs.fund.initial_quote,
                "insurance_fund_end": vs.fund.balance_quote,
                "vault_mtm_pnl": vs.vault.mark_to_market(vs.market.price),
                "funding_paid_by_book": float(vs.funding_external_quote),
                "funding_external": float(-vs.funding_external_quote),
                "final_price": float(vs.market.price),
                "book_exhausted": bool(vs.market.exhausted),
            }
        )
    return pl.DataFrame(rows)


def summary_dict(
    lg: pl.DataFrame,
    losses: pl.DataFrame,
    timeline: pl.DataFrame,
    venues: list[VenueState],
    path: Any,
    rets: np.ndarray,
    seed: int,
    hub: int,
    steps_run: int,
    positions: int,
) -> dict[str, Any]:
    """Headline figures of a run (see :meth:`DynamicResult.summary`)."""
    p0 = float(timeline.filter(pl.col("step") == 0)["price"][hub])
    exo_final = float(np.prod(1.0 + rets[:, hub])) * p0
    shock = float(np.prod(1.0 + rets[:, hub]) - 1.0)
    if np.ndim(path) == 0 and path is not None and not isinstance(path, Mapping):
        shock = float(path)  # one shock: report it exactly as given
        exo_final = p0 * (1.0 + shock)
    mk = [vs.market for vs in venues]
    pf = float(mk[hub].price)
    liq_ev = lg.filter(pl.col("kind").is_in(_LIQUIDATION_KINDS))
    # notional at the liquidation price (static convention); ADL losers have none recorded
    liq_px = liq_ev["liq_price"].to_numpy()
    qty = liq_ev["qty_base"].to_numpy()
    mult = float((p0 - pf) / (p0 - exo_final)) if exo_final != p0 else math.nan
    tot = {c: float(losses[c].sum()) for c in LOSS_FIELDS}
    scale = (
        float(np.sum(np.abs(lg["qty_base"].to_numpy() * lg["ref_price"].to_numpy())))
        if lg.height
        else 0.0
    )
    return {
        "mode": "dynamic",
        "shock": shock,
        "initial_price": p0,
        "shocked_price": exo_final,
        "final_price": pf,
        "liquidated_count": int(liq_ev["position"].n_unique()),
        "liquidated_base": float(qty.sum()),
        "liquidated_notional": float(np.nansum(qty * liq_px)),
        "liquidated_notional_fill": float(np.dot(qty, liq_ev["ref_price"].to_numpy())),
        "cascade_multiplier": mult,
        "book_exhausted": bool(any(m.exhausted for m in mk)),
        **{f"{k}_total": v for k, v in tot.items()},
        "adl_notional_total": float(losses["adl_notional"].sum()),
        "adl_overshoot_total": float(losses["adl_overshoot"].sum()),
        "conservation_residual": sum(tot.values()),
        "notional_involved": scale,
        "steps_run": steps_run,
        "positions": positions,
        "seed": seed,
        "hub_venue": venues[hub].name,
        "venues": {
            vs.name: {
                "final_price": float(vs.market.price),
                "book_exhausted": bool(vs.market.exhausted),
            }
            for vs in venues
        },
    }
