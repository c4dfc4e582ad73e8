//! Markets as values: the four markets of the bucket (`spot`, `futures/um`, `futures/cm`,
//! `option`), each owning its root path, the first day its archive holds, which partitions and
//! data types it publishes, and its symbol grammar (what a folder name says: perpetual,
//! delivery, settled, a COIN-M pair, a spot pair and its quote asset, an option index).
//!
//! The facts are those of `docs/adr/0017-markets-and-datasets-as-values.md` and the bucket
//! layout it cites; nothing here is checked against the live bucket. What must not be known
//! here: HTTP, DuckDB, a run's plan.

use chrono::NaiveDate;

use super::dataset::{DataType, Partition};
use crate::facts::{ARCHIVE_START, Contract, SymbolClass};
pub use crate::facts::{Market, UnknownMarket};

/// Quote assets of USD-M names, longest first where one ends another (`FDUSD` before `USD1`…).
/// `U` is a real quote (`币安人生U`-style names were listed); it is tried last.
const UM_QUOTES: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "USD1", "BTC", "U"];

/// COIN-M contracts and pairs are all quoted in USD (`BTCUSD_PERP`, `BTCUSD_240628`, `BTCUSD`).
const CM_QUOTES: &[&str] = &["USD"];

/// Spot quote assets, longest first where one ends another, as the bucket's folder names use
/// them (45+ exist; these are the ones a name is matched against).
const SPOT_QUOTES: &[&str] = &[
    "FDUSD", "BIDR", "BKRW", "BVND", "EURI", "IDRT", "TUSD", "USDC", "USDP", "USDS", "USDT",
    "AEUR", "BUSD", "DOGE", "GYEN", "AUD", "ARS", "BNB", "BRL", "BTC", "COP", "CZK", "DAI", "DOT",
    "ETH", "EUR", "GBP", "JPY", "MXN", "NGN", "PAX", "PLN", "RON", "RUB", "TRX", "TRY", "UAH",
    "UST", "VAI", "XRP", "ZAR",
];

/// Spot names where the longest quote is the wrong reading: `ADAEUR` is ADA+EUR, not AD+AEUR.
const SPOT_QUOTE_EXCEPTIONS: &[(&str, &str)] = &[("ADAEUR", "EUR")];

/// Leveraged-token suffixes of a spot base (`BTCUP`, `ETHBEAR`), and bases that only look so.
const LEVERAGED: &[&str] = &["UP", "DOWN", "BULL", "BEAR"];
const NOT_LEVERAGED: &[&str] = &["JUP", "SYRUP"];

const fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("valid constant date"),
    }
}

/// What a folder name is, in its market's grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instrument {
    /// A perpetual contract: UM `BTCUSDT`, CM `BTCUSD_PERP`.
    Perpetual,
    /// A dated contract (`BTCUSDT_260925`, `BTCUSD_240628`) and the day it delivers.
    Delivery(NaiveDate),
    /// A COIN-M pair (`BTCUSD`): `indexPriceKlines` are filed under it, not under a contract.
    Pair,
    /// A spot pair; `leveraged` for the `…UP`/`…DOWN`/`…BULL`/`…BEAR` tokens.
    SpotPair {
        /// The base is a leveraged token (`BTCUP`, `ETHBEAR`), not `JUP` or `SYRUP`.
        leveraged: bool,
    },
    /// An option volatility index (`BTCBVOLUSDT`).
    VolatilityIndex,
    /// An option underlying (`BTCUSDT`), the folder of `EOHSummary` files.
    Underlying,
}

/// What a folder name says: the instrument, its quote asset when the name ends in a known one,
/// and whether it is a settled folder (`…SETTLED`, `…_SETTLED`, repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolName {
    /// What kind of folder the name is in its market: perpetual, delivery, pair, index, ….
    pub instrument: Instrument,
    /// The quote asset the name ends in (`USDT` of `BTCUSDT_260925`), `None` when it ends in
    /// none the market lists.
    pub quote_asset: Option<String>,
    /// A settled folder: the earlier history of the symbol `settled_base` gives.
    pub settled: bool,
}

impl Market {
    /// The first day a question may name and a new folder's listing starts from: USD-M's
    /// trading start (2019-09-25, before its archive's first file); the others' archive start.
    pub const fn first_day(self) -> NaiveDate {
        match self {
            Market::Um => crate::facts::TRADING_START,
            other => other.archive_start(),
        }
    }

    /// `day` when it is not before the market's first day; the sentence naming both otherwise.
    /// Every question naming a day of a market checks it here, after the day's grammar
    /// (`facts::parse_day`, which admits any market's days).
    pub fn check_day(self, day: NaiveDate) -> Result<NaiveDate, crate::facts::DayError> {
        let first = self.first_day();
        if day < first {
            return Err(crate::facts::DayError::BeforeMarket {
                day,
                market: self,
                first,
            });
        }
        Ok(day)
    }

    /// The first day its archive holds a file of any symbol: spot klines from 2017-08-17; UM
    /// from 2019-12-31 (nothing for 2019-09-25..12-30 although trading began on 2019-09-25);
    /// CM from 2020-08-11 (`BTCUSD_PERP`); option from 2023-05-18 (`EOHSummary`).
    pub const fn archive_start(self) -> NaiveDate {
        match self {
            Market::Spot => crate::facts::VISION_START,
            Market::Um => ARCHIVE_START,
            Market::Cm => day(2020, 8, 11),
            Market::Option => day(2023, 5, 18),
        }
    }

    /// Whether the bucket has a `PARTITION/TYPE/` folder in this market: 43 such prefixes in all.
    pub fn offers(self, partition: Partition, data_type: DataType) -> bool {
        use DataType::*;
        use Partition::*;
        match (self, data_type) {
            (Market::Spot, Klines | AggTrades | Trades) => true,
            (Market::Spot, _) => false,
            (
                Market::Um | Market::Cm,
                Klines | AggTrades | Trades | MarkPriceKlines | IndexPriceKlines
                | PremiumIndexKlines | BookTicker,
            ) => true,
            (Market::Um | Market::Cm, FundingRate) => partition == Monthly,
            (Market::Um | Market::Cm, Metrics | BookDepth) => partition == Daily,
            (Market::Cm, LiquidationSnapshot) => partition == Daily,
            (Market::Um | Market::Cm, _) => false,
            (Market::Option, BvolIndex | EohSummary) => partition == Daily,
            (Market::Option, _) => false,
        }
    }

    /// The quote assets a name of this market may end in, longest first where one ends another.
    pub fn quote_assets(self) -> &'static [&'static str] {
        match self {
            Market::Spot | Market::Option => SPOT_QUOTES,
            Market::Um => UM_QUOTES,
            Market::Cm => CM_QUOTES,
        }
    }

    /// What a folder name says in this market's grammar. The market decides, not the name:
    /// 43 UM symbols end in `BUSD`, so a `USD` ending does not make a name COIN-M.
    pub fn symbol(self, name: &str) -> SymbolName {
        let settled_of = settled_base(name);
        let settled = settled_of.is_some();
        let mut base = settled_of.unwrap_or(name);
        let mut delivery = None;
        if matches!(self, Market::Um | Market::Cm)
            && let Some((pair, suffix)) = base.rsplit_once('_')
        {
            if let Some(date) = yymmdd(suffix) {
                delivery = Some(date);
                base = pair;
            } else if self == Market::Cm && suffix == "PERP" {
                base = pair;
            }
        }
        let quote = |base: &str| -> Option<String> {
            if self == Market::Spot
                && let Some((_, q)) = SPOT_QUOTE_EXCEPTIONS.iter().find(|(n, _)| *n == base)
            {
                return Some(q.to_string());
            }
            self.quote_assets()
                .iter()
                .find(|q| base.len() > q.len() && base.ends_with(*q))
                .map(|q| q.to_string())
        };
        let (instrument, quote_asset) = match self {
            Market::Um => (
                delivery.map_or(Instrument::Perpetual, Instrument::Delivery),
                quote(base),
            ),
            Market::Cm => (
                match delivery {
                    Some(date) => Instrument::Delivery(date),
                    None if name.ends_with("_PERP") || settled => Instrument::Perpetual,
                    None => Instrument::Pair,
                },
                quote(base),
            ),
            Market::Spot => {
                let quote_asset = quote(base);
                let token = &base[..base.len() - quote_asset.as_deref().map_or(0, str::len)];
                let leveraged = !NOT_LEVERAGED.contains(&token)
                    && LEVERAGED
                        .iter()
                        .any(|l| token.len() > l.len() && token.ends_with(*l));
                (Instrument::SpotPair { leveraged }, quote_asset)
            }
            Market::Option => match base.split_once("BVOL") {
                Some((underlying, quote_asset)) if !underlying.is_empty() => (
                    Instrument::VolatilityIndex,
                    (!quote_asset.is_empty()).then(|| quote_asset.to_string()),
                ),
                _ => (Instrument::Underlying, quote(base)),
            },
        };
        SymbolName {
            instrument,
            quote_asset,
            settled,
        }
    }

    /// Whether a 1d file's `volume` counts contracts (COIN-M) rather than the base asset.
    pub const fn volume_counts_contracts(self) -> bool {
        matches!(self, Market::Cm)
    }

    /// What one contract of `name` is worth in USD, in a market whose 1d `volume` counts
    /// contracts: COIN-M's, where a `BTCUSD` contract (`BTCUSD_PERP`, `BTCUSD_240628`, their
    /// settled folders) is 100 USD and every other is 10 USD (Binance's contract
    /// specifications). `None` in the markets whose `volume` is the base asset's (spot, USD-M,
    /// option): their 8th column is already the quote asset's volume.
    pub fn contract_size_usd(self, name: &str) -> Option<f64> {
        if !self.volume_counts_contracts() {
            return None;
        }
        let base = settled_base(name).unwrap_or(name);
        let pair = base.split_once('_').map_or(base, |(pair, _)| pair);
        Some(if pair == "BTCUSD" { 100.0 } else { 10.0 })
    }

    /// A contract folder's class as the store keeps it: delivery (with its day) or perpetual,
    /// settled, quote asset. The store's contract column has those two values; a name that is
    /// no contract (a CM pair, a spot pair, an option index) is classed perpetual here, and
    /// only `symbol` tells it apart — collection writes contract folders only.
    pub fn classify(self, name: &str) -> SymbolClass {
        let SymbolName {
            instrument,
            quote_asset,
            settled,
        } = self.symbol(name);
        let delivery_date = match instrument {
            Instrument::Delivery(date) => Some(date),
            _ => None,
        };
        SymbolClass {
            contract: if delivery_date.is_some() {
                Contract::Delivery
            } else {
                Contract::Perpetual
            },
            quote_asset,
            settled,
            delivery_date,
        }
    }
}

/// `YYMMDD` that is a real date (of this century), as a delivery suffix spells it.
fn yymmdd(suffix: &str) -> Option<NaiveDate> {
    if suffix.len() != 6 || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| suffix[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(2000 + i32::try_from(n(0..2)?).ok()?, n(2..4)?, n(4..6)?)
}

/// The symbol a settled folder holds the earlier history of (`ICPUSDT_SETTLED` and
/// `AERGOUSDTSETTLEDSETTLED` → `ICPUSDT`, `AERGOUSDT`): every `SETTLED`/`_SETTLED` suffix
/// taken off; `None` for a folder that is not a settled one.
pub fn settled_base(symbol: &str) -> Option<&str> {
    let mut base = symbol;
    while let Some(b) = base
        .strip_suffix("_SETTLED")
        .or_else(|| base.strip_suffix("SETTLED"))
    {
        base = b;
    }
    (base.len() < symbol.len() && !base.is_empty()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_coin_m_contract_is_100_usd_for_btcusd_and_10_for_every_other() {
        for (name, size) in [
            ("BTCUSD_PERP", 100.0),
            ("BTCUSD_240628", 100.0),
            ("BTCUSD_PERP_SETTLED", 100.0),
            ("ETHUSD_PERP", 10.0),
            ("ADAUSD_PERP_SETTLED", 10.0),
            ("BTCDOMUSD_PERP", 10.0),
        ] {
            assert_eq!(Market::Cm.contract_size_usd(name), Some(size), "{name}");
        }
        for m in [Market::Spot, Market::Um, Market::Option] {
            assert_eq!(m.contract_size_usd("BTCUSD_PERP"), None, "{m}");
        }
    }

    #[test]
    fn markets_have_one_text_form() {
        for m in Market::ALL {
            assert_eq!(m.to_string().parse::<Market>(), Ok(m));
        }
        assert_eq!(Market::default(), Market::Um);
        assert!("futures/um".parse::<Market>().is_err());
        assert_eq!(Market::Um.archive_start(), ARCHIVE_START);
    }

    #[test]
    fn the_bucket_has_43_market_partition_type_prefixes() {
        let n = Market::ALL
            .iter()
            .flat_map(|m| {
                [Partition::Daily, Partition::Monthly]
                    .into_iter()
                    .flat_map(move |p| DataType::ALL.into_iter().map(move |t| (*m, p, t)))
            })
            .filter(|(m, p, t)| m.offers(*p, *t))
            .count();
        assert_eq!(n, 43);
        assert!(!Market::Option.offers(Partition::Monthly, DataType::BvolIndex));
        assert!(!Market::Um.offers(Partition::Daily, DataType::FundingRate));
        assert!(Market::Um.offers(Partition::Daily, DataType::Metrics));
    }

    #[test]
    fn usd_m_classification_of_real_folder_names() {
        let c = Market::Um.classify("BTCUSDT_260925");
        assert_eq!(
            (c.contract, c.delivery_date, c.quote_asset.as_deref()),
            (Contract::Delivery, Some(d("2026-09-25")), Some("USDT"))
        );
        let c = Market::Um.classify("BTCBUSD_210129");
        assert_eq!(
            (c.contract, c.quote_asset.as_deref()),
            (Contract::Delivery, Some("BUSD"))
        );
        for (name, quote) in [
            ("AERGOUSDTSETTLEDSETTLED", "USDT"),
            ("ICPUSDT_SETTLED", "USDT"),
            ("BNXUSDTSETTLED", "USDT"),
        ] {
            let c = Market::Um.classify(name);
            assert!(
                c.settled
                    && c.contract == Contract::Perpetual
                    && c.quote_asset.as_deref() == Some(quote),
                "{name}"
            );
        }
        for (name, quote) in [
            ("1000PEPEUSDC", "USDC"),
            ("ADABUSD", "BUSD"),
            ("币安人生USDT", "USDT"),
            ("ETHBTC", "BTC"),
        ] {
            let c = Market::Um.classify(name);
            assert_eq!(
                (c.contract, c.settled, c.quote_asset.as_deref()),
                (Contract::Perpetual, false, Some(quote)),
                "{name}"
            );
        }
        // `_999999` is not a date: not a delivery contract.
        assert_eq!(
            Market::Um.classify("FOOUSDT_999999").contract,
            Contract::Perpetual
        );
        // A `USD` ending is not COIN-M: the market decides. UM has no `USD` quote.
        assert_eq!(Market::Um.classify("BTCUSD").quote_asset, None);
    }

    #[test]
    fn coin_m_names_perpetual_delivery_pair_and_settled() {
        let s = |n| Market::Cm.symbol(n);
        assert_eq!(s("BTCUSD_PERP").instrument, Instrument::Perpetual);
        assert_eq!(s("BTCUSD_PERP").quote_asset.as_deref(), Some("USD"));
        assert_eq!(
            s("BTCUSD_240628").instrument,
            Instrument::Delivery(d("2024-06-28"))
        );
        assert_eq!(s("ETHUSD_240628").quote_asset.as_deref(), Some("USD"));
        assert_eq!(s("BTCUSD").instrument, Instrument::Pair);
        let settled = s("LUNAUSD_PERPSETTLED");
        assert!(settled.settled && settled.instrument == Instrument::Perpetual);
        let c = Market::Cm.classify("BTCUSD_240628");
        assert_eq!(
            (c.contract, c.delivery_date),
            (Contract::Delivery, Some(d("2024-06-28")))
        );
    }

    #[test]
    fn spot_pairs_quotes_and_leveraged_tokens() {
        let s = |n| Market::Spot.symbol(n);
        for (name, quote, leveraged) in [
            ("BTCUSDT", "USDT", false),
            ("BTCFDUSD", "FDUSD", false),
            ("ETHBTC", "BTC", false),
            ("ADAEUR", "EUR", false),
            ("BTCAEUR", "AEUR", false),
            ("BTCTRY", "TRY", false),
            ("BTCUPUSDT", "USDT", true),
            ("ETHBEARUSDT", "USDT", true),
            ("JUPUSDT", "USDT", false),
            ("SYRUPUSDT", "USDT", false),
        ] {
            assert_eq!(
                s(name),
                SymbolName {
                    instrument: Instrument::SpotPair { leveraged },
                    quote_asset: Some(quote.to_string()),
                    settled: false
                },
                "{name}"
            );
        }
        // A spot name ending in six digits after `_` is not a delivery contract.
        assert!(matches!(
            s("X_240628").instrument,
            Instrument::SpotPair { .. }
        ));
    }

    #[test]
    fn option_indices_and_underlyings() {
        let s = Market::Option.symbol("BTCBVOLUSDT");
        assert_eq!(
            (s.instrument, s.quote_asset.as_deref()),
            (Instrument::VolatilityIndex, Some("USDT"))
        );
        let s = Market::Option.symbol("DOGEUSDT");
        assert_eq!(
            (s.instrument, s.quote_asset.as_deref()),
            (Instrument::Underlying, Some("USDT"))
        );
    }
}
