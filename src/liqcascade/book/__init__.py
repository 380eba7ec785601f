"""PositionBook: who holds what, as a struct of numpy arrays, with loaders and validation.

A book row is one position: account, venue, symbol, side, size (base units), entry price, margin
mode (isolated or cross), isolated margin or leverage, and for cross positions the account's
collateral (wallet balance). Loaders: :meth:`PositionBook.from_csv`, :meth:`~PositionBook.from_parquet`,
:meth:`~PositionBook.from_frame` (polars or pandas) and :meth:`~PositionBook.from_ccxt` (ccxt's
unified position dicts).

Liquidation prices: a ``liquidation_price`` column is used as given (empty cells are computed);
otherwise they come from the venue's rules through :func:`liqcascade.margin.liquidation_price`
(isolated: margin = ``margin_quote``, or entry notional / leverage) and
:func:`liqcascade.margin.cross_liquidation_price` (cross: wallet = account collateral, the
account's other cross positions held at their mark with their maintenance margin and UPnL,
Binance FAQ formula, venues.md §1.3). ``NaN`` means the position has no positive liquidation
price (e.g. a 1x long) and is never liquidated.

Columns read by :meth:`PositionBook.from_frame` (names are case-insensitive; aliases in brackets):

=========================== ========================================================== ==========
column                      meaning                                                    default
=========================== ========================================================== ==========
account_id [account]        account id: text (alice, 0xabc123) or integer              row number
venue                       binance_usdm, hyperliquid, bybit_linear, okx_swap, ...     ``venue=``
symbol                      venue symbol (BTCUSDT, BTC, BTC-USDT-SWAP, BTC/USDT:USDT)  ``symbol=``
side                        long/short, buy/sell, +1/-1                                required
size_base [size]            position size in base units, > 0                           required
entry_price                 average entry price, quote per base, > 0                   required
margin_mode                 isolated / cross                                           isolated
margin_quote                isolated margin in quote (isolated rows)                   N/leverage
leverage                    initial leverage (> 0, at most the tier's cap)             N/margin
account_collateral_quote    cross wallet balance of the account (same on its rows)     required
                            [collateral_quote, wallet_balance_quote]                   for cross
mark_price                  mark used to value *other* cross positions                 entry
liquidation_price           used as given                                              computed
bankruptcy_price            used as given                                              computed
segment                     retail / institutional / market_maker (or 0/1/2)           retail
=========================== ========================================================== ==========

Account ids are kept as the user gave them. When every id is an integer (or integer text such as
``17``), ``account_id`` holds the integers. Otherwise every id is text: ``account_names`` holds
the distinct ids in sorted (byte) order and ``account_id`` the position of each row's id in it, so
sorting by ``account_id`` sorts by the user's id and ties between accounts break the same way
whatever the row order. :meth:`PositionBook.account_ids` and :meth:`~PositionBook.to_polars`
give the user's ids back.

Errors name the source, the 1-based data row (header excluded) and the field, e.g.
``positions.csv row 17: size_base must be > 0 and finite, got -3``.

Every name below is importable from ``liqcascade.book``; each idea has its own module:

* :mod:`.positions`: :class:`PositionBook`, its views, selection, filters and loaders;
* :mod:`.columns`: the columns' codes and spellings, and how one column is parsed and checked;
* :mod:`.loaders`: reading position files, data frames and ccxt position dicts;
* :mod:`.build`: a frame checked field by field into a book, prices from the venue rules;
* :mod:`.accounts`: account ids (integer or text) and the cross collateral of each account.
"""

from __future__ import annotations

from liqcascade.book.accounts import account_labels
from liqcascade.book.columns import (
    CROSS,
    ISOLATED,
    MARGIN_MODES,
    SEGMENTS,
    FileOptions,
    RulesArg,
)
from liqcascade.book.loaders import IPC_SUFFIXES, PARQUET_SUFFIXES
from liqcascade.book.positions import PositionBook
from liqcascade.book.positions import _squash as _squash  # used by engine.dyn_positions

__all__ = [
    "CROSS",
    "IPC_SUFFIXES",
    "ISOLATED",
    "MARGIN_MODES",
    "PARQUET_SUFFIXES",
    "SEGMENTS",
    "FileOptions",
    "PositionBook",
    "RulesArg",
    "account_labels",
]
