# pragma version ^0.4.0
# Minimal ERC-721 equivalent to vm/templates/nft.py (owners, counts, approvals, royalties).

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    token: indexed(uint256)

ownerOf: public(HashMap[uint256, address])
balanceOf: public(HashMap[address, uint256])
getApproved: public(HashMap[uint256, address])
royaltyReceiver: HashMap[uint256, address]
royaltyBasisPoints: HashMap[uint256, uint256]
minter: public(address)


@deploy
def __init__():
    self.minter = msg.sender


@external
def mint(to: address, token: uint256, royalty_bp: uint256):
    assert msg.sender == self.minter, "only the minter mints"
    assert self.ownerOf[token] == empty(address), "token exists"
    assert royalty_bp <= 10000, "bad royalty"
    self.ownerOf[token] = to
    self.balanceOf[to] += 1
    self.royaltyReceiver[token] = msg.sender
    self.royaltyBasisPoints[token] = royalty_bp
    log Transfer(sender=empty(address), receiver=to, token=token)


@external
def approve(spender: address, token: uint256):
    assert self.ownerOf[token] == msg.sender, "not the owner"
    self.getApproved[token] = spender


@external
def transferFrom(source: address, to: address, token: uint256):
    owner: address = self.ownerOf[token]
    assert owner != empty(address), "no such token"
    assert owner == source, "wrong owner"
    assert owner == msg.sender or self.getApproved[token] == msg.sender, "not allowed"
    if self.getApproved[token] != empty(address):
        self.getApproved[token] = empty(address)
    self.ownerOf[token] = to
    self.balanceOf[owner] -= 1
    self.balanceOf[to] += 1
    log Transfer(sender=owner, receiver=to, token=token)


@view
@external
def royaltyInfo(token: uint256, price: uint256) -> (address, uint256):
    return (self.royaltyReceiver[token], price * self.royaltyBasisPoints[token] // 10000)
