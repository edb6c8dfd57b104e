#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod account;
mod call;
mod capabilities;
mod context;
mod create_session;
mod error;
pub mod hex;
mod json;
mod method;
mod permission;
mod prepare_calls;
mod send_prepared_calls;
mod sign;
mod signature;
mod status;
mod tagged;
mod time;
mod typed_data;
mod user_op;

pub use account::{
    AccountRef, CounterfactualInfo, CreationHint, ListAccountsMeta, ListAccountsParams,
    ListAccountsResult, RequestAccountParams, RequestAccountResult,
};
pub use call::Call;
pub use capabilities::{
    AccountOverride, AutoApprove, AutoPermit, DataSuffix, Delegation, Eip7702AuthCapability,
    Erc20Payment, GasParam, GasParamsOverride, NonceOverride, PaymasterService, PermitDetails,
    PolicySelector, PostOpSettings, PreOpSettings, PrepareCallsCapabilities, SendPaymasterService,
    SendPreparedCallsCapabilities, MODULAR_ACCOUNT_V2_7702,
};
pub use context::{
    ContextError, PermissionsCapability, SessionId, SessionRef, LOCAL_MODE_DEFERRED_ACTION,
    NON_DEFERRED_ACTION, REMOTE_MODE_DEFERRED_ACTION,
};
pub use create_session::{CreateSessionParams, CreateSessionResult, SessionKey, MAX_EXPIRY_SEC};
pub use error::{Error, Result};
pub use json::{from_json_str, from_json_value};
pub use method::{Method, Part};
pub use permission::{
    privileged_selector_name, validate_permissions, ContractAccess, Erc20TokenTransfer, Functions,
    FunctionsOnContract, GasLimit, NativeTokenTransfer, Permission, PermissionError,
    PermissionKind, Selector, PERMISSION_TYPES, PRIVILEGED_SELECTORS,
};
pub use prepare_calls::{
    AuthorizationData, CallDetails, FeePayment, PaymasterPermit, PendingBundle, PrepareCallsParams,
    PreparedArray, PreparedAuthorization, PreparedCalls, PreparedDetails, PreparedElement,
    PreparedUserOperationV06, PreparedUserOperationV07, UserOperationDetails,
};
pub use send_prepared_calls::{
    SendPreparedCallsParams, SendPreparedCallsResult, SignedArray, SignedAuthorization,
    SignedCalls, SignedElement, SignedUserOperationV06, SignedUserOperationV07,
};
pub use sign::{
    Capabilities, FormatSignParams, FormatSignResult, GetCapabilitiesParams, PrepareSignParams,
    PrepareSignResult, SignCapabilities,
};
pub use signature::{
    KeyType, PersonalSignData, SignRequest, Signature, SignatureData, SignatureRequest,
    SignatureType,
};
pub use status::{
    CallId, CallStatusCode, CallsStatus, Log, Receipt, StatusKind, UNKNOWN_BUNDLE_ID,
};
pub use time::utc_date;
pub use typed_data::{Eip712DomainJson, TypedDataField, TypedDataJson, MAX_SAFE_INTEGER};
pub use user_op::{UserOperationV06, UserOperationV07};
