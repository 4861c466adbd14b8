// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PlainTokenDouble
/// @notice Test double for an outside ERC20 reward token (a boundary we don't own): anyone may mint.
contract PlainTokenDouble is ERC20 {
    constructor() ERC20("Plain Token Double", "PTD") {}

    /// @notice Mints `amount` to `to`.
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
