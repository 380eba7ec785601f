"""dYdX v4 risk and liquidation arithmetic in its integer units (Python ints, exact rationals).

Units: quote quantums = 1e-6 USDC; base quantums = 10^atomic_resolution coins (BTC -10 on
mainnet, -8 in the protocol test constants); prices enter as (price_value, exponent).
Source: dydxprotocol/v4-chain (HEAD 84d4664, 2026-03-04): ``protocol/lib/quantums.go``
(BaseToQuoteQuantums, rounded down), ``x/perpetuals/lib/lib.go`` (IMR = ceil(N*IMF),
MMR = ceil(IMR*maintenance_fraction)), ``x/clob/keeper/liquidations.go``
(GetBankruptcyPriceInQuoteQuantums, GetFillablePrice, GetLiquidationInsuranceFundDelta),
``x/clob/keeper/deleveraging.go``.

>>> btc = Perp("BTC", price_value=50_000, price_exponent=0, atomic_resolution=-8,
...            initial_margin_ppm=200_000, maintenance_fraction_ppm=500_000)
>>> acct = Subaccount(quote_balance=-4_501_000_000, positions={"BTC": 10_000_000})
>>> bankruptcy_price_quote_quantums(acct, {"BTC": btc}, "BTC", -10_000_000)
4501000000
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from liqcascade.errors import InputError, RuleError

QUOTE_ATOMIC_RESOLUTION = -6
PPM = 1_000_000


@dataclass(frozen=True)
class Perp:
    """One perpetual's integer parameters (price = price_value * 10^price_exponent USD/coin)."""

    name: str
    price_value: int
    price_exponent: int
    atomic_resolution: int
    initial_margin_ppm: int
    maintenance_fraction_ppm: int
    quantum_conversion_exponent: int | None = None

    def __post_init__(self) -> None:
        if self.price_value <= 0:
            raise InputError(f"dYdX perp {self.name}: price_value must be > 0")
        if not (0 < self.initial_margin_ppm <= PPM):
            raise RuleError(f"dYdX perp {self.name}: initial_margin_ppm must be in (0, 1e6]")
        if not (0 <= self.maintenance_fraction_ppm <= PPM):
            raise RuleError(f"dYdX perp {self.name}: maintenance_fraction_ppm must be in [0, 1e6]")

    @classmethod
    def from_usd(
        cls,
        name: str,
        oracle_usd: float | str,
        atomic_resolution: int,
        imf: float,
        mmf: float | None = None,
        maintenance_fraction: float | None = None,
        quantum_conversion_exponent: int | None = None,
    ) -> Perp:
        """Build from a USD price (exact decimal) and IMF plus MMF or maintenance fraction."""
        frac = Fraction(str(oracle_usd))
        exp = 0
        while frac.denominator != 1:
            frac *= 10
            exp -= 1
        im_ppm = round(imf * PPM)
        if maintenance_fraction is None:
            if mmf is None:
                raise InputError(f"dYdX perp {name}: give MMF or maintenance_fraction")
            maintenance_fraction = mmf / imf
        return cls(
            name,
            int(frac),
            exp,
            int(atomic_resolution),
            im_ppm,
            round(maintenance_fraction * PPM),
            quantum_conversion_exponent,
        )

    def net_notional(self, quantums: int) -> int:
        """Signed notional in quote quantums (BaseToQuoteQuantums: truncated toward zero)."""
        e = self.price_exponent + self.atomic_resolution - QUOTE_ATOMIC_RESOLUTION
        num = int(quantums) * self.price_value
        if e >= 0:
            return num * 10**e
        d = 10 ** (-e)
        return num // d if num >= 0 else -((-num) // d)

    def margin_requirements(self, quantums: int) -> tuple[int, int]:
        """(IMR, MMR) in quote quantums: IMR = ceil(|N|*IMF), MMR = ceil(IMR*fraction)."""
        n = self.net_notional(abs(int(quantums)))
        imr = -((-n * self.initial_margin_ppm) // PPM)
        mmr = -((-imr * self.maintenance_fraction_ppm) // PPM)
        return imr, mmr


@dataclass
class Subaccount:
    """A cross subaccount: USDC balance (quote quantums) and signed positions (base quantums)."""

    quote_balance: int
    positions: dict[str, int] = field(default_factory=dict)


def risk(acct: Subaccount, perps: dict[str, Perp]) -> tuple[int, int, int]:
    """(TNC, TIMR, TMMR) in quote quantums; TNC = balance + sum of signed notionals."""
    tnc, timr, tmmr = int(acct.quote_balance), 0, 0
    for name, q in acct.positions.items():
        if name not in perps:
            raise InputError(f"dYdX: no perpetual parameters for position {name!r}")
        p = perps[name]
        tnc += p.net_notional(q)
        imr, mmr = p.margin_requirements(q)
        timr += imr
        tmmr += mmr
    return tnc, timr, tmmr


def is_liquidatable(acct: Subaccount, perps: dict[str, Perp]) -> bool:
    """Liquidatable iff TMMR > 0 and TMMR > TNC (risk.go IsLiquidatable)."""
    tnc, _, tmmr = risk(acct, perps)
    return tmmr > 0 and tmmr > tnc


def _check_delta(acct: Subaccount, perp: str, delta: int) -> int:
    ps = int(acct.positions.get(perp, 0))
    if ps == 0 or (ps > 0) == (delta > 0) or delta == 0 or abs(delta) > abs(ps):
        raise InputError(
            f"dYdX: delta_quantums={delta} invalid for position {ps} in {perp} "
            "(must reduce the position, |delta| <= |position|)"
        )
    return ps


def bankruptcy_price_quote_quantums(
    acct: Subaccount, perps: dict[str, Perp], perp: str, delta_quantums: int
) -> int:
    """Bankruptcy price of closing ``delta_quantums``: ``-DNNV - floor(TNC*|DMMR|/TMMR)``.

    Signed quote quantums (positive: received for selling a long), rounded toward +inf.
    """
    ps = _check_delta(acct, perp, int(delta_quantums))
    p = perps[perp]
    tnc, _, tmmr = risk(acct, perps)
    if tmmr == 0:
        raise RuleError("dYdX: TMMR is 0, bankruptcy price undefined")
    dnnv = p.net_notional(ps + delta_quantums) - p.net_notional(ps)
    dmmr = p.margin_requirements(ps + delta_quantums)[1] - p.margin_requirements(ps)[1]
    return -dnnv - (tnc * abs(dmmr)) // tmmr


def fillable_price(
    acct: Subaccount,
    perps: dict[str, Perp],
    perp: str,
    delta_quantums: int,
    bankruptcy_adjustment_ppm: int,
    spread_to_maintenance_margin_ratio_ppm: int,
) -> Fraction:
    """Fillable price in quote quantums per base quantum (exact rational).

    ``FP = (PNNV - ABR*SMMR*PMMR)/PS`` with ``ABR = clamp(BA*(1 - TNC/TMMR), 0, 1)``; it does
    not depend on the size of the delta. Multiply by ``10^(-6 - atomic_resolution -
    price_exponent... )`` via :func:`fillable_price_usd` for USD per coin.
    """
    ps = _check_delta(acct, perp, int(delta_quantums))
    p = perps[perp]
    tnc, _, tmmr = risk(acct, perps)
    if tmmr == 0:
        raise RuleError("dYdX: TMMR is 0, fillable price undefined")
    abr = (1 - Fraction(tnc, tmmr)) * Fraction(bankruptcy_adjustment_ppm, PPM)
    abr = min(max(abr, Fraction(0)), Fraction(1))
    pmmr = p.margin_requirements(ps)[1]
    spread = Fraction(pmmr) * Fraction(spread_to_maintenance_margin_ratio_ppm, PPM)
    fp = (Fraction(p.net_notional(ps)) - abr * spread) / ps
    if fp < 0:
        raise RuleError("dYdX: fillable price is negative")
    return fp


def fillable_price_usd(fp_quote_quantums_per_base_quantum: Fraction, perp: Perp) -> Fraction:
    """Convert to USD per coin: ``raw * 10^(quote_res - atomic_resolution)``."""
    return fp_quote_quantums_per_base_quantum * Fraction(10) ** (
        QUOTE_ATOMIC_RESOLUTION - perp.atomic_resolution
    )


def fill_quote_quantums(
    subticks: int, fill_base_quantums: int, quantum_conversion_exponent: int
) -> int:
    """Quote quantums of a fill: ``subticks * base_quantums * 10^QCE`` (rounded down)."""
    num = int(subticks) * int(fill_base_quantums)
    e = int(quantum_conversion_exponent)
    return num * 10**e if e >= 0 else num // 10 ** (-e)


def liquidation_insurance_fund_delta(
    acct: Subaccount,
    perps: dict[str, Perp],
    perp: str,
    is_buy: bool,
    fill_base_quantums: int,
    subticks: int,
    max_liquidation_fee_ppm: int,
    quantum_conversion_exponent: int | None = None,
) -> int:
    """Insurance-fund delta of a liquidation fill (quote quantums).

    ``delta = quote_received - BP``; if <= 0 the fund pays ``-delta`` (returned negative);
    else the user pays ``min(|quote|*max_fee_ppm/1e6, delta)`` (returned positive).
    """
    if fill_base_quantums <= 0:
        raise InputError("dYdX: fill_amount_quantums must be > 0")
    p = perps[perp]
    qce = quantum_conversion_exponent
    if qce is None:
        qce = (
            p.quantum_conversion_exponent
            if p.quantum_conversion_exponent is not None
            else p.atomic_resolution
        )
    quote = fill_quote_quantums(subticks, fill_base_quantums, qce)
    delta_q = int(fill_base_quantums)
    if is_buy:
        quote = -quote
    else:
        delta_q = -delta_q
    bp = bankruptcy_price_quote_quantums(acct, perps, perp, delta_q)
    d = quote - bp
    if d <= 0:
        return d
    return min(abs(quote) * int(max_liquidation_fee_ppm) // PPM, d)


def deleverage_full_takeover(
    liquidated_usdc: float,
    liquidated_base: float,
    offsetting_usdc: float,
    offsetting_base: float,
    price_usd: float,
) -> dict[str, object]:
    """Docs example of deleveraging: the offsetting account takes the whole position and balance.

    Returns both accounts after the transfer, the offsetting account's loss (the negative
    equity it absorbs) and its margin fraction (equity / |notional|) before and after.
    """
    if liquidated_base * offsetting_base >= 0:
        raise InputError("dYdX deleveraging: accounts must hold opposite positions")

    def equity(usdc: float, base: float) -> float:
        return usdc + base * price_usd

    def margin_pct(usdc: float, base: float) -> float:
        n = abs(base * price_usd)
        return equity(usdc, base) / n if n else float("inf")

    b_usdc = offsetting_usdc + liquidated_usdc
    b_base = offsetting_base + liquidated_base
    return {
        "A_after": {"usdc": 0.0, "btc": 0.0},
        "B_after": {"usdc": b_usdc, "btc": b_base},
        "B_loss_usd": equity(offsetting_usdc, offsetting_base) - equity(b_usdc, b_base),
        "B_margin_pct_before": margin_pct(offsetting_usdc, offsetting_base),
        "B_margin_pct_after": margin_pct(b_usdc, b_base),
    }
