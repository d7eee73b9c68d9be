# pragma version ^0.4.0
# Minimal ERC-20 equivalent to vm/templates/token.py (balances, allowances, events).

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    amount: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    amount: uint256

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


@deploy
def __init__(supply: uint256):
    self.balanceOf[msg.sender] = supply
    self.totalSupply = supply
    log Transfer(sender=empty(address), receiver=msg.sender, amount=supply)


@internal
def _move(source: address, to: address, amount: uint256):
    assert amount > 0, "amount must be positive"
    have: uint256 = self.balanceOf[source]
    assert have >= amount, "insufficient balance"
    self.balanceOf[source] = have - amount
    self.balanceOf[to] += amount
    log Transfer(sender=source, receiver=to, amount=amount)


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move(msg.sender, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, amount=amount)
    return True


@external
def transferFrom(source: address, to: address, amount: uint256) -> bool:
    allowed: uint256 = self.allowance[source][msg.sender]
    assert allowed >= amount, "allowance exceeded"
    self.allowance[source][msg.sender] = allowed - amount
    self._move(source, to, amount)
    return True
