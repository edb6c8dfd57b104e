//! Calls the way cast takes them: a human-readable function signature and its arguments as
//! strings (coerced by alloy's dynamic ABI), values with units, several calls from a JSON file.

use alloy_dyn_abi::{DynSolType, DynSolValue, FunctionExt, JsonAbiExt, Specifier};
use alloy_json_abi::Function;
use alloy_primitives::{Address, Bytes, U256};
use serde::Deserialize;
use sesskey_types::Call;

/// A function signature, parsed by alloy's `Function::parse`: `transfer(address,uint256)`,
/// or with parameter names (`transfer(address to, uint256 amount)`), a `function ` prefix,
/// tuples and arrays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    function: Function,
    /// Its parameters' types, in order.
    pub params: Vec<DynSolType>,
}

impl Signature {
    /// Parses a signature.
    ///
    /// ```
    /// use sesskey_cli::calls::Signature;
    ///
    /// let s = Signature::parse("function transfer(address to, uint amount)").unwrap();
    /// assert_eq!(s.canonical(), "transfer(address,uint256)");
    /// assert_eq!(s.selector(), [0xa9, 0x05, 0x9c, 0xbb]);
    /// ```
    pub fn parse(sig: &str) -> Result<Self, String> {
        let function = Function::parse(sig.trim())
            .map_err(|e| format!("`{sig}` is not a function signature: {e}"))?;
        let params = function
            .inputs
            .iter()
            .map(|p| p.resolve().map_err(|e| format!("`{}`: {e}", p.ty)))
            .collect::<Result<_, _>>()?;
        Ok(Self { function, params })
    }

    /// The canonical form the selector hashes: `name(type1,type2)`.
    pub fn canonical(&self) -> String {
        self.function.signature()
    }

    /// The 4-byte selector.
    pub fn selector(&self) -> [u8; 4] {
        self.function.selector().0
    }

    /// The call data for `args`, each coerced from its string form (`0xabc…`, `100`, `1e18`,
    /// `true`, `"text"`, `[1,2]`, `(a,b)`).
    ///
    /// ```
    /// use sesskey_cli::calls::Signature;
    ///
    /// let s = Signature::parse("transfer(address,uint256)").unwrap();
    /// let data = s.encode(&["0x00000000000000000000000000000000000000aa".into(), "100".into()]).unwrap();
    /// assert_eq!(data.len(), 4 + 64);
    /// assert_eq!(s.decode(&data).unwrap(), vec!["0x00000000000000000000000000000000000000AA", "100"]);
    /// ```
    pub fn encode(&self, args: &[String]) -> Result<Bytes, String> {
        if args.len() != self.params.len() {
            return Err(format!(
                "{} takes {} argument(s), {} given",
                self.canonical(),
                self.params.len(),
                args.len()
            ));
        }
        let mut values = vec![];
        for (i, (ty, arg)) in self.params.iter().zip(args).enumerate() {
            let v = ty.coerce_str(arg).map_err(|e| {
                format!("argument {i} (`{arg}`) is not a {}: {e}", ty.sol_type_name())
            })?;
            values.push(v);
        }
        self.function.abi_encode_input(&values).map(Into::into).map_err(|e| e.to_string())
    }

    /// Decodes call data made for this signature into its arguments, printed.
    pub fn decode(&self, data: &[u8]) -> Result<Vec<String>, String> {
        let Some((selector, params)) = data.split_first_chunk::<4>() else {
            return Err("call data shorter than a selector".into());
        };
        if *selector != self.selector() {
            return Err(format!(
                "the call data's selector 0x{} is not {}'s 0x{}",
                alloy_primitives::hex::encode(selector),
                self.canonical(),
                alloy_primitives::hex::encode(self.selector())
            ));
        }
        let values =
            self.function.abi_decode_input(params).map_err(|e| format!("decoding: {e}"))?;
        Ok(values.iter().map(show).collect())
    }
}

impl Signature {
    /// Decodes what the function returned (the signature's `returns (…)`), printed.
    pub fn decode_output(&self, data: &[u8]) -> Result<Vec<String>, String> {
        if self.function.outputs.is_empty() {
            return Err(format!(
                "`{}` says no return types: write them as `{} returns (uint256)`",
                self.canonical(),
                self.canonical()
            ));
        }
        let values = self
            .function
            .abi_decode_output(data)
            .map_err(|e| format!("decoding what {} returned: {e}", self.canonical()))?;
        Ok(values.iter().map(show).collect())
    }
}

/// A decoded value as cast prints it.
fn show(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::FixedBytes(w, size) => {
            format!("0x{}", alloy_primitives::hex::encode(&w[..*size]))
        }
        DynSolValue::Bytes(b) => format!("0x{}", alloy_primitives::hex::encode(b)),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(xs) | DynSolValue::FixedArray(xs) => {
            format!("[{}]", xs.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        DynSolValue::Tuple(xs) | DynSolValue::CustomStruct { tuple: xs, .. } => {
            format!("({})", xs.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        DynSolValue::Function(f) => format!("0x{}", alloy_primitives::hex::encode(f.as_slice())),
    }
}

/// Parses a value: plain wei (`1000`), or a number with a unit (`0.1ether`, `20gwei`, `5 wei`).
///
/// ```
/// use alloy_primitives::U256;
/// use sesskey_cli::calls::parse_value;
///
/// assert_eq!(parse_value("0.1ether"), Ok(U256::from(10u64.pow(17))));
/// assert_eq!(parse_value("20gwei"), Ok(U256::from(20_000_000_000u64)));
/// assert_eq!(parse_value("1000"), Ok(U256::from(1000)));
/// assert!(parse_value("1.5").is_err()); // wei are whole
/// ```
pub fn parse_value(s: &str) -> Result<U256, String> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = (s[..split].trim(), s[split..].trim().to_ascii_lowercase());
    if number.is_empty() {
        return Err(format!("`{s}` is not an amount (say `1000`, `20gwei` or `0.1ether`)"));
    }
    let (unit, decimals) = match unit.as_str() {
        "" | "wei" => ("wei", 0),
        "gwei" => ("gwei", 9),
        "ether" | "eth" => ("ether", 18),
        other => return Err(format!("`{other}` is not a unit (wei, gwei, ether)")),
    };
    // Never round: a fraction finer than the unit allows is refused.
    let fraction = number.split_once('.').map_or(0, |(_, f)| f.len());
    if fraction > decimals {
        return Err(format!("`{s}` has more decimals than {unit} allows ({decimals})"));
    }
    match alloy_primitives::utils::parse_units(number, unit) {
        Ok(alloy_primitives::utils::ParseUnits::U256(v)) => Ok(v),
        Ok(alloy_primitives::utils::ParseUnits::I256(_)) => {
            Err(format!("`{s}` is negative: a value is never below zero"))
        }
        Err(e) => Err(format!("`{s}`: {e}")),
    }
}

/// One call of a `--calls` file: `{"to", "value"?, "data"?}` or `{"to", "value"?, "sig",
/// "args"?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The target.
    pub to: Address,
    /// The value (`1000`, `20gwei`, `0.1ether`).
    #[serde(default)]
    pub value: Option<String>,
    /// Raw call data.
    #[serde(default)]
    pub data: Option<Bytes>,
    /// A function signature (instead of `data`).
    #[serde(default)]
    pub sig: Option<String>,
    /// Its arguments, as strings.
    #[serde(default)]
    pub args: Vec<String>,
}

impl CallSpec {
    /// The call.
    pub fn to_call(&self) -> Result<Call, String> {
        let value = self.value.as_deref().map(parse_value).transpose()?;
        let data = match (&self.data, &self.sig) {
            (Some(_), Some(_)) => {
                return Err(format!("call to {}: `data` or `sig`, not both", self.to))
            }
            (Some(d), None) => Some(d.clone()),
            (None, Some(sig)) => Some(Signature::parse(sig)?.encode(&self.args)?),
            (None, None) if !self.args.is_empty() => {
                return Err(format!("call to {}: `args` without `sig`", self.to))
            }
            (None, None) => None,
        };
        Ok(Call { to: self.to, data, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let s = Signature::parse("approve(address spender, uint256 amount)").unwrap();
        assert_eq!(s.canonical(), "approve(address,uint256)");
        assert_eq!(s.selector(), [0x09, 0x5e, 0xa7, 0xb3]);
        let t = Signature::parse("f((uint256,address)[] xs, bytes32 h)").unwrap();
        assert_eq!(t.canonical(), "f((uint256,address)[],bytes32)");
        assert_eq!(Signature::parse("increment()").unwrap().canonical(), "increment()");
        assert!(Signature::parse("transfer").is_err());
        assert!(Signature::parse("transfer(address,uint999)").is_err());
        let e = s.encode(&["0x01".into()]).unwrap_err();
        assert!(e.contains("takes 2 argument(s), 1 given"), "{e}");
        let e = s.encode(&["nope".into(), "1".into()]).unwrap_err();
        assert!(e.contains("argument 0"), "{e}");
    }

    #[test]
    fn encodes_as_cast_does() {
        // cast calldata 'transfer(address,uint256)' 0x00000000000000000000000000000000000000aa 100
        let s = Signature::parse("transfer(address,uint256)").unwrap();
        let data =
            s.encode(&["0x00000000000000000000000000000000000000aa".into(), "100".into()]).unwrap();
        assert_eq!(
            alloy_primitives::hex::encode(&data),
            "a9059cbb00000000000000000000000000000000000000000000000000000000000000aa0000000000000000000000000000000000000000000000000000000000000064"
        );
    }

    #[test]
    fn values() {
        assert_eq!(parse_value("1ether"), Ok(U256::from(10u64.pow(18))));
        assert_eq!(parse_value("1.5 gwei"), Ok(U256::from(1_500_000_000u64)));
        assert!(parse_value("1parsec").is_err());
        assert!(parse_value("").is_err());
        assert!(parse_value("ether").is_err());
        assert!(parse_value("1.0000000001gwei").is_err(), "finer than a wei");
        assert_eq!(parse_value("0.000000000000000001ether"), Ok(U256::from(1)));
        assert!(parse_value("-1").is_err());
    }
}
