// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HookTokenDouble
/// @notice Test double for an outside ERC20 with a transfer hook (ERC777-style, a boundary we don't own):
/// before moving tokens in `transferFrom` it calls a target once with stored calldata and bubbles up
/// its revert, as a hostile token would to re-enter the market mid-transfer.
contract HookTokenDouble is ERC20 {
    address private _target;
    bytes private _data;

    constructor() ERC20("Hook Token Double", "HTD") {}

    /// @notice Mints `amount` to `to`.
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook: the next `transferFrom` first calls `target` with `data`.
    /// @param target Contract to call.
    /// @param data Calldata.
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
    }

    /// @inheritdoc ERC20
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        address target = _target;
        if (target != address(0)) {
            _target = address(0);
            (bool ok, bytes memory ret) = target.call(_data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
        return super.transferFrom(from, to, value);
    }
}
