"""The deterministic ledger: block executor, native ledger, contract dispatch, sharding
rules and the replay index. Imports consensus/, vm/ and storage/, never node/ or network/:
everything here is a pure function of the chain and the genesis parameters."""
