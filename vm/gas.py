"""Gas schedule and hard limits of the contract VM.

Every number that decides how much a contract may do lives here, so that a change to
the schedule is one reviewed diff (the schedule is a consensus parameter, like the CPython
minor version recorded in the genesis).

Gas schedule (units of gas):

| what                                   | charge                                              |
|----------------------------------------|-----------------------------------------------------|
| AST node of a statement (static)       | `node_gas` per node, charged when its block starts  |
| entering a function                    | `function_call_gas`                                 |
| loop / comprehension iteration         | `iteration_gas` + static cost of the loop header;   |
|                                        | a comprehension draws <= `container_elements_max`   |
| builtin or method call                 | `builtin_call_gas` + size-proportional part below   |
| arithmetic on ints                     | `arith_gas` + result bits / `int_bits_per_gas`      |
| str/bytes/list/tuple produced          | `arith_gas` + result bytes (or elements) / unit     |
| `**` and `<<`                          | as arithmetic, on the result size (checked first)   |
| str search (find, count, replace,      | (n + m) / `bytes_per_gas` + n * min(m, 128) / 64:   |
| split, `in`), strip(chars)             | CPython's worst case; strip n * len(chars) / 16     |
| dict key                               | str/bytes: len / `bytes_per_gas`; int: 2 per bit    |
|                                        | above 16                                            |
| compare, `in`, index, count, min, max  | weight x `element_gas`; the weight (codec.          |
| on containers                          | count_elements) is one per element, deeply and per  |
|                                        | alias, `container_weight` more per container, one   |
|                                        | per `bytes_per_gas` bytes of each str/bytes         |
| sort / sorted                          | weight x ceil(log2 n) x `element_gas`               |
| encode / decode (storage, events,      | weight x `element_gas` + the bytes' own charge      |
| return values, cross-contract values)  |                                                     |
| storage read                           | `storage_read_gas` + bytes x `storage_byte_gas`     |
| storage write                          | `storage_write_gas` + new key and value bytes x     |
|                                        | `storage_write_byte_gas` (bytes this tx already     |
|                                        | wrote under the key are not charged again; a delete |
|                                        | pays the base only)                                 |
| event                                  | `event_gas` + bytes x `event_byte_gas`              |
| call (the transaction's, or another    | `contract_call_gas` + argument and result bytes     |
| contract's)                            |                                                     |
|                                        | / `bytes_per_gas` (they cross as canonical copies)  |
| loading a contract's code (first time  | `storage_read_gas` + source bytes /                 |
| in a transaction)                      | `code_load_bytes_per_gas`                           |
| deploy                                 | `storage_write_gas` + `deploy_byte_gas` per byte    |
| int <-> str conversion                 | `builtin_call_gas` + digits                         |

The schedule is calibrated so that no operation buys more than 10x the CPU per gas of a
token transfer, whatever its arguments (bench/gas_fidelity.py measures it; the figures are
in bench/RESULTS.md), and memory follows gas: a transaction allocates at most about
`memory_bytes_per_gas_max` bytes per gas it may use.

Hard limits (a breach is `ErrorCode.LIMIT_EXCEEDED` or `CALL_DEPTH`, never a crash):
see the `*_max` constants below. Sizes are checked *before* a big result is built.

The fast path (instrumented code) charges a block's static cost when the block starts;
the reference interpreter (vm/reference.py) charges each statement when it runs. So for a
call that succeeds on both, reference gas <= fast gas, with equality when no block is left
early (return, break, continue).
"""

from __future__ import annotations

# --- static charges ---------------------------------------------------------------
# Calibrated against the token transfer (bench/gas_fidelity.py, class "plain"): an
# iteration resumes a generator and runs a metered block (~250 ns), a helper call for an
# operator ~100 ns, a function call enters and leaves the depth accounting.
node_gas = 2
function_call_gas = 40
iteration_gas = 16
builtin_call_gas = 5
arith_gas = 3
element_gas = 4  # per unit of a value's weight walked (codec.count_elements)
container_weight = 16  # weight of a list, tuple or dict beyond its elements (a Python step)
int_bits_per_gas = 64
bytes_per_gas = 4  # copying str/bytes: one gas per 4 bytes produced (memory per gas)
search_needle_window = 128  # str search is O(n * min(m, ~100)) in CPython's worst case
search_short_haystack_max = 2_500  # below this, CPython's search is O(n * m) for any m
search_compares_per_gas = 64  # character comparisons per gas in that worst case
strip_compares_per_gas = 16  # str.strip(chars): one lookup in chars per character, unvectorised
storage_read_gas = 200
storage_write_gas = 1000
storage_byte_gas = 1  # per byte read
# Per byte of key and value a write adds to the state (growth beyond what the same
# transaction already wrote under that key; deletes store nothing): state growth is priced,
# and capped per transaction by write_bytes_per_tx_max.
storage_write_byte_gas = 4
event_gas = 300
event_byte_gas = 1
contract_call_gas = 700  # every call, the transaction's own included: its fixed cost
# Loading a contract's code, once per transaction and contract: a read of its source and,
# on a miss of the node's memory cache, of its persisted compiled code (vm/contract.py).
code_load_bytes_per_gas = 1
# Deploy validates, instruments and compiles the source (2 to 5 us per byte, linear in
# the source size), and stores it: priced per byte of source. 150 keeps a 10 KB template
# within the 2,000,000 gas that node/client.py and bench/harness.py give a deploy; 200+
# would bring deploys to the 10x target (bench/RESULTS.md) once those defaults are raised.
deploy_byte_gas = 150

# Every allocation a contract can make is charged first: at most this many bytes per gas
# (the worst is a str of 4-byte code points, 4 bytes per code point at bytes_per_gas code
# points per gas), so one call allocates at most gas_limit_tx_max * this (160 MB);
# tests/vm/test_gas_mechanisms.py measures allocation-heavy calls against it.
memory_bytes_per_gas_max = 16

# --- hard limits ----------------------------------------------------------------------
gas_limit_tx_max = 10_000_000
source_bytes_max = 48 * 1024  # a deploy of the largest source fits in gas_limit_tx_max
source_tokens_per_line_max = 400
bracket_depth_max = 24
ast_depth_max = 64
# Python frames contract code may hold at once, all contracts together: each function call
# counts its own frame plus one per level of comprehension nesting, each cross-contract call
# `contract_call_frames` more for the host frames in between (vm/runtime.py, Runtime.enter).
function_depth_max = 200
contract_call_frames = 4
contract_call_depth_max = 8
# The VM raises CPython's recursion limit to at least this (never lowers it), so that with
# function_depth_max frames of contract code, the VM's own bounded helper frames and a
# compile of a callee mid-call (validation and instrumentation recurse to about 4 frames
# per level of gas.ast_depth_max), the host may call in from up to ~2,000 frames deep and
# CPython's limit is still never the one hit: outcomes never depend on the host's stack.
recursion_limit_min = 3_000
int_bits_max = 1024
str_bytes_max = 256 * 1024  # str (in code points) and bytes
container_elements_max = 100_000
container_depth_max = 32  # nesting of lists/tuples/dicts walked by compare, sort, encode
key_bytes_max = 256
dict_key_int_bits_max = 60  # int keys of dicts hash to themselves below 2**61 - 1
# Distinct hashes still share probe sequences while they agree on the bits the probing has
# consumed (5 more per step): up to ~(bits - 17) / 5 shared steps, each a likely cache
# miss. Charged per dict access, per bit above the first 16 (which no probing shares).
dict_int_key_gas_per_bit = 2
value_bytes_max = 64 * 1024
writes_per_tx_max = 1024
write_bytes_per_tx_max = 1024 * 1024  # net key + value bytes one transaction leaves written
events_per_tx_max = 256
event_bytes_max = 8 * 1024
return_bytes_max = 64 * 1024
int_str_digits_max = 330  # 10**330 > 2**1024: int(str) and str(int) stay within int_bits_max

assert int_str_digits_max * 3.3 > int_bits_max
assert source_bytes_max * deploy_byte_gas + 50_000 < gas_limit_tx_max
assert writes_per_tx_max * value_bytes_max <= 64 * 1024 * 1024
assert function_depth_max + 4 * ast_depth_max + 200 < recursion_limit_min - 2_000
assert contract_call_frames * contract_call_depth_max < function_depth_max
